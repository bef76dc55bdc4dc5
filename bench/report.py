"""The table `make bench` prints: each row a figure and, for a target, its verdict."""

from __future__ import annotations

import dataclasses
import math
import operator

_OPERATORS = {
    ">=": operator.ge,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}


@dataclasses.dataclass(frozen=True)
class Target:
    """A threshold, written once: its label and its check come from the same fields."""

    op: str
    limit: float

    def __str__(self) -> str:
        return f"{self.op} {self.limit:g}"

    def met(self, value: float) -> bool:
        return _OPERATORS[self.op](value, self.limit)


@dataclasses.dataclass(frozen=True)
class Row:
    label: str
    shown: str
    target: Target | None = None
    value: float | None = None

    def cells(self) -> tuple[str, str, str, str]:
        if self.target is None:
            return self.label, self.shown, "", ""
        verdict = "ok" if self.target.met(self.value) else "MISSED"
        return self.label, self.shown, str(self.target), verdict


def print_table(rows: list[Row]) -> None:
    cells = [row.cells() for row in rows]
    widths = [max(len(cell[i]) for cell in cells) for i in range(4)]
    print()
    for cell in cells:
        print("  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)).rstrip())


def percentile(values: list[float], percent: float) -> float:
    """The nearest-rank percentile: the smallest value with `percent`% at or below it.

    Of 20 samples, the p99 is the largest, whatever one hiccup of the machine
    made it; of 100, the second largest.
    """
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(math.ceil(len(ordered) * percent / 100), 1) - 1]
