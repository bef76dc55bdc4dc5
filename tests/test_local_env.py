"""The `.env` that `make run` writes: private, and right for every local command."""

import shutil
import stat
import subprocess
import sys

import pytest

from bench.support import ROOT
from tests.test_settings import load_settings


@pytest.fixture
def dotenv(tmp_path):
    """Run the Makefile's `.env` target in an empty folder; return the file."""
    subprocess.run(
        [
            shutil.which("make"),
            "-f",
            ROOT / "Makefile",
            ".env",
            f"PYTHON={sys.executable}",
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    return tmp_path / ".env"


def test_dotenv__is_readable_by_its_owner_only(dotenv):
    assert stat.S_IMODE(dotenv.stat().st_mode) == 0o600


def test_dotenv__serves_plain_http_locally_with_debug_off(dotenv, monkeypatch):
    """`make manage ARGS=runserver` and gunicorn read the same local switches (#9)."""
    values = dict(
        line.split("=", 1)
        for line in dotenv.read_text().splitlines()
        if line and not line.startswith("#")
    )
    loaded = load_settings(monkeypatch, **values)
    assert loaded["DEBUG"] is False
    assert loaded["SECURE_SSL_REDIRECT"] is False
    assert loaded["SESSION_COOKIE_SECURE"] is False
    assert loaded["SECURE_HSTS_SECONDS"] == 0
    assert len(loaded["SECRET_KEY"]) >= 50
