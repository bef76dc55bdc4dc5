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
# Whether a sign-in that may wait may also take the seat from another that may:
# not when its address was just refused (accounts.throttling.refused).
strong: contextvars.ContextVar[bool] = contextvars.ContextVar("strong", default=True)


class HashingBusy(Exception):
    """No hashing slot of this process was free in time for this sign-in."""


class BoundedBCryptSHA256PasswordHasher(BCryptSHA256PasswordHasher):
    """Django's bcrypt_sha256 (same algorithm, same hashes), at most N at once.

    N is SIGNIN_HASH_SLOTS, by default GUNICORN_THREADS - 2: with one more thread
    waiting for a slot (`Slots`), a flood of sign-ins still leaves a thread free
    for pages, and a sign-in that cannot get a slot soon gets a 503.
    """

    def encode(self, password, salt):
        with hashing_slot():
            return super().encode(password, salt)


# Who sits in the seat of `Slots`: one who may not wait, one who may but was
# just refused, one who may and takes the seat from anyone.
GUESSER, REFUSED, PERSON = range(3)


class Slots:
    """N hashing slots, and one seat to wait for the next that frees.

    The seat keeps a sign-in ready to take a slot the moment one frees, so the
    cores never idle between hashes; a thread is all it holds. A sign-in that
    may wait takes the seat from whoever sits there, unless its address was
    just refused: then only from a guesser. One that may not (its address is
    guessing) sits only when the seat is empty. Anyone else gets no slot, at
    once: a flood neither queues up threads nor pushes a legitimate sign-in to
    the back of a line.
    """

    def __init__(self, size: int) -> None:
        self._free = size
        self._seated: object | None = None
        self._kind = GUESSER
        self._changed = threading.Condition()

    def acquire(self, *, wait: bool, timeout: float, strong: bool = True) -> bool:
        with self._changed:
            if self._free > 0 and self._seated is None:
                self._free -= 1
                return True
            kind = (GUESSER, REFUSED, PERSON)[wait + (wait and strong)]
            if self._seated is not None and not (
                kind == PERSON or (kind == REFUSED and self._kind == GUESSER)
            ):
                return False
            me = self._seated = object()
            self._kind = kind
            self._changed.notify_all()  # whoever sat here gives up
            self._changed.wait_for(
                lambda: self._seated is not me or self._free > 0, timeout
            )
            if self._seated is not me:
                return False
            self._seated = None
            if self._free == 0:
                return False
            self._free -= 1
            return True

    def release(self) -> None:
        with self._changed:
            self._free += 1
            self._changed.notify_all()

    def crowded(self) -> bool:
        """Whether a sign-in that may not wait would get no slot."""
        return self._free == 0 and self._seated is not None


_slots: Slots | None = None
_slots_lock = threading.Lock()


@contextmanager
def hashing_slot():
    slots = _process_slots()
    wait, may_take = may_wait.get(), strong.get()
    # For this hash only: the thread serves other requests next.
    may_wait.set(True)
    strong.set(True)
    if not slots.acquire(wait=wait, timeout=settings.SIGNIN_HASH_WAIT, strong=may_take):
        raise HashingBusy
    try:
        yield
    finally:
        slots.release()


def crowded() -> bool:
    """Whether this process would turn away a sign-in that may not wait."""
    return _process_slots().crowded()


def _process_slots() -> Slots:
    global _slots
    with _slots_lock:
        if _slots is None:
            _slots = Slots(settings.SIGNIN_HASH_SLOTS)
        return _slots
