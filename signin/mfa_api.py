"""The second factor's API, `/api/auth/mfa/...` (the rules: mfa.flows).

`POST /api/auth/login` with the right password of a user who has (or must have)
a factor answers 401 {"error": "second factor required", "methods": [...]}, with
a session that can only do the second step: `POST /api/auth/mfa/authenticate`
(a code, or a passkey's assertion after `.../webauthn/authenticate/options`).
A user who must have a factor and has none gets "second factor enrolment
required" instead, and may only enrol one (which completes the sign-in).
Enrolling and removing need a recent authentication (signin.reauth): the
sign-in's own, or `POST /api/auth/reauthenticate`. Every change needs the CSRF
token, as the rest of the API.
"""

from __future__ import annotations

from base64 import b32encode
from http import HTTPStatus
from urllib.parse import quote, urlencode
from uuid import UUID

import segno
from django.conf import settings
from django.http import HttpResponse
from django.middleware.csrf import get_token
from ninja import Router, Status
from ninja.security import SessionAuth

from config.schemas import ErrorOut, InvalidOut
from mfa import flows, webauthn
from mfa.models import RecoveryCode, RecoveryCodes, TOTPDevice
from signin.reauth import require_recent_authentication
from signin.schemas import (
    EnrolledOut,
    MfaStatusOut,
    PasskeyRegistration,
    RecoveryCodesOut,
    SecondStep,
    TotpConfirm,
    TotpStart,
    TotpStartOut,
    UserOut,
)

router = Router(tags=["second factor"])
WRONG = {"error": "invalid second factor"}
NOT_OFFERED = {"error": "second factor not offered to this user"}

ANY = {
    HTTPStatus.BAD_REQUEST: ErrorOut,
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: ErrorOut,
    HTTPStatus.SERVICE_UNAVAILABLE: ErrorOut,
    HTTPStatus.UNAUTHORIZED: ErrorOut,
    HTTPStatus.FORBIDDEN: ErrorOut,
    HTTPStatus.UNPROCESSABLE_ENTITY: InvalidOut,
}


class SecondStepAuth(SessionAuth):
    """A half-done sign-in of a user with a factor (CSRF checked)."""

    def authenticate(self, request, key):
        user = flows.pending_user(request)
        if user is not None and flows.methods(user):
            return user
        return None


class EnrolmentAuth(SessionAuth):
    """A signed-in user, or a half-done sign-in of one who must enrol a first
    factor (`enrolling`); with a recent authentication (CSRF checked)."""

    def __init__(self, *, enrolling: bool) -> None:
        super().__init__()
        self.enrolling = enrolling

    def authenticate(self, request, key):
        user = request.user if request.user.is_authenticated else None
        pending = flows.pending_user(request)
        enrolling = self.enrolling and pending is not None
        if user is None and enrolling and not flows.methods(pending):
            user = pending
        if user is None:
            return None
        require_recent_authentication(request)
        return user


second_step = SecondStepAuth()
signed_in = EnrolmentAuth(enrolling=False)
enrolling = EnrolmentAuth(enrolling=True)


def _user(request):
    return request.auth


def _may_enrol(user) -> bool:
    return flows.may_enrol(user) or bool(flows.methods(user))


@router.get("", auth=enrolling, response={HTTPStatus.OK: MfaStatusOut, **ANY})
def status(request):
    """The caller's factors, and whether they must have one."""
    user = _user(request)
    devices = flows.devices(user)
    left = RecoveryCode.objects.filter(codes__user=user).count()
    return {
        "required": flows.required(user),
        "may_enrol": _may_enrol(user),
        "verified": request.user.is_authenticated and request.user.is_verified(),
        "methods": flows.methods(user),
        "devices": [_device(device) for device in devices],
        "recovery_codes_left": left,
    }


def _device(device) -> dict:
    return {
        "id": device.public_id,
        "method": device.method,
        "name": device.name,
        "created_at": device.created_at,
        "last_used_at": device.last_used_at,
    }


@router.post(
    "/authenticate",
    auth=second_step,
    response={
        HTTPStatus.OK: UserOut,
        HTTPStatus.TOO_MANY_REQUESTS: ErrorOut,
        **ANY,
    },
)
def authenticate(request, body: SecondStep, response: HttpResponse):
    """Complete a sign-in with a code (authenticator app or recovery code) or a
    passkey's assertion. A wrong one is 401 and slows the next try (429 with
    Retry-After while it must wait). The session key rotates; the new CSRF
    token comes in the `X-CSRFToken` header."""
    user = _user(request)
    if (body.code is None) == (body.webauthn is None):
        return Status(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            {"error": "invalid input", "fields": {"body": "give code or webauthn"}},
        )
    if body.code is not None:
        try:
            device = flows.verify_code(request, body.code)
        except flows.Throttled as exc:
            response["Retry-After"] = str(exc.retry_after)
            return Status(HTTPStatus.TOO_MANY_REQUESTS, {"error": str(exc)})
    else:
        device = webauthn.verify(request, user, body.webauthn)
        if device is None:
            flows.record_failure(request, user, "webauthn")
    if device is None:
        return Status(HTTPStatus.UNAUTHORIZED, WRONG)
    flows.complete(request, device)
    response["X-CSRFToken"] = get_token(request)
    return user


@router.post(
    "/webauthn/authenticate/options",
    auth=second_step,
    response={HTTPStatus.OK: dict, **ANY},
)
def passkey_options(request):
    """The options for navigator.credentials.get() (WebAuthn's JSON form), for
    the caller's passkeys; the answer goes to `/authenticate` as `webauthn`."""
    return webauthn.authentication_options(request, _user(request))


@router.post("/totp", auth=enrolling, response={HTTPStatus.OK: TotpStartOut, **ANY})
def start_totp(request, body: TotpStart):
    """Begin adding an authenticator app: its secret, once; confirmed by
    `/totp/confirm` with the app's first code."""
    user = _user(request)
    if not _may_enrol(user):
        return Status(HTTPStatus.FORBIDDEN, NOT_OFFERED)
    device = flows.start_totp(user, body.name)
    url = otpauth_url(user, device)
    return {
        "id": device.public_id,
        "secret": b32encode(device.key).decode(),
        "otpauth_url": url,
        "qr_svg": segno.make(url, error="m").svg_inline(scale=4),
    }


def otpauth_url(user, device: TOTPDevice) -> str:
    """The Key URI authenticator apps read (Google's Key-Uri-Format)."""
    issuer = settings.SITE_NAME.replace(":", "")
    label = quote(f"{issuer}:{user.get_username()}")
    query = urlencode(
        {
            "secret": b32encode(device.key).decode().rstrip("="),
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": 6,
            "period": 30,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"


@router.post(
    "/totp/confirm", auth=enrolling, response={HTTPStatus.OK: EnrolledOut, **ANY}
)
def confirm_totp(request, body: TotpConfirm, response: HttpResponse):
    """Confirm a new authenticator app with its current code. The first factor
    comes with recovery codes, shown this once."""
    user = _user(request)
    unconfirmed = TOTPDevice.objects.filter(user=user, confirmed=False)
    if body.id is not None:
        unconfirmed = unconfirmed.filter(public_id=body.id)
    device = unconfirmed.order_by("-created_at", "-pk").first()
    if device is None:
        return Status(HTTPStatus.UNAUTHORIZED, WRONG)
    codes = flows.confirm_totp(request, user, device, body.code)
    if codes is None:
        return Status(HTTPStatus.UNAUTHORIZED, WRONG)
    response["X-CSRFToken"] = get_token(request)
    return {"id": device.public_id, "recovery_codes": codes}


@router.post(
    "/webauthn/register/options",
    auth=enrolling,
    response={HTTPStatus.OK: dict, **ANY},
)
def passkey_registration_options(request):
    """The options for navigator.credentials.create() (WebAuthn's JSON form)."""
    user = _user(request)
    if not _may_enrol(user):
        return Status(HTTPStatus.FORBIDDEN, NOT_OFFERED)
    return webauthn.registration_options(request, user)


@router.post(
    "/webauthn/register",
    auth=enrolling,
    response={HTTPStatus.OK: EnrolledOut, **ANY},
)
def register_passkey(request, body: PasskeyRegistration, response: HttpResponse):
    """Add the passkey the browser made for the last registration options."""
    user = _user(request)
    if not _may_enrol(user):
        return Status(HTTPStatus.FORBIDDEN, NOT_OFFERED)
    passkey = webauthn.register(request, user, body.name, body.credential)
    if passkey is None:
        return Status(HTTPStatus.UNAUTHORIZED, WRONG)
    codes = flows.enrolled(request, user, passkey)
    response["X-CSRFToken"] = get_token(request)
    return {"id": passkey.public_id, "recovery_codes": codes}


@router.post(
    "/recovery-codes",
    auth=signed_in,
    response={HTTPStatus.OK: RecoveryCodesOut, HTTPStatus.NOT_FOUND: ErrorOut, **ANY},
)
def new_recovery_codes(request):
    """Replace the caller's recovery codes (the old ones stop working)."""
    user = _user(request)
    if not RecoveryCodes.objects.filter(user=user).exists():
        return Status(HTTPStatus.NOT_FOUND, {"error": "no second factor"})
    return {"recovery_codes": flows.new_recovery_codes(request, user)}


@router.delete(
    "/devices/{uuid:id}",
    auth=signed_in,
    response={HTTPStatus.NO_CONTENT: None, HTTPStatus.NOT_FOUND: ErrorOut, **ANY},
)
def remove_device(request, id: UUID):
    """Remove one of the caller's factors. With the last one go the recovery
    codes and, for a user who must have a factor, their other sessions."""
    user = _user(request)
    device = flows.find_device(user, id)
    if device is None:
        return Status(HTTPStatus.NOT_FOUND, {"error": "second factor not found"})
    flows.remove(request, user, device)
    return Status(HTTPStatus.NO_CONTENT, None)
