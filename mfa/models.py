"""The second factors, as django-otp devices (its documented plugin interface:
a Device subclass with verify_token). Each belongs to a user, and goes with them
(ON DELETE CASCADE in PostgreSQL).

- TOTPDevice: an authenticator app (RFC 6238, 30 s, 6 digits, one step of clock
  skew). The key is stored encrypted (mfa.crypto); each code is accepted once,
  as `last_t` rises under the row lock django_otp.verify_token takes.
- Passkey: a WebAuthn credential (mfa.webauthn verifies its assertions).
- RecoveryCodes: one set a user, of RECOVERY_CODES codes, each stored as a
  salted PBKDF2 hash and deleted when used.
Wrong codes slow the next try, per device (django-otp's ThrottlingMixin).
"""

from __future__ import annotations

import secrets
import time
import uuid

from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import models
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP

from mfa import crypto

STEP, DIGITS, TOLERANCE = 30, 6, 1
RECOVERY_CODES = 10
# 10 characters of this alphabet (no 0/O, 1/I/L): 50 bits a code.
RECOVERY_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
# A code has 50 random bits; the hash's cost only slows an offline search.
RECOVERY_HASH_ITERATIONS = 20_000


def _user():
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DB_CASCADE,
        help_text="The user that this device belongs to.",
    )


class MfaDevice(TimestampMixin, Device):
    """What every factor here has: its user (cascading in the database) and an
    id for the API that says nothing of the table."""

    user = _user()
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    class Meta(Device.Meta):
        abstract = True


class TOTPDevice(ThrottlingMixin, MfaDevice):
    method = "totp"
    encrypted_key = models.TextField(editable=False)
    last_t = models.BigIntegerField(default=-1, editable=False)

    class Meta(MfaDevice.Meta):
        db_table = "mfa_totp_devices"
        verbose_name = "authenticator app"

    @classmethod
    def new(cls, user, name: str) -> TOTPDevice:
        """An unconfirmed device with a fresh 20-byte key (confirmed by a code)."""
        return cls(
            user=user,
            name=name,
            confirmed=False,
            encrypted_key=crypto.encrypt(secrets.token_bytes(20)),
        )

    @property
    def key(self) -> bytes:
        return crypto.decrypt(self.encrypted_key)

    def verify_token(self, token) -> bool:
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        code = str(token).replace(" ", "")
        totp = TOTP(self.key, step=STEP, digits=DIGITS)
        totp.time = time.time()
        if len(code) == DIGITS and code.isdigit():
            verified = totp.verify(int(code), TOLERANCE, min_t=self.last_t + 1)
        else:
            verified = False
        if verified:
            self.last_t = totp.t()
            self.throttle_reset(commit=False)
            self.set_last_used_timestamp(commit=False)
            self.save()
        else:
            self.throttle_increment()
        return verified

    def get_throttle_factor(self) -> int:
        return settings.MFA_THROTTLE_FACTOR


class Passkey(MfaDevice):
    method = "webauthn"
    credential_id = models.BinaryField(unique=True, editable=False)
    public_key = models.BinaryField(editable=False)
    sign_count = models.BigIntegerField(default=0, editable=False)
    transports = models.JSONField(default=list, blank=True, editable=False)

    class Meta(MfaDevice.Meta):
        db_table = "mfa_passkeys"
        verbose_name = "passkey"

    def verify_token(self, token) -> bool:
        return False  # a passkey answers a challenge: mfa.webauthn


class RecoveryCodes(ThrottlingMixin, MfaDevice):
    method = "recovery_code"

    class Meta(MfaDevice.Meta):
        db_table = "mfa_recovery_code_sets"
        verbose_name = "recovery codes"
        constraints = [
            models.UniqueConstraint(fields=["user"], name="mfa_one_code_set_a_user")
        ]

    def generate(self) -> list[str]:
        """Replace the codes with RECOVERY_CODES new ones, returned once."""
        codes = [
            "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10))
            for _ in range(RECOVERY_CODES)
        ]
        hasher = PBKDF2PasswordHasher()
        self.codes.all().delete()
        RecoveryCode.objects.bulk_create(
            RecoveryCode(
                codes=self,
                hash=hasher.encode(
                    code, hasher.salt(), iterations=RECOVERY_HASH_ITERATIONS
                ),
            )
            for code in codes
        )
        return [f"{code[:5]}-{code[5:]}" for code in codes]

    def verify_token(self, token) -> bool:
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        code = str(token).upper().replace("-", "").replace(" ", "")
        hasher = PBKDF2PasswordHasher()
        used = next(
            (row for row in self.codes.all() if hasher.verify(code, row.hash)), None
        )
        if used is None:
            self.throttle_increment()
            return False
        used.delete()
        self.throttle_reset(commit=False)
        self.set_last_used_timestamp(commit=False)
        self.save()
        return True

    def get_throttle_factor(self) -> int:
        return settings.MFA_THROTTLE_FACTOR


class RecoveryCode(models.Model):
    codes = models.ForeignKey(
        RecoveryCodes, on_delete=models.DB_CASCADE, related_name="codes"
    )
    hash = models.CharField(max_length=128)

    class Meta:
        db_table = "mfa_recovery_codes"

    def __str__(self) -> str:
        return "recovery code"
