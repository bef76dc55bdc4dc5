"""A throwaway PostgreSQL 16 and the app under gunicorn, for tests across apps."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from http import HTTPStatus
from pathlib import Path

import pytest

from embedded_postgres import EmbeddedPostgres
from embedded_postgres.server import free_port

ROOT = Path(__file__).resolve().parent.parent
MEASUREMENTS: list[str] = []


@pytest.fixture
def measure():
    """Record a figure for the end-of-run summary (the issue notes quote them)."""
    return MEASUREMENTS.append


def pytest_terminal_summary(terminalreporter):
    if MEASUREMENTS:
        terminalreporter.section("measured")
        for line in MEASUREMENTS:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def collected_static():
    """Run `collectstatic`, as the Dockerfile does, for gunicorn-served pages."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        check=True,
    )


@pytest.fixture(scope="module")
def throwaway_postgres():
    """A PostgreSQL 16 of the module's own, to stop, freeze and restart."""
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="pg-outage-"))
    root.chmod(0o755)
    server = EmbeddedPostgres(root / "pg", durable=False).start()
    yield server
    thaw(server)
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def freeze(server):
    for pid in server.processes():
        os.kill(pid, signal.SIGSTOP)


def thaw(server):
    for pid in server.processes():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


class App:
    """gunicorn serving the project with its own gunicorn.conf.py."""

    def __init__(self, env: dict[str, str]) -> None:
        """Start gunicorn; `collected_static` must have run for styled pages."""
        self.port = free_port()
        self.log = ROOT / f".pytest_cache/gunicorn-{self.port}.log"
        self.log.parent.mkdir(exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
            cwd=ROOT,
            env={
                **os.environ,
                "GUNICORN_BIND": f"127.0.0.1:{self.port}",
                **env,
            },
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if self.get("/health/live")[0] == HTTPStatus.OK:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not start: {self.log.read_text()[-2000:]}")

    def get(self, path, timeout=10.0, headers=None, method="GET", body=None):
        """Return (status, body text, seconds taken)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        start = time.monotonic()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read().decode(), time.monotonic() - start
        finally:
            conn.close()

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
