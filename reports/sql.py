"""The few SQL pieces the ORM does not spell the same way on PostgreSQL and SQLite.

Time arithmetic in the report queries is done on epoch milliseconds (integers on SQLite, doubles with
microseconds on PostgreSQL), so one query text serves both databases; only `epoch_ms` differs. Durations
that are summed or bucketed are rounded to whole milliseconds first (`whole_ms`), so totals are exact
integers on both. Medians and percentiles come from bucketed distributions (reports.distribution), whose
buckets `bucket_ms` writes in SQL.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import BigIntegerField, FloatField, Func

from reports.distribution import BUCKET_WIDTHS

DAY_MS = 24 * 60 * 60 * 1000


def epoch_ms(column_sql: str) -> str:
    """SQL for the milliseconds since 1970 of a datetime column (stored in UTC on both databases)."""
    if connection.vendor == "postgresql":
        # date_part is double precision (EXTRACT is numeric since PostgreSQL 14, several times slower);
        # epoch milliseconds stay exact integers in a double up to the year 287,396.
        return f"(date_part('epoch', {column_sql}) * 1000)"
    # SQLite keeps "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC; julianday reads it to the millisecond.
    return f"CAST(ROUND((julianday({column_sql}) - 2440587.5) * 86400000.0) AS INTEGER)"


def from_epoch_ms(value_sql: str) -> str:
    """SQL for the datetime at `value_sql` epoch milliseconds, as the backend stores a DateTimeField.
    For a query run with parameters (its % signs are doubled)."""
    if connection.vendor == "postgresql":
        return f"to_timestamp(({value_sql}) / 1000.0)"
    return f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', ({value_sql}) / 1000.0, 'unixepoch')"


def whole_ms(value_sql: str) -> str:
    """A duration in milliseconds rounded to an integer (the same text works on both databases)."""
    return f"CAST(ROUND({value_sql}) AS BIGINT)"


def bucket_ms(value_sql: str) -> str:
    """SQL for reports.distribution.bucket_of(value): the first millisecond of the value's bucket.
    `value_sql` must be a non-negative integer (whole_ms)."""
    cases = []
    for below, width in BUCKET_WIDTHS:
        bucket = f"({value_sql} / {width}) * {width}"  # integer division on both databases
        cases.append(f"ELSE {bucket}" if below is None else f"WHEN {value_sql} < {below} THEN {bucket}")
    return f"(CASE {' '.join(cases)} END)"


class EpochMs(Func):
    """epoch_ms() as an ORM expression: differences of two are durations in milliseconds."""

    output_field = FloatField()

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return epoch_ms(sql), params


class WholeMs(Func):
    """whole_ms() as an ORM expression."""

    output_field = BigIntegerField()

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return whole_ms(sql), params


def local_date(column_sql: str, tzname: str) -> tuple[str, tuple]:
    """SQL for the calendar date of a datetime column in `tzname` (what TruncDate(tzinfo=) does)."""
    return connection.ops.datetime_cast_date_sql(column_sql, (), tzname)
