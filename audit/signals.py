"""The audit trail's receivers: each sign-in, failure and sign-out is an event,
and each database connection writes the events' notices as log lines
(audit.events.log_event). Connected in AuditConfig.ready, after axes' own
(INSTALLED_APPS' order): a failure's kind reads axes' verdict on it."""

from __future__ import annotations

import contextlib

from django.contrib.auth.signals import (
    user_logged_in,
    user_logged_out,
    user_login_failed,
)
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from audit.events import log_event, record
from audit.models import Kind
from core.audit_context import tell_audit


@receiver(connection_created, dispatch_uid="audit.log_events")
def _listen(sender, connection, **kwargs) -> None:
    # Sent at each checkout from the pool: added once per psycopg connection.
    with contextlib.suppress(ValueError):
        connection.connection.remove_notice_handler(log_event)
    connection.connection.add_notice_handler(log_event)


@receiver(user_logged_in, dispatch_uid="audit.signed_in")
def _signed_in(sender, request=None, user=None, **kwargs) -> None:
    record(Kind.SIGNIN_SUCCEEDED, request, user=user)


@receiver(user_login_failed, dispatch_uid="audit.sign_in_failed")
def _sign_in_failed(sender, credentials=None, request=None, **kwargs) -> None:
    # axes (first) has flagged a failure that locks out, or one refused by a lockout.
    locked = getattr(request, "axes_locked_out", False)
    kind = Kind.SIGNIN_LOCKED_OUT if locked else Kind.SIGNIN_FAILED
    username = str((credentials or {}).get("username") or "")
    # A directory's refusal says why (signin.directory): "account disabled", ...
    detail = getattr(request, "directory_refusal", None)
    record(kind, request, username=username, detail=detail)


@receiver(user_logged_out, dispatch_uid="audit.signed_out")
def _signed_out(sender, request=None, user=None, **kwargs) -> None:
    if user is None:
        return
    record(Kind.SIGNOUT, request, user=user)
    # The row Django deletes next is this sign-out, not a session.ended.
    tell_audit(session_end="signout")
