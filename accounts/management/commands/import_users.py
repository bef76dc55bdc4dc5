"""`manage.py import_users FILE`: users in from a roster file, as the school's
tools export it (this project's CSV, PowerShell's Export-Csv, csvde).

All or nothing: any error stops the import with every error of every check, by
line, and the database is as it was. See accounts.csv_import,
accounts.provisioning and docs/provisioning.md.
"""

from __future__ import annotations

import json
import logging
import sys

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, transaction

from accounts import provisioning
from accounts.csv_import import FIELDS, RosterFile
from accounts.models import User
from accounts.names import login_name
from accounts.progress import Progress
from core.audit_context import tell_audit

log = logging.getLogger(__name__)
# The errors a refused import lists; the rest are counted.
MAX_LISTED = 100


class Command(BaseCommand):
    help = (
        "Create and update users from a roster file: this project's CSV "
        "(username, password_hash, is_blocked, display_name, email), or the "
        "directory's export (PowerShell's Export-Csv, csvde) with --domain."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV file, or - for standard input")
        parser.add_argument(
            "--domain",
            help="the domain of bare account names (SamAccountName): jsmith "
            "becomes \\DOMAIN\\jsmith",
        )
        parser.add_argument(
            "--column",
            action="append",
            default=[],
            metavar="FIELD=COLUMN",
            help=f"read FIELD from COLUMN ({', '.join(FIELDS)}), e.g. "
            "--column username=LoginName; may be repeated",
        )
        parser.add_argument(
            "--allow-lookalike",
            action="append",
            default=[],
            metavar="USERNAME",
            help="let this name of the file in though it looks like another "
            "user's (two different people); needs --domain; may be repeated",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check and count, change nothing"
        )
        parser.add_argument(
            "--block-missing",
            action="store_true",
            help="block the users of the file's domains that the file does not list",
        )
        parser.add_argument(
            "--include-staff",
            action="store_true",
            help="let the file change staff and superusers too",
        )
        parser.add_argument(
            "--by",
            metavar="USERNAME",
            help="the staff user the audit trail names (default: the first superuser)",
        )
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args, **options):
        domain = _domain(options["domain"])
        columns = _columns(options["column"])
        if options["allow_lookalike"] and not domain:
            raise CommandError(
                "--allow-lookalike needs --domain: only names from the directory "
                "may be approved"
            )
        approved = [_name(name, domain) for name in options["allow_lookalike"]]
        actor = _actor(options["by"])
        try:
            binary = _open(options["file"])
        except OSError as exc:
            raise CommandError(
                f"cannot read {options['file']}: {exc.strerror}"
            ) from None
        errors: list[tuple[int, str]] = []
        roster = RosterFile(binary, errors, domain=domain, columns=columns)
        progress = Progress()
        try:
            with binary, transaction.atomic():
                tell_audit(via="import_users", actor_id=actor.pk if actor else None)
                summary = provisioning.import_rows(
                    progress.rows(roster, "reading the file", " rows"),
                    errors,
                    block_missing=options["block_missing"],
                    include_staff=options["include_staff"],
                    dry_run=options["dry_run"],
                    allow_lookalikes=approved,
                    actor=actor,
                    phase=progress.phase,
                )
        except provisioning.ImportRefused as refused:
            raise CommandError(_refusal(refused.errors)) from None
        except DatabaseError as exc:
            if isinstance(exc.__cause__, psycopg.errors.InsufficientPrivilege):
                raise CommandError(
                    "import_users needs the schema's owner role (it makes a "
                    "temporary table): run it as APP_DB_OWNER, as migrate does"
                ) from None
            raise
        finally:
            progress.close()
        counts = summary.counts()
        if not options["dry_run"]:
            log.info(
                "import_users %s: %s",
                options["file"],
                ", ".join(f"{n} {k}" for k, n in counts.items()),
            )
        if options["format"] == "json":
            self.stdout.write(
                json.dumps(
                    {
                        **counts,
                        "dry_run": options["dry_run"],
                        "ignored_columns": roster.ignored,
                    }
                )
            )
            return
        self.stdout.write(
            ("Dry run, nothing written: " if options["dry_run"] else "")
            + ", ".join(f"{n:,} {k}" for k, n in counts.items())
        )
        if roster.ignored:
            self.stdout.write(f"Columns not read: {', '.join(roster.ignored)}")


def _refusal(errors: list[tuple[int, str]]) -> str:
    listed = "\n".join(
        f"line {line}: {reason}" if line else reason
        for line, reason in errors[:MAX_LISTED]
    )
    rest = len(errors) - MAX_LISTED
    more = f"\n... and {provisioning.plural(rest, 'more error')}" if rest > 0 else ""
    return (
        f"nothing imported: {provisioning.plural(len(errors), 'error')}\n{listed}{more}"
    )


def _domain(value: str | None) -> str:
    """The domain as DIRECTORY_DOMAINS spells it, or as given."""
    if not value:
        return ""
    value = value.strip().strip("\\")
    if not value or "\\" in value:
        raise CommandError("--domain: give a domain name, such as UNI")
    directory = settings.DIRECTORIES.get(value.lower())
    return directory.domain if directory else value


def _columns(pairs: list[str]) -> dict[str, str]:
    columns = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or field.strip() not in FIELDS or not column.strip():
            raise CommandError(
                f"--column {pair}: give FIELD=COLUMN, FIELD one of {', '.join(FIELDS)}"
            )
        columns[field.strip()] = column.strip()
    return columns


def _name(value: str, domain: str) -> str:
    value = value.strip()
    return login_name(value if "\\" in value else f"\\{domain}\\{value}")


def _open(path: str):
    if path == "-":
        return sys.stdin.buffer
    return open(path, "rb")  # closed by handle()'s `with`


def _actor(username: str | None) -> User | None:
    users = User.objects.filter(is_staff=True) | User.objects.filter(is_superuser=True)
    if username is not None:
        actor = users.filter(username__iexact=username).first()
        if actor is None:
            raise CommandError(f"--by: no staff user {username}")
        return actor
    return User.objects.filter(is_superuser=True).order_by("created_at").first()
