"""What the audit triggers (audit app, migration 0002) cannot see for themselves:
who made a change and from where, and why a session row goes.

Each value is a transaction-local setting (`set_config(..., true)`), gone when
the transaction ends: safe behind PgBouncer's transaction mode. Call it inside
`transaction.atomic()`, before the change.
"""

from __future__ import annotations

from django.db import connection

# audit.<name>, as the triggers read them (current_setting('audit.ip', true)).
# `via` names the command that makes a batch of changes (sync_directory,
# import_users): each of its events says so in its detail, and raises no
# notice (the command logs one line for its run).
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
