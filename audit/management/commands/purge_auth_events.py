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

from audit.models import Kind
from core.audit_context import tell_audit

# Oldest first, a batch at a time, by ranges of the time index: the batch ends
# where the next `batch` rows start, and each DELETE is an index range scan.
BOUNDARY = """
SELECT occurred_at FROM auth_events
WHERE occurred_at >= %s AND occurred_at < %s
ORDER BY occurred_at OFFSET %s LIMIT 1
"""
DELETE = "DELETE FROM auth_events WHERE occurred_at >= %s AND occurred_at < %s"
DELETE_AT = "DELETE FROM auth_events WHERE occurred_at = %s"
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
        deleted, start, end = 0, datetime.min.replace(tzinfo=UTC), None
        try:
            while end != before:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(BOUNDARY, [start, before, options["batch"]])
                    row = cursor.fetchone()
                    end = row[0] if row else before
                    tell_audit(purge="on")
                    if end == start:  # a batch's worth at one instant: all of it
                        cursor.execute(DELETE_AT, [start])
                    else:
                        cursor.execute(DELETE, [start, end])
                    deleted += cursor.rowcount
                start = end
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
