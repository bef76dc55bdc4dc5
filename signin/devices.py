"""Device cookies (OWASP's defence against lockout abuse): "this browser signed in
as this user before".

A successful sign-in gives the browser a signed, HttpOnly cookie
(DJANGO_DEVICE_COOKIE_AGE, Secure with DJANGO_SECURE_COOKIES). The cookie is
opaque: a random device id, timestamped and signed with the user's lockout key
as part of the signature's salt, so it names nobody (on a shared lab PC the next
person cannot read who used it) yet is valid only for that one user. It outlives
sign-out on purpose: that browser stays "known" for the user's lockout.

signin.lockout decides what a device cookie is worth; this module only issues
and reads them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse

SALT = "signin.devices"


def _signer(key: str) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=f"{SALT}:{key}")


def issue(key: str) -> str:
    """Return a new device cookie's value for the user whose lockout key is `key`.

    A new device id at each sign-in: its failures start from none.
    """
    return _signer(key).sign(secrets.token_hex(8))


def device_of(request: HttpRequest, key: str) -> str | None:
    """Return the id of the request's device cookie if it was issued for `key`."""
    value = request.COOKIES.get(settings.DEVICE_COOKIE_NAME)
    if not value:
        return None
    try:
        return _signer(key).unsign(value, max_age=settings.DEVICE_COOKIE_AGE)
    except signing.BadSignature:
        return None


class DeviceCookieMiddleware:
    """Set the device cookie of a request that signed someone in."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        value = getattr(request, "device_cookie", None)
        if value and response.status_code < 400:
            response.set_cookie(
                settings.DEVICE_COOKIE_NAME,
                value,
                max_age=settings.DEVICE_COOKIE_AGE,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response
