"""Typed readers of environment variables, shared by the settings and gunicorn.conf.py.

Django-free apart from its exception, so that gunicorn's master can use them without
loading Django. A wrong value raises `ImproperlyConfigured` naming the variable,
never echoing its value.
"""

from __future__ import annotations

import math
import os

from django.core.exceptions import ImproperlyConfigured


def boolean(name: str, default: bool) -> bool:
    # Unlike env.bool(), an unknown word is an error: a typo must not turn debug
    # off (or on) silently.
    value = os.environ.get(name, str(default)).strip().lower()
    if value in {"true", "1", "yes", "on"}:
        return True
    if value in {"false", "0", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false")


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


def number(name: str, default: float, *, minimum: float) -> float:
    """Read a finite number of at least `minimum`."""
    try:
        value = float(os.environ.get(name, str(default)))
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= minimum):
        raise ImproperlyConfigured(f"{name} must be a number of at least {minimum}")
    return value
