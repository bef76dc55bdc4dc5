"""`manage.py export_users`: every user as the CSV that import_users reads."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from accounts.provisioning import export_users


class Command(BaseCommand):
    help = "Write every user as CSV (username, is_blocked[, password_hash])."

    def add_arguments(self, parser):
        parser.add_argument(
            "--with-hashes",
            action="store_true",
            help="add the password_hash column (handle the file as a secret)",
        )

    def handle(self, *args, **options):
        export_users(self.stdout, with_hashes=options["with_hashes"])
