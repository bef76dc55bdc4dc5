"""`manage.py purge_auth_events`: remove security events past their retention.

DJANGO_AUDIT_RETENTION_DAYS (365) by default, or --days. Run daily beside
clearsessions, as the schema's owner role (the runtime role may not delete
events). The purge is itself recorded (`audit.purged`). Batches of --batch rows,
each its own transaction, so that nothing waits long behind it; inserts never
wait for a DELETE in PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from accounts.audit_context import tell_audit
from audit.models import Kind

# Oldest first, a batch at a time, each batch starting where the last ended: the
# time index is walked once, never again over the rows already deleted.
DELETE = """
WITH gone AS (
    DELETE FROM auth_events WHERE id IN (
        SELECT id FROM auth_events
        WHERE occurred_at >= %s AND occurred_at < %s
        ORDER BY occurred_at LIMIT %s
    )
    RETURNING occurred_at
)
SELECT count(*), max(occurred_at) FROM gone
"""
RECORD = "INSERT INTO auth_events (kind, detail) VALUES (%s, %s)"


class Command(BaseCommand):
    help = "Remove security events older than DJANGO_AUDIT_RETENTION_DAYS."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None)
        parser.add_argument("--batch", type=int, default=50_000)

    def handle(self, *args, **options):
        days = options["days"]
        days = settings.AUDIT_RETENTION_DAYS if days is None else days
        if days < 1 or options["batch"] < 1:
            raise CommandError("--days and --batch must be at least 1")
        before = timezone.now() - timedelta(days=days)
        deleted, start = 0, datetime.min.replace(tzinfo=UTC)
        try:
            while True:
                with transaction.atomic(), connection.cursor() as cursor:
                    tell_audit(purge="on")
                    cursor.execute(DELETE, [start, before, options["batch"]])
                    batch, last = cursor.fetchone()
                deleted += batch
                if batch < options["batch"]:
                    break
                start = last
            with connection.cursor() as cursor:
                # The chart's counts of those hours go with them.
                cursor.execute("DELETE FROM auth_event_hours WHERE hour < %s", [before])
                detail = {
                    "deleted": deleted,
                    "before": before.isoformat(),
                    "days": days,
                }
                cursor.execute(RECORD, [Kind.AUDIT_PURGED, json.dumps(detail)])
        except DatabaseError as exc:
            if isinstance(exc.__cause__, psycopg.errors.InsufficientPrivilege):
                raise CommandError(
                    "purge_auth_events needs the schema's owner role "
                    "(APP_DB_OWNER): the app's role may not delete events"
                ) from None
            raise
        self.stdout.write(f"Removed {deleted} events older than {days} days.")
