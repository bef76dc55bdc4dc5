"""The lockout policy, as django-axes' callables (AXES_* in config/settings/signin.py).

axes' backend, first of AUTHENTICATION_BACKENDS, refuses a locked-out attempt
before any password is hashed, and its middleware answers with
`lockout_response`. What counts, and against whom:

- **Per account**: SIGNIN_FAILURE_LIMIT failures for a name (any case, from any
  address) within the cool-off lock that name. Attempts from a browser holding a
  device cookie for the name count apart, under that device (signin.devices):
  guesses from elsewhere never keep a student out of their own devices, and a
  stolen cookie buys no more guesses than the limit.
- **Per address**: once an address has SIGNIN_ADDRESS_FAILURE_LIMIT failures
  (for any names) within the cool-off, it is locked too: much higher, since a
  school's NAT address carries hundreds of people. A browser with a device
  cookie for the name it signs in as is never stopped by its address.
- **A success** clears the failures of the user who signed in, from anywhere and
  from that device, and nothing else: failures for other names from the same
  address stay (axes' AXES_RESET_ON_SUCCESS would clear by address too).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus

from axes.models import AccessAttempt
from axes.utils import reset
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.names import login_name
from audit.models import AuthEvent
from config.log import logfmt
from signin import devices

MESSAGES = {
    "account": "too many failed sign-ins for this account: try again later",
    "address": "too many failed sign-ins from this address: try again later",
}


def lockout_key(username: str) -> str:
    """The name under which a sign-in's failures count: `\\UNI\\JSmith`,
    `\\uni\\jsmith`, `uni\\jsmith` and `jsmith@uni.example.edu` (a directory's
    UPN suffix) are one user, as sign-in finds them all (accounts.names)."""
    return login_name(username).upper()


def device_key(key: str, device: str) -> str:
    return f"{key} (device {device})"


def _typed_name(request: HttpRequest, credentials: dict | None) -> str:
    return str((credentials or {}).get("username") or request.POST.get("username", ""))


def _device(request: HttpRequest, credentials: dict | None) -> str | None:
    return devices.device_of(request, lockout_key(_typed_name(request, credentials)))


def lockout_username(request: HttpRequest, credentials: dict | None) -> str:
    """AXES_USERNAME_CALLABLE: the key axes counts a sign-in's failures under."""
    key = lockout_key(_typed_name(request, credentials))
    device = devices.device_of(request, key)
    return device_key(key, device) if device else key


def lockout_parameters(request: HttpRequest, credentials: dict | None = None):
    """AXES_LOCKOUT_PARAMETERS: the counts that can lock this attempt out.

    The name's always; the address's too once it reached its own limit, unless
    the browser holds a device cookie for the name. AXES_FAILURE_LIMIT is the
    name's limit, and the address's count is then at least that.
    """
    if _device(request, credentials) is None and address_is_locked(
        getattr(request, "axes_ip_address", None)
    ):
        return ["username", "ip_address"]
    return ["username"]


def cool_off_start():
    return timezone.now() - settings.AXES_COOLOFF_TIME


def address_failures(ip: str | None) -> int:
    """Failed sign-ins from `ip`, for any names, within the cool-off."""
    if not ip:
        return 0
    total = AccessAttempt.objects.filter(
        ip_address=ip, attempt_time__gte=cool_off_start()
    ).aggregate(total=Sum("failures_since_start"))["total"]
    return total or 0


def address_is_locked(ip: str | None) -> bool:
    return address_failures(ip) >= settings.SIGNIN_ADDRESS_FAILURE_LIMIT


def lockout_response(
    request: HttpRequest, original_response=None, credentials=None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: 429 with Retry-After, JSON for the API.

    It says which limit applies, this account's or this address's, in the same
    words whether or not the account exists.
    """
    scope = (
        "address"
        if "ip_address" in lockout_parameters(request, credentials)
        else "account"
    )
    seconds = settings.SIGNIN_COOLOFF_SECONDS
    if request.path.startswith("/api/"):
        kind = "application/json"
        body = json.dumps(
            {"error": MESSAGES[scope], "locked": scope, "retry_after": seconds}
        )
    else:
        kind = "text/html; charset=utf-8"
        body = render_to_string(
            "signin/lockout.html",
            {
                "what": "this account" if scope == "account" else "this address",
                "minutes": max(1, seconds // 60),
                "back": request.path,
                "site_title": settings.SITE_NAME,
                "site_header": settings.SITE_NAME,
            },
            request,
        )
    return HttpResponse(
        body,
        content_type=kind,
        status=HTTPStatus.TOO_MANY_REQUESTS,
        headers={"Retry-After": str(seconds), "Cache-Control": "no-store"},
    )


def client_str(username, ip_address, user_agent, path_info, request) -> str:
    """AXES_CLIENT_STR_CALLABLE: who tried, for axes' own log lines, in logfmt
    (a typed name cannot add fields to the line)."""
    if isinstance(path_info, (tuple, list)):
        path_info = path_info[0]
    return logfmt(user=username, ip=ip_address, user_agent=user_agent, path=path_info)


def signed_in(request: HttpRequest, user) -> None:
    """After a sign-in (signin.signals): clear the user's own failures, their
    device's too, and give the browser its device cookie for the name."""
    key = lockout_key(user.get_username())
    reset(username=key)
    if device := devices.device_of(request, key):
        reset(username=device_key(key, device))
    request.device_cookie = devices.issue(key)


def _locked_until(attempts, limit: int) -> datetime | None:
    """When a count of `limit` failures within the cool-off ends, given the
    (attempt_time, failures) rows of one key or address, or None if below it.

    Each row's failures leave the count as the row's last attempt passes the
    cool-off: the lock holds until the newest rows alone fall below the limit.
    """
    total = 0
    for attempt_time, failures in sorted(attempts, reverse=True):
        total += failures
        if total >= limit:
            return attempt_time + settings.AXES_COOLOFF_TIME
    return None


def _recent(attempts):
    return attempts.filter(attempt_time__gte=cool_off_start())


def accounts_locked_until(usernames) -> dict[str, datetime]:
    """The names among `usernames` locked out now, each with when it ends: one
    query, for a page of the users list. A device's own lock (a stolen device
    cookie) keeps nobody else out and is not counted here."""
    keys = {lockout_key(name): name for name in usernames}
    rows: dict[str, list] = {}
    for key, attempt_time, failures in _recent(
        AccessAttempt.objects.filter(username__in=keys)
    ).values_list("username", "attempt_time", "failures_since_start"):
        rows.setdefault(key, []).append((attempt_time, failures))
    return {
        keys[key]: until
        for key, attempts in rows.items()
        if (until := _locked_until(attempts, settings.SIGNIN_FAILURE_LIMIT))
    }


def address_locked_until(ip: str) -> datetime | None:
    """When the lock of address `ip` (for any names) ends, or None if unlocked."""
    attempts = _recent(AccessAttempt.objects.filter(ip_address=ip)).values_list(
        "attempt_time", "failures_since_start"
    )
    return _locked_until(attempts, settings.SIGNIN_ADDRESS_FAILURE_LIMIT)


@dataclass
class Lockout:
    """Whether a user is kept out by a lockout now: their name's, and that of the
    addresses they lately tried from, each with when it ends."""

    until: datetime | None
    addresses: list[tuple[str, datetime]]


def _tried_from(username: str, mine) -> set[str]:
    """The addresses of the user's recent failures, and of their recent events."""
    tried_from = set(mine.values_list("ip_address", flat=True))
    tried_from |= set(
        AuthEvent.objects.filter(
            username__iexact=username, occurred_at__gte=cool_off_start()
        )
        .exclude(ip=None)
        .values_list("ip", flat=True)
    )
    return tried_from - {None}


def _own_attempts(username: str):
    """The name's own failures, and its devices' (device_key)."""
    key = lockout_key(username)
    return AccessAttempt.objects.filter(
        username__regex=rf"^{re.escape(key)}( \(device [0-9a-f]+\))?$"
    )


def lockout_of(username: str) -> Lockout:
    """The lockouts that keep `username` out now (the user's admin page)."""
    addresses = sorted(
        (ip, until)
        for ip in _tried_from(username, _recent(_own_attempts(username)))
        if (until := address_locked_until(ip))
    )
    until = accounts_locked_until([username]).get(username)
    return Lockout(until, addresses)


@dataclass
class Unlocked:
    """What an unlock cleared, and the addresses that still keep the user out."""

    cleared: int
    locked_addresses: list[tuple[str, int]]


def unlock_user(username: str) -> Unlocked:
    """Clear the user's failures (every device's too); name the locked addresses
    the user tried from lately, which only `unlock_address` clears."""
    mine = _own_attempts(username)
    tried_from = _tried_from(username, mine)
    cleared = mine.aggregate(total=Sum("failures_since_start"))["total"] or 0
    mine.delete()
    locked = sorted(
        (ip, failures)
        for ip in tried_from
        if (failures := address_failures(ip)) >= settings.SIGNIN_ADDRESS_FAILURE_LIMIT
    )
    return Unlocked(cleared, locked)


def unlock_address(ip: str) -> int:
    """Clear every failure recorded from `ip`; return how many there were."""
    attempts = AccessAttempt.objects.filter(ip_address=ip)
    cleared = attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
    attempts.delete()
    return cleared
