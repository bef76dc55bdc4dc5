"""Device cookies (OWASP's defence against lockout abuse): "this browser signed in
as this user before".

A successful sign-in gives the browser a signed, HttpOnly cookie naming the user
(DJANGO_DEVICE_COOKIE_AGE, Secure with DJANGO_SECURE_COOKIES). A username's
lockout counts the attempts made without one; a browser presenting one for that
username counts its failures apart (signin.lockout.lockout_username), so that
guessing a student's password from elsewhere never keeps them out of their own
devices, and a stolen cookie buys no more guesses than the lockout allows.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.core import signing
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

SALT = "signin.devices"


def device_of(request: HttpRequest, username: str) -> str | None:
    """Return the id of the request's device cookie if it names `username`."""
    value = request.COOKIES.get(settings.DEVICE_COOKIE_NAME)
    if not value:
        return None
    try:
        data = signing.loads(value, salt=SALT, max_age=settings.DEVICE_COOKIE_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("user") != username.upper():
        return None
    return data.get("device")


@receiver(user_logged_in, dispatch_uid="signin.devices.issue")
def _issue(sender, request=None, user=None, **kwargs) -> None:
    if request is not None:
        # A new device id at each sign-in: its failures start from none.
        request.device_cookie = signing.dumps(
            {"user": user.get_username().upper(), "device": secrets.token_hex(8)},
            salt=SALT,
        )


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
