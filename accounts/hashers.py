"""bcrypt with admission control: a worker never spends all its threads on hashing."""

from __future__ import annotations

import contextvars
import threading
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth.hashers import BCryptSHA256PasswordHasher

# Whether the current sign-in may wait for a hashing slot (accounts.backends sets
# it): a client with recent failed sign-ins may not, and yields to those who may.
may_wait: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "may_wait", default=True
)


class HashingBusy(Exception):
    """No hashing slot of this process was free in time for this sign-in."""


class BoundedBCryptSHA256PasswordHasher(BCryptSHA256PasswordHasher):
    """Django's bcrypt_sha256 (same algorithm, same hashes), at most N at once.

    N is SIGNIN_HASH_SLOTS, one fewer than gunicorn's threads per worker by
    default: a flood of sign-ins keeps a thread free for probes and pages, and a
    sign-in that cannot get a slot soon is answered 503 instead of queueing.
    """

    def encode(self, password, salt):
        with hashing_slot():
            return super().encode(password, salt)


class Slots:
    """N hashing slots; those who may wait are served first, in arrival order.

    Guessing from an address that failed recently never waits: it takes a slot
    that is free with nobody waiting, or gets a 503 at once. So a flood neither
    holds threads in a queue nor pushes a legitimate sign-in to the back of one.
    """

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiting = 0
        self._changed = threading.Condition()

    def acquire(self, *, wait: bool, timeout: float) -> bool:
        with self._changed:
            if wait:
                self._waiting += 1
                try:
                    got = self._changed.wait_for(lambda: self._free > 0, timeout)
                finally:
                    self._waiting -= 1
            else:
                got = self._free > 0 and self._waiting == 0
            if got:
                self._free -= 1
            return got

    def release(self) -> None:
        with self._changed:
            self._free += 1
            self._changed.notify()


_slots: Slots | None = None
_slots_lock = threading.Lock()


@contextmanager
def hashing_slot():
    slots = _process_slots()
    wait = may_wait.get()
    may_wait.set(True)  # for this hash only: the thread serves other requests next
    if not slots.acquire(wait=wait, timeout=settings.SIGNIN_HASH_WAIT):
        raise HashingBusy
    try:
        yield
    finally:
        slots.release()


def _process_slots() -> Slots:
    global _slots
    with _slots_lock:
        if _slots is None:
            _slots = Slots(settings.SIGNIN_HASH_SLOTS)
        return _slots
