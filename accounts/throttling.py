"""Sign-in throttling: which failures count together, the lockout (django-axes),
and the addresses this process knows to be guessing."""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from http import HTTPStatus

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import format_html

from accounts import hashers
from accounts.clients import client_ip, client_ip_of

# The sign-in forms' paths: the JSON API's and the admin's.
SIGNIN_PATHS = frozenset({"/api/auth/login", "/admin/login/"})
BUSY = "sign-in is busy: try again shortly"


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


class Guessers:
    """Client addresses whose sign-in failed lately, as this process saw them.

    Only a hint for admission control (who may wait for a hashing slot): the
    lockouts themselves are django-axes' rows in PostgreSQL. Bounded, the oldest
    forgotten first, so a flood of addresses cannot grow it without end.
    """

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, address: str | None) -> None:
        if address is None:
            return
        with self._lock:
            self._seen[address] = time.monotonic()
            self._seen.move_to_end(address)
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)

    def discard(self, address: str | None) -> None:
        with self._lock:
            self._seen.pop(address, None)

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()

    def __contains__(self, address: str | None) -> bool:
        with self._lock:
            seen = self._seen.get(address)
        return (
            seen is not None
            and time.monotonic() - seen < settings.SIGNIN_COOLOFF_SECONDS
        )


guessers = Guessers()


class InFlight:
    """The sign-ins this process is serving, counted per client address."""

    def __init__(self) -> None:
        self._count: dict[str | None, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def add(self, address: str | None) -> Iterator[int]:
        """Count one more for `address`; yield how many others it has going."""
        with self._lock:
            others = self._count.get(address, 0)
            self._count[address] = others + 1
        try:
            yield others
        finally:
            with self._lock:
                if self._count[address] == 1:
                    del self._count[address]
                else:
                    self._count[address] -= 1


in_flight = InFlight()


@receiver(user_login_failed, dispatch_uid="accounts.throttling.failed")
def _remember_guesser(sender, credentials, request=None, **kwargs) -> None:
    if request is not None:
        guessers.add(client_ip(request))


@receiver(user_logged_in, dispatch_uid="accounts.throttling.signed_in")
def _forget_guesser(sender, request=None, user=None, **kwargs) -> None:
    if request is not None:
        guessers.discard(client_ip(request))


WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


def turn_away_guessers(app: WSGIApp) -> WSGIApp:
    """Wrap the WSGI `app`: a guess that would get no hashing slot stops here.

    A sign-in from an address that failed lately, while every hashing slot of
    this process is taken and someone waits for the next, is answered 503 with
    Retry-After before Django runs: the same answer it would get from the
    hasher, for a small part of the cost. Everyone else goes on to Django. An
    address that sends a sign-in while another of its own is still in flight
    here counts as guessing from then on: nobody signs in twice at once.
    """

    def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path not in SIGNIN_PATHS or environ.get("REQUEST_METHOD") != "POST":
            return app(environ, start_response)
        address = client_ip_of(environ)
        if not hashers.crowded() or address not in guessers:
            with in_flight.add(address) as others:
                if others:
                    # Nobody signs in twice at once: count it as guessing.
                    guessers.add(address)
                return app(environ, start_response)
        if path.startswith("/api/"):
            body, kind = json.dumps({"error": BUSY}).encode(), "application/json"
        else:
            body, kind = f"{BUSY}.\n".encode(), "text/plain; charset=utf-8"
        start_response(
            "503 Service Unavailable",
            [
                ("Content-Type", kind),
                ("Content-Length", str(len(body))),
                ("Retry-After", "1"),
                ("Cache-Control", "no-store"),
            ],
        )
        return [body]

    return application
