"""Users in from the school's directory export, and out again (import_users,
export_users).

The file is streamed: each row is checked in Python as it is read
(accounts.csv_import) and copied into a temporary table; PostgreSQL then finds
duplicates and look-alikes, and one INSERT and one UPDATE apply the whole file,
in the caller's transaction. Any error rolls everything back.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction

from accounts.models import User

# The file's rows, then what PostgreSQL finds of them.
CREATE_ROWS = """
CREATE TEMPORARY TABLE import_rows (
    line integer NOT NULL,
    username text NOT NULL,
    password_hash text,
    is_blocked boolean
) ON COMMIT DROP
"""
DUPLICATES = """
SELECT line, username, first FROM (
    SELECT line, username,
           first_value(line) OVER (PARTITION BY upper(username) ORDER BY line) AS first
    FROM import_rows
) rows WHERE line <> first
"""
# Rows that would change a staff user's or a superuser's hash or block flag:
# only with --include-staff. A row as export_users wrote it changes nothing.
GUARDED = """
SELECT t.line, t.username FROM import_rows t
JOIN users u ON upper(u.username) = upper(t.username)
WHERE (u.is_staff OR u.is_superuser)
  AND (t.password_hash IS DISTINCT FROM u.password_hash AND t.password_hash IS NOT NULL
       OR t.is_blocked IS DISTINCT FROM u.is_blocked AND t.is_blocked IS NOT NULL)
ORDER BY t.line
"""
# A new name that looks like another user's, or like another new one's.
LOOKALIKE_INDEX = "users_username_skeleton"
LOOKALIKES = """
WITH new AS (
    SELECT t.line, t.username, username_skeleton(t.username) AS skeleton
    FROM import_rows t
    WHERE NOT EXISTS (SELECT 1 FROM users u WHERE upper(u.username) = upper(t.username))
)
SELECT n.line, n.username, coalesce(u.username, other.username)
FROM new n
LEFT JOIN users u ON u.username_skeleton = n.skeleton
LEFT JOIN new other ON other.skeleton = n.skeleton AND other.line < n.line
    AND upper(other.username) <> upper(n.username)
WHERE u.id IS NOT NULL OR other.line IS NOT NULL
ORDER BY n.line
"""
INSERT = """
INSERT INTO users (username, password_hash, is_blocked)
SELECT t.username,
       coalesce(t.password_hash, '!' || replace(gen_random_uuid()::text, '-', '')),
       coalesce(t.is_blocked, false)
FROM import_rows t
WHERE NOT EXISTS (SELECT 1 FROM users u WHERE upper(u.username) = upper(t.username))
RETURNING id, username
"""
# Only what a column says, and only where it differs: no row is rewritten for
# nothing (updated_at stays as it was).
UPDATE = """
UPDATE users u
SET password_hash = coalesce(t.password_hash, u.password_hash),
    is_blocked = coalesce(t.is_blocked, u.is_blocked)
FROM import_rows t
WHERE upper(u.username) = upper(t.username)
  AND (t.password_hash IS DISTINCT FROM u.password_hash AND t.password_hash IS NOT NULL
       OR t.is_blocked IS DISTINCT FROM u.is_blocked AND t.is_blocked IS NOT NULL)
RETURNING u.id, u.username
"""
BLOCK_MISSING = """
UPDATE users u SET is_blocked = true
WHERE NOT u.is_blocked
  AND upper(split_part(u.username, '\\', 2)) IN (
      SELECT upper(split_part(username, '\\', 2)) FROM import_rows)
  AND NOT EXISTS (
      SELECT 1 FROM import_rows t WHERE upper(t.username) = upper(u.username))
  AND (%s OR NOT (u.is_staff OR u.is_superuser))
RETURNING u.id, u.username
"""
# Each changed user's entry in the admin's history, in the same statement: no
# list of a million ids in Python, whatever the file's size.
HISTORY = """
WITH changed AS ({change})
INSERT INTO django_admin_log
    (action_time, user_id, content_type_id, object_id, object_repr, action_flag,
     change_message)
SELECT now(), %s, %s, id::text, username, %s, %s FROM changed
"""
COUNTED = "WITH changed AS ({change}) SELECT count(*) FROM changed"
EXPORT = """
COPY (
    SELECT username, CASE WHEN is_blocked THEN 'true' ELSE 'false' END{hash}
    FROM users ORDER BY username
) TO STDOUT WITH (FORMAT csv)
"""


class ImportRefused(Exception):
    """The file has errors; nothing was changed. `errors` are (line, reason)."""

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        super().__init__(f"{len(errors)} errors")
        self.errors = errors


@dataclass
class Summary:
    rows: int = 0
    created: int = 0
    updated: int = 0
    blocked: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "blocked": self.blocked,
            "unchanged": self.rows - self.created - self.updated,
        }


def import_rows(
    rows: Iterable[tuple],
    errors,
    *,
    block_missing=False,
    include_staff=False,
    actor=None,
    source="",
) -> Summary:
    """Apply the rows, in the caller's transaction; raise ImportRefused on errors.

    With an `actor`, each created, updated or blocked user gets an entry in the
    admin's history naming `source`.
    """
    summary = Summary()
    history = _History(actor, source)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS pg_temp.import_rows")
        cursor.execute(CREATE_ROWS)
        with cursor.copy("COPY import_rows FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                summary.rows += 1
        if errors:
            raise ImportRefused(sorted(errors))
        cursor.execute(DUPLICATES)
        for line, username, first in cursor.fetchall():
            errors.append((line, f"{username} is also on line {first}"))
        if not include_staff:
            cursor.execute(GUARDED)
            errors.extend(
                (
                    line,
                    f"{username} is staff or a superuser: changing them needs "
                    "--include-staff",
                )
                for line, username in cursor.fetchall()
            )
        if errors:
            raise ImportRefused(sorted(errors))
        try:
            # The skeletons' unique index finds look-alikes as it inserts; only
            # then are they looked for by line (each skeleton costs a lookup).
            with transaction.atomic():
                summary.created = history.apply(cursor, INSERT, "created")
        except IntegrityError as exc:
            if getattr(exc.__cause__.diag, "constraint_name", None) != LOOKALIKE_INDEX:
                raise
            cursor.execute(LOOKALIKES)
            errors.extend(
                (line, f"{username} looks like the user {other}")
                for line, username, other in cursor.fetchall()
            )
            raise ImportRefused(sorted(errors)) from None
        summary.updated = history.apply(cursor, UPDATE, "updated")
        if block_missing:
            summary.blocked = history.apply(
                cursor, BLOCK_MISSING, "blocked", [include_staff]
            )
    return summary


class _History:
    """Run a change, with its entries in the admin's history when there is an actor."""

    def __init__(self, actor, source: str) -> None:
        from django.contrib.admin.models import ADDITION, CHANGE
        from django.contrib.contenttypes.models import ContentType

        self.actor = actor
        self.content_type = ContentType.objects.get_for_model(User).pk
        self.entries = {
            "created": (ADDITION, f"Imported from {source}."),
            "updated": (CHANGE, f"Updated by an import from {source}."),
            "blocked": (CHANGE, f"Blocked by an import from {source}: not in it."),
        }

    def apply(self, cursor, change: str, what: str, params=()) -> int:
        """Run `change` (an INSERT or UPDATE returning id, username); count its rows."""
        if self.actor is None:
            cursor.execute(COUNTED.format(change=change), params)
            return cursor.fetchone()[0]
        flag, message = self.entries[what]
        cursor.execute(
            HISTORY.format(change=change),
            [*params, self.actor.pk, self.content_type, flag, message],
        )
        return cursor.rowcount


def export_users(out: io.TextIOBase, *, with_hashes: bool) -> None:
    """Write every user as CSV, the import's columns (hashes only if asked)."""
    # An unusable password ("!...") is no hash: it exports as an empty cell.
    hash_column = (
        ", CASE WHEN left(password_hash, 1) = '!' THEN '' ELSE password_hash END"
        if with_hashes
        else ""
    )
    header = ["username", "is_blocked"] + (["password_hash"] if with_hashes else [])
    csv.writer(out, lineterminator="\n").writerow(header)
    out.flush()
    with (
        connection.cursor() as cursor,
        cursor.copy(EXPORT.format(hash=hash_column)) as copy,
    ):
        for chunk in copy:
            out.write(bytes(chunk).decode())
