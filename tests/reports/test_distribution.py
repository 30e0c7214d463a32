"""Medians from summed buckets (reports.distribution): the buckets in Python and SQL agree, and a
percentile is within its bucket's width of the exact one, exact when the bucket's values are equal."""

import random

import pytest
from django.db import connection

from reports.distribution import BUCKET_WIDTHS, MEDIAN, P90, Distribution, bucket_of
from reports.sql import bucket_ms

SECOND, MINUTE, HOUR = 1_000, 60_000, 3_600_000


def exact_percentile(values, numerator, denominator):
    """percentile_cont: linear interpolation between the two nearest ranks."""
    ordered = sorted(values)
    position = numerator * (len(ordered) - 1) / denominator
    low = int(position)
    if low + 1 >= len(ordered):
        return float(ordered[low])
    return ordered[low] + (position - low) * (ordered[low + 1] - ordered[low])


def width_at(value):
    return next(width for below, width in BUCKET_WIDTHS if below is None or value < below)


def tolerance(values, numerator, denominator):
    """The width of the bucket of the higher of the two values a percentile interpolates between."""
    ordered = sorted(values)
    high = min(len(ordered) - 1, numerator * (len(ordered) - 1) // denominator + 1)
    return width_at(ordered[high])


@pytest.mark.parametrize(
    ("value", "bucket"),
    [
        (0, 0),
        (999, 0),
        (1_000, 1_000),
        (10 * MINUTE - 1, 10 * MINUTE - SECOND),
        (10 * MINUTE + 9_999, 10 * MINUTE),
        (10 * MINUTE + 10_000, 10 * MINUTE + 10_000),
        (2 * HOUR + 59_999, 2 * HOUR),
        (24 * HOUR - 1, 24 * HOUR - MINUTE),
        (24 * HOUR, 24 * HOUR),
        (72 * HOUR + 59 * MINUTE, 72 * HOUR),
    ],
)
def test_buckets_are_a_second_wide_below_10_minutes_then_10_s_then_a_minute_then_an_hour(value, bucket):
    assert bucket_of(value) == bucket


@pytest.mark.django_db
def test_the_sql_buckets_are_the_python_ones():
    values = [0, 1, 999, 1_000, 599_999, 600_000, 7_199_999, 7_200_000, 86_399_999, 86_400_000, 259_200_000]
    values += random.Random(7).sample(range(0, 100 * HOUR), 200)
    rows = " UNION ALL ".join(f"SELECT {v} AS v" for v in values)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT v, {bucket_ms('v')} FROM ({rows}) AS t ORDER BY v")
        assert cursor.fetchall() == [(v, bucket_of(v)) for v in sorted(values)]


@pytest.mark.parametrize("seed", range(20))
def test_percentiles_are_within_a_bucket_width_of_the_exact_ones(seed):
    rng = random.Random(seed)
    scale = rng.choice([MINUTE, 20 * MINUTE, 3 * HOUR, 30 * HOUR])
    values = [int(rng.expovariate(1 / scale)) for _ in range(rng.randint(1, 400))]
    distribution = Distribution().add_values(values)
    assert distribution.count == len(values)
    assert distribution.average_ms == pytest.approx(sum(values) / len(values))
    for fraction in (MEDIAN, P90):
        exact = exact_percentile(values, *fraction)
        assert abs(distribution.percentile_ms(*fraction) - exact) < tolerance(values, *fraction)


def test_equal_values_and_whole_minutes_are_exact():
    assert Distribution().add_values([24 * HOUR] * 5 + [72 * HOUR] * 2).median_ms == 24 * HOUR
    minutes = [15 * MINUTE, 20 * MINUTE, 30 * MINUTE]
    distribution = Distribution().add_values(minutes)
    assert distribution.median_ms == 20 * MINUTE
    assert distribution.p90_ms == 28 * MINUTE  # 20 + 0.8 x 10
    assert distribution.p90_ms == exact_percentile(minutes, *P90)


def test_distributions_add_up_and_an_empty_one_has_no_median():
    assert Distribution().median_ms is None and Distribution().average_ms is None
    days = [Distribution().add_values([MINUTE, 3 * MINUTE]), Distribution().add_values([2 * MINUTE])]
    total = Distribution()
    for day in days:
        total.merge(day)
    assert (total.count, total.median_ms, total.average_ms) == (3, 2 * MINUTE, 2 * MINUTE)
