"""The security audit trail: one table, `auth_events`, append-only.

PostgreSQL writes what changes users and sessions (triggers on `users` and
`sessions`, migration 0002), whoever made the change; the app writes sign-in
outcomes, sign-outs and re-authentications (audit.events). Nobody updates or
deletes a row: the triggers refuse it, and the runtime role has no such
privilege; only purge_auth_events removes events past their retention.
"""

from django.db import models
from django.db.models.functions import Now, Upper
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from core.clients import USER_AGENT_LENGTH


class Kind(models.TextChoices):
    SIGNIN_SUCCEEDED = "signin.succeeded", _("sign-in succeeded")
    SIGNIN_FAILED = "signin.failed", _("sign-in failed")
    SIGNIN_LOCKED_OUT = "signin.locked_out", _("sign-in locked out")
    SIGNIN_UNLOCKED = "signin.unlocked", _("sign-in lockout cleared")
    SIGNOUT = "signout", _("signed out")
    SESSION_ENDED = "session.ended", _("session ended")
    SESSION_EXPIRED = "session.expired", _("session expired")
    REAUTHENTICATED = "reauthenticated", _("re-authenticated")
    PASSWORD_CHANGED = "password.changed", _("password changed")
    USER_CREATED = "user.created", _("user created")
    USER_BLOCKED = "user.blocked", _("user blocked")
    USER_UNBLOCKED = "user.unblocked", _("user unblocked")
    USER_DELETED = "user.deleted", _("user deleted")
    USER_RENAMED = "user.renamed", _("user renamed")
    USER_UPDATED = "user.updated", _("user updated")
    LOOKALIKE_APPROVED = "user.lookalike_approved", _("look-alike name approved")
    AUDIT_PURGED = "audit.purged", _("old events purged")
    DIRECTORY_UNAVAILABLE = "directory.unavailable", _("directory unavailable")
    MFA_ENROLLED = "mfa.enrolled", _("second factor added")
    MFA_REMOVED = "mfa.removed", _("second factor removed")
    MFA_RESET = "mfa.reset", _("second factors reset")
    MFA_VERIFIED = "mfa.verified", _("second step succeeded")
    MFA_FAILED = "mfa.failed", _("second step failed")
    MFA_RECOVERY_CODE_USED = "mfa.recovery_code_used", _("recovery code used")
    MFA_RECOVERY_CODES_NEW = "mfa.recovery_codes_new", _("new recovery codes")


class AuthEvent(models.Model):
    id = models.BigAutoField(primary_key=True)
    # The database's clock, whoever writes the row.
    occurred_at = models.DateTimeField(_("when"), db_default=Now(), editable=False)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    # The history outlives the account: NULL once the user is deleted.
    user = models.ForeignKey(
        User,
        on_delete=models.DB_SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # idx_auth_events_user below
    )
    # As it was, or as typed for a failed sign-in.
    username = models.CharField(
        _("username"), max_length=255, blank=True, db_default=""
    )
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(
        _("user agent"),
        max_length=USER_AGENT_LENGTH,
        blank=True,
        default="",
        db_default="",
    )
    # The staff user who did it, when one did (the admin).
    actor = models.ForeignKey(
        User,
        on_delete=models.DB_SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    # Small, and never a password, hash, session key or token.
    detail = models.JSONField(_("detail"), default=dict, db_default={}, blank=True)

    class Meta:
        db_table = "auth_events"
        verbose_name = _("security event")
        verbose_name_plural = _("security events")
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=Kind.values), name="auth_events_kind"
            )
        ]
        indexes = [
            # The admin's list, newest first, filtered by date or not.
            models.Index(fields=["-occurred_at", "-id"], name="idx_auth_events_time"),
            models.Index(
                fields=["kind", "-occurred_at", "-id"], name="idx_auth_events_kind"
            ),
            # A user's own events (the API, the admin's link from the user).
            models.Index(
                fields=["user", "-occurred_at", "-id"], name="idx_auth_events_user"
            ),
            models.Index(fields=["ip", "-occurred_at"], name="idx_auth_events_ip"),
            # Deleting a user sets its actor_id NULL: found by index, not a scan.
            models.Index(
                fields=["actor"],
                name="idx_auth_events_actor",
                condition=models.Q(actor__isnull=False),
            ),
            models.Index(
                Upper("username"), "occurred_at", name="idx_auth_events_username"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.username}"


class SigninHour(models.Model):
    """Sign-in outcomes per hour (UTC), kept by a trigger on auth_events
    (migration 0003): the admin's chart reads a week of these, not the events."""

    pk = models.CompositePrimaryKey("kind", "hour")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    hour = models.DateTimeField()
    events = models.BigIntegerField()

    class Meta:
        db_table = "auth_event_hours"

    def __str__(self) -> str:
        return f"{self.kind} {self.hour:%Y-%m-%d %H}:00: {self.events}"
