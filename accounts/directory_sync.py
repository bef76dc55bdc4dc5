"""The roster from each domain's directory (manage.py sync_directory).

One domain at a time, all or nothing, in the caller's transaction:
1. the domain's users are read with a paged search (AD answers at most 1,000
   entries a page) under DIRECTORY_<D>_BASE_DN with DIRECTORY_<D>_USER_FILTER,
   as the service account of DIRECTORY_<D>_BIND_DN, and each entry is checked
   and copied into a temporary table as it comes (memory stays flat);
2. PostgreSQL pairs each entry with its user, by (domain, objectGUID) as the
   sign-in does (a rename keeps the user), else by name for a user not yet tied
   to an entry (imported), and works out what changes (`directory_plan`);
3. what changes is counted (the summary, the dry run, the safety limit), then
   made in a few statements: users created, updated (name, display name,
   e-mail, staff flag, groups), blocked when disabled in the directory
   (userAccountControl bit 2) or gone from it, unblocked when enabled again if
   the sync had blocked them. Staff and superusers are left as they are
   unless `include_staff`.
The audit trail records each change, by `sync_directory` (audit.via).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import ldap
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from ldap.controls import SimplePagedResultsControl

from accounts.models import User
from accounts.provisioning import LOOKALIKE_INDEX, plural
from config.directories import Directory, variable

# Entries a page: Active Directory's MaxPageSize.
PAGE_SIZE = 1000
ACCOUNT_DISABLED = 2  # userAccountControl's "account disabled" bit
USERNAME_FIELD = User._meta.get_field("username")

CREATE_ENTRIES = """
CREATE TEMPORARY TABLE directory_entries (
    dn text NOT NULL,
    guid uuid NOT NULL,
    account text NOT NULL,
    name text NOT NULL,
    display_name text NOT NULL,
    email text NOT NULL,
    disabled boolean NOT NULL,
    is_staff boolean,
    groups text[] NOT NULL
) ON COMMIT DROP
"""
# Two entries for one name or one GUID: the directory is not what it seems.
DUPLICATES = """
SELECT dn, 'has the name ' || name || ' of ' || first FROM (
    SELECT dn, name,
           first_value(dn) OVER (PARTITION BY upper(name) ORDER BY dn) AS first
    FROM directory_entries
) entries WHERE dn <> first
UNION ALL
SELECT dn, 'has the objectGUID of ' || first FROM (
    SELECT dn, first_value(dn) OVER (PARTITION BY guid ORDER BY dn) AS first
    FROM directory_entries
) entries WHERE dn <> first
"""
# Each entry, its user (by GUID in the domain, else by name if not yet tied to
# an entry), what the user becomes, and what differs. %(domain)s, %(managed)s:
# the Django groups DIRECTORY_<D>_GROUPS manages.
PLAN = """
CREATE TEMPORARY TABLE directory_plan ON COMMIT DROP AS
SELECT p.*,
       p.user_id IS NOT NULL
       AND (p.old_username, p.old_display_name, p.old_email, p.old_guid, p.old_is_staff)
           IS DISTINCT FROM (p.username, p.display_name, p.email, p.guid, p.is_staff)
           AS fields_differ,
       coalesce(p.disabled AND NOT p.old_blocked, false) AS to_block,
       coalesce(NOT p.disabled AND p.old_blocked AND p.old_blocked_by_directory, false)
           AS to_unblock,
       p.user_id IS NOT NULL AND p.groups IS DISTINCT FROM ARRAY(
           SELECT g.name::text FROM users_groups ug
           JOIN auth_group g ON g.id = ug.group_id
           WHERE ug.user_id = p.user_id AND g.name = ANY(%(managed)s)
           ORDER BY g.name COLLATE "C"
       ) AS groups_differ
FROM (
    SELECT e.dn, e.guid, e.display_name, e.email, e.disabled, e.groups,
           u.id AS user_id,
           CASE WHEN u.id IS NULL OR upper(u.username) = upper(e.name)
                THEN coalesce(u.username, e.name)
                ELSE '\\' || split_part(u.username, '\\', 2) || '\\' || e.account
           END AS username,
           coalesce(e.is_staff, u.is_staff, false) AS is_staff,
           coalesce(u.is_staff OR u.is_superuser, false) AS privileged,
           u.username AS old_username, u.display_name AS old_display_name,
           u.email AS old_email, u.directory_guid AS old_guid,
           u.is_staff AS old_is_staff, u.is_blocked AS old_blocked,
           u.blocked_by_directory AS old_blocked_by_directory
    FROM directory_entries e
    LEFT JOIN users g ON g.directory_guid = e.guid
        AND upper(split_part(g.username, '\\', 2)) = upper(%(domain)s)
    LEFT JOIN users n ON g.id IS NULL AND n.directory_guid IS NULL
        AND upper(n.username) = upper(e.name)
    LEFT JOIN users u ON u.id = coalesce(g.id, n.id)
) p
"""
# A change the sync may make to this row: staff only with --include-staff.
ALLOWED = "(%(include_staff)s OR NOT privileged)"
# A rename onto the name of another user.
TAKEN = """
SELECT p.dn, 'is renamed to ' || p.username || ', the name of another user'
FROM directory_plan p
JOIN users u ON upper(u.username) = upper(p.username) AND u.id <> p.user_id
"""
# The domain's users that no entry is for: gone from the directory.
GONE = """
FROM users u
WHERE upper(split_part(u.username, '\\', 2)) = upper(%(domain)s)
  AND NOT u.is_blocked
  AND (%(include_staff)s OR NOT (u.is_staff OR u.is_superuser))
  AND NOT EXISTS (SELECT 1 FROM directory_plan p WHERE p.user_id = u.id)
"""
COUNTS = f"""
SELECT count(*) FILTER (WHERE user_id IS NULL),
       count(*) FILTER (WHERE user_id IS NOT NULL AND (fields_differ OR groups_differ)
                        AND {ALLOWED}),
       count(*) FILTER (WHERE to_block AND {ALLOWED}),
       count(*) FILTER (WHERE to_unblock AND {ALLOWED}),
       count(*) FILTER (WHERE user_id IS NOT NULL AND NOT (
           (fields_differ OR groups_differ OR to_block OR to_unblock) AND {ALLOWED})),
       (SELECT count(*) {GONE}),
       (SELECT count(*) FROM users
        WHERE upper(split_part(username, '\\', 2)) = upper(%(domain)s))
FROM directory_plan
"""  # noqa: S608 - this module's own constants, no input
# A new name that looks like another user's, or like another new one's (when
# the INSERT refused one, and in a dry run): as import_users has it.
LOOKALIKES = """
WITH new AS (
    SELECT p.dn, p.username, username_skeleton(p.username) AS skeleton, p.user_id
    FROM directory_plan p
    WHERE (p.user_id IS NULL OR upper(p.username) <> upper(p.old_username))
      AND NOT upper(p.username) = ANY(%(approved)s)
      AND NOT EXISTS (
          SELECT 1 FROM lookalike_approvals a
          WHERE upper(a.username) = upper(p.username)
      )
)
SELECT n.dn, 'is ' || n.username || ', which looks like the user '
             || coalesce(u.username, other.username)
FROM new n
LEFT JOIN users u ON u.username_skeleton = n.skeleton
    AND NOT u.username_lookalike_approved AND u.id IS DISTINCT FROM n.user_id
    AND NOT upper(u.username) = ANY(%(approved)s)
LEFT JOIN new other ON other.skeleton = n.skeleton AND other.dn < n.dn
WHERE u.id IS NOT NULL OR other.dn IS NOT NULL
"""
APPROVALS = """
SELECT a.name,
       EXISTS (SELECT 1 FROM directory_plan p WHERE upper(p.username) = upper(a.name)),
       (SELECT u.username FROM users u
        WHERE u.username_skeleton = username_skeleton(a.name)
          AND upper(u.username) <> upper(a.name)
        LIMIT 1)
FROM unnest(%(approved)s::text[]) AS a(name)
"""
APPROVE = """
INSERT INTO lookalike_approvals (username, looks_like)
SELECT * FROM unnest(%s::text[], %s::text[])
"""
CREATE_USERS = """
INSERT INTO users (username, password_hash, is_blocked, blocked_by_directory,
                   display_name, email, directory_guid, is_staff,
                   username_lookalike_approved)
SELECT username, '!' || replace(gen_random_uuid()::text, '-', ''), disabled,
       disabled, display_name, email, guid, is_staff,
       EXISTS (SELECT 1 FROM lookalike_approvals a
               WHERE upper(a.username) = upper(p.username))
FROM directory_plan p WHERE user_id IS NULL
"""
UPDATE_USERS = f"""
UPDATE users u
SET username = p.username, display_name = p.display_name, email = p.email,
    directory_guid = p.guid, is_staff = p.is_staff,
    username_lookalike_approved = EXISTS (
        SELECT 1 FROM lookalike_approvals a WHERE upper(a.username) = upper(p.username)
    )
FROM directory_plan p
WHERE u.id = p.user_id AND p.fields_differ AND {ALLOWED}
"""  # noqa: S608 - this module's own constants, no input
BLOCK = f"""
UPDATE users u SET is_blocked = true, blocked_by_directory = true
FROM directory_plan p
WHERE u.id = p.user_id AND p.to_block AND {ALLOWED}
"""  # noqa: S608 - this module's own constants, no input
BLOCK_GONE = f"""
UPDATE users SET is_blocked = true, blocked_by_directory = true
WHERE id IN (SELECT u.id {GONE})
"""  # noqa: S608 - this module's own constants, no input
UNBLOCK = f"""
UPDATE users u SET is_blocked = false
FROM directory_plan p
WHERE u.id = p.user_id AND p.to_unblock AND {ALLOWED}
"""  # noqa: S608 - this module's own constants, no input
LEAVE_GROUPS = f"""
DELETE FROM users_groups ug
USING directory_plan p, auth_group g
WHERE ug.user_id = p.user_id AND g.id = ug.group_id AND g.name = ANY(%(managed)s)
  AND NOT g.name = ANY(p.groups) AND p.groups_differ AND {ALLOWED}
"""  # noqa: S608 - this module's own constants, no input
JOIN_GROUPS = f"""
INSERT INTO users_groups (user_id, group_id)
SELECT u.id, g.id
FROM directory_plan p
JOIN users u ON upper(u.username) = upper(p.username)
JOIN auth_group g ON g.name = ANY(p.groups)
WHERE p.user_id IS NULL OR (p.groups_differ AND {ALLOWED})
ON CONFLICT DO NOTHING
"""  # noqa: S608 - this module's own constants, no input


class DirectoryAway(Exception):
    """The directory cannot be read: one line naming the domain and the
    variable to check. Nothing was changed."""


class SyncRefused(Exception):
    """The entries or the changes are refused; nothing was changed. `errors`
    are (entry's DN or "", reason)."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__(plural(len(errors), "error"))
        self.errors = sorted(errors)


@dataclass
class Summary:
    entries: int = 0
    created: int = 0
    updated: int = 0
    blocked: int = 0
    unblocked: int = 0
    unchanged: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "blocked": self.blocked,
            "unblocked": self.unblocked,
            "unchanged": self.unchanged,
        }


def sync(
    directory: Directory,
    *,
    dry_run: bool = False,
    include_staff: bool = False,
    force: bool = False,
    allow_lookalikes: list[str] = (),
    phase: Callable[..., None] = lambda name, unit="": None,
    count: Callable[[int], None] = lambda n: None,
) -> Summary:
    """Bring the domain's users in step with its directory, in the caller's
    transaction; raise DirectoryAway or SyncRefused, having changed nothing.

    `phase` is told each step's name and `count` each entry read, for a
    progress display.
    """
    managed = sorted(set(directory.groups.values()))
    approved = sorted({name.upper(): name for name in allow_lookalikes}.values())
    params = {
        "domain": directory.domain,
        "managed": managed,
        "include_staff": include_staff,
        "approved": [name.upper() for name in approved],
    }
    errors: list[tuple[str, str]] = []
    phase(f"reading the {directory.domain} directory", " entries")
    with _Reader(directory) as reader, connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS pg_temp.directory_entries")
        cursor.execute("DROP TABLE IF EXISTS pg_temp.directory_plan")
        cursor.execute(CREATE_ENTRIES)
        summary = Summary()
        with cursor.copy("COPY directory_entries FROM STDIN") as copy:
            for row in reader.entries(errors):
                copy.write_row(row)
                summary.entries += 1
                count(1)
        phase("comparing the directory with the users")
        cursor.execute(DUPLICATES)
        errors.extend(cursor.fetchall())
        cursor.execute(PLAN, params)
        cursor.execute(TAKEN)
        errors.extend(cursor.fetchall())
        approvals = _approvals(cursor, approved, params, errors)
        if errors or dry_run:
            cursor.execute(LOOKALIKES, params)
            errors.extend(cursor.fetchall())
        if errors:
            raise SyncRefused(errors)
        cursor.execute(COUNTS, params)
        created, updated, blocked, unblocked, unchanged, gone, users = cursor.fetchone()
        summary.created, summary.updated = created, updated
        summary.blocked, summary.unblocked = blocked + gone, unblocked
        summary.unchanged = unchanged
        _check_share(directory, summary.blocked, users, force)
        if dry_run:
            return summary
        phase("writing the changes")
        _apply(cursor, params, managed, approvals)
    return summary


def _check_share(directory: Directory, blocked: int, users: int, force: bool) -> None:
    """A wrong filter or an empty OU must not block the school."""
    if force or not users or blocked <= directory.max_block_share * users:
        return

    def var(name: str) -> str:
        return variable(directory.domain, name)

    raise SyncRefused(
        [
            (
                "",
                f"would block {blocked:,} of the domain's {users:,} users "
                f"({blocked / users:.0%}), over {var('MAX_BLOCK_SHARE')} "
                f"({directory.max_block_share:.0%}): check {var('BASE_DN')} and "
                f"{var('USER_FILTER')}, or run again with --force",
            )
        ]
    )


def _approvals(cursor, approved, params, errors) -> list[tuple[str, str]]:
    if not approved:
        return []
    cursor.execute(APPROVALS, {**params, "approved": approved})
    pairs = []
    for name, in_directory, looks_like in cursor.fetchall():
        if not in_directory:
            errors.append(("", f"--allow-lookalike {name}: no entry of the directory"))
        elif looks_like is None:
            errors.append(("", f"--allow-lookalike {name}: looks like no other user"))
        else:
            pairs.append((name, looks_like))
    return pairs


def _apply(cursor, params: dict, managed: list[str], approvals) -> None:
    for name in managed:
        Group.objects.get_or_create(name=name)
    if approvals:
        cursor.execute(
            APPROVE,
            [[name for name, _ in approvals], [other for _, other in approvals]],
        )
    # The gone first: a user created now is in no entry's user_id.
    cursor.execute(BLOCK_GONE, params)
    try:
        with transaction.atomic():
            cursor.execute(CREATE_USERS)
            cursor.execute(UPDATE_USERS, params)
    except IntegrityError as exc:
        if getattr(exc.__cause__.diag, "constraint_name", None) != LOOKALIKE_INDEX:
            raise
        cursor.execute(LOOKALIKES, params)
        raise SyncRefused(cursor.fetchall()) from None
    for statement in (BLOCK, UNBLOCK, LEAVE_GROUPS, JOIN_GROUPS):
        cursor.execute(statement, params)


class _Reader:
    """A connection to one of the domain's servers, bound as its service account."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.connection = None

    def var(self, name: str) -> str:
        return variable(self.directory.domain, name)

    def __enter__(self) -> _Reader:
        prefix = self.directory.settings_prefix
        bind_dn = getattr(settings, f"{prefix}BIND_DN", "")
        if not bind_dn:
            raise DirectoryAway(
                f"{self.var('BIND_DN')} is not set: sync_directory reads the "
                f"directory as a service account ({self.var('BIND_DN')} and "
                f"{self.var('BIND_PASSWORD')})"
            )
        failures = []
        for url in self.directory.urls:
            conn = ldap.initialize(url)
            for option, value in getattr(
                settings, f"{prefix}CONNECTION_OPTIONS"
            ).items():
                conn.set_option(option, value)
            try:
                if getattr(settings, f"{prefix}START_TLS"):
                    conn.start_tls_s()
                conn.simple_bind_s(bind_dn, getattr(settings, f"{prefix}BIND_PASSWORD"))
            except ldap.INVALID_CREDENTIALS:
                raise DirectoryAway(
                    f"the directory refused the bind of {self.var('BIND_DN')}: check "
                    f"it and {self.var('BIND_PASSWORD')}"
                ) from None
            except ldap.LDAPError as exc:  # away, or TLS refused
                failures.append(f"{url}: {_describe(exc)}")
                continue
            self.connection = conn
            return self
        raise DirectoryAway(
            f"no server of {self.var('URL')} answered ({'; '.join(failures)}); "
            f"check it and {self.var('CA_FILE')}"
        )

    def __exit__(self, *exc_info) -> None:
        if self.connection is not None:
            self.connection.unbind_s()

    def entries(self, errors: list[tuple[str, str]]) -> Iterator[tuple]:
        """Each valid user entry as a row of directory_entries; errors by DN."""
        directory = self.directory
        grouped = bool(directory.staff_groups or directory.groups)
        groups_of = self._groups() if grouped else None
        attributes = [
            "objectGUID",
            "sAMAccountName",
            "userAccountControl",
            "displayName",
            "mail",
            *(["memberOf"] if grouped else []),
        ]
        for dn, attrs in self._search(directory.user_filter, attributes):
            row = self._row(dn, attrs, groups_of, errors)
            if row is not None:
                yield row

    def _row(self, dn: str, attrs: dict, groups_of, errors) -> tuple | None:
        directory = self.directory
        reasons = []
        raw_guid = attrs.get("objectGUID", [b""])[0]
        account = _text(attrs, "sAMAccountName")
        if len(raw_guid) != 16:
            reasons.append("has no objectGUID")
        if not account:
            reasons.append("has no sAMAccountName")
        name = f"\\{directory.domain}\\{account}"
        field_ = USERNAME_FIELD
        try:
            if len(name) > field_.max_length:
                raise ValidationError(f"longer than {field_.max_length} characters")
            field_.run_validators(name)
        except ValidationError as exc:
            reasons.extend(f"name {name}: {m}" for m in exc.messages)
        display_name = _text(attrs, "displayName")[:255]
        email = _text(attrs, "mail")
        if email:
            try:
                validate_email(email)
            except ValidationError:
                reasons.append(f"mail {email[:100]!r} is not an e-mail address")
        control = _text(attrs, "userAccountControl")
        disabled = control.isdigit() and bool(int(control) & ACCOUNT_DISABLED)
        if reasons:
            errors.extend((dn, reason) for reason in reasons)
            return None
        names = groups_of(attrs.get("memberOf", [])) if groups_of else set()
        is_staff = (
            bool(names & directory.staff_groups) if directory.staff_groups else None
        )
        groups = sorted(
            {django for group, django in directory.groups.items() if group in names}
        )
        guid = uuid.UUID(bytes_le=raw_guid)
        return (
            dn,
            guid,
            account,
            name,
            display_name,
            email,
            disabled,
            is_staff,
            groups,
        )

    def _groups(self) -> Callable[[list[bytes]], set[str]]:
        """The names (cn, lower case) of the groups a user is in, nested ones
        included, from their memberOf: every group is read once."""
        parents: dict[str, list[str]] = {}
        names: dict[str, str] = {}
        for dn, attrs in self._search("(objectClass=group)", ["cn", "memberOf"]):
            key = dn.lower()
            names[key] = _text(attrs, "cn").lower()
            parents[key] = [p.decode().lower() for p in attrs.get("memberOf", [])]
        closures: dict[str, frozenset[str]] = {}

        def closure(dn: str) -> frozenset[str]:
            if dn not in closures:
                seen, todo = set(), [dn]
                while todo:
                    current = todo.pop()
                    if current in seen:
                        continue
                    seen.add(current)
                    todo.extend(parents.get(current, []))
                closures[dn] = frozenset(names[d] for d in seen if d in names)
            return closures[dn]

        def groups_of(member_of: list[bytes]) -> set[str]:
            found: set[str] = set()
            for dn in member_of:
                found |= closure(dn.decode().lower())
            return found

        return groups_of

    def _search(self, filterstr: str, attributes: list[str]) -> Iterator[tuple]:
        """A paged search under the base DN: (dn, attributes) of each entry.

        The next page is asked for as soon as a page arrives, so that the
        directory prepares it while this one is checked and copied."""
        base = self.directory.base_dn

        def ask(cookie: bytes) -> int:
            control = SimplePagedResultsControl(True, size=PAGE_SIZE, cookie=cookie)
            return self.connection.search_ext(
                base, ldap.SCOPE_SUBTREE, filterstr, attributes, serverctrls=[control]
            )

        message = self._answer(ask, b"")
        while message is not None:
            _, data, _, controls = self._answer(self.connection.result3, message)
            cookie = next(
                (
                    c.cookie
                    for c in controls
                    if c.controlType == SimplePagedResultsControl.controlType
                ),
                b"",
            )
            message = self._answer(ask, cookie) if cookie else None
            for dn, attrs in data:
                if dn is not None:  # not a referral
                    yield dn, attrs

    def _answer(self, call, *args):
        """`call(*args)`, with the directory's refusal as one line naming the
        variable to check."""
        try:
            return call(*args)
        except ldap.NO_SUCH_OBJECT:
            raise DirectoryAway(
                f"{self.var('BASE_DN')}: the directory has no entry "
                f"{self.directory.base_dn}"
            ) from None
        except ldap.FILTER_ERROR:
            raise DirectoryAway(
                f"{self.var('USER_FILTER')}: the directory refused the filter"
            ) from None
        except ldap.LDAPError as exc:
            raise DirectoryAway(
                f"the search under {self.var('BASE_DN')} failed: {_describe(exc)}"
            ) from None


def _text(attrs: dict, name: str) -> str:
    values = attrs.get(name) or [b""]
    return values[0].decode("utf-8", errors="replace").strip()


def _describe(exc: ldap.LDAPError) -> str:
    details = exc.args[0] if exc.args else {}
    if not isinstance(details, dict):
        return type(exc).__name__
    return " ".join(str(details.get(k, "")) for k in ("desc", "info")).strip()
