from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The security audit trail: the `auth_events` table, its admin and receivers."""

    name = "audit"
    verbose_name = "Security audit trail"

    def ready(self) -> None:
        # Connects the receivers that record sign-ins, failures and sign-outs.
        from audit import signals  # noqa: F401
