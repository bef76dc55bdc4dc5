"""Fixtures of the project-wide tests: measured figures."""

from __future__ import annotations

import pytest

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
