"""The few SQL pieces the ORM does not spell the same way on PostgreSQL and SQLite.

Time arithmetic in the report queries is done on epoch milliseconds (integers on SQLite, doubles with
microseconds on PostgreSQL), so one query text serves both databases; only `epoch_ms` differs. Percentiles
are computed with window functions (ROW_NUMBER, COUNT OVER), which both databases have, instead of
PostgreSQL's percentile_cont, so SQLite (the demo's database) answers the same figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection
from django.db.models import FloatField, Func

DAY_MS = 24 * 60 * 60 * 1000


def epoch_ms(column_sql: str) -> str:
    """SQL for the milliseconds since 1970 of a datetime column (stored in UTC on both databases)."""
    if connection.vendor == "postgresql":
        # date_part is double precision (EXTRACT is numeric since PostgreSQL 14, several times slower);
        # epoch milliseconds stay exact integers in a double up to the year 287,396.
        return f"(date_part('epoch', {column_sql}) * 1000)"
    # SQLite keeps "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC; julianday reads it to the millisecond.
    return f"CAST(ROUND((julianday({column_sql}) - 2440587.5) * 86400000.0) AS INTEGER)"


class EpochMs(Func):
    """epoch_ms() as an ORM expression: differences of two are durations in milliseconds."""

    output_field = FloatField()

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return epoch_ms(sql), params


def local_date(column_sql: str, tzname: str) -> tuple[str, tuple]:
    """SQL for the calendar date of a datetime column in `tzname` (what TruncDate(tzinfo=) does)."""
    return connection.ops.datetime_cast_date_sql(column_sql, (), tzname)


@dataclass(frozen=True)
class Percentiles:
    count: int
    average_ms: float | None
    values_ms: dict[float, float | None]  # fraction -> value (linear interpolation, as percentile_cont)


# (numerator, denominator): percentile positions are computed with integer arithmetic, identical on
# both databases.
MEDIAN = (1, 2)
P90 = (9, 10)


def percentiles(
    inner_sql: str,
    params: Sequence,
    *,
    fractions: Sequence[tuple[int, int]] = (MEDIAN, P90),
    cursor=None,
) -> dict[object, Percentiles]:
    """Count, average and percentiles of `value` per `grp` over the rows of `inner_sql`, a query whose
    columns are named `grp` and `value` (milliseconds). One row per group comes back from SQL; the last
    step of the linear interpolation between the two neighbouring values is done here."""
    picks = []
    for numerator, denominator in fractions:
        low = f"(({numerator} * (n - 1)) / {denominator} + 1)"
        picks.append(f"MAX(CASE WHEN rn = {low} THEN value END)")
        picks.append(f"MAX(CASE WHEN rn = {low} + 1 THEN value END)")
    sql = f"""
        SELECT grp, MAX(n), AVG(value), {", ".join(picks)}
        FROM (
            SELECT grp, value,
                   ROW_NUMBER() OVER (PARTITION BY grp ORDER BY value) AS rn,
                   COUNT(*) OVER (PARTITION BY grp) AS n
            FROM ({inner_sql}) AS rows_
            WHERE value IS NOT NULL
        ) AS ranked
        GROUP BY grp
    """  # noqa: S608 — only our own SQL fragments are interpolated; values are parameters
    if cursor is None:
        with connection.cursor() as own_cursor:
            own_cursor.execute(sql, params)
            rows = own_cursor.fetchall()
    else:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    result = {}
    for grp, n, average, *picked in rows:
        values = {}
        for index, (numerator, denominator) in enumerate(fractions):
            low, high = picked[2 * index], picked[2 * index + 1]
            fraction = (numerator * (n - 1) % denominator) / denominator
            if low is None:
                values[numerator / denominator] = None
            elif high is None or fraction == 0:
                values[numerator / denominator] = float(low)
            else:
                values[numerator / denominator] = float(low) + fraction * (float(high) - float(low))
        result[grp] = Percentiles(int(n), float(average) if average is not None else None, values)
    return result
