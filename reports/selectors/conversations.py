# ruff: noqa: S608 — only our own SQL fragments are interpolated; values are parameters
"""The conversations report: opened per day and category, totals and lengths per category, by agent and
by country, what free-entry points closed early, and the voided conversations listed apart."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count

from conversations.models import Conversation
from conversations.selectors import open_at
from reports import facts
from reports.distribution import Distribution
from reports.periods import Period
from reports.selectors import common
from reports.selectors.common import (
    CATEGORIES,
    NO_AGENT,
    Bars,
    Card,
    Category,
    Report,
    Scope,
    Sources,
    agent_names,
    as_date,
    category_label,
    customer_label,
    distributions,
    fetch,
    listed_note,
    merged,
    only,
    per_day_table_and_chart,
    start_report,
    user_name,
)
from reports.tables import Change, Table, duration

# The inbox's category colours (static/inbox/inbox.css .cat-*), as chart fills.
CATEGORY_COLORS = {
    Category.MARKETING: "#a3205c",
    Category.UTILITY: "#1f4fa3",
    Category.AUTHENTICATION: "#b07000",
    Category.SERVICE: "#0b6e4f",
    Category.FREE_ENTRY_POINT: "#6b3fa0",
}
LENGTH_NOTE = (
    "Length = until expiry or until a free-entry point closed it (H:MM:SS), for conversations that have "
    "ended; those still open are not in the average or median. Medians are exact to within a minute below "
    "24 h (README)."
)


@dataclass
class _Opened:
    """Conversations opened (and voided) per category, this period and the previous one."""

    current: dict[str, int]
    previous: dict[str, int]
    voided: dict[str, int]

    def change(self, category: str) -> Change:
        return Change(self.current[category], self.previous[category])


def conversation_report(*, period: Period, scope: Scope, now: datetime) -> Report:
    report, sources = start_report(period, scope, now)
    opened = _opened_per_day(report, sources)
    open_now = _open_now(scope, now)
    lengths = _lengths(report, sources)
    _totals_per_category(report, opened, open_now, lengths)
    _opened_by_agent(report, sources)
    _opened_by_country(report, sources)
    _closed_early(report, sources, opened)
    _voided(report)
    report.cards = _cards(opened, open_now, merged(lengths.values()))
    return report


def _grouped_sums(
    report: Report, sources: Sources, fact: facts.Fact, select: str, group_by: str, *, this_period_only=True
):
    """SELECT `select` over the fact's rows in the report's scope, grouped by `group_by`: this period's
    days only, or both periods' days (this_period_only=False)."""
    rows_sql, rows_params = sources.rows(fact)
    agent, agent_params = only(report.scope, where="AND")
    condition, condition_params = (
        ("day >= %s", [facts.db_date(report.period.first)]) if this_period_only else ("1 = 1", [])
    )
    return fetch(
        f"""SELECT {select} FROM ({rows_sql}) AS f
            WHERE {condition}{agent} GROUP BY {group_by}""",
        [*rows_params, *condition_params, *agent_params],
    )


def _opened_per_day(report: Report, sources: Sources) -> _Opened:
    """Opened per business day and category, this period and the previous one: the chart, the per-day
    table; and the totals per category that the other sections and the cards show."""
    period = report.period
    per_day = defaultdict(lambda: defaultdict(int))
    opened = _Opened(defaultdict(int), defaultdict(int), defaultdict(int))
    rows = _grouped_sums(
        report,
        sources,
        facts.CONVERSATIONS,
        "day, category, SUM(opened), SUM(voided)",
        "day, category",
        this_period_only=False,
    )
    for day, category, n, voided in rows:
        day = as_date(day)
        if day >= period.first:
            per_day[day][category] += int(n)
            opened.current[category] += int(n)
            opened.voided[category] += int(voided)
        else:
            opened.previous[category] += int(n)
    dates = period.dates()
    per_day_table_and_chart(
        report,
        title="Conversations opened per day, by category",
        columns=[*[c.label for c in CATEGORIES], "total"],
        cells=lambda d: [*[per_day[d][c] for c in CATEGORIES], sum(per_day[d].values())],
        totals=[
            *[sum(per_day[d][c] for d in dates) for c in CATEGORIES],
            sum(sum(per_day[d].values()) for d in dates),
        ],
        bars=Bars(
            slug="conversations-per-day",
            title="Conversations opened per day, by category",
            description=f"Stacked bars, one per day from {period.label()} ({period.tz.key}); "
            "the table below has the same numbers.",
            series=[(c.label, CATEGORY_COLORS[c], lambda d, c=c: per_day[d][c]) for c in CATEGORIES],
            x_label=f"Day ({period.tz.key})",
            y_label="Conversations opened",
        ),
    )
    return opened


def _open_now(scope: Scope, now: datetime) -> dict[str, int]:
    """Open right now (R8: from timestamps), per category: always live."""
    rows = Conversation.objects.exclude(status=Conversation.Status.VOIDED)
    if not scope.is_team:
        rows = rows.filter(opening_message__agent_id=scope.agent_id)
    return {
        row["category"]: row["n"]
        for row in rows.filter(open_at(now)).values("category").annotate(n=Count("id"))
    }


def _lengths(report: Report, sources: Sources) -> dict[str, Distribution]:
    """How long the conversations that have ended lasted, per category."""
    select = "category, bucket_ms, SUM(conversations), SUM(total_ms)"
    return distributions(_grouped_sums(report, sources, facts.LENGTHS, select, "category, bucket_ms"))


def _totals_per_category(report: Report, opened: _Opened, open_now: dict[str, int], lengths) -> None:
    overall = merged(lengths.values())
    current, previous = sum(opened.current.values()), sum(opened.previous.values())
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
            rows=[
                [
                    c.label,
                    opened.current[c.value],
                    opened.previous[c.value],
                    opened.change(c.value),
                    open_now.get(c.value, 0),
                    duration(lengths[c.value].average_ms) if c.value in lengths else None,
                    duration(lengths[c.value].median_ms) if c.value in lengths else None,
                ]
                for c in CATEGORIES
            ],
            totals=[
                "total",
                current,
                previous,
                Change(current, previous),
                sum(open_now.values()),
                duration(overall.average_ms),
                duration(overall.median_ms),
            ],
            note=LENGTH_NOTE,
        )
    )


def _per_category_table(slug: str, title: str, key_column: str, rows, *, label, sort_name, note="") -> Table:
    """(key, category, n) rows as a table: a row per key with its count per category and its total,
    biggest first, ties by `sort_name`."""
    per_key: dict[object, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for key, category, n in rows:
        per_key[key][category] += int(n)
    totals = [(key, counts, sum(counts.values())) for key, counts in per_key.items()]
    ordered = sorted([row for row in totals if row[2]], key=lambda row: (-row[2], sort_name(row[0])))
    return Table(
        slug,
        title,
        [key_column, *[c.label for c in CATEGORIES], "total"],
        rows=[[label(key), *[counts[c.value] for c in CATEGORIES], total] for key, counts, total in ordered],
        note=note,
    )


def _opened_by_agent(report: Report, sources: Sources) -> None:
    """By the agent who opened them (the opening message's agent)."""
    rows = _grouped_sums(
        report, sources, facts.CONVERSATIONS, "agent_id, category, SUM(opened)", "agent_id, category"
    )
    names = agent_names(row[0] for row in rows)

    def name(agent_id):
        return names.get(agent_id, NO_AGENT)

    note = "The agent whose message opened the conversation."
    report.add(
        _per_category_table("agents", "Opened by agent", "agent", rows, label=name, sort_name=name, note=note)
    )


def _opened_by_country(report: Report, sources: Sources) -> None:
    """By the customer's country (from their phone number)."""
    rows = _grouped_sums(
        report, sources, facts.CONVERSATIONS, "country, category, SUM(opened)", "country, category"
    )
    report.add(
        _per_category_table(
            "countries", "By customer country", "country", rows, label=lambda c: c or "unknown", sort_name=str
        )
    )


def _closed_early(report: Report, sources: Sources, opened: _Opened) -> None:
    """Free-entry points and what they closed early (R6), on the free-entry point's day."""
    select = "category, SUM(conversations), SUM(total_ms)"
    closed = {
        category: (int(n), int(total) / int(n))
        for category, n, total in _grouped_sums(report, sources, facts.CLOSED_EARLY, select, "category")
    }
    report.add(
        Table(
            "closed-early",
            "Conversations closed early by a free-entry point",
            ["category", "closed early", "average time left when closed"],
            rows=[
                [c.label, closed[c.value][0], duration(closed[c.value][1])]
                for c in CATEGORIES
                if c.value in closed
            ],
            totals=["total", sum(n for n, _ in closed.values()), None],
            note=f"{opened.current[Category.FREE_ENTRY_POINT.value]} free-entry-point conversation(s) opened "
            "in this period; opening one closes every other open conversation with the customer (R6).",
        )
    )


def _voided(report: Report) -> None:
    """Voided conversations (R9), listed apart and counted nowhere else: always live."""
    period, scope, tz = report.period, report.scope, report.period.tz
    rows = Conversation.objects.filter(
        opened_at__gte=period.start, opened_at__lt=period.end, status=Conversation.Status.VOIDED
    )
    if not scope.is_team:
        rows = rows.filter(opening_message__agent_id=scope.agent_id)
    rows = rows.select_related("customer", "opening_message__agent").order_by("-opened_at", "-id")
    voided = list(rows[: common.LIST_LIMIT + 1])
    report.add(
        Table(
            "voided",
            "Voided conversations (every message failed: not counted, not charged)",
            ["opened", "customer", "country", "category", "opened by", "voided"],
            rows=[
                [
                    c.opened_at.astimezone(tz),
                    customer_label(
                        c.customer.name,
                        c.customer.phone_e164,
                        c.customer.wa_id,
                        c.customer.username,
                        c.customer.user_id,
                    ),
                    c.customer.country or "unknown",
                    category_label(c.category),
                    (user_name(c.opening_message.agent) if c.opening_message else None) or NO_AGENT,
                    c.voided_at.astimezone(tz),
                ]
                for c in voided[: common.LIST_LIMIT]
            ],
            note=listed_note(len(voided)),
            numeric_from=99,
        )
    )


def _cards(opened: _Opened, open_now: dict[str, int], overall: Distribution) -> list[Card]:
    current, previous = sum(opened.current.values()), sum(opened.previous.values())
    return [
        Card.compared("Conversations opened", current, previous),
        *[Card.compared(c.label, opened.current[c.value], opened.previous[c.value]) for c in CATEGORIES],
        Card("Open right now", sum(open_now.values()), hint="all categories, at this instant"),
        Card("Median length", duration(overall.median_ms), hint="ended conversations, H:MM:SS"),
        Card("Voided", sum(opened.voided.values()), hint="listed below, not counted anywhere else"),
    ]
