# ruff: noqa: S608 — only our own SQL fragments are interpolated; values are parameters
"""Reads for the reports. Every figure is an aggregate computed by the database (SUM and COUNT grouped by
business day, category, country, agent); Python only arranges the grouped rows, which are bounded by
days x categories x countries x agents (and duration buckets), never one per conversation or message.
Each report runs a fixed number of queries whatever the volume.

Where the days come from: the aggregates are facts per business day (reports/facts.py). Days up to the
last rolled-up one (reports.services.refresh_rollup) are read from the rollup tables, later days are
counted live by the same SQL, and every query reads both as one UNION ALL; a page is the same whichever
way its days were read. "Open now" and the list of voided conversations are always live.

Shared definitions (README "Reports" states them for supervisors):
- A period is whole days in settings.BUSINESS_TIME_ZONE (reports.periods); a conversation or window
  belongs to the day it opened on there.
- Voided conversations (R9: every message failed) are listed separately and counted nowhere else.
- "Open now" is R8 (timestamps), never the status column.
- A conversation's length is min(expires_at, closed_at) - opened_at, for those that have ended; those
  still open are left out of the average and median (their length is not known yet). Medians and
  percentiles come from bucketed distributions (reports.distribution states the precision).
- Scope: agents see their own figures (conversations they opened, windows they answered or that were
  lost on customers assigned to them, messages they sent); supervisors and admins see everyone's.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import reduce
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import BooleanField, Case, Count, ExpressionWrapper, Max, Q, Value, When
from django.urls import reverse
from django.utils.dateparse import parse_datetime

from conversations import policy
from conversations.models import Conversation, Customer, Message
from conversations.selectors import open_at
from reports import charts, facts, pricing
from reports.distribution import Distribution
from reports.models import MESSAGE_CATEGORIES, Rate, RollupDay
from reports.periods import Period, local_midnight
from reports.pricing import Amounts, FreeRules, RateCard
from reports.tables import Change, Link, Percent, Table, duration

Category = Conversation.Category
CATEGORIES = list(Category)
TEMPLATE_CATEGORIES = [Category.MARKETING, Category.UTILITY, Category.AUTHENTICATION]
# The inbox's category colours (static/inbox/inbox.css .cat-*), as chart fills.
CATEGORY_COLORS = {
    Category.MARKETING: "#a3205c",
    Category.UTILITY: "#1f4fa3",
    Category.AUTHENTICATION: "#b07000",
    Category.SERVICE: "#0b6e4f",
    Category.FREE_ENTRY_POINT: "#6b3fa0",
}
LIST_LIMIT = 500  # rows in the voided and lost lists (the page and the CSV alike say so)
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

    def add(self, table: Table) -> Table:
        self.tables[table.slug] = table
        return table


def _agent_names(ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    users = get_user_model().objects.filter(pk__in=ids).only("username", "first_name", "last_name")
    return {u.pk: (f"{u.get_full_name()} ({u.username})" if u.get_full_name() else u.username) for u in users}


def _day_labels(period: Period) -> list[str]:
    return [d.strftime("%d %b") for d in period.dates()]


def _category_label(value: str) -> str:
    return Category(value).label


def _customer_label(name: str, phone_e164: str, wa_id: str | None, username: str, user_id: str | None) -> str:
    """A customer as the report lists show them: their name (else their handle, Customer.handle) and the
    identifier to find them by: the phone number's WhatsApp id, else the username, else the
    business-scoped user id (a customer may have no phone number)."""
    identifier = wa_id or username or user_id or ""
    shown = name or phone_e164 or (f"+{wa_id}" if wa_id else "") or username or user_id or ""
    return shown if shown == identifier else f"{shown} ({identifier})"


def _person(username: str | None, first_name: str | None, last_name: str | None) -> str | None:
    """A user as reports name them (the same as _user_name, from columns of a values() row)."""
    if not username:
        return None
    full_name = f"{first_name or ''} {last_name or ''}".strip()
    return f"{full_name} ({username})" if full_name else username


def rolled_up_through(tz: ZoneInfo) -> date | None:
    """The last day the rollup holds (reports.services): every day up to it is final there; days
    before the first rolled-up one had no data when the rollup last ran."""
    return RollupDay.objects.filter(time_zone=tz.key).aggregate(last=Max("day"))["last"]


@dataclass(frozen=True)
class Sources:
    """Where the days [first, last] of a report are read: the rollup for `rolled_up` days, live over
    `live` (an empty span when every day is rolled up)."""

    rolled_up: tuple[date, date] | None
    live: facts.Span

    @classmethod
    def of(cls, first: date, last: date, *, tz: ZoneInfo, now: datetime) -> Sources:
        through = rolled_up_through(tz)
        if through is None or through < first:
            return cls(None, facts.Span(first, last, tz, now))
        return cls((first, min(last, through)), facts.Span(through + timedelta(days=1), last, tz, now))

    @property
    def last_rolled_up(self) -> date | None:
        return self.rolled_up[1] if self.rolled_up else None

    def rows(self, fact: facts.Fact) -> tuple[str, list]:
        return fact.rows_sql(rolled_up=self.rolled_up, span=self.live)


def _fetch(sql: str, params) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return cursor.fetchall()


def _only(scope: Scope, column: str = "agent_id", *, where: str = "WHERE") -> tuple[str, list]:
    """The condition that keeps one agent's rows (nothing for the team)."""
    if scope.is_team:
        return "", []
    return f" {where} {column} = %s", [scope.agent_id]


def _distributions(rows: Iterable[tuple]) -> dict[object, Distribution]:
    """(key, bucket_ms, count, total_ms) rows -> a distribution per key."""
    result: dict[object, Distribution] = defaultdict(Distribution)
    for key, bucket, count, total in rows:
        result[key].add(bucket, count, total)
    return result


def _pivot(rows, names) -> list[tuple[object, dict[str, int], int]]:
    """(key, category, n) rows -> (key, n per category, total), biggest first, ties by name."""
    per_key: dict[object, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for key, category, n in rows:
        per_key[key][category] += int(n)
    pivoted = [(key, counts, sum(counts.values())) for key, counts in per_key.items()]
    return sorted([row for row in pivoted if row[2]], key=lambda row: (-row[2], names(row[0])))


# --- Conversations ----------------------------------------------------------------------------------


def _conversations(scope: Scope):
    """Every conversation the reports count: voided ones never (R9)."""
    rows = Conversation.objects.exclude(status=Conversation.Status.VOIDED)
    if not scope.is_team:
        rows = rows.filter(opening_message__agent_id=scope.agent_id)
    return rows


def conversation_report(*, period: Period, scope: Scope, now: datetime) -> Report:
    previous = period.previous()
    report = Report(period=period, previous=previous, now=now, scope=scope)
    tz = period.tz
    sources = Sources.of(previous.first, period.last, tz=tz, now=now)
    report.rolled_up_through = sources.last_rolled_up
    first = facts.db_date(period.first)
    agent, agent_params = _only(scope, where="AND")
    rows_sql, rows_params = sources.rows(facts.CONVERSATIONS)

    # 1. Opened (and voided) per business day and category, this period and the previous one: the chart,
    # the per-day table, the totals per category and the cards.
    per_day = defaultdict(lambda: defaultdict(int))
    totals = defaultdict(lambda: {"current": 0, "previous": 0, "voided": 0})
    for day, category, opened, voided in _fetch(
        f"""SELECT day, category, SUM(opened), SUM(voided) FROM ({rows_sql}) AS f
            WHERE 1 = 1{agent} GROUP BY day, category""",
        [*rows_params, *agent_params],
    ):
        day = _as_date(day)
        if day >= period.first:
            per_day[day][category] += int(opened)
            totals[category]["current"] += int(opened)
            totals[category]["voided"] += int(voided)
        else:
            totals[category]["previous"] += int(opened)
    # 2. Open right now (R8: from timestamps), per category: always live.
    open_now = {
        row["category"]: row["n"]
        for row in _conversations(scope).filter(open_at(now)).values("category").annotate(n=Count("id"))
    }
    # 3. Length of the conversations that have ended: average and median, per category and overall.
    lengths_sql, lengths_params = sources.rows(facts.LENGTHS)
    lengths = _distributions(
        _fetch(
            f"""SELECT category, bucket_ms, SUM(conversations), SUM(total_ms) FROM ({lengths_sql}) AS f
                WHERE day >= %s{agent} GROUP BY category, bucket_ms""",
            [*lengths_params, first, *agent_params],
        )
    )
    overall = Distribution()
    for distribution in lengths.values():
        overall.merge(distribution)

    dates = period.dates()
    report.add(
        Table(
            "per-day",
            "Conversations opened per day, by category",
            ["day", *[c.label for c in CATEGORIES], "total"],
            rows=[[d, *[per_day[d][c] for c in CATEGORIES], sum(per_day[d].values())] for d in dates],
            totals=[
                "total",
                *[sum(per_day[d][c] for d in dates) for c in CATEGORIES],
                sum(sum(per_day[d].values()) for d in dates),
            ],
        )
    )
    report.charts.append(
        (
            charts.bar_chart(
                slug="conversations-per-day",
                title="Conversations opened per day, by category",
                description=f"Stacked bars, one per day from {period.label()} ({tz.key}); "
                "the table below has the same numbers.",
                x_labels=_day_labels(period),
                series=[
                    charts.Series(c.label, CATEGORY_COLORS[c], [per_day[d][c] for d in dates])
                    for c in CATEGORIES
                ],
                x_label=f"Day ({tz.key})",
                y_label="Conversations opened",
            ),
            "per-day",
        )
    )

    def total(key):
        return sum(row[key] for row in totals.values())

    category_rows = []
    for c in CATEGORIES:
        row = totals[c.value]
        stats = lengths.get(c.value)
        category_rows.append(
            [
                c.label,
                row["current"],
                row["previous"],
                Change(row["current"], row["previous"]),
                open_now.get(c.value, 0),
                duration(stats.average_ms) if stats else None,
                duration(stats.median_ms) if stats else None,
            ]
        )
    report.add(
        Table(
            "categories",
            "Totals per category",
            [
                "category",
                "opened",
                "previous period",
                "change",
                "open now",
                "average length",
                "median length",
            ],
            rows=category_rows,
            totals=[
                "total",
                total("current"),
                total("previous"),
                Change(total("current"), total("previous")),
                sum(open_now.values()),
                duration(overall.average_ms),
                duration(overall.median_ms),
            ],
            note="Length = until expiry or until a free-entry point closed it (H:MM:SS), "
            "for conversations that have ended; those still open are not in the average or median. "
            "Medians are exact to within a minute below 24 h (README).",
        )
    )

    # 5. By the agent who opened them (the opening message's agent).
    agents_rows = _fetch(
        f"""SELECT agent_id, category, SUM(opened) FROM ({rows_sql}) AS f
            WHERE day >= %s{agent} GROUP BY agent_id, category""",
        [*rows_params, first, *agent_params],
    )
    names = _agent_names(row[0] for row in agents_rows)
    report.add(
        Table(
            "agents",
            "Opened by agent",
            ["agent", *[c.label for c in CATEGORIES], "total"],
            rows=[
                [names.get(agent_id, NO_AGENT), *[counts[c.value] for c in CATEGORIES], total]
                for agent_id, counts, total in _pivot(agents_rows, lambda a: names.get(a, NO_AGENT))
            ],
            note="The agent whose message opened the conversation.",
        )
    )

    # 6. By the customer's country (from their phone number).
    countries_rows = _fetch(
        f"""SELECT country, category, SUM(opened) FROM ({rows_sql}) AS f
            WHERE day >= %s{agent} GROUP BY country, category""",
        [*rows_params, first, *agent_params],
    )
    report.add(
        Table(
            "countries",
            "By customer country",
            ["country", *[c.label for c in CATEGORIES], "total"],
            rows=[
                [country or "unknown", *[counts[c.value] for c in CATEGORIES], total]
                for country, counts, total in _pivot(countries_rows, str)
            ],
        )
    )

    # 7. Free-entry points and what they closed early (R6), on the free-entry point's day.
    closed_sql, closed_params = sources.rows(facts.CLOSED_EARLY)
    closed_rows = {
        category: (int(n), int(total) / int(n))
        for category, n, total in _fetch(
            f"""SELECT category, SUM(conversations), SUM(total_ms) FROM ({closed_sql}) AS f
                WHERE day >= %s{agent} GROUP BY category""",
            [*closed_params, first, *agent_params],
        )
    }
    fep_opened = totals[Category.FREE_ENTRY_POINT.value]["current"]
    report.add(
        Table(
            "closed-early",
            "Conversations closed early by a free-entry point",
            ["category", "closed early", "average time left when closed"],
            rows=[
                [c.label, closed_rows[c.value][0], duration(closed_rows[c.value][1])]
                for c in CATEGORIES
                if c.value in closed_rows
            ],
            totals=["total", sum(n for n, _ in closed_rows.values()), None],
            note=f"{fep_opened} free-entry-point conversation(s) opened in this period; opening one closes "
            "every other open conversation with the customer (R6).",
        )
    )

    # 8. Voided conversations (R9), listed apart and counted nowhere else: always live.
    voided_rows = Conversation.objects.filter(
        opened_at__gte=period.start, opened_at__lt=period.end, status=Conversation.Status.VOIDED
    )
    if not scope.is_team:
        voided_rows = voided_rows.filter(opening_message__agent_id=scope.agent_id)
    voided = list(
        voided_rows.select_related("customer", "opening_message__agent").order_by("-opened_at", "-id")[
            : LIST_LIMIT + 1
        ]
    )
    report.add(
        Table(
            "voided",
            "Voided conversations (every message failed: not counted, not charged)",
            ["opened", "customer", "country", "category", "opened by", "voided"],
            rows=[
                [
                    c.opened_at.astimezone(tz),
                    _customer_label(
                        c.customer.name,
                        c.customer.phone_e164,
                        c.customer.wa_id,
                        c.customer.username,
                        c.customer.user_id,
                    ),
                    c.customer.country or "unknown",
                    _category_label(c.category),
                    (_user_name(c.opening_message.agent) if c.opening_message else None) or NO_AGENT,
                    c.voided_at.astimezone(tz),
                ]
                for c in voided[:LIST_LIMIT]
            ],
            note=f"Newest first, at most {LIST_LIMIT}." if len(voided) > LIST_LIMIT else "",
            numeric_from=99,
        )
    )

    current, before = total("current"), total("previous")
    report.cards = [
        Card("Conversations opened", current, before, Change(current, before)),
        *[
            Card(
                c.label,
                totals[c.value]["current"],
                totals[c.value]["previous"],
                Change(totals[c.value]["current"], totals[c.value]["previous"]),
            )
            for c in CATEGORIES
        ],
        Card("Open right now", sum(open_now.values()), hint="all categories, at this instant"),
        Card(
            "Median length",
            duration(overall.median_ms),
            hint="ended conversations, H:MM:SS",
        ),
        Card("Voided", total("voided"), hint="listed below, not counted anywhere else"),
    ]
    return report


def _user_name(user) -> str | None:
    if user is None:
        return None
    return f"{user.get_full_name()} ({user.username})" if user.get_full_name() else user.username


# --- Customer service windows -----------------------------------------------------------------------


OUTCOMES = [
    ("answered", "answered in time", "#0b6e4f"),
    ("lost", "lost (nobody answered)", "#b42318"),
    ("waiting", "still open, not answered yet", "#b07000"),
]


def window_report(*, period: Period, scope: Scope, now: datetime) -> Report:
    previous = period.previous()
    report = Report(period=period, previous=previous, now=now, scope=scope)
    tz = period.tz
    sources = Sources.of(previous.first, period.last, tz=tz, now=now)
    report.rolled_up_through = sources.last_rolled_up
    first = facts.db_date(period.first)
    responder, responder_params = _only(scope, where="AND")
    assignee, assignee_params = _only(scope, "cu.assigned_to_id", where="AND")
    answered_sql, answered_params = sources.rows(facts.FIRST_RESPONSES)
    unanswered_sql, unanswered_params = sources.rows(facts.UNANSWERED)
    customers = connection.ops.quote_name(Customer._meta.db_table)

    # The windows of the days counted live are computed once per page into a temporary table (private
    # to this connection), which the window facts read their live rows from.
    with connection.cursor() as cursor, facts.service_windows(cursor, sources.live):
        # 1. The cube: windows per day, outcome and owner (who answered; for the others, the customer's
        # assigned agent now).
        cursor.execute(
            f"""SELECT day, 'answered' AS outcome, agent_id AS owner_id, SUM(windows)
                  FROM ({answered_sql}) AS a WHERE 1 = 1{responder} GROUP BY day, agent_id
                UNION ALL
                SELECT u.day, u.outcome, cu.assigned_to_id, COUNT(*)
                  FROM ({unanswered_sql}) AS u JOIN {customers} cu ON cu.id = u.customer_id
                 WHERE 1 = 1{assignee} GROUP BY u.day, u.outcome, cu.assigned_to_id""",
            [*answered_params, *responder_params, *unanswered_params, *assignee_params],
        )
        cube = cursor.fetchall()
        # 2. First-response times: bucketed, per period and agent who answered.
        cursor.execute(
            f"""SELECT CASE WHEN day >= %s THEN 1 ELSE 0 END, agent_id, bucket_ms, SUM(windows), SUM(total_ms)
                  FROM ({answered_sql}) AS a WHERE 1 = 1{responder} GROUP BY 1, 2, 3""",
            [first, *answered_params, *responder_params],
        )
        response_rows = cursor.fetchall()
        # 3. The lost windows themselves, newest first (whose were they): the newest picked first, then
        # their customers joined.
        mine, mine_params = "", []
        if not scope.is_team:
            mine = f" AND customer_id IN (SELECT id FROM {customers} WHERE assigned_to_id = %s)"
            mine_params = [scope.agent_id]
        cursor.execute(
            f"""SELECT u.opened_at, u.closed_at, cu.name, cu.phone_e164, cu.wa_id, cu.username, cu.user_id,
                       cu.country, cu.assigned_to_id
                  FROM (SELECT opened_at, closed_at, customer_id FROM ({unanswered_sql}) AS u
                         WHERE outcome = 'lost' AND day >= %s{mine}
                         ORDER BY opened_at DESC, customer_id DESC LIMIT {LIST_LIMIT + 1}) AS u
                  JOIN {customers} cu ON cu.id = u.customer_id
                 ORDER BY u.opened_at DESC, u.customer_id DESC""",
            [*unanswered_params, first, *mine_params],
        )
        lost = cursor.fetchall()
    # 4. Templates an agent sent that answered a customer's last message after their window had closed
    # (R2: a template was the only way to reply). A send without an agent (the system's) is no reply.
    messages_sql, messages_params = sources.rows(facts.MESSAGES)
    templates = {
        ("current" if is_current else "previous", agent_id): int(n)
        for is_current, agent_id, n in _fetch(
            f"""SELECT CASE WHEN day >= %s THEN 1 ELSE 0 END, agent_id, SUM(messages)
                  FROM ({messages_sql}) AS m
                 WHERE after_closed_window AND agent_id IS NOT NULL{responder} GROUP BY 1, 2""",
            [first, *messages_params, *responder_params],
        )
    }

    counts = defaultdict(int)  # (period, outcome) -> n
    per_day = defaultdict(lambda: defaultdict(int))  # day -> outcome -> n
    per_owner = defaultdict(lambda: defaultdict(int))  # owner -> outcome -> n (this period)
    for day, outcome, owner, n in cube:
        day, n = _as_date(day), int(n)
        window_period = "current" if day >= period.first else "previous"
        counts[(window_period, outcome)] += n
        if window_period == "current":
            per_day[day][outcome] += n
            per_owner[owner][outcome] += n
    for (template_period, agent_id), n in templates.items():
        if template_period == "current":
            per_owner[agent_id]["templates"] += n
    response_times = _distributions(
        ((agent_id if is_current else "previous"), bucket, n, total)
        for is_current, agent_id, bucket, n, total in response_rows
    )
    overall, overall_before = Distribution(), response_times.pop("previous", Distribution())
    for distribution in response_times.values():
        overall.merge(distribution)

    dates = period.dates()
    report.add(
        Table(
            "per-day",
            "Customer service windows opened per day, by outcome",
            ["day", "opened", *[label for _, label, _ in OUTCOMES]],
            rows=[[d, sum(per_day[d].values()), *[per_day[d][o] for o, _, _ in OUTCOMES]] for d in dates],
            totals=[
                "total",
                sum(counts[("current", o)] for o, _, _ in OUTCOMES),
                *[counts[("current", o)] for o, _, _ in OUTCOMES],
            ],
        )
    )
    report.charts.append(
        (
            charts.bar_chart(
                slug="windows-per-day",
                title="Customer service windows opened per day, by outcome",
                description=f"Stacked bars, one per day from {period.label()} ({tz.key}): answered in time, "
                "lost, still open; the table below has the same numbers.",
                x_labels=_day_labels(period),
                series=[
                    charts.Series(label, color, [per_day[d][o] for d in dates])
                    for o, label, color in OUTCOMES
                ],
                x_label=f"Day the window opened ({tz.key})",
                y_label="Windows",
            ),
            "per-day",
        )
    )

    names = _agent_names(per_owner)
    owners = sorted(per_owner, key=lambda owner: (owner is None, names.get(owner, "")))
    agent_rows = []
    for owner in owners:
        stats = response_times.get(owner) if owner is not None else None
        figures = per_owner[owner]
        agent_rows.append(
            [
                names.get(owner, UNASSIGNED if owner is None else f"user #{owner}"),
                figures["answered"],
                duration(stats.median_ms) if stats else None,
                duration(stats.p90_ms) if stats else None,
                figures["lost"],
                figures["waiting"],
                figures["templates"],
            ]
        )
    report.add(
        Table(
            "agents",
            "Per agent",
            [
                "agent",
                "answered in time",
                "median first response",
                "90th percentile first response",
                "lost (assigned customers)",
                "waiting (assigned customers)",
                "templates after the window closed",
            ],
            rows=agent_rows,
            totals=[
                "total",
                counts[("current", "answered")],
                duration(overall.median_ms),
                duration(overall.p90_ms),
                counts[("current", "lost")],
                counts[("current", "waiting")],
                sum(n for (p, _), n in templates.items() if p == "current"),
            ],
            note="Answered: the agent who sent the first reply inside the window. Lost and waiting: the "
            "agent the customer is assigned to now (unassigned if nobody). First response: from the "
            "customer's message that opened the window to the first reply (H:MM:SS); medians and "
            "percentiles are exact to within a second below 10 minutes (README).",
        )
    )
    report.add(
        Table(
            "lost",
            "Lost windows: the customer wrote and nobody answered before the window closed",
            ["opened", "closed", "customer", "country", "assigned to"],
            rows=[
                [
                    _as_datetime(opened_at).astimezone(tz),
                    _as_datetime(closed_at).astimezone(tz),
                    _customer_label(*customer),
                    country or "unknown",
                    names.get(assignee, UNASSIGNED if assignee is None else f"user #{assignee}"),
                ]
                for opened_at, closed_at, *customer, country, assignee in lost[:LIST_LIMIT]
            ],
            note=f"Newest first, at most {LIST_LIMIT}." if len(lost) > LIST_LIMIT else "",
            numeric_from=99,
        )
    )

    def card(label, outcome, hint=""):
        now_n, before_n = counts[("current", outcome)], counts[("previous", outcome)]
        return Card(label, now_n, before_n, Change(now_n, before_n), hint)

    opened_now = sum(counts[("current", o)] for o, _, _ in OUTCOMES)
    opened_before = sum(counts[("previous", o)] for o, _, _ in OUTCOMES)
    templates_now = sum(n for (p, _), n in templates.items() if p == "current")
    templates_before = sum(n for (p, _), n in templates.items() if p == "previous")
    report.cards = [
        Card("Windows opened", opened_now, opened_before, Change(opened_now, opened_before)),
        card(
            "Answered in time",
            "answered",
            f"{Percent(counts[('current', 'answered')], opened_now)} of opened",
        ),
        card("Lost", "lost", f"{Percent(counts[('current', 'lost')], opened_now)} of opened"),
        card("Still open, not answered", "waiting"),
        Card(
            "Median first response",
            duration(overall.median_ms),
            duration(overall_before.median_ms),
            hint="H:MM:SS",
        ),
        Card(
            "90th percentile first response",
            duration(overall.p90_ms),
            duration(overall_before.p90_ms),
            hint="H:MM:SS",
        ),
        Card(
            "Templates after the window closed",
            templates_now,
            templates_before,
            Change(templates_now, templates_before),
            "replies to a customer's last message after their window closed",
        ),
    ]
    return report


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _as_datetime(value) -> datetime:
    """A datetime from raw SQL: PostgreSQL returns it aware, SQLite as UTC text."""
    parsed = value if isinstance(value, datetime) else parse_datetime(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- Cost estimate ----------------------------------------------------------------------------------

# The platform's pricing categories that name a free-entry point rather than a category.
_PLATFORM_FREE_ENTRY_POINT = {"referral_conversion", "free_entry_point"}
PRICING_TYPE_ORDER = {"regular": 0, "free_customer_service": 1, "free_entry_point": 2}
CONVERSATION_BASED = "CBP (billable)"  # the pricing type column of conversation-based pricing's rows


@dataclass
class _Priced:
    count: int = 0
    charged: int = 0
    unpriced: int = 0
    amounts: Amounts = field(default_factory=Amounts)

    def charge(self, n: int, rate: Rate | None) -> None:
        self.charged += n
        if rate is None:
            self.unpriced += n
        else:
            self.amounts.add(rate.currency, rate.price * n)


@dataclass
class _Compared:
    """Messages of one category of ours that the platform priced per message, against our estimate."""

    messages: int = 0
    free_for_us: int = 0  # free in our estimate, charged by the platform
    free_for_platform: int = 0  # charged in our estimate, free on the platform
    other_category: int = 0
    estimate: Amounts = field(default_factory=Amounts)
    platform: Amounts = field(default_factory=Amounts)


def _category_differs(ours: str, platform_category: str) -> bool:
    """The platform priced the message as another category than ours (a free-entry point is no category)."""
    if not platform_category or platform_category.lower() in _PLATFORM_FREE_ENTRY_POINT:
        return False
    return pricing.our_category(platform_category) != ours


def _message_category_label(value: str) -> str:
    return "Service (free-form)" if value == Category.SERVICE else _category_label(value)


def cost_report(*, period: Period, scope: Scope, now: datetime) -> Report:
    previous = period.previous()
    report = Report(period=period, previous=previous, now=now, scope=scope)
    tz = period.tz
    card = RateCard.load()
    rules = FreeRules.load()

    sources = Sources.of(previous.first, period.last, tz=tz, now=now)
    report.rolled_up_through = sources.last_rolled_up
    agent, agent_params = _only(scope)

    # 1. Conversations per day, category and country (conversation-based pricing).
    conversations_sql, conversations_params = sources.rows(facts.CONVERSATIONS)
    conversation_groups = _fetch(
        f"""SELECT day, category, country, SUM(opened) FROM ({conversations_sql}) AS f{agent}
            GROUP BY day, category, country HAVING SUM(opened) > 0""",
        [*conversations_params, *agent_params],
    )
    # 2. Messages per day, category, country, where they were sent (what the rules of what is free ask)
    # and what the platform's pricing said: our per-message estimate and the platform's word side by side.
    messages_sql, messages_params = sources.rows(facts.MESSAGES)
    message_groups = _fetch(
        f"""SELECT day, category, country, in_free_entry_point, in_window, pricing_model, pricing_category,
                   pricing_type, charged_by_platform, SUM(messages)
              FROM ({messages_sql}) AS m{agent}
             GROUP BY day, category, country, in_free_entry_point, in_window, pricing_model,
                      pricing_category, pricing_type, charged_by_platform""",
        [*messages_params, *agent_params],
    )

    names = (
        "conv-category",
        "conv-country",
        "conv-day",
        "msg-category",
        "msg-country",
        "msg-day",
        "platform",
        "platform-country",
        "platform-day",
    )
    by = {name: {"current": defaultdict(_Priced), "previous": defaultdict(_Priced)} for name in names}
    for day, category, country, n in conversation_groups:
        day, n = _as_date(day), int(n)
        which = "current" if day >= period.first else "previous"
        rate = None
        if category != Category.FREE_ENTRY_POINT:
            rate = card.rate(Rate.PricingModel.CONVERSATION, category, country, day)
        for name, key in (("conv-category", category), ("conv-country", country), ("conv-day", day)):
            priced = by[name][which][key]
            priced.count += n
            if category != Category.FREE_ENTRY_POINT:
                priced.charge(n, rate)

    free_messages = defaultdict(int)  # why free -> n (this period)
    unreported = {"current": 0, "previous": 0}  # messages the platform has not priced yet
    platform_charged_cbp = (
        0  # charged under conversation-based pricing (this period): priced per conversation
    )
    compared = defaultdict(_Compared)  # our category -> this period's messages priced per message
    # Where our estimate and the platform differ: (category, in a free-entry point, in the window, platform
    # category, type, charged by the platform) -> days it differed on / days it agreed on (this period).
    differing, agreeing = defaultdict(set), defaultdict(set)
    differing_per_day = defaultdict(int)
    for (
        day,
        category,
        country,
        in_free_entry_point,
        in_window,
        pricing_model,
        pricing_category,
        pricing_type,
        charged_by_platform,
        n,
    ) in message_groups:
        day, n = _as_date(day), int(n)
        in_free_entry_point, in_window = bool(in_free_entry_point), bool(in_window)
        charged_by_platform = bool(charged_by_platform)
        which = "current" if day >= period.first else "previous"
        # Our estimate: free by the rules in force that day, else its category's per-message rate.
        free_by = rules.free_by(
            day=day, category=category, in_free_entry_point=in_free_entry_point, in_window=in_window
        )
        estimate_rate = None if free_by else card.rate(Rate.PricingModel.MESSAGE, category, country, day)
        if free_by and which == "current":
            free_messages[pricing.free_reason(free_by)] += n
        for name, key in (("msg-category", category), ("msg-country", country), ("msg-day", day)):
            priced = by[name][which][key]
            priced.count += n
            if not free_by:
                priced.charge(n, estimate_rate)
        # The platform's word: what it charged, at the rate card's per-message rate of its category.
        if not pricing_model:
            unreported[which] += n
            continue
        per_message = pricing_model == policy.PER_MESSAGE
        platform_rate = None
        if per_message and charged_by_platform:
            priced_as = pricing.rate_category(pricing_category)
            platform_rate = priced_as and card.rate(Rate.PricingModel.MESSAGE, priced_as, country, day)
        row = (pricing_model, pricing_category, pricing_type if per_message else CONVERSATION_BASED)
        for name, key in (("platform", row), ("platform-country", country), ("platform-day", day)):
            priced = by[name][which][key]
            priced.count += n
            if not charged_by_platform:
                continue
            if per_message:
                priced.charge(n, platform_rate)
            else:
                priced.charged += n  # charged per conversation: no per-message amount
        if not per_message:
            if which == "current" and charged_by_platform:
                platform_charged_cbp += n
            continue
        if which == "previous":
            continue
        # Our estimate against the platform, message by message group.
        mine = compared[category]
        mine.messages += n
        differs = False
        if free_by and charged_by_platform:
            mine.free_for_us += n
            differs = True
        elif not free_by and not charged_by_platform:
            mine.free_for_platform += n
            differs = True
        if _category_differs(category, pricing_category):
            mine.other_category += n
            differs = True
        if estimate_rate is not None:
            mine.estimate.add(estimate_rate.currency, estimate_rate.price * n)
        if platform_rate:
            mine.platform.add(platform_rate.currency, platform_rate.price * n)
        combination = (
            category,
            in_free_entry_point,
            in_window,
            pricing_category,
            pricing_type,
            charged_by_platform,
        )
        (differing if differs else agreeing)[combination].add(day)
        if differs:
            differing_per_day[day] += n

    def summed(name, which) -> _Priced:
        result = _Priced()
        for priced in by[name][which].values():
            result.count += priced.count
            result.charged += priced.charged
            result.unpriced += priced.unpriced
            for currency, amount in priced.amounts.by_currency.items():
                result.amounts.add(currency, amount)
        return result

    conv_now, conv_before = summed("conv-category", "current"), summed("conv-category", "previous")
    msg_now, msg_before = summed("msg-category", "current"), summed("msg-category", "previous")
    platform_now, platform_before = summed("platform", "current"), summed("platform", "previous")
    currency = _main_currency(conv_now, msg_now, platform_now, card)

    report.add(
        Table(
            "categories",
            "Estimated cost per category, both pricing models",
            [
                "category",
                "conversations",
                "cost per conversation",
                "messages",
                "charged messages",
                "cost per message",
                "difference",
            ],
            rows=[
                [
                    c.label,
                    by["conv-category"]["current"][c.value].count,
                    by["conv-category"]["current"][c.value].amounts,
                    by["msg-category"]["current"][c.value].count,
                    by["msg-category"]["current"][c.value].charged,
                    by["msg-category"]["current"][c.value].amounts,
                    _difference(
                        by["msg-category"]["current"][c.value].amounts,
                        by["conv-category"]["current"][c.value].amounts,
                    ),
                ]
                for c in CATEGORIES
            ],
            totals=[
                "total",
                conv_now.count,
                conv_now.amounts,
                msg_now.count,
                msg_now.charged,
                msg_now.amounts,
                _difference(msg_now.amounts, conv_now.amounts),
            ],
            note="Per conversation: every conversation opened, at its category's rate; free-entry points are "
            "free. Per message: each message that did not fail, at its category's rate (a template's "
            "category; Service for free-form messages), unless the rules of what is free in force on the "
            "day it was sent make it free (below: inside a free-entry point; until 2026-09-30 also free-form "
            "messages and utility templates inside an open customer service window). Messages inside a "
            "free-entry point count in their own category. Difference = per message - per conversation.",
        )
    )

    # What the platform said it charged, per its category and pricing type.
    platform_rows = sorted(
        by["platform"]["current"].items(),
        key=lambda item: (
            item[0][0] != policy.PER_MESSAGE,
            item[0][1],
            PRICING_TYPE_ORDER.get(item[0][2], 9),
            item[0][2],
        ),
    )
    report.add(
        Table(
            "platform",
            "What the platform charged, per its category and pricing type",
            ["platform category", "pricing type", "messages", "charged", "amount at the rate card"],
            rows=[
                *[
                    [
                        pricing_category or "(none)",
                        pricing_type or "(none)",
                        priced.count,
                        priced.charged,
                        priced.amounts if pricing_model == policy.PER_MESSAGE else None,
                    ]
                    for (pricing_model, pricing_category, pricing_type), priced in platform_rows
                ],
                *(
                    [["no pricing reported yet", "", unreported["current"], None, None]]
                    if unreported["current"]
                    else []
                ),
            ],
            totals=[
                "total",
                "",
                platform_now.count + unreported["current"],
                platform_now.charged,
                platform_now.amounts,
            ],
            note="The platform's own pricing of each message that did not fail, from its status webhooks. "
            "Per-message pricing (PMP): type regular is charged, free_customer_service and "
            "free_entry_point are free. Conversation-based pricing (CBP, until June 2025): billable "
            "messages were charged per conversation, so they have no amount here (see per conversation). "
            "Amount: the charged messages at the rate card's per-message rate for the platform's "
            "category (marketing_lite as marketing), the customer's country and the day. "
            f"{unreported['current']} message(s) have no pricing from the platform yet (queued, sent "
            "recently, or sent before statuses carried pricing): counted apart, in no other figure "
            "of this table.",
            numeric_from=2,
        )
    )

    # Where our estimate and the platform differ, per category of ours, then message by message.
    compared_total = _Compared()
    for mine in compared.values():
        compared_total.messages += mine.messages
        compared_total.free_for_us += mine.free_for_us
        compared_total.free_for_platform += mine.free_for_platform
        compared_total.other_category += mine.other_category
        for currency_, amount in mine.estimate.by_currency.items():
            compared_total.estimate.add(currency_, amount)
        for currency_, amount in mine.platform.by_currency.items():
            compared_total.platform.add(currency_, amount)
    report.add(
        Table(
            "differences",
            "Where our per-message estimate and the platform differ",
            [
                "category (ours)",
                "priced by the platform",
                "free for us, charged by the platform",
                "charged by us, free on the platform",
                "charged as another category",
                "our estimate",
                "the platform",
                "platform - estimate",
            ],
            rows=[
                [
                    _message_category_label(c.value),
                    compared[c.value].messages,
                    compared[c.value].free_for_us,
                    compared[c.value].free_for_platform,
                    compared[c.value].other_category,
                    compared[c.value].estimate,
                    compared[c.value].platform,
                    _difference(compared[c.value].platform, compared[c.value].estimate),
                ]
                for c in MESSAGE_CATEGORIES
            ],
            totals=[
                "total",
                compared_total.messages,
                compared_total.free_for_us,
                compared_total.free_for_platform,
                compared_total.other_category,
                compared_total.estimate,
                compared_total.platform,
                _difference(compared_total.platform, compared_total.estimate),
            ],
            note="Only the messages the platform priced per message are compared, each in the category we "
            "sent it as (the template's category when it was sent; free-form messages are Service). Our "
            "estimate applies the rules of what is free in force on the day it was sent to what we know: "
            "was the customer service window open (the customer wrote in the 24 hours before), did the "
            "message join a free-entry point. The platform decides with what it knows. A message free "
            "for one and charged by the other means the platform saw the window or the free-entry point "
            "otherwise than we did (a customer message that reached the platform but not us, an ad click "
            "it did not count), or that the rules of what is free in the admin are out of date. Charged "
            "as another category: the platform priced a template as another category than the one it "
            "had when we sent it (say, a utility template it now counts as marketing). Both amounts at "
            "the rate card; the platform's is what to expect on its invoice.",
        )
    )
    listed = _differing_messages(period, scope, now, differing, agreeing, differing_per_day)
    report.add(
        Table(
            "difference-messages",
            "Messages where our estimate and the platform differ",
            [
                "sent",
                "message",
                "customer",
                "sent by",
                "category (ours)",
                "our estimate",
                "the platform",
                "what differs",
            ],
            rows=[
                [
                    row["occurred_at"].astimezone(tz),
                    Link(
                        f"#{row['id']}",
                        reverse("admin:conversations_message_change", args=[row["id"]]),
                        admin=True,
                    ),
                    _customer_label(
                        row["customer__name"],
                        row["customer__phone_e164"],
                        row["customer__wa_id"],
                        row["customer__username"],
                        row["customer__user_id"],
                    ),
                    _person(row["agent__username"], row["agent__first_name"], row["agent__last_name"])
                    or NO_AGENT,
                    _message_category_label(row["category"]),
                    _estimate_words(rules, row),
                    _platform_words(row),
                    _what_differs(rules, row),
                ]
                for row in listed[:LIST_LIMIT]
            ],
            note=(f"Newest first, at most {LIST_LIMIT}. " if len(listed) > LIST_LIMIT else "Newest first. ")
            + "Each message links to its page in the admin (its statuses, pricing and conversation) for "
            "those who may use the admin.",
            numeric_from=99,
        )
    )

    countries = sorted(
        set(by["conv-country"]["current"]) | set(by["msg-country"]["current"]),
        key=lambda c: (-by["conv-country"]["current"][c].count, c),
    )
    report.add(
        Table(
            "countries",
            "Estimated cost per country",
            [
                "country",
                "conversations",
                "cost per conversation",
                "messages",
                "charged messages",
                "cost per message",
                "charged by the platform",
                "the platform, at the rate card",
            ],
            rows=[
                [
                    country or "unknown",
                    by["conv-country"]["current"][country].count,
                    by["conv-country"]["current"][country].amounts,
                    by["msg-country"]["current"][country].count,
                    by["msg-country"]["current"][country].charged,
                    by["msg-country"]["current"][country].amounts,
                    by["platform-country"]["current"][country].charged,
                    by["platform-country"]["current"][country].amounts,
                ]
                for country in countries
            ],
            totals=[
                "total",
                conv_now.count,
                conv_now.amounts,
                msg_now.count,
                msg_now.charged,
                msg_now.amounts,
                platform_now.charged,
                platform_now.amounts,
            ],
        )
    )
    dates = period.dates()
    report.add(
        Table(
            "per-day",
            "Estimated cost per day",
            [
                "day",
                "conversations",
                "cost per conversation",
                "charged messages",
                "cost per message",
                "charged by the platform",
                "the platform, at the rate card",
            ],
            rows=[
                [
                    d,
                    by["conv-day"]["current"][d].count,
                    by["conv-day"]["current"][d].amounts,
                    by["msg-day"]["current"][d].charged,
                    by["msg-day"]["current"][d].amounts,
                    by["platform-day"]["current"][d].charged,
                    by["platform-day"]["current"][d].amounts,
                ]
                for d in dates
            ],
            totals=[
                "total",
                conv_now.count,
                conv_now.amounts,
                msg_now.charged,
                msg_now.amounts,
                platform_now.charged,
                platform_now.amounts,
            ],
            note="Each day is priced by the rates and the rules of what is free in force on it.",
        )
    )
    report.charts.append(
        (
            charts.bar_chart(
                slug="cost-per-day",
                title=f"Estimated cost per day ({currency}), both pricing models",
                description=f"Three bars per day from {period.label()} ({tz.key}): priced per conversation, "
                "per message, and what the platform charged at the rate card; the table below has the same "
                "numbers.",
                x_labels=_day_labels(period),
                series=[
                    charts.Series(
                        "per conversation",
                        "#1f4fa3",
                        [float(by["conv-day"]["current"][d].amounts.total(currency)) for d in dates],
                    ),
                    charts.Series(
                        "per message",
                        "#b07000",
                        [float(by["msg-day"]["current"][d].amounts.total(currency)) for d in dates],
                    ),
                    charts.Series(
                        "charged by the platform",
                        "#6b3fa0",
                        [float(by["platform-day"]["current"][d].amounts.total(currency)) for d in dates],
                    ),
                ],
                x_label=f"Day ({tz.key})",
                y_label=f"Estimated cost ({currency})",
                stacked=False,
            ),
            "per-day",
        )
    )
    in_force = rules.in_force(period.first, period.last)
    reasons = list(dict.fromkeys(pricing.free_reason(rule) for rule in in_force))
    reasons += [reason for reason in free_messages if reason not in reasons]
    report.add(
        Table(
            "free-messages",
            "Messages free under per-message pricing",
            ["why free", "messages"],
            rows=[[reason, free_messages[reason]] for reason in reasons],
            totals=["total", sum(free_messages.values())],
            note="By the rules of what is free in force on the day each message was sent (next table).",
        )
    )
    report.add(
        Table(
            "free-rules",
            "What is free under per-message pricing (rules an admin manages)",
            ["messages", "inside", "from", "until", "note"],
            rows=[
                [
                    rule.what,
                    rule.get_inside_display(),
                    rule.effective_from,
                    rule.effective_until or "open",
                    rule.note,
                ]
                for rule in in_force
            ],
            note="In force on some day of this period; until is the first day a rule no longer applies. "
            "Every other message that did not fail is charged at its category's per-message rate.",
            numeric_from=99,
        )
    )
    used = sorted(
        card.used.values(), key=lambda r: (r.pricing_model, r.category, r.country, r.effective_from)
    )
    report.add(
        Table(
            "rates",
            "Rates applied (from the rate card an admin manages)",
            ["pricing model", "category", "country", "price", "currency", "from", "until", "note"],
            rows=[
                [
                    r.get_pricing_model_display(),
                    _category_label(r.category),
                    r.country or "every other country",
                    f"{r.price.normalize():f}",
                    r.currency,
                    r.effective_from,
                    r.effective_until or "open",
                    r.note,
                ]
                for r in used
            ],
            numeric_from=99,
        )
    )
    if conv_now.unpriced + msg_now.unpriced:
        report.notes.append(
            f"{conv_now.unpriced} conversation(s) and {msg_now.unpriced} message(s) have no rate for their "
            "category, country and day in the rate card: they are not in the estimate. "
            "An admin can add rates."
        )
    if platform_now.unpriced:
        report.notes.append(
            f"{platform_now.unpriced} message(s) the platform charged have no per-message rate in the rate "
            "card for the platform's category, their country and day: they are not in the platform's "
            "amount."
        )
    cbp = (
        f"; {platform_charged_cbp} billable under conversation-based pricing" if platform_charged_cbp else ""
    )
    report.cards = [
        Card(
            "Per conversation",
            conv_now.amounts,
            conv_before.amounts,
            _difference(conv_now.amounts, conv_before.amounts),
            f"{conv_now.count} conversations",
        ),
        Card(
            "Per message",
            msg_now.amounts,
            msg_before.amounts,
            _difference(msg_now.amounts, msg_before.amounts),
            f"{msg_now.charged} charged messages (our estimate)",
        ),
        Card(
            "Per message - per conversation",
            _difference(msg_now.amounts, conv_now.amounts),
            hint="what the newer model changes",
        ),
        Card(
            "Charged by the platform",
            platform_now.amounts,
            platform_before.amounts,
            _difference(platform_now.amounts, platform_before.amounts),
            f"{platform_now.charged - platform_charged_cbp} messages charged per message{cbp}; "
            f"{unreported['current']} without pricing yet",
        ),
        Card(
            "Platform - our estimate",
            _difference(compared_total.platform, compared_total.estimate),
            hint=f"over the {compared_total.messages} messages the platform priced per message: "
            f"{compared_total.free_for_us + compared_total.free_for_platform + compared_total.other_category}"
            " difference(s), listed below",
        ),
    ]
    return report


def _day_runs(differing: set[date], agreeing: set[date]) -> list[tuple[date, date]]:
    """The days a combination differed on, as runs of days [first, last] that no day it agreed on
    interrupts (days without such messages join a run: they add nothing to find)."""
    runs: list[tuple[date, date]] = []
    breaks = sorted(agreeing)
    for day in sorted(differing):
        if runs and not any(runs[-1][1] < other < day for other in breaks):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _differing_messages(
    period: Period, scope: Scope, now: datetime, differing, agreeing, per_day: dict[date, int]
) -> list[dict]:
    """The messages of the groups where our estimate and the platform differ, newest first: live, one
    query. It looks only at the combinations and days the grouped figures found differing, from the
    newest day that, with the later ones, holds enough of them to fill the list. For each message its
    own columns are read first (category, the platform's category, type and verdict, the day), and only
    where they match its conversation (a free-entry point?) and the customer's messages (was the window
    open?): a CASE, so the planner cannot move those lookups before the cheap tests. No join before the
    newest are found: the planner cannot guess how few messages match."""
    tz = period.tz
    fep = facts.in_free_entry_point_lookup()
    # The newest days that hold enough of them to fill the list: no need to look before.
    since, found_so_far = period.first, 0
    for day in sorted(per_day, reverse=True):
        found_so_far += per_day[day]
        if found_so_far > LIST_LIMIT:
            since = day
            break
    # (category, the platform's category, type, charged) -> each (free-entry point, window, days) that differ
    variants = defaultdict(list)
    for combination, days in differing.items():
        category, in_free_entry_point, in_window, pricing_category, pricing_type, charged = combination
        for first, last in _day_runs({d for d in days if d >= since}, agreeing.get(combination, set())):
            variants[(category, pricing_category, pricing_type, charged)].append(
                Q(
                    occurred_at__gte=local_midnight(first, tz),
                    occurred_at__lt=local_midnight(last + timedelta(days=1), tz),
                )
                & (Q(fep) if in_free_entry_point else ~Q(fep))
                & Q(in_window=in_window)
            )
    differs = Case(
        *[
            When(
                Q(category=category, pricing_category=pricing_category, pricing_type=pricing_type)
                & Q(charged_by_platform=charged),
                then=ExpressionWrapper(reduce(operator.or_, found), output_field=BooleanField()),
            )
            for (category, pricing_category, pricing_type, charged), found in variants.items()
        ],
        default=Value(False),
        output_field=BooleanField(),
    )
    span = facts.Span(since, period.last, tz, now)
    messages = facts.with_pricing(facts.sent_messages(span), tz).filter(
        platform_pricing_model=policy.PER_MESSAGE
    )
    if not scope.is_team:
        messages = messages.filter(agent_id=scope.agent_id)
    # The keys in plain columns too, where the planner sees them (the CASE alone hides them). Nothing
    # differs: the same query, finding nothing (a page runs the same queries whatever its data).
    keys = reduce(
        operator.or_,
        [
            Q(pricing_category=pricing_category, pricing_type=pricing_type)
            for _, pricing_category, pricing_type, _ in variants
        ],
        Q(),
    )
    messages = messages.filter(keys, differs) if variants else messages.filter(Value(False))
    newest = messages.order_by("-occurred_at", "-id").values("id")[: LIST_LIMIT + 1]
    found = facts.with_pricing(Message.objects.filter(id__in=newest), tz).annotate(in_free_entry_point=fep)
    # Sorted here: ordered in SQL, the planner may walk every message by time to meet the few found.
    rows = found.values(
        "id",
        "occurred_at",
        "day",
        "category",
        "in_free_entry_point",
        "in_window",
        "pricing_category",
        "pricing_type",
        "charged_by_platform",
        "customer__name",
        "customer__phone_e164",
        "customer__wa_id",
        "customer__username",
        "customer__user_id",
        "agent__username",
        "agent__first_name",
        "agent__last_name",
    ).order_by()
    return sorted(rows, key=lambda row: (row["occurred_at"], row["id"]), reverse=True)


def _free_by(rules: FreeRules, row: dict):
    return rules.free_by(
        day=_as_date(row["day"]),
        category=row["category"],
        in_free_entry_point=bool(row["in_free_entry_point"]),
        in_window=bool(row["in_window"]),
    )


def _estimate_words(rules: FreeRules, row: dict) -> str:
    free_by = _free_by(rules, row)
    return f"free: {pricing.free_reason(free_by).lower()}" if free_by else "charged"


def _what_differs(rules: FreeRules, row: dict) -> str:
    free_for_us, charged = _free_by(rules, row) is not None, bool(row["charged_by_platform"])
    differences = []
    if free_for_us and charged:
        differences.append("free for us, charged by the platform")
    elif not free_for_us and not charged:
        differences.append("charged by us, free on the platform")
    if _category_differs(row["category"], row["pricing_category"]):
        differences.append(f"charged as {row['pricing_category']}")
    return "; ".join(differences)


def _platform_words(row: dict) -> str:
    verdict = "charged" if row["charged_by_platform"] else "free"
    return f"{verdict}: {row['pricing_category'] or '(no category)'}, {row['pricing_type'] or '(no type)'}"


def _difference(a: Amounts, b: Amounts) -> Amounts:
    result = Amounts()
    for currency in set(a.by_currency) | set(b.by_currency):
        result.add(currency, a.total(currency) - b.total(currency))
    return result


def _main_currency(*groups_and_card) -> str:
    *groups, card = groups_and_card
    totals = defaultdict(Decimal)
    for group in groups:
        for currency, amount in group.amounts.by_currency.items():
            totals[currency] += abs(amount)
    if totals:
        return max(totals, key=totals.get)
    currencies = [rate.currency for rates in card.rates.values() for rate in rates]
    return max(set(currencies), key=currencies.count) if currencies else "USD"


REPORTS = {
    "conversations": conversation_report,
    "windows": window_report,
    "costs": cost_report,
}
