"""The bench's percentiles: nearest rank, so that a p99 is not simply the maximum."""

import math

from bench.report import percentile


def test_percentile__is_the_nearest_rank():
    values = [float(n) for n in range(100, 0, -1)]  # any order
    assert percentile(values, 99) == 99
    assert percentile(values, 50) == 50
    assert percentile(values, 100) == 100
    assert percentile(values, 0) == 1


def test_percentile__of_few_samples_is_their_largest():
    assert percentile([3.0, 1.0, 2.0], 99) == 3


def test_percentile__of_nothing_is_nan():
    assert math.isnan(percentile([], 99))
