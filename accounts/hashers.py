"""bcrypt with admission control: a worker never spends all its threads on hashing."""

from __future__ import annotations

import threading
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth.hashers import BCryptSHA256PasswordHasher

_slots: threading.BoundedSemaphore | None = None
_slots_lock = threading.Lock()


class HashingBusy(Exception):
    """Every hashing slot of this process stayed taken for SIGNIN_HASH_WAIT s."""


class BoundedBCryptSHA256PasswordHasher(BCryptSHA256PasswordHasher):
    """Django's bcrypt_sha256 (same algorithm, same hashes), at most N at once.

    N is SIGNIN_HASH_SLOTS, one fewer than gunicorn's threads per worker by
    default: a flood of sign-ins keeps a thread free for probes and pages, and a
    sign-in that cannot get a slot soon is answered 503 instead of queueing.
    """

    def encode(self, password, salt):
        with hashing_slot():
            return super().encode(password, salt)


@contextmanager
def hashing_slot():
    slots = _semaphore()
    if not slots.acquire(timeout=settings.SIGNIN_HASH_WAIT):
        raise HashingBusy
    try:
        yield
    finally:
        slots.release()


def _semaphore() -> threading.BoundedSemaphore:
    global _slots
    with _slots_lock:
        if _slots is None:
            _slots = threading.BoundedSemaphore(settings.SIGNIN_HASH_SLOTS)
        return _slots
