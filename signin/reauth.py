"""Recent authentication (django-allauth's pattern): a sensitive call asks for the
password again when the session's last authentication is older than
DJANGO_REAUTH_SECONDS (default 300).

A sign-in (API or admin), `POST /api/auth/reauthenticate` and a password change
each record the time in the session. A call protects itself with
`auth=recently_authenticated` (signed in, CSRF checked, and recent), or, when only
some of its cases need it, by calling `require_recent_authentication(request)`.
Either answers 401 {"error": "reauthentication required"}.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.http import HttpRequest
from ninja.errors import AuthenticationError
from ninja.security import SessionAuth

# The session's last authentication, in seconds since the epoch.
AUTHENTICATED_AT = "_authenticated_at"


class ReauthenticationRequired(AuthenticationError):
    def __init__(self) -> None:
        super().__init__(message="reauthentication required")


def record_authentication(request: HttpRequest) -> None:
    request.session[AUTHENTICATED_AT] = time.time()


def require_recent_authentication(request: HttpRequest) -> None:
    """Raise ReauthenticationRequired unless the session authenticated recently."""
    at = request.session.get(AUTHENTICATED_AT)
    if not isinstance(at, float) or time.time() - at > settings.REAUTH_SECONDS:
        raise ReauthenticationRequired


class RecentSessionAuth(SessionAuth):
    """ninja's session auth, for calls that also need a recent authentication."""

    def authenticate(self, request: HttpRequest, key: str | None):
        user = super().authenticate(request, key)
        if user is not None:
            require_recent_authentication(request)
        return user


recently_authenticated = RecentSessionAuth()
