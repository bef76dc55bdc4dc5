"""django-axes' callables: which failures count together, and the lockout's answer.

The lockout rule itself is axes' (AXES_* in config/settings.py): its backend,
first of AUTHENTICATION_BACKENDS, refuses a locked-out attempt before any
password is hashed, and its middleware answers with `lockout_response`.
"""

from __future__ import annotations

import json
from http import HTTPStatus

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from signin.devices import device_of

MESSAGE = "too many failed sign-ins: try again later"


def lockout_username(request: HttpRequest, credentials: dict | None) -> str:
    """The key axes counts a sign-in's failures under, for its username.

    `\\UNI\\JSmith` and `\\uni\\jsmith` count together, as sign-in finds both.
    A browser with a device cookie for that username counts apart, under the
    cookie's device (signin.devices): the username's lockout is not its own.
    """
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    username = str(username).upper()
    device = device_of(request, username)
    return f"{username} (device {device})" if device else username


def lockout_response(
    request: HttpRequest, original_response=None, credentials=None
) -> HttpResponse:
    """Answer a locked-out attempt: 429 with Retry-After, JSON for the API."""
    seconds = settings.SIGNIN_COOLOFF_SECONDS
    if request.path.startswith("/api/"):
        kind = "application/json"
        body = json.dumps({"error": MESSAGE, "retry_after": seconds})
    else:
        kind = "text/html; charset=utf-8"
        body = format_html(
            "<!doctype html><title>{}</title><h1>{}</h1>"
            '<p>{}</p><p><a href="{}">{}</a></p>',
            "Too many failed sign-ins",
            "Too many failed sign-ins",
            f"Sign-in is paused for this account or address: try again in "
            f"{max(1, seconds // 60)} minutes.",
            request.path,
            "Back to the sign-in page",
        )
    return HttpResponse(
        body,
        content_type=kind,
        status=HTTPStatus.TOO_MANY_REQUESTS,
        headers={"Retry-After": str(seconds), "Cache-Control": "no-store"},
    )
