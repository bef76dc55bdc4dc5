"""Password rules beyond Django's: not mostly the username's own parts."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class UsernamePartsValidator:
    """Refuse a password made mostly of the username's domain and name.

    `\\uni\\jsmith` may not use `jsmith`, `UNI-jsmith-2024` or `jsmithjsmith`:
    once every occurrence of the parts is taken out (in any case), at least half
    of the password must be left. Django's UserAttributeSimilarityValidator
    misses a part repeated or padded to the minimum length (NIST SP 800-63B:
    no passwords from context, such as the username).
    """

    def validate(self, password: str, user=None) -> None:
        username = getattr(user, "username", "") or ""
        parts = sorted({part for part in username.lower().split("\\") if part}, key=len)
        left = password.lower()
        for part in reversed(parts):
            left = left.replace(part, "")
        if parts and len(left) * 2 < len(password):
            raise ValidationError(
                _("The password is mostly the username's domain or name."),
                code="password_is_username_parts",
            )

    def get_help_text(self) -> str:
        return _("Your password can't be mostly your username's domain or name.")
