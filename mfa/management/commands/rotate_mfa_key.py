"""Re-encrypt every authenticator-app secret under the first key of
DJANGO_MFA_KEY, after a new key was put first (docs/operations.md)."""

from __future__ import annotations

from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from mfa import crypto
from mfa.models import TOTPDevice


class Command(BaseCommand):
    help = (
        "Re-encrypt every authenticator-app secret with the first key of "
        "DJANGO_MFA_KEY; then the others may be dropped."
    )

    def handle(self, *args, **options):
        done = 0
        with transaction.atomic():
            devices = TOTPDevice.objects.select_for_update().only("encrypted_key")
            for device in devices.iterator():
                try:
                    device.encrypted_key = crypto.rotate(device.encrypted_key)
                except InvalidToken:
                    raise CommandError(
                        "a secret opens with no key of DJANGO_MFA_KEY: put back the "
                        "key it was encrypted with (nothing was changed)"
                    ) from None
                device.save(update_fields=["encrypted_key"])
                done += 1
        self.stdout.write(f"{done} secret(s) now encrypted with the first key.")
