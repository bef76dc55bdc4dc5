"""Sign-in throttling (django-axes): which failures count together, the lockout."""

from __future__ import annotations

from http import HTTPStatus

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import format_html


def lockout_username(request: HttpRequest, credentials: dict | None) -> str:
    """Count `\\UNI\\JSmith` and `\\uni\\jsmith` together, as sign-in finds both."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    return str(username).upper()


def lockout_response(
    request: HttpRequest, original_response=None, credentials=None
) -> HttpResponse:
    """Answer a locked-out attempt: 429 with Retry-After, JSON for the API.

    The attempt never reached the password hasher (AxesStandaloneBackend first).
    """
    seconds = settings.SIGNIN_COOLOFF_SECONDS
    message = "too many failed sign-ins: try again later"
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"error": message, "retry_after": seconds},
            status=HTTPStatus.TOO_MANY_REQUESTS,
        )
    else:
        response = HttpResponse(
            format_html(
                "<!doctype html><title>{}</title><h1>{}</h1>"
                '<p>{}</p><p><a href="{}">{}</a></p>',
                "Too many failed sign-ins",
                "Too many failed sign-ins",
                f"Sign-in is paused for this account or address: try again in "
                f"{max(1, seconds // 60)} minutes.",
                request.path,
                "Back to the sign-in page",
            ),
            status=HTTPStatus.TOO_MANY_REQUESTS,
        )
    response["Retry-After"] = str(seconds)
    return response
