"""Durations as bucketed distributions: what lets a median be summed over days.

A median cannot be added up from daily medians, so every duration the reports summarise (conversation
lengths, first-response times) is counted per day into buckets: how many values fell in the bucket and
their total. Buckets from many days (the rollup) and from today (live) add up, and the median and the
90th percentile come from the summed buckets. Live figures go through the same buckets, so a day gives
the same figure whether it was read live or from the rollup.

Precision: each value stands for the average of the values in its bucket, so a percentile is off by
less than the width of its bucket (1 s below 10 min, 10 s below 2 h, 1 min below 24 h, 1 h beyond),
and exact when the values in the bucket are equal (24 h and 72 h expiries, whole-minute replies).
Counts, totals and averages are exact (integer milliseconds).

Pure Python, no Django: reports/sql.py writes the same buckets as SQL.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

# (values below this many milliseconds, fall in buckets this wide); the last row has no upper limit.
BUCKET_WIDTHS: tuple[tuple[int | None, int], ...] = (
    (10 * 60_000, 1_000),
    (2 * 3_600_000, 10_000),
    (24 * 3_600_000, 60_000),
    (None, 3_600_000),
)

# (numerator, denominator): a percentile's position is integer arithmetic, the same for every source.
MEDIAN = (1, 2)
P90 = (9, 10)


def bucket_of(milliseconds: int) -> int:
    """The first millisecond of the bucket a non-negative duration falls in."""
    for below, width in BUCKET_WIDTHS:
        if below is None or milliseconds < below:
            return milliseconds - milliseconds % width
    raise AssertionError("the last bucket width has no upper limit")


@dataclass
class Distribution:
    """Durations in buckets: bucket start (ms) -> [count, total ms]."""

    buckets: dict[int, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))

    def add(self, bucket_ms: int, count: int, total_ms: int) -> None:
        entry = self.buckets[int(bucket_ms)]
        entry[0] += int(count)
        entry[1] += int(total_ms)

    def add_values(self, values_ms) -> Distribution:
        for value in values_ms:
            self.add(bucket_of(value), 1, value)
        return self

    def merge(self, other: Distribution) -> None:
        for bucket, (count, total) in other.buckets.items():
            self.add(bucket, count, total)

    @property
    def count(self) -> int:
        return sum(count for count, _ in self.buckets.values())

    @property
    def average_ms(self) -> float | None:
        count = self.count
        return sum(total for _, total in self.buckets.values()) / count if count else None

    def percentile_ms(self, numerator: int, denominator: int) -> float | None:
        """Linear interpolation between the two nearest ranks, as percentile_cont does, over the values
        (each one its bucket's average)."""
        n = self.count
        if n == 0:
            return None
        low_rank = numerator * (n - 1) // denominator + 1
        fraction = (numerator * (n - 1) % denominator) / denominator
        low = self._value_at(low_rank)
        if fraction == 0 or low_rank == n:
            return low
        return low + fraction * (self._value_at(low_rank + 1) - low)

    @property
    def median_ms(self) -> float | None:
        return self.percentile_ms(*MEDIAN)

    @property
    def p90_ms(self) -> float | None:
        return self.percentile_ms(*P90)

    def _value_at(self, rank: int) -> float:
        seen = 0
        for bucket in sorted(self.buckets):
            count, total = self.buckets[bucket]
            seen += count
            if count and seen >= rank:
                return total / count
        raise IndexError(rank)

    def __bool__(self) -> bool:
        return self.count > 0
