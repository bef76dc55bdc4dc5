"""The one rule for usernames: a Windows-domain login such as `\\uni\\jsmith`."""

import unicodedata

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

# A backslash, a domain, a backslash, a name; neither part contains a backslash.
# PostgreSQL checks it with `~` (the CHECK constraint); Python with the validator below.
USERNAME_REGEX = r"^\\[^\\]+\\[^\\]+$"
USERNAME_MESSAGE = _(
    "Enter a username of the form \\domain\\username: a backslash, the domain, "
    "a backslash and the user name, with no other backslash."
)

# What makes two names look alike, or forges a log line: control characters (Cc),
# format characters (Cf: zero-width, direction marks, ...), line and paragraph
# separators, and a space at either edge of either part. Written with \uXXXX
# and \A, \Z escapes, which Python's `re` and PostgreSQL's `~` read alike. The Cf
# ranges are Unicode 15.1's; NUL is refused by its own validator and by PostgreSQL.
_INVISIBLE = (
    r"\u0001-\u001f\u007f-\u009f\u00ad\u0600-\u0605\u061c\u06dd\u070f"
    r"\u0890-\u0891\u08e2\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064"
    r"\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    r"\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
_SPACE = r"[ \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]"
USERNAME_LOOKALIKE_REGEX = rf"[{_INVISIBLE}]|(?:\A|\\){_SPACE}|{_SPACE}(?:\\|\Z)"
USERNAME_LOOKALIKE_MESSAGE = _(
    "Enter a username without control or invisible characters, and without "
    "spaces at the start or end of the domain or the name."
)
# The database keeps each name's UTS #39 skeleton unique (migration 0008): the
# model checks it before saving (User.validate_constraints), with this message.
USERNAME_CONFUSABLE_MESSAGE = _(
    "A user with a username that looks the same (in another script, or with "
    "look-alike characters) already exists."
)
USERNAME_NFKC_MESSAGE = _(
    "Enter the username in its plain form: it contains characters that have a "
    "simpler equivalent (such as fullwidth letters)."
)


@deconstructible
class DomainUsernameValidator(RegexValidator):
    regex = USERNAME_REGEX
    message = USERNAME_MESSAGE
    code = "invalid_username"


@deconstructible
class VisibleUsernameValidator(RegexValidator):
    regex = USERNAME_LOOKALIKE_REGEX
    message = USERNAME_LOOKALIKE_MESSAGE
    code = "lookalike_username"
    inverse_match = True


@deconstructible
class NFKCUsernameValidator:
    """Refuse a name that NFKC would change, such as one with a fullwidth letter."""

    message = USERNAME_NFKC_MESSAGE
    code = "unnormalized_username"

    def __call__(self, value: str) -> None:
        if not unicodedata.is_normalized("NFKC", value):
            raise ValidationError(self.message, code=self.code)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NFKCUsernameValidator)
