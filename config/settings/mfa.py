"""The second factor (mfa/, django-otp and py_webauthn): who must have one, the
key that encrypts authenticator-app secrets, and how long a half-done sign-in
waits for its second step."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from config.env import boolean, fernet_keys, integer
from config.settings.core import DEBUG, SECRET_KEY, env

# Who cannot use the platform with a password alone: any of "staff" (is_staff),
# "superusers", "everyone", or "none".
MFA_REQUIRED_FOR = frozenset(
    env.list("DJANGO_MFA_REQUIRED_FOR", default=["staff", "superusers"])
)
if not {"staff", "superusers", "everyone", "none"} >= MFA_REQUIRED_FOR:
    raise ImproperlyConfigured(
        "DJANGO_MFA_REQUIRED_FOR must list staff, superusers, everyone or none"
    )
# Whether users who need none (students) may enrol one of their own.
MFA_STUDENTS_MAY_ENROL = boolean("DJANGO_MFA_STUDENTS_MAY_ENROL", default=False)
# Fernet keys, comma-separated: the first encrypts, all decrypt (rotation).
MFA_KEYS = fernet_keys("DJANGO_MFA_KEY", debug=DEBUG, fallback=SECRET_KEY)
# After the password, the second step must come within this many seconds.
MFA_PENDING_SECONDS = integer("DJANGO_MFA_PENDING_SECONDS", 300, minimum=30)
# Wrong codes slow the next try (django-otp's throttling): 1, 2, 4, 8 ... times
# this many seconds after each consecutive failure, per factor.
MFA_THROTTLE_FACTOR = integer("DJANGO_MFA_THROTTLE_FACTOR", 1, minimum=0)
