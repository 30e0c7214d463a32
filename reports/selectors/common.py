"""What every report shares: whose figures it shows (Scope), its cards and tables (Report), where its days
are read from (Sources), the per-day table and its chart (per_day_table_and_chart), and how rows from raw
SQL become labels, dates and distributions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Max
from django.utils.dateparse import parse_datetime
from django.utils.safestring import SafeString

from conversations.models import Conversation
from reports import charts, facts
from reports.distribution import Distribution
from reports.models import RollupDay
from reports.periods import Period
from reports.tables import Change, Table

Category = Conversation.Category
CATEGORIES = list(Category)
LIST_LIMIT = 500  # rows in the voided, lost and differing lists (the page and the CSV alike say so)
NO_AGENT = "no agent (sent by the system)"
UNASSIGNED = "unassigned"


@dataclass(frozen=True)
class Scope:
    """Whose figures a report shows: one agent's (agent_id), or everyone's (None)."""

    agent_id: int | None = None

    @classmethod
    def for_user(cls, user) -> Scope:
        return cls(None) if user.has_perm("reports.view_team_reports") else cls(user.pk)

    @property
    def is_team(self) -> bool:
        return self.agent_id is None


@dataclass(frozen=True)
class Card:
    """A headline figure with its change against the previous period."""

    label: str
    value: object
    previous: object = None
    change: Change | None = None
    hint: str = ""

    @classmethod
    def compared(cls, label: str, current, previous, hint: str = "") -> Card:
        return cls(label, current, previous, Change(current, previous), hint)


@dataclass
class Report:
    period: Period
    previous: Period
    now: datetime
    scope: Scope
    cards: list[Card] = field(default_factory=list)
    charts: list[tuple[str, str]] = field(default_factory=list)  # (svg, slug of the table with its numbers)
    tables: dict[str, Table] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    rolled_up_through: date | None = None  # days up to it were read from the rollup

    def add(self, table: Table, chart: SafeString | None = None) -> Table:
        """A table, and the chart drawn from its numbers (shown with a link to the table)."""
        self.tables[table.slug] = table
        if chart is not None:
            self.charts.append((chart, table.slug))
        return table


def rolled_up_through(tz: ZoneInfo) -> date | None:
    """The last day the rollup holds (reports.services): every day up to it is final there; days
    before the first rolled-up one had no data when the rollup last ran."""
    return RollupDay.objects.filter(time_zone=tz.key).aggregate(last=Max("day"))["last"]


@dataclass(frozen=True)
class Sources:
    """Where the days [first, last] of a report are read: the rollup for `rolled_up` days, live over
    `live` (an empty period when every day is rolled up)."""

    rolled_up: tuple[date, date] | None
    live: Period

    @classmethod
    def of(cls, first: date, last: date, *, tz: ZoneInfo, now: datetime) -> Sources:
        through = rolled_up_through(tz)
        if through is None or through < first:
            return cls(None, Period(first, last, tz, now=now))
        return cls((first, min(last, through)), Period(through + timedelta(days=1), last, tz, now=now))

    @property
    def last_rolled_up(self) -> date | None:
        return self.rolled_up[1] if self.rolled_up else None

    def rows(self, fact: facts.Fact) -> tuple[str, list]:
        return fact.rows_sql(rolled_up=self.rolled_up, span=self.live)


def start_report(period: Period, scope: Scope, now: datetime) -> tuple[Report, Sources]:
    """An empty report of `period` against the one before, and where both periods' days are read."""
    previous = period.previous()
    report = Report(period=period, previous=previous, now=now, scope=scope)
    sources = Sources.of(previous.first, period.last, tz=period.tz, now=now)
    report.rolled_up_through = sources.last_rolled_up
    return report, sources


@dataclass(frozen=True)
class Bars:
    """The chart of a per-day table: one bar, or stack of bars, per day. Each series is a name, a colour
    and its value on a day."""

    slug: str
    title: str
    description: str
    series: list[tuple[str, str, Callable[[date], float]]]
    x_label: str
    y_label: str
    stacked: bool = True


def per_day_table_and_chart(
    report: Report,
    *,
    title: str,
    columns: list[str],
    cells: Callable[[date], list],
    totals: list,
    bars: Bars,
    note: str = "",
) -> None:
    """The "per-day" table (a row per day of the period: its `cells`, then the `totals`) and its bar
    chart, drawn from the same per-day figures so that the chart and the table always agree."""
    dates = report.period.dates()
    table = Table(
        "per-day",
        title,
        ["day", *columns],
        rows=[[d, *cells(d)] for d in dates],
        totals=["total", *totals],
        note=note,
    )
    chart = charts.bar_chart(
        slug=bars.slug,
        title=bars.title,
        description=bars.description,
        x_labels=[d.strftime("%d %b") for d in dates],
        series=[charts.Series(name, color, [value(d) for d in dates]) for name, color, value in bars.series],
        x_label=bars.x_label,
        y_label=bars.y_label,
        stacked=bars.stacked,
    )
    report.add(table, chart)


def fetch(sql: str, params) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return cursor.fetchall()


def only(scope: Scope, column: str = "agent_id", *, where: str = "WHERE") -> tuple[str, list]:
    """The condition that keeps one agent's rows (nothing for the team)."""
    if scope.is_team:
        return "", []
    return f" {where} {column} = %s", [scope.agent_id]


def distributions(rows: Iterable[tuple]) -> dict[object, Distribution]:
    """(key, bucket_ms, count, total_ms) rows -> a distribution per key."""
    result: dict[object, Distribution] = defaultdict(Distribution)
    for key, bucket, count, total in rows:
        result[key].add(bucket, count, total)
    return result


def merged(parts: Iterable[Distribution]) -> Distribution:
    result = Distribution()
    for distribution in parts:
        result.merge(distribution)
    return result


def agent_names(ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    users = get_user_model().objects.filter(pk__in=ids).only("username", "first_name", "last_name")
    return {u.pk: (f"{u.get_full_name()} ({u.username})" if u.get_full_name() else u.username) for u in users}


def user_name(user) -> str | None:
    if user is None:
        return None
    return f"{user.get_full_name()} ({user.username})" if user.get_full_name() else user.username


def person(username: str | None, first_name: str | None, last_name: str | None) -> str | None:
    """A user as reports name them (the same as user_name, from columns of a values() row)."""
    if not username:
        return None
    full_name = f"{first_name or ''} {last_name or ''}".strip()
    return f"{full_name} ({username})" if full_name else username


def category_label(value: str) -> str:
    return Category(value).label


def customer_label(name: str, phone_e164: str, wa_id: str | None, username: str, user_id: str | None) -> str:
    """A customer as the report lists show them: their name (else their handle, Customer.handle) and the
    identifier to find them by: the phone number's WhatsApp id, else the username, else the
    business-scoped user id (a customer may have no phone number)."""
    identifier = wa_id or username or user_id or ""
    shown = name or phone_e164 or (f"+{wa_id}" if wa_id else "") or username or user_id or ""
    return shown if shown == identifier else f"{shown} ({identifier})"


def listed_note(found: int) -> str:
    """The note of a list cut at LIST_LIMIT rows (it reads one more, to know)."""
    return f"Newest first, at most {LIST_LIMIT}." if found > LIST_LIMIT else ""


def as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def as_datetime(value) -> datetime:
    """A datetime from raw SQL: PostgreSQL returns it aware, SQLite as UTC text."""
    parsed = value if isinstance(value, datetime) else parse_datetime(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
