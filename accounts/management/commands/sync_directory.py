"""`manage.py sync_directory [DOMAIN ...]`: the roster from each directory domain's
Active Directory (DIRECTORY_DOMAINS; all of them when none is named).

Each domain is all or nothing, on its own; the exit status is 1 if any domain
failed. See accounts.directory_sync and docs/provisioning.md.
"""

from __future__ import annotations

import json
import logging

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, transaction

from accounts.directory_sync import DirectoryAway, SyncRefused, sync
from accounts.names import login_name
from accounts.progress import Progress
from accounts.provisioning import plural
from core.audit_context import tell_audit

log = logging.getLogger(__name__)
# The errors a refused domain lists; the rest are counted.
MAX_LISTED = 100


class Command(BaseCommand):
    help = (
        "Create, update, block and unblock the users of each directory domain "
        "(DIRECTORY_DOMAINS) as its directory says."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "domains", nargs="*", metavar="DOMAIN", help="default: every directory"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="read and count, change nothing"
        )
        parser.add_argument(
            "--include-staff",
            action="store_true",
            help="let the directory change and block staff and superusers too",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="block more than DIRECTORY_<D>_MAX_BLOCK_SHARE of a domain's users",
        )
        parser.add_argument(
            "--allow-lookalike",
            action="append",
            default=[],
            metavar="USERNAME",
            help="let this directory name in though it looks like another user's "
            "(two different people); may be repeated",
        )
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args, **options):
        directories = _directories(options["domains"])
        results: dict[str, dict] = {}
        failed = []
        for directory in directories:
            approved = [
                login_name(n if "\\" in n else f"\\{directory.domain}\\{n}")
                for n in options["allow_lookalike"]
            ]
            ours = [n for n in approved if n.split("\\")[1].lower() == directory.key]
            progress = Progress()
            try:
                with transaction.atomic():
                    tell_audit(via="sync_directory")
                    summary = sync(
                        directory,
                        dry_run=options["dry_run"],
                        include_staff=options["include_staff"],
                        force=options["force"],
                        allow_lookalikes=ours,
                        phase=progress.phase,
                        count=progress.count,
                    )
            except DirectoryAway as away:
                failed.append(directory.domain)
                results[directory.domain] = {"error": str(away)}
                log.error("sync_directory %s: %s", directory.domain, away)
                self.stderr.write(f"sync_directory {directory.domain}: {away}")
                continue
            except SyncRefused as refused:
                failed.append(directory.domain)
                results[directory.domain] = {
                    "error": "nothing changed: " + plural(len(refused.errors), "error"),
                    "errors": [
                        f"{dn}: {reason}" if dn else reason
                        for dn, reason in refused.errors
                    ],
                }
                log.error(
                    "sync_directory %s: refused, %s",
                    directory.domain,
                    plural(len(refused.errors), "error"),
                )
                self.stderr.write(_refusal(directory.domain, refused.errors))
                continue
            except DatabaseError as exc:
                if isinstance(exc.__cause__, psycopg.errors.InsufficientPrivilege):
                    raise CommandError(
                        "sync_directory needs the schema's owner role (it makes "
                        "temporary tables): run it as APP_DB_OWNER, as migrate does"
                    ) from None
                raise
            finally:
                progress.close()
            counts = summary.counts()
            results[directory.domain] = counts
            said = ", ".join(f"{n:,} {k}" for k, n in counts.items())
            if not options["dry_run"]:
                log.info("sync_directory %s: %s", directory.domain, said)
            if options["format"] == "text":
                self.stdout.write(
                    f"{directory.domain}: "
                    + ("dry run, nothing written: " if options["dry_run"] else "")
                    + said
                )
        if options["format"] == "json":
            self.stdout.write(
                json.dumps({"domains": results, "dry_run": options["dry_run"]})
            )
        if failed:
            raise CommandError(
                f"sync_directory failed for {', '.join(failed)}: nothing changed there"
            )


def _refusal(domain: str, errors: list[tuple[str, str]]) -> str:
    listed = "\n".join(
        f"{dn}: {reason}" if dn else reason for dn, reason in errors[:MAX_LISTED]
    )
    rest = len(errors) - MAX_LISTED
    more = f"\n... and {plural(rest, 'more error')}" if rest > 0 else ""
    return (
        f"sync_directory {domain}: nothing changed, "
        f"{plural(len(errors), 'error')}\n{listed}{more}"
    )


def _directories(domains: list[str]):
    configured = settings.DIRECTORIES
    if not configured:
        raise CommandError(
            "no directory to read: DIRECTORY_DOMAINS is empty (see docs/directory.md)"
        )
    if not domains:
        return list(configured.values())
    unknown = [d for d in domains if d.lower() not in configured]
    if unknown:
        raise CommandError(
            f"not a directory domain: {', '.join(unknown)} (DIRECTORY_DOMAINS is "
            f"{', '.join(d.domain for d in configured.values())})"
        )
    return [configured[d.lower()] for d in dict.fromkeys(domains)]
