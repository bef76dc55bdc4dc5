"""bcrypt with a bound: a worker process never spends all its threads on hashing."""

from __future__ import annotations

import threading

from django.conf import settings
from django.contrib.auth.hashers import BCryptSHA256PasswordHasher

from config.middleware import ServiceBusy

_slots: threading.BoundedSemaphore | None = None
_slots_lock = threading.Lock()


class HashingBusy(ServiceBusy):
    """No hashing slot of this process came free within SIGNIN_HASH_WAIT seconds."""

    message = "sign-in is busy: try again shortly"


class BoundedBCryptSHA256PasswordHasher(BCryptSHA256PasswordHasher):
    """Django's bcrypt_sha256 (same algorithm, same hashes), at most N at once.

    N is SIGNIN_HASH_SLOTS a process. nginx already passes an instance fewer
    sign-ins at once than it has threads (docker/nginx); this bound holds when
    gunicorn is reached without nginx, and answers 503 rather than queueing.
    """

    def encode(self, password, salt):
        slots = _process_slots()
        if not slots.acquire(timeout=settings.SIGNIN_HASH_WAIT):
            raise HashingBusy
        try:
            return super().encode(password, salt)
        finally:
            slots.release()


def _process_slots() -> threading.BoundedSemaphore:
    global _slots
    with _slots_lock:
        if _slots is None:
            _slots = threading.BoundedSemaphore(settings.SIGNIN_HASH_SLOTS)
        return _slots
