"""Secrets at rest: authenticator-app keys are stored encrypted with
DJANGO_MFA_KEY (Fernet, AES-128-CBC with HMAC-SHA256). Several keys may be given:
the first encrypts, each decrypts, and `manage.py rotate_mfa_key` re-encrypts
every secret under the first (docs/operations.md)."""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.MFA_KEYS))


def encrypt(secret: bytes) -> str:
    return fernet().encrypt(secret).decode()


def decrypt(token: str) -> bytes:
    """Raise cryptography.fernet.InvalidToken if no key of DJANGO_MFA_KEY opens it."""
    return fernet().decrypt(token.encode())


def rotate(token: str) -> str:
    return fernet().rotate(token.encode()).decode()
