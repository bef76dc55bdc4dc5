"""The events the app records itself (record(): sign-in outcomes, sign-outs,
re-authentications, second factors), each one INSERT; its receivers are in
audit.signals.

What changes users and sessions is recorded by PostgreSQL's triggers (migration
0002), from whatever made the change; AuditContextMiddleware tells them who and
from where. Every event, whoever wrote it, comes back as a notice (migrations
0004, 0006) that log_event writes as one logfmt line, `event=<kind> user=...`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import psycopg
from django.db import connection
from django.http import HttpRequest, HttpResponse

from audit.models import Kind
from config.log import logfmt
from config.middleware import in_transaction
from core.audit_context import tell_audit
from core.clients import client_ip, user_agent

log = logging.getLogger("audit")
# The user by id, or else by the name as typed (a failed sign-in), in one statement.
INSERT = """
INSERT INTO auth_events (kind, user_id, username, ip, user_agent, detail, actor_id)
VALUES (%s, coalesce(%s::uuid, (
    SELECT id FROM users WHERE upper(username) = upper(%s) LIMIT 1
)), %s, %s, %s, %s, %s)
"""


def record(
    kind: Kind,
    request: HttpRequest | None,
    *,
    user=None,
    username: str = "",
    detail: dict | None = None,
    actor=None,
) -> None:
    """Write one event, by `actor` when a staff user did it to `user`. Never a
    password, hash or key in detail."""
    username = (user.get_username() if user is not None else username)[:255]
    ip = client_ip(request) if request is not None else None
    agent = user_agent(request) if request is not None else ""
    with connection.cursor() as cursor:
        cursor.execute(
            INSERT,
            [
                kind,
                str(user.pk) if user is not None else None,
                username,
                username,
                ip,
                agent,
                json.dumps(detail or {}),
                str(actor.pk) if actor is not None else None,
            ],
        )


def log_event(notice: psycopg.errors.Diagnostic) -> None:
    """Write an event's notice (its fields as JSON, migration 0006) as one logfmt
    line, `event=<kind> user=... ip=...`, through the redacting filter."""
    message = notice.message_primary or ""
    if notice.severity_nonlocalized != "NOTICE" or not message.startswith('{"event"'):
        return
    try:
        fields = json.loads(message)
    except ValueError:
        return
    fields = {name: fields.get(name) for name in ("event", "user", "ip")}
    # The fields again, apart, for DJANGO_LOG_FORMAT=json (config.log).
    log.info("%s", logfmt(**fields), extra={"fields": fields})


class AuditContextMiddleware:
    """Tell the audit triggers the address, user agent and, in the admin, the
    staff user acting (core.audit_context), in the transaction of each request
    that may change something (config.middleware.TransactionPerChangeMiddleware,
    before this one). Reads, and sign-ins (which record their own event with
    the address), cost nothing extra."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if in_transaction(request) and connection.in_atomic_block:
            user = getattr(request, "user", None)
            staff = user is not None and user.is_authenticated and user.is_staff
            tell_audit(
                actor_id=user.pk
                if staff and request.path.startswith("/admin/")
                else None,
                ip=client_ip(request),
                user_agent=user_agent(request),
            )
        return self.get_response(request)
