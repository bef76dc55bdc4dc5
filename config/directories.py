"""The school directories users sign in against, read from DIRECTORY_* variables.

DIRECTORY_DOMAINS lists the domains (the `\\domain\\` of a name) whose users sign
in with their directory password; every other domain keeps local passwords. Each
domain D gets django-auth-ldap's settings under its own prefix, AUTH_LDAP_D_
(its documented multi-configuration), which signin.directory uses. A wrong value
raises ImproperlyConfigured naming the variable, never echoing a password.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

import ldap
from django.core.exceptions import ImproperlyConfigured
from django_auth_ldap.config import LDAPSearch, NestedActiveDirectoryGroupType

from config.env import integer, number, secret

# Enabled user objects: people (not computers), without AD's "account disabled"
# bit (userAccountControl 2, by the bitwise-AND matching rule).
DEFAULT_USER_FILTER = (
    "(&(objectCategory=person)(objectClass=user)"
    "(!(userAccountControl:1.2.840.113556.1.4.803:=2)))"
)
# The user's fields kept as the directory says at each sign-in (the identity,
# objectGUID, and the groups: signin.directory).
USER_ATTRIBUTES = {"display_name": "displayName", "email": "mail"}
DOMAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$")
# The server a sign-in is trying now: signin.directory sets it, one URL of the
# domain's at a time, for its failover; django-auth-ldap reads it (SERVER_URI).
server_url: ContextVar[str] = ContextVar("directory_server_url")


def server_uri(request) -> str:
    """AUTH_LDAP_<D>_SERVER_URI, as a callable: the URL being tried."""
    return server_url.get()


class NoEntry(Exception):
    """The directory has no entry for the name (within the user filter)."""


class SeveralEntries(Exception):
    """The directory has several entries for one name: nobody signs in with it."""


class UserSearch(LDAPSearch):
    """The search for a user's entry by name, which must find exactly one."""

    def execute(self, connection, filterargs=(), escape=True):
        results = super().execute(connection, filterargs, escape)
        if not results:
            raise NoEntry
        if len(results) > 1:
            raise SeveralEntries(len(results))
        return results


@dataclass(frozen=True)
class Directory:
    """One domain's directory: what signin.directory needs beyond django-auth-ldap."""

    domain: str  # as listed in DIRECTORY_DOMAINS: a new user's `\\domain\\`
    urls: tuple[str, ...]  # tried in turn: failover
    settings_prefix: str  # AUTH_LDAP_<D>_
    base_dn: str = ""
    user_filter: str = DEFAULT_USER_FILTER
    upn_suffix: str = ""  # `jsmith@<suffix>` names this domain's jsmith
    staff_groups: frozenset[str] = frozenset()  # group names, lower case
    groups: dict[str, str] = field(default_factory=dict)  # group name -> Django group
    timeout: float = 3.0
    lockout_threshold: int | None = None
    # sync_directory stops before blocking more than this share of the domain.
    max_block_share: float = 0.10

    @property
    def key(self) -> str:
        """The domain as compared: case does not matter."""
        return self.domain.lower()


def variable(domain: str, name: str) -> str:
    """DIRECTORY_<D>_<NAME>: the domain in upper case, `-` and `.` as `_`."""
    return f"DIRECTORY_{re.sub(r'[^A-Z0-9]', '_', domain.upper())}_{name}"


def _names(value: str) -> list[str]:
    """A `;`-separated list (group names may hold commas and spaces)."""
    return [part.strip() for part in value.split(";") if part.strip()]


def _urls(name: str) -> tuple[tuple[str, ...], bool]:
    """The URLs, and whether they need StartTLS (ldap://); never a plain bind."""
    urls = tuple(os.environ.get(name, "").split())
    if not urls:
        raise ImproperlyConfigured(
            f"{name} is not set: give ldaps://host:636 (or ldap://host:389, "
            "used with StartTLS), several separated by spaces for failover"
        )
    schemes = {url.split("://", 1)[0].lower() for url in urls}
    if not schemes <= {"ldaps", "ldap"} or not all("://" in url for url in urls):
        raise ImproperlyConfigured(f"{name} must hold ldaps:// or ldap:// URLs")
    if len(schemes) > 1:
        raise ImproperlyConfigured(
            f"{name} mixes ldaps:// and ldap://: use one scheme for all servers"
        )
    return urls, schemes == {"ldap"}


def _share(name: str, default: float) -> float:
    """A percentage, `10%` or `10` (0 to 100), as a fraction."""
    value = os.environ.get(name, "").strip().removesuffix("%").strip()
    if not value:
        return default
    try:
        share = float(value)
    except ValueError:
        share = -1.0
    if not 0 <= share <= 100:
        raise ImproperlyConfigured(f"{name} must be a percentage from 0 to 100, as 10%")
    return share / 100


def _groups(name: str) -> dict[str, str]:
    """`directory group=Django group;...`, e.g. `GG-Counselors=Counselors`."""
    mapping = {}
    for pair in _names(os.environ.get(name, "")):
        directory_group, sep, django_group = pair.rpartition("=")
        if not sep or not directory_group.strip() or not django_group.strip():
            raise ImproperlyConfigured(
                f"{name} must be pairs `directory group=Django group` separated by `;`"
            )
        mapping[directory_group.strip().lower()] = django_group.strip()
    return mapping


def _directory(domain: str) -> tuple[Directory, dict]:
    def var(name: str) -> str:
        return variable(domain, name)

    urls, start_tls = _urls(var("URL"))
    ca_file = os.environ.get(var("CA_FILE"), "")
    if not ca_file:
        raise ImproperlyConfigured(
            f"{var('CA_FILE')} is not set: give the PEM file of the CA that signed "
            "the directory's certificate (certificates are always checked)"
        )
    if not Path(ca_file).is_file() or not os.access(ca_file, os.R_OK):
        raise ImproperlyConfigured(f"{var('CA_FILE')} names no readable file")
    base_dn = os.environ.get(var("BASE_DN"), "").strip()
    if not base_dn:
        raise ImproperlyConfigured(
            f"{var('BASE_DN')} is not set: give the DN under which the domain's "
            "users are, such as DC=uni,DC=example,DC=edu"
        )
    user_filter = os.environ.get(var("USER_FILTER"), "").strip() or DEFAULT_USER_FILTER
    if not (user_filter.startswith("(") and user_filter.endswith(")")):
        raise ImproperlyConfigured(
            f"{var('USER_FILTER')} must be an LDAP filter in parentheses"
        )
    bind_dn = os.environ.get(var("BIND_DN"), "").strip()
    bind_password = secret(var("BIND_PASSWORD"))
    if bool(bind_dn) != bool(bind_password):
        raise ImproperlyConfigured(
            f"{var('BIND_DN')} and {var('BIND_PASSWORD')} go together: set both "
            "(a service account) or neither (each user's own bind)"
        )
    upn_suffix = os.environ.get(var("UPN_SUFFIX"), "").strip().lstrip("@").lower()
    if upn_suffix and not re.fullmatch(r"[a-z0-9.-]+\.[a-z0-9-]+", upn_suffix):
        raise ImproperlyConfigured(
            f"{var('UPN_SUFFIX')} must be a DNS name such as uni.example.edu"
        )
    timeout = number(var("TIMEOUT"), 3.0, minimum=0.1)
    threshold = (
        integer(var("LOCKOUT_THRESHOLD"), 0, minimum=0)
        if os.environ.get(var("LOCKOUT_THRESHOLD"))
        else None
    )

    directory = Directory(
        domain=domain,
        urls=urls,
        settings_prefix=f"AUTH_LDAP_{re.sub(r'[^A-Z0-9]', '_', domain.upper())}_",
        base_dn=base_dn,
        user_filter=user_filter,
        upn_suffix=upn_suffix,
        staff_groups=frozenset(
            name.lower() for name in _names(os.environ.get(var("STAFF_GROUPS"), ""))
        ),
        groups=_groups(var("GROUPS")),
        timeout=timeout,
        lockout_threshold=threshold or None,
        max_block_share=_share(var("MAX_BLOCK_SHARE"), 0.10),
    )
    search = UserSearch(
        base_dn, ldap.SCOPE_SUBTREE, f"(&{user_filter}(sAMAccountName=%(user)s))"
    )
    ldap_settings = {
        "SERVER_URI": server_uri,
        "START_TLS": start_tls,
        # In this order: the TLS options, then a new TLS context with them.
        # Asynchronous connect makes the deadline hold for the TLS handshake
        # and StartTLS too (libldap's network timeout alone does not).
        "CONNECTION_OPTIONS": {
            ldap.OPT_REFERRALS: 0,
            ldap.OPT_PROTOCOL_VERSION: ldap.VERSION3,
            ldap.OPT_NETWORK_TIMEOUT: timeout,
            ldap.OPT_TIMEOUT: timeout,
            ldap.OPT_CONNECT_ASYNC: 1,
            ldap.OPT_X_TLS_REQUIRE_CERT: ldap.OPT_X_TLS_DEMAND,
            ldap.OPT_X_TLS_CACERTFILE: ca_file,
            ldap.OPT_X_TLS_NEWCTX: 0,
        },
        "USER_SEARCH": search,
        "USER_ATTR_MAP": USER_ATTRIBUTES,
        "USER_ATTRLIST": [
            "objectGUID",
            "sAMAccountName",
            "userPrincipalName",
            *USER_ATTRIBUTES.values(),
        ],
        "ALWAYS_UPDATE_USER": True,
        "GROUP_SEARCH": LDAPSearch(base_dn, ldap.SCOPE_SUBTREE, "(objectClass=group)"),
        "GROUP_TYPE": NestedActiveDirectoryGroupType(),
    }
    if bind_dn:
        ldap_settings |= {"BIND_DN": bind_dn, "BIND_PASSWORD": bind_password}
    else:
        # The user's own bind, as `jsmith@suffix` or `DOMAIN\jsmith`, then the
        # search for the entry as that user (AD accepts both as a bind name).
        template = f"%(user)s@{upn_suffix}" if upn_suffix else f"{domain}\\%(user)s"
        ldap_settings |= {
            "USER_DN_TEMPLATE": template,
            "BIND_AS_AUTHENTICATING_USER": True,
            "REFRESH_DN_ON_BIND": True,
        }
    return directory, {
        f"{directory.settings_prefix}{name}": value
        for name, value in ldap_settings.items()
    }


def directories() -> tuple[dict[str, Directory], dict]:
    """The directories of DIRECTORY_DOMAINS by domain (lower case), and the
    django-auth-ldap settings of all of them."""
    listed = [d.strip() for d in os.environ.get("DIRECTORY_DOMAINS", "").split(",")]
    found: dict[str, Directory] = {}
    ldap_settings: dict = {}
    for domain in filter(None, listed):
        if not DOMAIN_NAME.match(domain):
            raise ImproperlyConfigured(
                "DIRECTORY_DOMAINS must be a comma list of domain names (letters, "
                "digits, `-` and `.`), such as uni,lincoln"
            )
        if domain.lower() in found:
            raise ImproperlyConfigured(
                f"DIRECTORY_DOMAINS lists {domain.lower()} twice (case does not matter)"
            )
        directory, prefixed = _directory(domain)
        found[directory.key] = directory
        ldap_settings |= prefixed
    suffixes = [d.upn_suffix for d in found.values() if d.upn_suffix]
    if len(suffixes) != len(set(suffixes)):
        raise ImproperlyConfigured(
            "two domains share a DIRECTORY_<D>_UPN_SUFFIX: each suffix names one"
        )
    return found, ldap_settings
