"""Sign-in with the school's directory: each directory domain's users are checked
by its Active Directory (django-auth-ldap), every other domain's by Django.

`DirectoryBackend`, after axes' and before Django's ModelBackend in
AUTHENTICATION_BACKENDS, reads the `\\domain\\` of the name. For a domain of
DIRECTORY_DOMAINS it asks that domain's directory only (one django-auth-ldap
backend per domain, by its settings prefix) and decides: the user, or a refusal
that ends the sign-in (PermissionDenied: no local password is tried after it).
Other domains go on to ModelBackend.

A user of the directory is found by (domain, objectGUID), so a rename in the
directory keeps the same user; their name, display name, e-mail, staff flag and
groups follow the directory at each sign-in; they have no local password.

When a server does not answer within DIRECTORY_<D>_TIMEOUT, the next URL is
tried, and the failed one is skipped for RETRY_SECONDS; with none left the
sign-in answers 503 (DirectoryUnavailable). An outage is logged, and recorded
in the audit trail, once per process.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid

import ldap
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.http import HttpRequest
from django_auth_ldap.backend import LDAPBackend, ldap_error, populate_user

from accounts.names import split
from accounts.validators import USERNAME_LOOKALIKE_REGEX
from audit.events import record
from audit.models import Kind
from config.directories import Directory, NoEntry, SeveralEntries, server_url
from config.middleware import ServiceBusy

log = logging.getLogger(__name__)
# A server that did not answer is tried again after this long.
RETRY_SECONDS = 30
# What a directory's failure means for a sign-in: the server is away (retry
# another), as opposed to a refusal of these credentials.
OUTAGES = (
    ldap.SERVER_DOWN,
    ldap.TIMEOUT,
    ldap.CONNECT_ERROR,
    ldap.UNAVAILABLE,
    ldap.BUSY,
)
# Active Directory's reasons for refusing a bind (`data 533` in its message).
AD_REFUSALS = {
    "525": "no such user",
    "52e": "wrong password",
    "530": "not permitted at this time",
    "531": "not permitted at this workstation",
    "532": "password expired",
    "533": "account disabled",
    "701": "account expired",
    "773": "password must be changed",
    "775": "account locked in the directory",
}
_AD_CODE = re.compile(r"\bdata ([0-9a-f]{3})\b")
# The longest user name a directory could hold (AD's UPN prefix is 64).
MAX_NAME = 64


class DirectoryUnavailable(ServiceBusy):
    message = "the school's directory is not answering: try again shortly"
    retry_after = 5


class _ServerAway(Exception):
    """A server of the directory did not answer (from django-auth-ldap's signal)."""


class DomainDirectory(LDAPBackend):
    """django-auth-ldap for one domain, under its settings prefix AUTH_LDAP_<D>_."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.settings_prefix = directory.settings_prefix
        self.refusal: dict | None = None

    def authenticate_ldap_user(self, ldap_user, password):
        user = super().authenticate_ldap_user(ldap_user, password)
        if user is None and self.refusal is None:
            self.refusal = _refusal(ldap_user)
        return user

    def get_or_build_user(self, username, ldap_user):
        """The user of this entry's objectGUID in this domain; else the user of
        its name not yet tied to an entry (imported); else a new one."""
        raw = ldap_user.attrs.get("objectGUID", [None])[0]
        if raw is None:
            self.refusal = {"reason": "entry without objectGUID"}
            raise ldap_user.AuthenticationFailed("entry without objectGUID")
        # Kept as bytes unless they happened to be UTF-8: the same bytes again.
        guid = uuid.UUID(bytes_le=raw if isinstance(raw, bytes) else raw.encode())
        account = ldap_user.attrs["sAMAccountName"][0]
        name = f"\\{self.directory.domain}\\{account}"
        model = self.get_user_model()
        user = (
            next(
                (u for u in model.objects.filter(directory_guid=guid) if self._ours(u)),
                None,
            )
            or model.objects.filter(username__iexact=name, directory_guid=None).first()
        )
        if user is None:
            return model(username=name, directory_guid=guid), True
        if user.username.lower() != name.lower():
            # Renamed in the directory: the same person, sessions and history.
            user.username = f"\\{split(user.username)[0]}\\{account}"
        if user.directory_guid is None:
            # Imported with a local password: from now on, the directory's.
            user.directory_guid = guid
            user.set_unusable_password()
        return user, False

    def _ours(self, user) -> bool:
        parts = split(user.username)
        return parts is not None and parts[0].lower() == self.directory.key


@receiver(populate_user, dispatch_uid="signin.directory.staff")
def _staff_from_groups(sender, user=None, ldap_user=None, **kwargs) -> None:
    """Before the user is saved: staff when in DIRECTORY_<D>_STAFF_GROUPS, and
    the Django groups to join (after the save: they need the user's id)."""
    if not issubclass(sender, DomainDirectory):
        return
    directory = ldap_user.backend.directory
    names = {name.lower() for name in ldap_user.group_names}
    if directory.staff_groups:
        user.is_staff = bool(names & directory.staff_groups)
    user.directory_groups = {
        django for group, django in directory.groups.items() if group in names
    }


@receiver(ldap_error, dispatch_uid="signin.directory.away")
def _server_failed(sender, context=None, exception=None, **kwargs) -> None:
    """A server that is away ends the try (django-auth-ldap would answer a plain
    refusal): the router tries the next one."""
    if issubclass(sender, DomainDirectory) and isinstance(exception, OUTAGES):
        raise _ServerAway(_describe(exception)) from exception


def _describe(exception: ldap.LDAPError) -> str:
    details = exception.args[0] if exception.args else {}
    if not isinstance(details, dict):
        return type(exception).__name__
    return " ".join(str(details.get(k, "")) for k in ("desc", "info")).strip()


def _refusal(ldap_user) -> dict:
    """Why the directory refused: AD's code (`data 533`) when it gave one."""
    # django-auth-ldap keeps the reason only on its connection (a bind's
    # diagnostic message); its exception says "rejected" for all of them.
    connection = getattr(ldap_user, "_connection", None)
    message = ""
    if connection is not None:
        try:
            message = connection.get_option(ldap.OPT_DIAGNOSTIC_MESSAGE) or ""
        except ldap.LDAPError:
            message = ""
    if match := _AD_CODE.search(message):
        code = match.group(1)
        return {"reason": AD_REFUSALS.get(code, "refused"), "code": code}
    return {"reason": "wrong password"}


class _Servers:
    """Which of a domain's servers to try, and the outages seen (this process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._away_until: dict[str, float] = {}
        self._domains_away: set[str] = set()

    def to_try(self, directory: Directory) -> list[str]:
        now = time.monotonic()
        with self._lock:
            return [u for u in directory.urls if self._away_until.get(u, 0) <= now]

    def away(self, directory: Directory, url: str, error: str) -> None:
        with self._lock:
            self._away_until[url] = time.monotonic() + RETRY_SECONDS
        log.warning("directory %s: %s is not answering (%s)", directory.key, url, error)

    def domain_away(self, directory: Directory, request, error: str) -> bool:
        """Note that no server of the domain answers; True the first time."""
        with self._lock:
            first = directory.key not in self._domains_away
            self._domains_away.add(directory.key)
        if first:
            log.error(
                "directory %s is unavailable: its sign-ins answer 503 (%s)",
                directory.key,
                error,
            )
            record(
                Kind.DIRECTORY_UNAVAILABLE,
                request,
                detail={"domain": directory.key, "error": error},
            )
        return first

    def answered(self, directory: Directory, url: str) -> None:
        with self._lock:
            self._away_until.pop(url, None)
            back = directory.key in self._domains_away
            self._domains_away.discard(directory.key)
        if back:
            log.warning("directory %s answers again (%s)", directory.key, url)


servers = _Servers()


class DirectoryBackend(ModelBackend):
    """The router: a directory domain's name to its directory, others onwards.

    Users it signed in are loaded as ModelBackend loads them (get_user), and
    their permissions are Django's, from the groups the directory gave them.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        parts = split(username) if isinstance(username, str) else None
        directory = parts and settings.DIRECTORIES.get(parts[0].lower())
        if directory is None or password is None:
            return None  # not a directory's: ModelBackend's
        user = sign_in(request, directory, parts[1], password)
        if user is None:
            raise PermissionDenied  # refused: no local password after it
        return user


def _refuse(request, refusal: dict) -> None:
    if request is not None:
        # The audit trail's signin.failed says why (audit.events).
        request.directory_refusal = refusal


def sign_in(
    request: HttpRequest | None, directory: Directory, name: str, password: str
):
    """The user the directory signs in with this name and password, or None
    (the reason on request.directory_refusal); DirectoryUnavailable when no
    server of the domain answers."""
    if (
        not password
        or len(name) > MAX_NAME
        or "\x00" in name
        or re.search(USERNAME_LOOKALIKE_REGEX, f"\\{directory.domain}\\{name}")
    ):
        _refuse(request, {"domain": directory.key, "reason": "malformed name"})
        return None
    error = "no server answered"
    for url in servers.to_try(directory):
        backend = DomainDirectory(directory)
        token = server_url.set(url)
        try:
            user = backend.authenticate(request, username=name, password=password)
        except _ServerAway as away:
            error = str(away)
            servers.away(directory, url, error)
            continue
        except NoEntry:
            user, backend.refusal = None, {"reason": "no such user"}
        except SeveralEntries as several:
            log.warning(
                "directory %s has %s entries for one name: sign-in refused",
                directory.key,
                several.args[0],
            )
            user, backend.refusal = None, {"reason": "several entries for the name"}
        finally:
            server_url.reset(token)
        servers.answered(directory, url)
        if user is not None and not user.is_active:
            user, backend.refusal = None, {"reason": "blocked"}
        if user is None:
            _refuse(request, {"domain": directory.key, **(backend.refusal or {})})
            return None
        _join_groups(directory, user)
        return user
    servers.domain_away(directory, request, error)
    raise DirectoryUnavailable


def _join_groups(directory: Directory, user) -> None:
    """Membership of the Django groups of DIRECTORY_<D>_GROUPS as the directory
    says; other Django groups are left as they are."""
    if not directory.groups:
        return
    wanted = getattr(user, "directory_groups", set())
    managed = set(directory.groups.values())
    for name in managed:
        group, _ = Group.objects.get_or_create(name=name)
        if name in wanted:
            user.groups.add(group)
        else:
            user.groups.remove(group)
