from django.apps import AppConfig


class MfaConfig(AppConfig):
    """The second factor: authenticator apps (TOTP), passkeys and recovery codes,
    as django-otp devices; the second step of a sign-in, and enrolment."""

    name = "mfa"
    verbose_name = "Second factor"

    def ready(self) -> None:
        # A sign-in whose user has (or must have) a factor waits for it.
        from mfa import signals  # noqa: F401
