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
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction

from accounts.csv_import import Row

# The file's rows, then what PostgreSQL finds of them.
CREATE_ROWS = """
CREATE TEMPORARY TABLE import_rows (
    line integer NOT NULL,
    username text NOT NULL,
    password_hash text,
    is_blocked boolean,
    display_name text,
    email text,
    directory_guid uuid
) ON COMMIT DROP
"""
DUPLICATES = """
SELECT line, username || ' is also on line ' || first FROM (
    SELECT line, username,
           first_value(line) OVER (PARTITION BY upper(username) ORDER BY line) AS first
    FROM import_rows
) rows WHERE line <> first
"""
# A row changes its user only where a cell says something else: an empty cell
# or a missing column changes nothing.
DIFFERS = """(
    t.password_hash IS DISTINCT FROM u.password_hash AND t.password_hash IS NOT NULL
    OR t.is_blocked IS DISTINCT FROM u.is_blocked AND t.is_blocked IS NOT NULL
    OR t.display_name IS DISTINCT FROM u.display_name AND t.display_name IS NOT NULL
    OR t.email IS DISTINCT FROM u.email AND t.email IS NOT NULL
    OR t.directory_guid IS DISTINCT FROM u.directory_guid
       AND t.directory_guid IS NOT NULL
)"""
# Rows that would change a staff user or a superuser: only with --include-staff.
# A row as export_users wrote it changes nothing.
GUARDED = f"""
SELECT t.line,
       t.username || ' is staff or a superuser: changing them needs --include-staff'
FROM import_rows t
JOIN users u ON upper(u.username) = upper(t.username)
WHERE (u.is_staff OR u.is_superuser) AND {DIFFERS}
"""  # noqa: S608 - this module's own constants, no input
# An ObjectGUID is one directory entry: one user of its domain.
GUIDS = """
SELECT line, username || ' has the ObjectGUID of line ' || first FROM (
    SELECT line, username, first_value(line) OVER (
        PARTITION BY directory_guid, upper(split_part(username, '\\', 2)) ORDER BY line
    ) AS first
    FROM import_rows WHERE directory_guid IS NOT NULL
) rows WHERE line <> first
UNION ALL
SELECT t.line, t.username || ' has the ObjectGUID of the user ' || u.username
FROM import_rows t
JOIN users u ON u.directory_guid = t.directory_guid
    AND upper(split_part(u.username, '\\', 2)) = upper(split_part(t.username, '\\', 2))
WHERE upper(u.username) <> upper(t.username)
UNION ALL
SELECT t.line, t.username || ' has another ObjectGUID already: ' || u.directory_guid
FROM import_rows t
JOIN users u ON upper(u.username) = upper(t.username)
WHERE u.directory_guid <> t.directory_guid
"""
# A new name that looks like another user's, or like another new one's; an
# approved name (lookalike_approvals, or --allow-lookalike: %s) is let through,
# as the skeletons' unique index lets it.
LOOKALIKE_INDEX = "users_username_skeleton"
LOOKALIKES = """
WITH new AS (
    SELECT t.line, t.username, username_skeleton(t.username) AS skeleton
    FROM import_rows t
    WHERE NOT EXISTS (SELECT 1 FROM users u WHERE upper(u.username) = upper(t.username))
      AND NOT upper(t.username) = ANY(%s)
      AND NOT EXISTS (
          SELECT 1 FROM lookalike_approvals a
          WHERE upper(a.username) = upper(t.username)
      )
)
SELECT n.line,
       n.username || ' looks like the user ' || coalesce(u.username, other.username)
FROM new n
LEFT JOIN users u ON u.username_skeleton = n.skeleton
    AND NOT u.username_lookalike_approved AND NOT upper(u.username) = ANY(%s)
LEFT JOIN new other ON other.skeleton = n.skeleton AND other.line < n.line
    AND upper(other.username) <> upper(n.username)
WHERE u.id IS NOT NULL OR other.line IS NOT NULL
"""
# Each name of --allow-lookalike, and the user (or row) it looks like.
APPROVALS = """
WITH approved AS (
    SELECT name, username_skeleton(name) AS skeleton FROM unnest(%s::text[]) AS a(name)
)
SELECT a.name,
       EXISTS (SELECT 1 FROM import_rows t WHERE upper(t.username) = upper(a.name)),
       coalesce(
           (SELECT u.username FROM users u
            WHERE u.username_skeleton = a.skeleton
              AND upper(u.username) <> upper(a.name)
            LIMIT 1),
           (SELECT t.username FROM import_rows t
            WHERE upper(t.username) <> upper(a.name)
              AND username_skeleton(t.username) = a.skeleton
            LIMIT 1)
       )
FROM approved a
"""
APPROVE = """
INSERT INTO lookalike_approvals (username, looks_like, approved_by_id)
SELECT * FROM unnest(%s::text[], %s::text[], %s::uuid[])
"""
NEW_ROWS = """
FROM import_rows t
WHERE NOT EXISTS (SELECT 1 FROM users u WHERE upper(u.username) = upper(t.username))
"""
INSERT = f"""
INSERT INTO users (username, password_hash, is_blocked, display_name, email,
                   directory_guid, username_lookalike_approved)
SELECT t.username,
       coalesce(t.password_hash, '!' || replace(gen_random_uuid()::text, '-', '')),
       coalesce(t.is_blocked, false), coalesce(t.display_name, ''),
       coalesce(t.email, ''), t.directory_guid,
       EXISTS (SELECT 1 FROM lookalike_approvals a
               WHERE upper(a.username) = upper(t.username))
{NEW_ROWS}
RETURNING id, username
"""  # noqa: S608 - this module's own constants, no input
# Only what a column says, and only where it differs: no row is rewritten for
# nothing (updated_at stays as it was).
UPDATE = f"""
UPDATE users u
SET password_hash = coalesce(t.password_hash, u.password_hash),
    is_blocked = coalesce(t.is_blocked, u.is_blocked),
    display_name = coalesce(t.display_name, u.display_name),
    email = coalesce(t.email, u.email),
    directory_guid = coalesce(t.directory_guid, u.directory_guid)
FROM import_rows t
WHERE upper(u.username) = upper(t.username) AND {DIFFERS}
RETURNING u.id, u.username
"""  # noqa: S608 - this module's own constants, no input
CHANGED_ROWS = f"""
FROM users u JOIN import_rows t ON upper(u.username) = upper(t.username)
WHERE {DIFFERS}
"""
MISSING = """
FROM users u
WHERE NOT u.is_blocked
  AND upper(split_part(u.username, '\\', 2)) IN (
      SELECT upper(split_part(username, '\\', 2)) FROM import_rows)
  AND NOT EXISTS (
      SELECT 1 FROM import_rows t WHERE upper(t.username) = upper(u.username))
  AND (%s OR NOT (u.is_staff OR u.is_superuser))
"""
BLOCK_MISSING = f"""
UPDATE users SET is_blocked = true
WHERE id IN (SELECT u.id {MISSING})
RETURNING id, username
"""  # noqa: S608 - this module's own constants, no input
# What a dry run counts instead of writing: the same rows.
COUNT_NEW = f"SELECT count(*) {NEW_ROWS}"
COUNT_CHANGED = f"SELECT count(*) {CHANGED_ROWS}"
COUNT_MISSING = f"SELECT count(*) {MISSING}"
# The rows a change wrote, counted in PostgreSQL: no list of a million ids in
# Python, whatever the file's size.
COUNTED = "WITH changed AS ({change}) SELECT count(*) FROM changed"
EXPORT = """
COPY (
    SELECT username, CASE WHEN is_blocked THEN 'true' ELSE 'false' END,
           nullif(display_name, ''), nullif(email, ''){hash}
    FROM users ORDER BY username
) TO STDOUT WITH (FORMAT csv)
"""
STAFF_HASHES = """
SELECT count(*) FROM users
WHERE (is_staff OR is_superuser) AND left(password_hash, 1) <> '!'
"""


class ImportRefused(Exception):
    """The file has errors; nothing was changed. `errors` are (line, reason),
    every error of every check, by line."""

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        super().__init__(plural(len(errors), "error"))
        self.errors = sorted(errors)


def plural(count: int, noun: str) -> str:
    """`1 error`, `2 errors`, `1,000 errors`."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


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
    rows: Iterable[Row],
    errors: list[tuple[int, str]],
    *,
    block_missing=False,
    include_staff=False,
    dry_run=False,
    allow_lookalikes: Iterable[str] = (),
    actor=None,
    phase: Callable[[str], None] = lambda name: None,
) -> Summary:
    """Apply the rows, in the caller's transaction; raise ImportRefused with
    every error of every check (the rows', then the whole file's).

    A dry run makes the same checks and counts what would change, writing
    nothing (no event either). The `actor` approves the look-alikes allowed;
    the audit trail names who ran the import (the caller tells it).
    `phase` is told the name of each step, for a progress display.
    """
    summary = Summary()
    approved = sorted({name.upper(): name for name in allow_lookalikes}.values())
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS pg_temp.import_rows")
        cursor.execute(CREATE_ROWS)
        with cursor.copy("COPY import_rows FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                summary.rows += 1
        phase("checking the file against the users")
        checks = [DUPLICATES, GUIDS] + ([] if include_staff else [GUARDED])
        for check in checks:
            cursor.execute(check)
            errors.extend(cursor.fetchall())
        approvals = _approvals(cursor, approved, errors)
        if errors or dry_run:
            # Each new name's skeleton is a lookup: asked for only when the
            # import will not write (an INSERT finds look-alikes as it goes).
            phase("looking for look-alike names")
            errors.extend(_lookalikes(cursor, approved))
        if errors:
            raise ImportRefused(errors)
        if dry_run:
            phase("counting what would change")
            summary.created = _count(cursor, COUNT_NEW)
            summary.updated = _count(cursor, COUNT_CHANGED)
            if block_missing:
                summary.blocked = _count(cursor, COUNT_MISSING, [include_staff])
            return summary
        if approvals:
            cursor.execute(
                APPROVE,
                [
                    [name for name, _ in approvals],
                    [looks_like for _, looks_like in approvals],
                    [actor.pk if actor else None] * len(approvals),
                ],
            )
        phase("creating users")
        try:
            with transaction.atomic():
                summary.created = _apply(cursor, INSERT)
        except IntegrityError as exc:
            if getattr(exc.__cause__.diag, "constraint_name", None) != LOOKALIKE_INDEX:
                raise
            raise ImportRefused(_lookalikes(cursor, approved)) from None
        phase("updating users")
        summary.updated = _apply(cursor, UPDATE)
        if block_missing:
            phase("blocking the users not in the file")
            summary.blocked = _apply(cursor, BLOCK_MISSING, [include_staff])
    return summary


def _count(cursor, query: str, params=()) -> int:
    cursor.execute(query, params)
    return cursor.fetchone()[0]


def _lookalikes(cursor, approved: list[str]) -> list[tuple[int, str]]:
    upper = [name.upper() for name in approved]
    cursor.execute(LOOKALIKES, [upper, upper])
    return cursor.fetchall()


def _approvals(cursor, approved: list[str], errors) -> list[tuple[str, str]]:
    """The (name, look-alike) pairs to approve; what cannot be, to `errors`
    (line 0: the command line's)."""
    if not approved:
        return []
    cursor.execute(APPROVALS, [approved])
    pairs = []
    for name, in_file, looks_like in cursor.fetchall():
        if not in_file:
            errors.append((0, f"--allow-lookalike {name}: not a name of the file"))
        elif looks_like is None:
            errors.append(
                (
                    0,
                    f"--allow-lookalike {name}: looks like no other user, "
                    "nothing to approve",
                )
            )
        else:
            pairs.append((name, looks_like))
    return pairs


def _apply(cursor, change: str, params=()) -> int:
    """Run `change` (an INSERT or UPDATE returning id, username); count its rows."""
    cursor.execute(COUNTED.format(change=change), params)
    return cursor.fetchone()[0]


def export_users(out: io.TextIOBase, *, with_hashes: bool) -> None:
    """Write every user as CSV, the import's columns (hashes only if asked)."""
    # An unusable password ("!...") is no hash: it exports as an empty cell.
    hash_column = (
        ", CASE WHEN left(password_hash, 1) = '!' THEN '' ELSE password_hash END"
        if with_hashes
        else ""
    )
    header = ["username", "is_blocked", "display_name", "email"] + (
        ["password_hash"] if with_hashes else []
    )
    csv.writer(out, lineterminator="\n").writerow(header)
    out.flush()
    with (
        connection.cursor() as cursor,
        cursor.copy(EXPORT.format(hash=hash_column)) as copy,
    ):
        for chunk in copy:
            out.write(bytes(chunk).decode())


def staff_hashes() -> int:
    """How many staff users and superusers have a password hash to export."""
    with connection.cursor() as cursor:
        return _count(cursor, STAFF_HASHES)
