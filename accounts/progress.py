"""The progress bar of the roster commands (import_users, sync_directory): on a
terminal only, on stderr, one step at a time, each named."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from tqdm import tqdm


class Progress:
    """One bar a step: `phase(name)` starts the next, `count(n)` or `rows()`
    counts what the step reads; nothing is drawn unless stderr is a terminal."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.bar = None

    def phase(self, name: str, unit: str = "") -> None:
        self.close()
        self.bar = tqdm(
            desc=name,
            unit=unit or "it",
            bar_format=None if unit else "{desc} ({elapsed})",
            disable=not self.enabled,
            file=sys.stderr,
        )

    def count(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def rows(self, rows: Iterable, name: str, unit: str) -> Iterable:
        """`rows`, counted as they are read, as the step `name`."""
        self.phase(name, unit)
        for row in rows:
            self.count(1)
            yield row

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
