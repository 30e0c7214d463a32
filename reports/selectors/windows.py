# ruff: noqa: S608 — only our own SQL fragments and quoted table names are interpolated; values are parameters
"""The customer service windows report: windows opened per day by outcome (answered in time, lost, still
open), per agent with their first-response times, the lost windows listed, and the templates that were the
only way to reply (R2)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection

from conversations.models import Customer
from reports import facts
from reports.distribution import Distribution
from reports.periods import Period
from reports.selectors import common
from reports.selectors.common import (
    UNASSIGNED,
    Bars,
    Card,
    Report,
    Scope,
    Sources,
    agent_names,
    as_date,
    as_datetime,
    customer_label,
    distributions,
    fetch,
    listed_note,
    merged,
    only,
    per_day_table_and_chart,
    start_report,
)
from reports.tables import Percent, Table, duration

OUTCOMES = [
    ("answered", "answered in time", "#0b6e4f"),
    ("lost", "lost (nobody answered)", "#b42318"),
    ("waiting", "still open, not answered yet", "#b07000"),
]
PER_AGENT_NOTE = (
    "Each window is the agent's who held the thread at the time (the assignment history): answered "
    "windows and first responses, the agent holding it when the first reply was sent (the one who sent it "
    "when nobody held it); lost and waiting windows, the agent holding it when the customer's message "
    "opened the window (unassigned if nobody), whoever holds it now. First response: from the customer's "
    "message that opened the window to the first reply (H:MM:SS); medians and percentiles are exact to "
    "within a second below 10 minutes (README)."
)
# Who held the thread when an unanswered window opened (the rollup's rows and the live ones alike).
OPENER_HOLDER = facts.holder_at("u.customer_id", "u.opened_at")


@dataclass
class _Windows:
    """What the window queries found, arranged: windows per (period, outcome), per day and outcome and per
    owner and outcome (this period); templates after a closed window per (period, agent); first-response
    times per agent (this period) and overall, this period and the previous one."""

    counts: dict = field(default_factory=lambda: defaultdict(int))
    per_day: dict = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    per_owner: dict = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    templates: dict = field(default_factory=dict)
    response_times: dict[object, Distribution] = field(default_factory=dict)
    overall: Distribution = field(default_factory=Distribution)
    overall_before: Distribution = field(default_factory=Distribution)

    def opened(self, which: str) -> int:
        return sum(self.counts[(which, o)] for o, _, _ in OUTCOMES)

    def templates_in(self, which: str) -> int:
        return sum(n for (p, _), n in self.templates.items() if p == which)


def window_report(*, period: Period, scope: Scope, now: datetime) -> Report:
    report, sources = start_report(period, scope, now)
    # The windows of the days counted live are computed once per page into a temporary table (private
    # to this connection), which the window facts read their live rows from.
    with connection.cursor() as cursor, facts.service_windows(cursor, sources.live):
        cube = _outcomes_cube(cursor, report, sources)
        response_rows = _first_responses(cursor, report, sources)
        lost = _lost_windows(cursor, report, sources)
    templates = _templates_after_closed_window(report, sources)
    windows = _arranged(report.period, cube, response_rows, templates)
    _windows_per_day(report, windows)
    names = agent_names(windows.per_owner)
    _per_agent(report, windows, names)
    _lost(report, lost, names)
    report.cards = _cards(windows)
    return report


def _customers() -> str:
    return connection.ops.quote_name(Customer._meta.db_table)


def _outcomes_cube(cursor, report: Report, sources: Sources) -> list[tuple]:
    """Windows per day, outcome and owner (who held the thread at the first reply; for the others, when
    the window opened: PER_AGENT_NOTE)."""
    answered_sql, answered_params = sources.rows(facts.FIRST_RESPONSES)
    unanswered_sql, unanswered_params = sources.rows(facts.UNANSWERED)
    responder, responder_params = only(report.scope, where="AND")
    holder, holder_params = only(report.scope, "holder_id", where="WHERE")
    cursor.execute(
        f"""SELECT day, 'answered' AS outcome, agent_id AS owner_id, SUM(windows)
              FROM ({answered_sql}) AS a WHERE 1 = 1{responder} GROUP BY day, agent_id
            UNION ALL
            SELECT day, outcome, holder_id, COUNT(*)
              FROM (SELECT u.day, u.outcome, {OPENER_HOLDER} AS holder_id
                      FROM ({unanswered_sql}) AS u) AS held{holder}
             GROUP BY day, outcome, holder_id""",
        [*answered_params, *responder_params, *unanswered_params, *holder_params],
    )
    return cursor.fetchall()


def _first_responses(cursor, report: Report, sources: Sources) -> list[tuple]:
    """First-response times: bucketed, per period and agent who answered."""
    answered_sql, answered_params = sources.rows(facts.FIRST_RESPONSES)
    responder, responder_params = only(report.scope, where="AND")
    cursor.execute(
        f"""SELECT CASE WHEN day >= %s THEN 1 ELSE 0 END, agent_id, bucket_ms, SUM(windows), SUM(total_ms)
              FROM ({answered_sql}) AS a WHERE 1 = 1{responder} GROUP BY 1, 2, 3""",
        [facts.db_date(report.period.first), *answered_params, *responder_params],
    )
    return cursor.fetchall()


def _lost_windows(cursor, report: Report, sources: Sources) -> list[tuple]:
    """The lost windows themselves, newest first (whose were they: who held the thread when the window
    opened): the newest picked first, then their customers joined."""
    unanswered_sql, unanswered_params = sources.rows(facts.UNANSWERED)
    mine, mine_params = "", []
    if not report.scope.is_team:
        mine = f" AND {OPENER_HOLDER} = %s"
        mine_params = [report.scope.agent_id]
    cursor.execute(
        f"""SELECT u.opened_at, u.closed_at, cu.name, cu.phone_e164, cu.wa_id, cu.username, cu.user_id,
                   cu.country, u.holder_id
              FROM (SELECT u.opened_at, u.closed_at, u.customer_id, {OPENER_HOLDER} AS holder_id
                      FROM ({unanswered_sql}) AS u
                     WHERE u.outcome = 'lost' AND u.day >= %s{mine}
                     ORDER BY u.opened_at DESC, u.customer_id DESC LIMIT {common.LIST_LIMIT + 1}) AS u
              JOIN {_customers()} cu ON cu.id = u.customer_id
             ORDER BY u.opened_at DESC, u.customer_id DESC""",
        [*unanswered_params, facts.db_date(report.period.first), *mine_params],
    )
    return cursor.fetchall()


def _templates_after_closed_window(report: Report, sources: Sources) -> dict[tuple[str, int], int]:
    """Templates an agent sent that answered a customer's last message after their window had closed (R2:
    a template was the only way to reply), per (period, agent). A send without an agent (the system's) is
    no reply."""
    messages_sql, messages_params = sources.rows(facts.MESSAGES)
    responder, responder_params = only(report.scope, where="AND")
    rows = fetch(
        f"""SELECT CASE WHEN day >= %s THEN 1 ELSE 0 END, agent_id, SUM(messages)
              FROM ({messages_sql}) AS m
             WHERE after_closed_window AND agent_id IS NOT NULL{responder} GROUP BY 1, 2""",
        [facts.db_date(report.period.first), *messages_params, *responder_params],
    )
    return {("current" if is_current else "previous", agent_id): int(n) for is_current, agent_id, n in rows}


def _arranged(period: Period, cube, response_rows, templates) -> _Windows:
    windows = _Windows(templates=templates)
    for day, outcome, owner, n in cube:
        day, n = as_date(day), int(n)
        which = "current" if day >= period.first else "previous"
        windows.counts[(which, outcome)] += n
        if which == "current":
            windows.per_day[day][outcome] += n
            windows.per_owner[owner][outcome] += n
    for (which, agent_id), n in templates.items():
        if which == "current":
            windows.per_owner[agent_id]["templates"] += n
    windows.response_times = distributions(
        ((agent_id if is_current else "previous"), bucket, n, total)
        for is_current, agent_id, bucket, n, total in response_rows
    )
    windows.overall_before = windows.response_times.pop("previous", Distribution())
    windows.overall = merged(windows.response_times.values())
    return windows


def _windows_per_day(report: Report, windows: _Windows) -> None:
    period, per_day = report.period, windows.per_day
    per_day_table_and_chart(
        report,
        title="Customer service windows opened per day, by outcome",
        columns=["opened", *[label for _, label, _ in OUTCOMES]],
        cells=lambda d: [sum(per_day[d].values()), *[per_day[d][o] for o, _, _ in OUTCOMES]],
        totals=[windows.opened("current"), *[windows.counts[("current", o)] for o, _, _ in OUTCOMES]],
        bars=Bars(
            slug="windows-per-day",
            title="Customer service windows opened per day, by outcome",
            description=f"Stacked bars, one per day from {period.label()} ({period.tz.key}): answered in "
            "time, lost, still open; the table below has the same numbers.",
            series=[(label, color, lambda d, o=o: per_day[d][o]) for o, label, color in OUTCOMES],
            x_label=f"Day the window opened ({period.tz.key})",
            y_label="Windows",
        ),
    )


def _owner_name(names: dict[int, str], owner: int | None) -> str:
    return names.get(owner, UNASSIGNED if owner is None else f"user #{owner}")


def _per_agent(report: Report, windows: _Windows, names: dict[int, str]) -> None:
    owners = sorted(windows.per_owner, key=lambda owner: (owner is None, names.get(owner, "")))
    rows = []
    for owner in owners:
        stats = windows.response_times.get(owner) if owner is not None else None
        figures = windows.per_owner[owner]
        rows.append(
            [
                _owner_name(names, owner),
                figures["answered"],
                duration(stats.median_ms) if stats else None,
                duration(stats.p90_ms) if stats else None,
                figures["lost"],
                figures["waiting"],
                figures["templates"],
            ]
        )
    columns = [
        "agent",
        "answered in time",
        "median first response",
        "90th percentile first response",
        "lost (threads held when the window opened)",
        "waiting (threads held when the window opened)",
        "templates after the window closed",
    ]
    totals = [
        "total",
        windows.counts[("current", "answered")],
        duration(windows.overall.median_ms),
        duration(windows.overall.p90_ms),
        windows.counts[("current", "lost")],
        windows.counts[("current", "waiting")],
        windows.templates_in("current"),
    ]
    report.add(Table("agents", "Per agent", columns, rows=rows, totals=totals, note=PER_AGENT_NOTE))


def _lost(report: Report, lost: list[tuple], names: dict[int, str]) -> None:
    tz = report.period.tz
    report.add(
        Table(
            "lost",
            "Lost windows: the customer wrote and nobody answered before the window closed",
            ["opened", "closed", "customer", "country", "held by when it opened"],
            rows=[
                [
                    as_datetime(opened_at).astimezone(tz),
                    as_datetime(closed_at).astimezone(tz),
                    customer_label(*customer),
                    country or "unknown",
                    _owner_name(names, assignee),
                ]
                for opened_at, closed_at, *customer, country, assignee in lost[: common.LIST_LIMIT]
            ],
            note=listed_note(len(lost)),
            numeric_from=99,
        )
    )


def _cards(windows: _Windows) -> list[Card]:
    def outcome(label, name, hint=""):
        return Card.compared(
            label, windows.counts[("current", name)], windows.counts[("previous", name)], hint
        )

    opened_now = windows.opened("current")
    overall, overall_before = windows.overall, windows.overall_before
    return [
        Card.compared("Windows opened", opened_now, windows.opened("previous")),
        outcome(
            "Answered in time",
            "answered",
            f"{Percent(windows.counts[('current', 'answered')], opened_now)} of opened",
        ),
        outcome("Lost", "lost", f"{Percent(windows.counts[('current', 'lost')], opened_now)} of opened"),
        outcome("Still open, not answered", "waiting"),
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
        Card.compared(
            "Templates after the window closed",
            windows.templates_in("current"),
            windows.templates_in("previous"),
            "replies to a customer's last message after their window closed",
        ),
    ]
