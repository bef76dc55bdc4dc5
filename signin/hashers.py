"""The password hashers of PASSWORD_HASHERS, each bounded: every password check,
whatever its hash, takes one of a process's few hashing slots, and a stored hash
outside accounts.password_hashes' rule is never computed.

Django documents custom hashers as subclasses listed in PASSWORD_HASHERS; these
change no algorithm and no hash, only when and whether the work is done.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from django.conf import settings
from django.contrib.auth import hashers

from accounts.password_hashes import hash_refusal
from config.middleware import ServiceBusy

log = logging.getLogger(__name__)
_slots: threading.BoundedSemaphore | None = None
_slots_lock = threading.Lock()
# A thread already holding a slot (a verify that encodes) takes no second one.
_holding = threading.local()


class HashingBusy(ServiceBusy):
    """No hashing slot of this process came free within SIGNIN_HASH_WAIT seconds."""

    message = "sign-in is busy: try again shortly"


@contextlib.contextmanager
def hashing_slot():
    """Hold one of SIGNIN_HASH_SLOTS a process, or raise HashingBusy.

    nginx already passes an instance fewer sign-ins at once than it has threads
    (docker/nginx); this bound holds when gunicorn is reached without nginx,
    and answers 503 rather than queueing.
    """
    if getattr(_holding, "slot", False):
        yield
        return
    slots = _process_slots()
    if not slots.acquire(timeout=settings.SIGNIN_HASH_WAIT):
        raise HashingBusy
    _holding.slot = True
    try:
        yield
    finally:
        _holding.slot = False
        slots.release()


class _Bounded:
    """Hash only inside a slot; verify only hashes within the rule."""

    def encode(self, *args, **kwargs):
        with hashing_slot():
            return super().encode(*args, **kwargs)

    def verify(self, password, encoded):
        if refusal := hash_refusal(encoded):
            # The same failed sign-in as a wrong password; the operator learns why.
            log.warning("password hash not checked: %s (replace it)", refusal)
            hashers.make_password(password)  # as long as a real check takes
            return False
        with hashing_slot():
            try:
                return super().verify(password, encoded)
            except (ValueError, TypeError):
                log.warning(
                    "password hash not checked: %s is malformed", self.algorithm
                )
                return False

    def harden_runtime(self, password, encoded):
        if hash_refusal(encoded) is None:
            with hashing_slot():
                super().harden_runtime(password, encoded)


class BoundedBCryptSHA256PasswordHasher(_Bounded, hashers.BCryptSHA256PasswordHasher):
    """Django's bcrypt_sha256 (same hashes), the default: new passwords get it."""


class BoundedBCryptPasswordHasher(_Bounded, hashers.BCryptPasswordHasher):
    """Django's bcrypt, for imported hashes; upgraded at the next sign-in."""


class BoundedPBKDF2PasswordHasher(_Bounded, hashers.PBKDF2PasswordHasher):
    """Django's pbkdf2_sha256, for imported hashes; upgraded at the next sign-in."""


class BoundedScryptPasswordHasher(_Bounded, hashers.ScryptPasswordHasher):
    """Django's scrypt, for imported hashes; upgraded at the next sign-in."""


def _process_slots() -> threading.BoundedSemaphore:
    global _slots
    with _slots_lock:
        if _slots is None:
            _slots = threading.BoundedSemaphore(settings.SIGNIN_HASH_SLOTS)
        return _slots
