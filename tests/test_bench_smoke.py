"""bench/ reaches into the project by name (settings modules, receivers by
dispatch_uid, a middleware's dotted path): each scenario module imports, and
each name it switches off still exists, or the bench measures nothing."""

import subprocess
import sys

import pytest

from testsupport.servers import ROOT, SECRET_KEY, child_env

MODULES = sorted(
    path.stem for path in (ROOT / "bench").glob("*.py") if path.stem != "__main__"
)
ENV = {
    "DATABASE_URL": "postgresql://u:p@127.0.0.1:1/db",  # never connected to
    "DJANGO_SECRET_KEY": SECRET_KEY,
}


def python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=child_env(**ENV, **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("module", MODULES)
def test_scenario__imports(module):
    settings = "bench.untrailed_settings" if module == "untrailed" else None
    env = {"DJANGO_SETTINGS_MODULE": settings} if settings else {}
    result = python(f"import bench.{module}", **env)
    assert result.returncode == 0, result.stderr


def test_untrailed__disconnects_every_receiver_it_names():
    code = """
import django.contrib.auth.signals as auth, django.db.backends.signals as db
import bench.untrailed
uids = {key[0] for signal in (auth.user_logged_in, auth.user_login_failed,
        auth.user_logged_out, db.connection_created) for key, *_ in signal.receivers}
assert not {u for u in uids if isinstance(u, str) and u.startswith("audit.")}, uids
"""
    result = python(code, DJANGO_SETTINGS_MODULE="bench.untrailed_settings")
    assert result.returncode == 0, result.stderr


def test_untrailed_settings__leave_out_a_middleware_that_exists():
    code = """
from config import settings
from bench import untrailed_settings
gone = set(settings.MIDDLEWARE) - set(untrailed_settings.MIDDLEWARE)
assert gone == {"audit.events.AuditContextMiddleware"}, gone
"""
    result = python(code)
    assert result.returncode == 0, result.stderr


def test_receivers_before_untrailed__are_the_audit_apps():
    """The names bench.untrailed disconnects are connected in the first place."""
    code = """
import django
django.setup()
import django.contrib.auth.signals as auth
uids = {key[0] for key, *_ in auth.user_logged_in.receivers}
assert "audit.signed_in" in uids, uids
"""
    result = python(code, DJANGO_SETTINGS_MODULE="config.settings")
    assert result.returncode == 0, result.stderr


def test_no_mfa_settings__leave_out_the_second_factors_middleware():
    code = """
from config import settings
from bench import no_mfa_settings
gone = set(settings.MIDDLEWARE) - set(no_mfa_settings.MIDDLEWARE)
assert gone == {"django_otp.middleware.OTPMiddleware",
                "mfa.middleware.SecondFactorMiddleware"}, gone
"""
    result = python(code)
    assert result.returncode == 0, result.stderr
