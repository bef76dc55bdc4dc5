"""The sign-in API, `/api/auth/...`: CSRF token, sign in and out, the caller's
sessions, re-authentication and the password change.

Each endpoint parses, calls one function of signin.services, and shapes the
answer. Sign-in goes through Django's authenticate() and login(): the same
backend, hashers, lockout and blocked-user rule as the admin; so do the password
checks of re-authentication and the password change. Every call that changes state needs
the CSRF token (`X-CSRFToken`) that GET /api/auth/csrf hands out.
"""

from __future__ import annotations

from http import HTTPStatus
from uuid import UUID

from django.contrib.auth import logout
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.middleware.csrf import get_token
from ninja import Router, Status
from ninja.errors import HttpError
from ninja.utils import check_csrf

from accounts.models import Session
from config.schemas import ErrorOut, InvalidOut
from mfa import flows as second_factor
from signin import services
from signin.reauth import (
    recently_authenticated,
    require_recent_authentication,
)
from signin.schemas import (
    Credentials,
    CsrfOut,
    EndedOut,
    MeOut,
    PasswordChange,
    Reauthentication,
    SecondFactorOut,
    SessionOut,
    UserOut,
)

router = Router(tags=["auth"])
INVALID = {"error": "invalid credentials"}


# The errors each call may answer besides its own, all in the one shape
# (config/api.py): documented in OpenAPI, operation by operation.
ANY = {
    code: ErrorOut
    for code in (
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        HTTPStatus.SERVICE_UNAVAILABLE,
    )
}
SIGNED_IN = {**ANY, HTTPStatus.UNAUTHORIZED: ErrorOut}
CHANGES = {**SIGNED_IN, HTTPStatus.FORBIDDEN: ErrorOut}
# Calls that check a password: bad bodies, and axes' lockout.
CHECKS_PASSWORD = {
    **CHANGES,
    HTTPStatus.BAD_REQUEST: ErrorOut,
    HTTPStatus.UNPROCESSABLE_ENTITY: InvalidOut,
    HTTPStatus.TOO_MANY_REQUESTS: ErrorOut,
}


@router.get("/csrf", auth=None, response={HTTPStatus.OK: CsrfOut, **ANY})
def csrf(request):
    """Set the CSRF cookie and return its token, for the `X-CSRFToken` header."""
    return {"csrf_token": get_token(request)}


@router.post(
    "/login",
    auth=None,
    response={
        HTTPStatus.OK: UserOut,
        **CHECKS_PASSWORD,
        HTTPStatus.UNAUTHORIZED: SecondFactorOut | ErrorOut,
    },
)
def sign_in(request, credentials: Credentials, response: HttpResponse):
    """Sign in; the session key is rotated. Any failure is the same 401.

    A wrong password, an unknown user and a blocked user are answered alike, and
    Django's backend hashes the password for an unknown user too, so neither the
    answer nor its timing tells which accounts exist. Django rotates the CSRF
    token at sign-in: the new one comes in the `X-CSRFToken` header.

    A user with a second factor (or who must have one) gets 401 "second factor
    required" with the `methods` to complete it with at `/mfa/authenticate`
    (none: "second factor enrolment required", then `/mfa/...`; signin/mfa_api.py).
    """
    if check_csrf(request) is not None:
        raise HttpError(HTTPStatus.FORBIDDEN, "CSRF token missing or incorrect")
    user = services.sign_in(request, credentials.username, credentials.password)
    if user is None:
        return Status(HTTPStatus.UNAUTHORIZED, INVALID)
    response["X-CSRFToken"] = get_token(request)
    if second_factor.pending_user(request) is not None:
        methods = second_factor.methods(user)
        if methods:
            error = "second factor required"
        else:
            error = "second factor enrolment required"
        return Status(HTTPStatus.UNAUTHORIZED, {"error": error, "methods": methods})
    return user


@router.post("/logout", response={HTTPStatus.NO_CONTENT: None, **CHANGES})
def sign_out(request):
    """Sign out: the session row is deleted."""
    logout(request)
    return Status(HTTPStatus.NO_CONTENT, None)


@router.post(
    "/reauthenticate", response={HTTPStatus.NO_CONTENT: None, **CHECKS_PASSWORD}
)
def reauthenticate(request, body: Reauthentication):
    """Confirm the password before a sensitive call; the session key is rotated.

    Good for DJANGO_REAUTH_SECONDS (signin.reauth). A wrong password is the same
    401 as a failed sign-in, and counts toward the lockout like one.
    """
    if not services.reauthenticate(request, body.password):
        return Status(HTTPStatus.UNAUTHORIZED, INVALID)
    return Status(HTTPStatus.NO_CONTENT, None)


@router.post("/password", response={HTTPStatus.NO_CONTENT: None, **CHECKS_PASSWORD})
def change_password(request, body: PasswordChange):
    """Change one's password: every other session ends, this one goes on (new key).

    A wrong current password is the same 401 as a failed sign-in, and counts
    toward the lockout; a new one the password rules refuse is a 422 naming them.
    """
    if not services.password_is(request, body.current_password):
        return Status(HTTPStatus.UNAUTHORIZED, INVALID)
    try:
        services.change_password(request, body.new_password)
    except ValidationError as exc:
        fields = {"new_password": " ".join(exc.messages)}
        return Status(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            {"error": "invalid input", "fields": fields},
        )
    return Status(HTTPStatus.NO_CONTENT, None)


@router.get("/me", response={HTTPStatus.OK: MeOut, **SIGNED_IN})
def me(request):
    row = request.session.row or Session.objects.get(
        session_key=request.session.session_key
    )
    return {
        "id": request.user.pk,
        "username": request.user.username,
        "display_name": request.user.display_name,
        "expires_at": row.expires_at,
        "idle_expires_at": row.idle_expires_at,
    }


@router.get(
    "/sessions",
    response={HTTPStatus.OK: list[SessionOut], **SIGNED_IN},
)
def sessions(request):
    """List the caller's live sessions, the latest used first."""
    current = request.session.session_key
    return [
        {
            "id": row.public_id,
            "current": row.session_key == current,
            "created_at": row.created_at,
            "last_seen_at": row.last_seen_at,
            "expires_at": row.expires_at,
            "idle_expires_at": row.idle_expires_at,
            "ip": row.ip,
            "user_agent": row.user_agent,
        }
        for row in _own_sessions(request).order_by("-last_seen_at")
    ]


@router.delete(
    "/sessions/{uuid:id}",
    response={
        HTTPStatus.NO_CONTENT: None,
        HTTPStatus.NOT_FOUND: ErrorOut,
        HTTPStatus.UNPROCESSABLE_ENTITY: InvalidOut,
        **CHANGES,
    },
)
def end_session(request, id: UUID):
    """End one of the caller's sessions; another user's is not found.

    Ending another than this one needs a recent authentication (signin.reauth).
    """
    row = _own_sessions(request).filter(public_id=id).first()
    if row is None:
        return Status(HTTPStatus.NOT_FOUND, {"error": "session not found"})
    if row.session_key == request.session.session_key:
        logout(request)
    else:
        require_recent_authentication(request)
        row.delete()
    return Status(HTTPStatus.NO_CONTENT, None)


@router.post(
    "/sessions/end-others",
    auth=recently_authenticated,
    response={HTTPStatus.OK: EndedOut, **CHANGES},
)
def end_other_sessions(request):
    """Sign out everywhere else: end every session of the caller's but this one.

    Needs a recent authentication (signin.reauth).
    """
    ended, _ = (
        _own_sessions(request).exclude(session_key=request.session.session_key).delete()
    )
    return {"ended": ended}


def _own_sessions(request):
    return Session.objects.live().filter(user=request.user)
