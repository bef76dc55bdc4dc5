"""What the audit triggers (audit app, migration 0002) cannot see for themselves:
who made a change and from where, and why a session row goes.

Each value is a transaction-local setting (`set_config(..., true)`), gone when
the transaction ends: safe behind PgBouncer's transaction mode. Call it inside
`transaction.atomic()`, before the change.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

from django.db import connection

# audit.<name>, as the triggers read them (current_setting('audit.ip', true)).
# `via` names the command that makes a batch of changes (sync_directory,
# import_users): each of its events says so in its detail.
NAMES = (
    "actor_id",
    "ip",
    "user_agent",
    "session_end",
    "session_kept",
    "purge",
    "via",
)


def tell_audit(**values: object) -> None:
    """Set the given audit.* values for the current transaction, in one statement."""
    unknown = set(values) - set(NAMES)
    if unknown:
        raise ValueError(f"not an audit setting: {', '.join(sorted(unknown))}")
    calls = ", ".join("set_config(%s, %s, true)" for _ in values)
    params = []
    for name, value in values.items():
        params += [f"audit.{name}", "" if value is None else str(value)]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {calls}", params)


# Whether each event is written to the log as its own line (audit.events).
_each_event_logged: ContextVar[bool] = ContextVar("each_event_logged", default=True)


@contextlib.contextmanager
def events_not_logged_one_by_one() -> Iterator[None]:
    """For a batch command: its thousands of events stay in the audit trail,
    and the command logs one line for its run instead of one per event."""
    token = _each_event_logged.set(False)
    try:
        yield
    finally:
        _each_event_logged.reset(token)


def each_event_logged() -> bool:
    return _each_event_logged.get()
