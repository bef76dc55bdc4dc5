"""Sign-in throttling: which failures count together, the lockout (django-axes),
and the addresses this process knows to be guessing."""

from __future__ import annotations

import io
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from urllib.parse import parse_qs

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db import DatabaseError, connection
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
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
    kind, body = _locked_out_body(request.path)
    return HttpResponse(
        body,
        content_type=kind,
        status=HTTPStatus.TOO_MANY_REQUESTS,
        headers={"Retry-After": str(settings.SIGNIN_COOLOFF_SECONDS)},
    )


def _locked_out_body(path: str) -> tuple[str, bytes]:
    seconds = settings.SIGNIN_COOLOFF_SECONDS
    message = "too many failed sign-ins: try again later"
    if path.startswith("/api/"):
        body = json.dumps({"error": message, "retry_after": seconds})
        return "application/json", body.encode()
    page = format_html(
        "<!doctype html><title>{}</title><h1>{}</h1>"
        '<p>{}</p><p><a href="{}">{}</a></p>',
        "Too many failed sign-ins",
        "Too many failed sign-ins",
        f"Sign-in is paused for this account or address: try again in "
        f"{max(1, seconds // 60)} minutes.",
        path,
        "Back to the sign-in page",
    )
    return "text/html; charset=utf-8", page.encode()


class Guessers:
    """Client addresses whose sign-in failed lately, as this process saw them.

    Only a hint for admission control (who may wait for a hashing slot): the
    lockouts themselves are django-axes' rows in PostgreSQL. Bounded, the oldest
    forgotten first, so a flood of addresses cannot grow it without end.
    """

    def __init__(self, size: int = 10_000, seconds: float | None = None) -> None:
        """Remember `size` addresses, each for `seconds` (the cool-off if None)."""
        self._size = size
        self._seconds = seconds
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
        seconds = self._seconds
        if seconds is None:
            seconds = settings.SIGNIN_COOLOFF_SECONDS
        return seen is not None and time.monotonic() - seen < seconds


guessers = Guessers()
# Addresses whose sign-in was just answered 503: for a moment, they may wait for
# a hashing slot but not take the seat from another who may (accounts.hashers).
# At a flood's start, before its addresses have failed, this ends the chain of
# new addresses taking the seat from each other, and from a person.
refused = Guessers(seconds=2.0)
# In a sign-in's WSGI environ (request.META): its address is in `refused`.
REFUSED_LATELY = "accounts.refused_lately"


class InFlight:
    """The sign-ins this process is serving, counted per client address.

    A sign-in that started less than RECENT seconds ago counts as still going:
    a client whose last attempt was just turned away and that tries again at
    once is no person typing a password either.
    """

    RECENT = 0.5

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._count: dict[str | None, int] = {}
        self._started: OrderedDict[str | None, float] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._started.clear()

    @contextmanager
    def add(self, address: str | None) -> Iterator[int]:
        """Count one more for `address`; yield how many others it has going."""
        now = time.monotonic()
        with self._lock:
            others = self._count.get(address, 0)
            last = self._started.pop(address, None)
            if others == 0 and last is not None and now - last < self.RECENT:
                others = 1
            self._count[address] = self._count.get(address, 0) + 1
            self._started[address] = now
            while len(self._started) > self._size:
                self._started.popitem(last=False)
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


def turn_away_early(app: WSGIApp) -> WSGIApp:
    """Wrap the WSGI `app`: sign-ins that would be refused are refused here.

    Before Django runs, at a small part of the cost, with the answer Django
    would give:
    - a sign-in from an address that failed lately, while every hashing slot
      of this process is taken and someone waits for the next: 503 with
      Retry-After, as from the hasher;
    - a sign-in whose username or address is locked out: django-axes' 429,
      decided by one query on axes' own rows (`_locked_out`), so a lockout that
      staff clear in the admin ends at once here too.
    Everyone else goes on to Django. An address that sends a sign-in while
    another of its own is still in flight here, or within 0.5 s of one, counts
    as guessing from then on: nobody signs in twice at once.
    """

    def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path not in SIGNIN_PATHS or environ.get("REQUEST_METHOD") != "POST":
            return app(environ, start_response)
        address = client_ip_of(environ)
        if hashers.crowded() and address in guessers:
            if path.startswith("/api/"):
                kind, body = "application/json", json.dumps({"error": BUSY}).encode()
            else:
                kind, body = "text/plain; charset=utf-8", f"{BUSY}.\n".encode()
            return _answer(start_response, "503 Service Unavailable", kind, body, 1)
        if _locked_out(_username(environ), address):
            kind, body = _locked_out_body(path)
            seconds = settings.SIGNIN_COOLOFF_SECONDS
            return _answer(start_response, "429 Too Many Requests", kind, body, seconds)
        with in_flight.add(address) as others:
            if others:
                # Nobody signs in twice at once: count it as guessing.
                guessers.add(address)
            environ[REFUSED_LATELY] = address in refused

            def start(status, headers, *exc_info):
                if status.startswith("503"):
                    refused.add(address)
                return start_response(status, headers, *exc_info)

            return app(environ, start)

    return application


# The most of a sign-in's body read here; a larger one goes on to Django as it is.
BODY_PEEK = 4096
LOCKED_OUT = """
SELECT greatest(
    coalesce(sum(failures_since_start) FILTER (WHERE username = %(username)s), 0),
    coalesce(sum(failures_since_start) FILTER (WHERE ip_address = %(address)s), 0)
) >= %(limit)s
FROM axes_accessattempt
WHERE (username = %(username)s OR ip_address = %(address)s)
  AND attempt_time >= now() - make_interval(secs => %(seconds)s)
"""


def _locked_out(username: str | None, address: str | None) -> bool:
    """Whether axes would refuse this sign-in: its rule, in one query.

    A username, and separately an address, with AXES_FAILURE_LIMIT failures
    within the cool-off (AXES_LOCKOUT_PARAMETERS, AXES_COOLOFF_TIME). When the
    database does not answer, Django's own handling decides.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                LOCKED_OUT,
                {
                    "username": username,
                    "address": address,
                    "limit": settings.AXES_FAILURE_LIMIT,
                    "seconds": settings.SIGNIN_COOLOFF_SECONDS,
                },
            )
            (locked,) = cursor.fetchone()
    except DatabaseError:
        return False
    finally:
        if not connection.in_atomic_block:
            connection.close()  # back to the pool: Django takes it again if needed
    return bool(locked)


def _username(environ: dict) -> str | None:
    """The username of a sign-in's body, as axes counts it (`lockout_username`).

    The body is read once and put back for Django, unless it is too large to
    be a sign-in's: then no username, and the address alone is checked here.
    """
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 < length <= BODY_PEEK:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    kind = environ.get("CONTENT_TYPE", "")
    try:
        if kind.startswith("application/json"):
            username = json.loads(body).get("username")
        else:
            username = parse_qs(body.decode())["username"][0]
    except (ValueError, KeyError, AttributeError, IndexError):
        return None
    return str(username).upper() if isinstance(username, str) else None


def _answer(start_response, status, kind, body, retry_after) -> list[bytes]:
    start_response(
        status,
        [
            ("Content-Type", kind),
            ("Content-Length", str(len(body))),
            ("Retry-After", str(retry_after)),
            ("Cache-Control", "no-store"),
        ],
    )
    return [body]
