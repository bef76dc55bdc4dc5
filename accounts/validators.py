"""The one rule for usernames: a Windows-domain login such as `\\uni\\jsmith`."""

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


@deconstructible
class DomainUsernameValidator(RegexValidator):
    regex = USERNAME_REGEX
    message = USERNAME_MESSAGE
    code = "invalid_username"
