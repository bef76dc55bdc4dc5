"""`manage.py export_users`: every user as the CSV that import_users reads."""

from __future__ import annotations

import os
import sys

from django.core.management.base import BaseCommand

from accounts.provisioning import export_users, plural, staff_hashes


class Command(BaseCommand):
    help = (
        "Write every user as CSV (username, is_blocked, display_name, email"
        "[, password_hash])."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--with-hashes",
            action="store_true",
            help="add the password_hash column (handle the file as a secret)",
        )

    def handle(self, *args, **options):
        if options["with_hashes"] and (staff := staff_hashes()):
            self.stderr.write(
                "Warning: the file holds the password hashes of "
                f"{plural(staff, 'staff user')} (staff or superusers): keep it "
                "as a secret."
            )
        try:
            export_users(self.stdout, with_hashes=options["with_hashes"])
            self.stdout.flush()
        except BrokenPipeError:
            # The reader stopped (`export_users | head`): end quietly, as the
            # Python documentation shows, with stdout pointed at nothing so
            # that the interpreter's last flush does not fail again.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(1)
