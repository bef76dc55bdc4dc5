"""Typed readers of environment variables, shared by the settings and gunicorn.conf.py.

Django-free apart from its exception, so that gunicorn's master can use them without
loading Django. A wrong value raises `ImproperlyConfigured` naming the variable,
never echoing its value.
"""

from __future__ import annotations

import ipaddress
import math
import os
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured


def secret(name: str) -> str:
    """Read a secret from `name`, or from the file `name`_FILE names (Docker and
    Kubernetes secrets), without its final newline; "" when neither is set."""
    path = os.environ.get(f"{name}_FILE", "")
    if not path:
        return os.environ.get(name, "")
    if os.environ.get(name):
        raise ImproperlyConfigured(f"{name} and {name}_FILE are both set: give one")
    try:
        with open(path, encoding="utf-8") as file:
            return file.read().removesuffix("\n").removesuffix("\r")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise ImproperlyConfigured(
            f"{name}_FILE names a file that cannot be read ({reason})"
        ) from None


def boolean(name: str, default: bool) -> bool:
    # Unlike env.bool(), an unknown word is an error: a typo must not turn debug
    # off (or on) silently.
    value = os.environ.get(name, str(default)).strip().lower()
    if value in {"true", "1", "yes", "on"}:
        return True
    if value in {"false", "0", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false")


def choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """Read one of `choices`, in any case."""
    value = os.environ.get(name, default).strip().upper()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}")
    return value


def integer(name: str, default: int, *, minimum: int = 1) -> int:
    """Read a whole number of at least `minimum`."""
    try:
        value = int(os.environ.get(name, str(default)))
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise ImproperlyConfigured(
            f"{name} must be a whole number of at least {minimum}"
        )
    return value


def sizes(low: str, low_default: int, high: str, high_default: int) -> tuple[int, int]:
    """Read a range of whole numbers from two variables: `low` up to `high`."""
    least, most = integer(low, low_default), integer(high, high_default)
    if least > most:
        raise ImproperlyConfigured(f"{low} ({least}) must not exceed {high} ({most})")
    return least, most


def number(name: str, default: float, *, minimum: float) -> float:
    """Read a finite number of at least `minimum`."""
    try:
        value = float(os.environ.get(name, str(default)))
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= minimum):
        raise ImproperlyConfigured(f"{name} must be a number of at least {minimum}")
    return value


POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql"}


def networks(name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Read the comma list of IP addresses or networks in variable `name`."""
    try:
        return [
            ipaddress.ip_network(value.strip(), strict=False)
            for value in os.environ.get(name, "").split(",")
            if value.strip()
        ]
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be a comma list of IP addresses or networks"
        ) from None


# The examples' database passwords (.env.example, .env.compose.example):
# placeholders, never for production; docker/postgres/initdb refuses them too.
PLACEHOLDER_PASSWORDS = ("change-me", "devpassword")


def database_url(name: str, *, debug: bool = False) -> dict:
    """Parse the PostgreSQL URL in variable `name` without ever echoing it.

    With debug off, .env.example's placeholder passwords are refused, in the URL
    or in PGPASSWORD (which compose passes apart from it).
    """
    url = os.environ.get(name, "")
    if not url:
        raise ImproperlyConfigured(
            f"{name} is not set: give a postgresql:// URL (see .env.example), or "
            "use `make run`, `make test` or `make manage ARGS=...`, which start "
            "an embedded PostgreSQL 16"
        )
    scheme = urlsplit(url).scheme
    if scheme not in POSTGRES_SCHEMES:
        raise ImproperlyConfigured(
            f"{name} must start with postgresql:// (got the scheme {scheme[:20]!r})"
        )
    try:
        config = environ.Env.db_url_config(url)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} is malformed: expected "
            "postgresql://user:password@host:port/database (percent-encode "
            "special characters in the password)"
        ) from None
    if not config["NAME"]:
        raise ImproperlyConfigured(f"{name} names no database")
    # The password apart from the URL, as compose passes it: PGPASSWORD (which
    # libpq reads itself) or the file PGPASSWORD_FILE names.
    if (password := secret("PGPASSWORD")) and not config.get("PASSWORD"):
        config["PASSWORD"] = password
    passwords = (config.get("PASSWORD") or "", password)
    if not debug and any(
        placeholder in password
        for password in passwords
        for placeholder in PLACEHOLDER_PASSWORDS
    ):
        raise ImproperlyConfigured(
            f"{name} (or PGPASSWORD) holds a placeholder password from "
            ".env.example: set the database role's real password"
        )
    return config


def secret_key(name: str, *, debug: bool) -> str:
    """Read Django's secret key (or the file `name`_FILE names): required, and no
    placeholder, unless debugging."""
    value = secret(name)
    if not value:
        if not debug:
            raise ImproperlyConfigured(
                f"{name} (or {name}_FILE) is not set (it is required when "
                "DJANGO_DEBUG is false)"
            )
        return "insecure-key-for-local-debugging-only"
    if not debug and (
        len(value) < 50 or "change-me" in value or value.startswith("django-insecure")
    ):
        # Signed sessions and tokens are only as safe as this key.
        raise ImproperlyConfigured(
            f"{name} is a placeholder or shorter than 50 characters: give a "
            "random one, such as python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(50))'"
        )
    return value


def fernet_keys(name: str, *, debug: bool, fallback: str) -> list[str]:
    """Read one or more Fernet keys, comma-separated (or from `name`_FILE): the
    first encrypts, every one decrypts (rotation, docs/operations.md). Required,
    and no placeholder, unless debugging; then a key derived from `fallback`."""
    import base64
    import hashlib

    from cryptography.fernet import Fernet

    value = secret(name).strip()
    if not value:
        if not debug:
            raise ImproperlyConfigured(
                f"{name} (or {name}_FILE) is not set (it is required when "
                "DJANGO_DEBUG is false): give one from python3 -c 'import base64, "
                "os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'"
            )
        digest = hashlib.sha256(f"{name}:{fallback}".encode()).digest()
        return [base64.urlsafe_b64encode(digest).decode()]
    keys = [key.strip() for key in value.split(",") if key.strip()]
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must be comma-separated keys of 32 url-safe base64 bytes"
            ) from None
        if not debug and b"change-me" in base64.urlsafe_b64decode(key):
            raise ImproperlyConfigured(f"{name} is a placeholder: give a random key")
    return keys


def time_zone(name: str, default: str) -> str:
    """Read an IANA time zone name (Europe/Berlin, America/New_York, UTC)."""
    import zoneinfo

    value = os.environ.get(name, default).strip() or default
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(
            f"{name} must be a time zone name such as Europe/Berlin or UTC"
        ) from None
    return value
