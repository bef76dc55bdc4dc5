"""`manage.py import_users FILE`: users in from the directory's CSV export.

All or nothing: any bad row stops the import with every error by line, and the
database is as it was. See accounts.provisioning and the README.
"""

from __future__ import annotations

import json
import sys

import psycopg
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, transaction
from tqdm import tqdm

from accounts import provisioning
from accounts.csv_import import read_rows
from accounts.models import User


class Command(BaseCommand):
    help = (
        "Create and update users from a CSV file (username, password_hash, is_blocked)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV file, or - for standard input")
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
            help="let the file change staff and superusers (hash, block flag) too",
        )
        parser.add_argument(
            "--by",
            metavar="USERNAME",
            help="the staff user the admin's history names (default: first superuser)",
        )
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args, **options):
        actor = _actor(options["by"])
        errors: list[tuple[int, str]] = []
        try:
            binary = _open(options["file"])
        except OSError as exc:
            raise CommandError(
                f"cannot read {options['file']}: {exc.strerror}"
            ) from None
        progress = tqdm(
            read_rows(binary, errors),
            unit=" rows",
            disable=not sys.stderr.isatty(),
            file=sys.stderr,
        )
        try:
            with binary, transaction.atomic():
                summary = provisioning.import_rows(
                    progress,
                    errors,
                    block_missing=options["block_missing"],
                    include_staff=options["include_staff"],
                    actor=actor,
                    source=options["file"],
                )
                if options["dry_run"]:
                    transaction.set_rollback(True)
        except provisioning.ImportRefused as refused:
            listed = "\n".join(
                f"line {line}: {reason}" for line, reason in refused.errors
            )
            raise CommandError(
                f"nothing imported: {len(refused.errors)} errors\n{listed}"
            ) from None
        except DatabaseError as exc:
            if isinstance(exc.__cause__, psycopg.errors.InsufficientPrivilege):
                raise CommandError(
                    "import_users needs the schema's owner role (it makes a "
                    "temporary table): run it as APP_DB_OWNER, as migrate does"
                ) from None
            raise
        finally:
            progress.close()
        counts = {**summary.counts(), "dry_run": options["dry_run"]}
        if options["format"] == "json":
            self.stdout.write(json.dumps(counts))
        else:
            self.stdout.write(
                ("Dry run, nothing written: " if options["dry_run"] else "")
                + ", ".join(f"{counts[k]} {k}" for k in provisioning.Summary().counts())
            )


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
