"""The second factor's rules, as functions the doors call (the API in
signin/mfa_api.py, the admin's pages in signin/mfa_pages.py).

A sign-in whose user has a factor, or must have one (DJANGO_MFA_REQUIRED_FOR),
is half done after the password: the session is marked PENDING and, until the
second step, mfa.middleware hides its user from everything else (they are
anonymous to the API and the admin). The second step is a code (authenticator
app or recovery code) or a passkey; it rotates the session key and tells
django-otp which device verified the session (`request.user.is_verified()`).
A user who must have a factor and has none yet may only enrol one; enrolling
completes the sign-in.
"""

from __future__ import annotations

import time
import uuid

import django_otp
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import HttpRequest
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY

from accounts.models import Session, User
from audit.events import record
from audit.models import Kind
from mfa.models import DIGITS, Passkey, RecoveryCode, RecoveryCodes, TOTPDevice

# When the password step of a half-done sign-in succeeded (seconds since the epoch).
PENDING = "_mfa_pending_at"
# The two kinds of factor one signs in with; recovery codes stand in for them.
FACTORS = (Passkey, TOTPDevice)


class Throttled(Exception):
    """Too many wrong codes: no code is checked until `retry_after` seconds pass."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many attempts")
        self.retry_after = retry_after


def required(user) -> bool:
    """Whether DJANGO_MFA_REQUIRED_FOR says `user` needs a second factor."""
    who = settings.MFA_REQUIRED_FOR
    return (
        "everyone" in who
        or ("staff" in who and user.is_staff)
        or ("superusers" in who and user.is_superuser)
    )


def may_enrol(user) -> bool:
    return required(user) or settings.MFA_STUDENTS_MAY_ENROL


def methods(user) -> list[str]:
    """The methods `user` can complete a sign-in with, in one statement:
    "webauthn", "totp", "recovery_code" (the last only beside another)."""
    mine = {"user": OuterRef("pk"), "confirmed": True}
    row = (
        User.objects.filter(pk=user.pk)
        .values(
            webauthn=Exists(Passkey.objects.filter(**mine)),
            totp=Exists(TOTPDevice.objects.filter(**mine)),
            recovery_code=Exists(
                RecoveryCode.objects.filter(codes__user=OuterRef("pk"))
            ),
        )
        .first()
    ) or {}
    found = [name for name in ("webauthn", "totp") if row.get(name)]
    if found and row.get("recovery_code"):
        found.append("recovery_code")
    return found


# The sign-in's two steps.


def signed_in(request: HttpRequest, user) -> None:
    """After the password (any door: Django's user_logged_in): mark the session
    half done when the user has or must have a factor. A new sign-in is never
    verified by an earlier one's second step."""
    request.session.pop(DEVICE_ID_SESSION_KEY, None)
    if required(user) or methods(user):
        request.session[PENDING] = time.time()
        # What mfa.middleware does from the next request on.
        request.user, request.mfa_user = AnonymousUser(), user
    else:
        request.session.pop(PENDING, None)


def pending_user(request: HttpRequest):
    """The user whose sign-in waits for its second step (or enrolment), or None."""
    request.user.is_authenticated  # noqa: B018 - mfa.middleware decides here
    return getattr(request, "mfa_user", None)


def expired(request: HttpRequest) -> bool:
    at = request.session.get(PENDING)
    return at is not None and time.time() - at > settings.MFA_PENDING_SECONDS


def complete(request: HttpRequest, device) -> None:
    """Finish a half-done sign-in with the device that verified it."""
    user = pending_user(request)
    if user is None:
        return
    request.user = user
    del request.mfa_user
    request.session.pop(PENDING, None)
    request.session.cycle_key()
    django_otp.login(request, device)
    record(Kind.MFA_VERIFIED, request, user=user, detail={"method": device.method})


def verify_code(request: HttpRequest, code: str):
    """Check a code of the pending user: six digits for an authenticator app,
    else a recovery code (used up). Return the device, or None; raise Throttled
    while the factor is slowed down by earlier wrong codes."""
    user = pending_user(request)
    code = code.strip().replace(" ", "")
    model = TOTPDevice if len(code) == DIGITS and code.isdigit() else RecoveryCodes
    devices = list(model.objects.devices_for_user(user, confirmed=True))
    _refuse_if_throttled(devices)
    for device in devices:
        verified = django_otp.verify_token(user, device.persistent_id, code)
        if verified is not None:
            if model is RecoveryCodes:
                left = verified.codes.count()
                record(
                    Kind.MFA_RECOVERY_CODE_USED,
                    request,
                    user=user,
                    detail={"left": left},
                )
            return verified
    record_failure(request, user, model.method)
    return None


def record_failure(request: HttpRequest, user, method: str) -> None:
    record(Kind.MFA_FAILED, request, user=user, detail={"method": method})


def _refuse_if_throttled(devices) -> None:
    waits = []
    for device in devices:
        allowed, why = device.verify_is_allowed()
        if allowed:
            return
        waits.append((why or {}).get("locked_until"))
    if waits and all(waits):
        seconds = min(wait for wait in waits) - timezone.now()
        raise Throttled(max(1, int(seconds.total_seconds()) + 1))


# Enrolment and removal.


def start_totp(user, name: str) -> TOTPDevice:
    """A new, unconfirmed authenticator app (any earlier unconfirmed one goes)."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    device = TOTPDevice.new(user, name or "Authenticator app")
    device.save()
    return device


def confirm_totp(request: HttpRequest, user, device: TOTPDevice, code: str):
    """Confirm an authenticator app with its first code; return the recovery
    codes when they are new (shown once), [] when the user had some, or None for
    a wrong code."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        if not device.verify_token(code):
            return None
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        return enrolled(request, user, device)


def enrolled(request: HttpRequest, user, device) -> list[str]:
    """A new confirmed factor: audited; the first gets recovery codes; a half-done
    sign-in is complete (the factor was just proven)."""
    record(
        Kind.MFA_ENROLLED,
        request,
        user=user,
        detail={"method": device.method, "name": device.name},
    )
    codes = []
    if not RecoveryCodes.objects.filter(user=user).exists():
        codes = new_recovery_codes(request, user)
    if pending_user(request) is not None:
        complete(request, device)
    else:
        # This session proved the new factor: it stays verified.
        django_otp.login(request, device)
    return codes


def new_recovery_codes(request: HttpRequest, user) -> list[str]:
    """Replace the user's recovery codes; the new ones are shown once."""
    with transaction.atomic():
        codes, _ = RecoveryCodes.objects.get_or_create(
            user=user, defaults={"name": "Recovery codes"}
        )
        record(Kind.MFA_RECOVERY_CODES_NEW, request, user=user)
        return codes.generate()


def remove(request: HttpRequest, user, device) -> None:
    """Remove one factor. With the last one go the recovery codes and, for a
    user who must have a factor, every other session of theirs."""
    with transaction.atomic():
        device.delete()
        record(
            Kind.MFA_REMOVED,
            request,
            user=user,
            detail={"method": device.method, "name": device.name},
        )
        if any(model.objects.filter(user=user).exists() for model in FACTORS):
            return
        RecoveryCodes.objects.filter(user=user).delete()
        if required(user):
            _end_sessions(user, keep=request.session.session_key)


def reset(request: HttpRequest, user) -> int:
    """A superuser removes every factor of `user`, and ends their sessions."""
    with transaction.atomic():
        removed = sum(
            model.objects.filter(user=user).delete()[1].get(model._meta.label, 0)
            for model in (*FACTORS, RecoveryCodes)
        )
        record(
            Kind.MFA_RESET,
            request,
            user=user,
            actor=request.user,
            detail={"removed": removed},
        )
        _end_sessions(user, keep=None)
    return removed


def _end_sessions(user, keep: str | None) -> None:
    Session.objects.filter(user=user).exclude(session_key=keep or "").delete()


def devices(user) -> list:
    """The user's confirmed factors and recovery codes, the newest first."""
    found = [
        device
        for model in (*FACTORS, RecoveryCodes)
        for device in model.objects.devices_for_user(user, confirmed=True)
    ]
    return sorted(found, key=lambda d: d.created_at, reverse=True)


def find_device(user, public_id):
    """The user's factor of that id (a UUID, or any text from a form), or None."""
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        return None
    for model in (*FACTORS, RecoveryCodes):
        device = model.objects.filter(user=user, public_id=public_id).first()
        if device is not None:
            return device
    return None
