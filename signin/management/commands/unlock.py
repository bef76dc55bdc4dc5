"""`manage.py unlock --user '\\uni\\jsmith'` / `--ip 192.0.2.1`: end a sign-in lockout
(`make unlock USER=... IP=...`), saying what was cleared, and recording it in the
audit trail (signin.unlocked), as the admin's "Unlock" button does."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.names import login_name
from audit.events import record
from audit.models import Kind
from signin.lockout import unlock_address, unlock_user


def _times(n: int) -> str:
    return f"{n} failed sign-in{'' if n == 1 else 's'}"


class Command(BaseCommand):
    help = "Clear the failed sign-ins that lock out a user or an address."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--user", help="the name, \\domain\\username, any case")
        parser.add_argument("--ip", help="a client address")

    def handle(self, *args, user=None, ip=None, **options) -> None:
        if not user and not ip:
            raise CommandError("name whom to unlock: --user '\\uni\\jsmith' or --ip")
        if user:
            done = unlock_user(user)
            found = User.objects.filter(username__iexact=login_name(user)).first()
            record(
                Kind.SIGNIN_UNLOCKED,
                None,
                user=found,
                username=user,
                detail={"cleared": done.cleared},
            )
            self.stdout.write(f"Cleared {_times(done.cleared)} of {user}.")
            for address, failures in done.locked_addresses:
                if address == ip:
                    continue
                self.stdout.write(
                    f"The address {address} is locked too ({_times(failures)} from "
                    f"it, for any names): make unlock IP={address}"
                )
        if ip:
            cleared = unlock_address(ip)
            record(
                Kind.SIGNIN_UNLOCKED, None, detail={"cleared": cleared, "address": ip}
            )
            self.stdout.write(f"Cleared {_times(cleared)} from {ip}.")
