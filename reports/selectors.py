"""Reads for the reports. Every figure is an aggregate computed by the database (COUNT with FILTER,
GROUP BY the business day, window functions for the customer service windows); Python only arranges the
grouped rows, which are bounded by days x categories x countries x agents, never one per conversation or
message. Each report runs a fixed number of queries whatever the volume.

Shared definitions (README "Reports" states them for supervisors):
- A period is whole days in settings.BUSINESS_TIME_ZONE (reports.periods); a conversation or window
  belongs to the day it opened on there.
- Voided conversations (R9: every message failed) are listed separately and counted nowhere else.
- "Open now" is R8 (timestamps), never the status column.
- A conversation's length is min(expires_at, closed_at) - opened_at, for those that have ended; those
  still open are left out of the average and median (their length is not known yet).
- Scope: agents see their own figures (conversations they opened, windows they answered or that were
  lost on customers assigned to them, messages they sent); supervisors and admins see everyone's.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Avg, Case, CharField, Count, Exists, F, OuterRef, Q, Value, When
from django.db.models.functions import Coalesce, Lower, TruncDate
from django.utils.dateparse import parse_datetime

from conversations import policy
from conversations.models import Conversation, Message
from conversations.selectors import open_at
from reports import charts
from reports.models import Rate
from reports.periods import Period
from reports.pricing import Amounts, RateCard
from reports.sql import DAY_MS, EpochMs, epoch_ms, local_date, percentiles
from reports.tables import Change, Percent, Table, duration

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

    def add(self, table: Table) -> Table:
        self.tables[table.slug] = table
        return table


def _tzname() -> str:
    return settings.BUSINESS_TIME_ZONE


def _agent_names(ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    users = get_user_model().objects.filter(pk__in=ids).only("username", "first_name", "last_name")
    return {u.pk: (f"{u.get_full_name()} ({u.username})" if u.get_full_name() else u.username) for u in users}


def _day_labels(period: Period) -> list[str]:
    return [d.strftime("%d %b") for d in period.dates()]


def _category_label(value: str) -> str:
    return Category(value).label


# --- Conversations ----------------------------------------------------------------------------------


def _conversations(scope: Scope, *, voided: bool = False):
    """Every conversation the reports count: voided ones never (R9), unless asked for."""
    rows = (
        Conversation.objects.all()
        if voided
        else Conversation.objects.exclude(status=Conversation.Status.VOIDED)
    )
    if not scope.is_team:
        rows = rows.filter(opening_message__agent_id=scope.agent_id)
    return rows


def _by_category(prefix: str = "") -> dict[str, Count]:
    return {c.value: Count("id", filter=Q(**{f"{prefix}category": c.value})) for c in CATEGORIES}


def conversation_report(*, period: Period, scope: Scope, now: datetime) -> Report:
    previous = period.previous()
    report = Report(period=period, previous=previous, now=now, scope=scope)
    tz = period.tz
    in_period = Q(opened_at__gte=period.start, opened_at__lt=period.end)
    in_previous = Q(opened_at__gte=previous.start, opened_at__lt=previous.end)
    base = _conversations(scope)

    # 1. Opened per business day and category (the chart and the per-day table).
    per_day = defaultdict(lambda: defaultdict(int))
    for row in (
        base.filter(in_period)
        .annotate(day=TruncDate("opened_at", tzinfo=tz))
        .values("day", "category")
        .annotate(n=Count("id"))
    ):
        per_day[row["day"]][row["category"]] = row["n"]

    # 2. Totals per category, this period and the previous one, and the voided ones, in one pass.
    is_voided = Q(status=Conversation.Status.VOIDED)
    totals = {
        row["category"]: row
        for row in _conversations(scope, voided=True)
        .filter(in_period | in_previous)
        .values("category")
        .annotate(
            current=Count("id", filter=in_period & ~is_voided),
            previous=Count("id", filter=in_previous & ~is_voided),
            voided=Count("id", filter=in_period & is_voided),
        )
    }
    # 3. Open right now (R8: from timestamps), per category.
    open_now = {
        row["category"]: row["n"]
        for row in base.filter(open_at(now)).values("category").annotate(n=Count("id"))
    }
    # 4. Length of the conversations that have ended: average and median, per category and overall.
    lengths = _lengths(base.filter(in_period), now)

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
        row = totals.get(c.value, {"current": 0, "previous": 0})
        stats = lengths.get(c.value)
        category_rows.append(
            [
                c.label,
                row["current"],
                row["previous"],
                Change(row["current"], row["previous"]),
                open_now.get(c.value, 0),
                duration(stats.average_ms) if stats else None,
                duration(stats.values_ms[0.5]) if stats else None,
            ]
        )
    overall = lengths.get("*")
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
                duration(overall.average_ms) if overall else None,
                duration(overall.values_ms[0.5]) if overall else None,
            ],
            note="Length = until expiry or until a free-entry point closed it (H:MM:SS), "
            "for conversations that have ended; those still open are not in the average or median.",
        )
    )

    # 5. By the agent who opened them (the opening message's agent).
    agents = list(
        base.filter(in_period)
        .values("opening_message__agent")
        .annotate(**_by_category(), total=Count("id"))
        .order_by("-total")
    )
    names = _agent_names(row["opening_message__agent"] for row in agents)
    report.add(
        Table(
            "agents",
            "Opened by agent",
            ["agent", *[c.label for c in CATEGORIES], "total"],
            rows=[
                [
                    names.get(row["opening_message__agent"], NO_AGENT),
                    *[row[c.value] for c in CATEGORIES],
                    row["total"],
                ]
                for row in agents
            ],
            note="The agent whose message opened the conversation.",
        )
    )

    # 6. By the customer's country (from their phone number).
    countries = list(
        base.filter(in_period)
        .values("customer__country")
        .annotate(**_by_category(), total=Count("id"))
        .order_by("-total", "customer__country")
    )
    report.add(
        Table(
            "countries",
            "By customer country",
            ["country", *[c.label for c in CATEGORIES], "total"],
            rows=[
                [row["customer__country"] or "unknown", *[row[c.value] for c in CATEGORIES], row["total"]]
                for row in countries
            ],
        )
    )

    # 7. Free-entry points and what they closed early (R6).
    closer = Q(closed_by__opened_at__gte=period.start, closed_by__opened_at__lt=period.end)
    closed = Conversation.objects.exclude(status=Conversation.Status.VOIDED).filter(closer)
    if not scope.is_team:
        closed = closed.filter(closed_by__opening_message__agent_id=scope.agent_id)
    closed_rows = {
        row["category"]: row
        for row in closed.values("category").annotate(
            n=Count("id"), cut_ms=Avg(EpochMs("expires_at") - EpochMs("closed_at"))
        )
    }
    fep_opened = totals.get(Category.FREE_ENTRY_POINT.value, {"current": 0})["current"]
    report.add(
        Table(
            "closed-early",
            "Conversations closed early by a free-entry point",
            ["category", "closed early", "average time left when closed"],
            rows=[
                [c.label, closed_rows[c.value]["n"], duration(closed_rows[c.value]["cut_ms"])]
                for c in CATEGORIES
                if c.value in closed_rows
            ],
            totals=["total", sum(r["n"] for r in closed_rows.values()), None],
            note=f"{fep_opened} free-entry-point conversation(s) opened in this period; opening one closes "
            "every other open conversation with the customer (R6).",
        )
    )

    # 8. Voided conversations (R9), listed apart and counted nowhere else.
    voided_rows = Conversation.objects.filter(in_period, status=Conversation.Status.VOIDED)
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
                    f"{c.customer.name or c.customer.phone_e164} ({c.customer.wa_id})",
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
                totals.get(c.value, {}).get("current", 0),
                totals.get(c.value, {}).get("previous", 0),
                Change(totals.get(c.value, {}).get("current", 0), totals.get(c.value, {}).get("previous", 0)),
            )
            for c in CATEGORIES
        ],
        Card("Open right now", sum(open_now.values()), hint="all categories, at this instant"),
        Card(
            "Median length",
            duration(overall.values_ms[0.5]) if overall else None,
            hint="ended conversations, H:MM:SS",
        ),
        Card("Voided", total("voided"), hint="listed below, not counted anywhere else"),
    ]
    return report


def _user_name(user) -> str | None:
    if user is None:
        return None
    return f"{user.get_full_name()} ({user.username})" if user.get_full_name() else user.username


def _lengths(conversations, now: datetime):
    """Average and median length of the conversations that had ended by `now`, per category and over
    all ('*'), in one query."""
    ended = conversations.annotate(ends_at=Coalesce("closed_at", "expires_at")).filter(ends_at__lte=now)
    value = EpochMs(Coalesce("closed_at", "expires_at")) - EpochMs("opened_at")
    per_category = ended.annotate(grp=F("category"), value=value).values("grp", "value").order_by()
    overall = (
        ended.annotate(grp=Value("*", output_field=CharField()), value=value)
        .values("grp", "value")
        .order_by()
    )
    sql_a, params_a = per_category.query.sql_with_params()
    sql_b, params_b = overall.query.sql_with_params()
    return percentiles(f"{sql_a} UNION ALL {sql_b}", (*params_a, *params_b))


# --- Customer service windows -----------------------------------------------------------------------


WINDOWS_TABLE = "report_service_windows"


def _windows_sql(*, period: Period, previous: Period, now: datetime, scope: Scope) -> tuple[str, list]:
    """SELECT one row per customer service window opened in the previous or the current period, with its
    outcome. This is policy.service_windows (R1) as SQL ("gaps and islands"), in one ordered pass over
    the messages with window functions, no per-window lookups:

    - events: customer messages (they open and extend windows) and agents' replies that did not fail;
    - a customer message 24 h or more after the customer's previous one starts a new window (island);
      a running count of starts numbers the windows, and a reply belongs to the window of the latest
      customer message before it;
    - a window ends 24 h after its last customer message, or when the platform closed it (131047);
    - its first reply is the earliest reply in the island: answered in time if before the end.

    Only messages from 24 h before the previous period on are read: an earlier message cannot change
    whether a later one opens a window (the gap is already 24 h or more).
    """
    ms = epoch_ms
    now_ms = int(now.timestamp() * 1000)
    scope_sql, scope_params = "", []
    if not scope.is_team:
        scope_sql = "WHERE responder_id = %s OR (responder_id IS NULL AND assignee_id = %s)"
        scope_params = [scope.agent_id, scope.agent_id]
    not_from_customer = ", ".join(["%s"] * len(policy.NOT_FROM_THE_CUSTOMER))
    sql = f"""
    WITH events AS (
        SELECT customer_id, occurred_at, {ms("occurred_at")} AS t, agent_id,
               CASE WHEN direction = 'inbound' THEN 1 ELSE 0 END AS inbound
        FROM conversations_message
        WHERE occurred_at >= %s AND occurred_at <= %s
          AND ((direction = 'inbound' AND wa_type NOT IN ({not_from_customer}))
               OR (direction = 'outbound' AND agent_id IS NOT NULL AND status <> 'failed'))
    ),
    marked AS (
        SELECT customer_id, occurred_at, t, agent_id, inbound,
               CASE WHEN inbound = 0 THEN 0
                    WHEN t - LAG(t) OVER (PARTITION BY customer_id, inbound ORDER BY t) < {DAY_MS} THEN 0
                    ELSE 1 END AS starts
        FROM events
    ),
    islands AS (
        SELECT customer_id, occurred_at, t, agent_id, inbound,
               SUM(starts) OVER (PARTITION BY customer_id ORDER BY t, inbound DESC
                                 ROWS UNBOUNDED PRECEDING) AS island
        FROM marked
    ),
    ranked AS (
        SELECT customer_id, occurred_at, t, agent_id, inbound, island,
               ROW_NUMBER() OVER (PARTITION BY customer_id, island, inbound ORDER BY t) AS rn
        FROM islands
        WHERE island > 0
    ),
    windows AS (
        SELECT customer_id,
               MIN(CASE WHEN inbound = 1 THEN occurred_at END) AS opened_at,
               MIN(CASE WHEN inbound = 1 THEN t END) AS start_t,
               MAX(CASE WHEN inbound = 1 THEN t END) + {DAY_MS} AS natural_end_t,
               MIN(CASE WHEN inbound = 0 THEN t END) AS reply_t,
               MAX(CASE WHEN inbound = 0 AND rn = 1 THEN agent_id END) AS replier_id
        FROM ranked
        GROUP BY customer_id, island
        HAVING MIN(CASE WHEN inbound = 1 THEN occurred_at END) >= %s
           AND MIN(CASE WHEN inbound = 1 THEN occurred_at END) < %s
    ),
    bounded AS (
        SELECT w.customer_id, w.opened_at, w.start_t, w.reply_t, w.replier_id,
               c.assigned_to_id AS assignee_id,
               CASE WHEN c.platform_window_closed_at IS NOT NULL
                         AND {ms("c.platform_window_closed_at")} >= w.start_t
                         AND {ms("c.platform_window_closed_at")} < w.natural_end_t
                    THEN {ms("c.platform_window_closed_at")} ELSE w.natural_end_t END AS end_t
        FROM windows w JOIN conversations_customer c ON c.id = w.customer_id
    ),
    classified AS (
        SELECT customer_id, opened_at, start_t, end_t, assignee_id,
               CASE WHEN reply_t < end_t THEN replier_id END AS responder_id,
               CASE WHEN reply_t < end_t THEN reply_t - start_t END AS response_ms,
               CASE WHEN reply_t < end_t THEN 'answered' WHEN end_t <= %s THEN 'lost' ELSE 'waiting' END
                   AS outcome,
               CASE WHEN opened_at >= %s THEN 'current' ELSE 'previous' END AS period
        FROM bounded
    )
    SELECT * FROM classified {scope_sql}
    """  # noqa: S608 — only our own SQL fragments are interpolated; values are parameters
    params = [
        _db_datetime(previous.start - policy.SERVICE_WINDOW),
        _db_datetime(now),
        *sorted(policy.NOT_FROM_THE_CUSTOMER),
        _db_datetime(previous.start),
        _db_datetime(period.end),
        now_ms,
        _db_datetime(period.start),
        *scope_params,
    ]
    return sql, params


OUTCOMES = [
    ("answered", "answered in time", "#0b6e4f"),
    ("lost", "lost (nobody answered)", "#b42318"),
    ("waiting", "still open, not answered yet", "#b07000"),
]


def window_report(*, period: Period, scope: Scope, now: datetime) -> Report:
    previous = period.previous()
    report = Report(period=period, previous=previous, now=now, scope=scope)
    tz = period.tz
    windows_sql, params = _windows_sql(period=period, previous=previous, now=now, scope=scope)
    day_sql, day_params = local_date("opened_at", tz.key)
    table = connection.ops.quote_name(WINDOWS_TABLE)

    # The windows are computed once per page into a temporary table (private to this connection), then
    # read three ways.
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TEMPORARY TABLE {table} AS {windows_sql}", params)
        try:
            # 1. The cube: windows per period, day, outcome and owner (who answered; for the others,
            # the customer's assigned agent).
            cursor.execute(
                f"""SELECT period, {day_sql} AS day, outcome,
                       CASE WHEN outcome = 'answered' THEN responder_id ELSE assignee_id END AS owner_id,
                       COUNT(*)
                FROM {table} GROUP BY 1, 2, 3, 4""",  # noqa: S608
                day_params,
            )
            cube = cursor.fetchall()
            # 2. First-response times: per agent and overall ('-1') this period; overall ('-2') before.
            response_times = percentiles(
                f"""SELECT CAST(responder_id AS VARCHAR(20)) AS grp, response_ms AS value FROM {table}
                     WHERE period = 'current' AND outcome = 'answered'
                    UNION ALL
                    SELECT CASE WHEN period = 'current' THEN '-1' ELSE '-2' END AS grp, response_ms AS value
                      FROM {table} WHERE outcome = 'answered'""",  # noqa: S608
                [],
                cursor=cursor,
            ).get
            # 3. The lost windows themselves, newest first (whose were they).
            cursor.execute(
                f"""SELECT k.opened_at, k.end_t, cu.name, cu.wa_id, cu.country, k.assignee_id
                FROM {table} k JOIN conversations_customer cu ON cu.id = k.customer_id
                WHERE k.period = 'current' AND k.outcome = 'lost'
                ORDER BY k.opened_at DESC LIMIT {LIST_LIMIT + 1}""",  # noqa: S608
            )
            lost = cursor.fetchall()
        finally:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
    # 4. Templates sent to customers who had written before, outside their window (R2: a template was
    # the only way to reply).
    templates = _templates_after_window(period, previous, scope)

    counts = defaultdict(int)  # (period, outcome) -> n
    per_day = defaultdict(lambda: defaultdict(int))  # day -> outcome -> n
    per_owner = defaultdict(lambda: defaultdict(int))  # owner -> outcome -> n (this period)
    for window_period, day, outcome, owner, n in cube:
        counts[(window_period, outcome)] += n
        if window_period == "current":
            per_day[_as_date(day)][outcome] += n
            per_owner[owner][outcome] += n
    for (template_period, agent_id), n in templates.items():
        if template_period == "current":
            per_owner[agent_id]["templates"] += n

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
        stats = response_times(str(owner)) if owner is not None else None
        figures = per_owner[owner]
        agent_rows.append(
            [
                names.get(owner, UNASSIGNED if owner is None else f"user #{owner}"),
                figures["answered"],
                duration(stats.values_ms[0.5]) if stats else None,
                duration(stats.values_ms[0.9]) if stats else None,
                figures["lost"],
                figures["waiting"],
                figures["templates"],
            ]
        )
    overall, overall_before = response_times("-1"), response_times("-2")
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
                duration(overall.values_ms[0.5]) if overall else None,
                duration(overall.values_ms[0.9]) if overall else None,
                counts[("current", "lost")],
                counts[("current", "waiting")],
                sum(n for (p, _), n in templates.items() if p == "current"),
            ],
            note="Answered: the agent who sent the first reply inside the window. Lost and waiting: the "
            "agent the customer is assigned to now (unassigned if nobody). First response: from the "
            "customer's message that opened the window to the first reply (H:MM:SS).",
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
                    _from_ms(end_t).astimezone(tz),
                    f"{name or wa_id} ({wa_id})",
                    country or "unknown",
                    names.get(assignee, UNASSIGNED if assignee is None else f"user #{assignee}"),
                ]
                for opened_at, end_t, name, wa_id, country, assignee in lost[:LIST_LIMIT]
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
            duration(overall.values_ms[0.5]) if overall else None,
            duration(overall_before.values_ms[0.5]) if overall_before else None,
            hint="H:MM:SS",
        ),
        Card(
            "90th percentile first response",
            duration(overall.values_ms[0.9]) if overall else None,
            duration(overall_before.values_ms[0.9]) if overall_before else None,
            hint="H:MM:SS",
        ),
        Card(
            "Templates after the window closed",
            templates_now,
            templates_before,
            Change(templates_now, templates_before),
            "to customers who had written before",
        ),
    ]
    return report


def _templates_after_window(
    period: Period, previous: Period, scope: Scope
) -> dict[tuple[str, int | None], int]:
    """Templates sent to customers who had written before but whose window was closed at that moment,
    per period and agent."""
    inbound = Message.objects.filter(
        customer_id=OuterRef("customer_id"), direction=Message.Direction.INBOUND
    ).exclude(wa_type__in=policy.NOT_FROM_THE_CUSTOMER)
    rows = (
        _sent(scope)
        .filter(kind=Message.Kind.TEMPLATE, occurred_at__gte=previous.start, occurred_at__lt=period.end)
        .filter(Exists(inbound.filter(occurred_at__lt=OuterRef("occurred_at"))))
        .exclude(Exists(_window_open_at_send(inbound)))
        .annotate(period=_period_case(period))
        .values("period", "agent_id")
        .annotate(n=Count("id"))
    )
    return {(row["period"], row["agent_id"]): row["n"] for row in rows}


def _window_open_at_send(inbound):
    """R1: the window is open at t iff the customer wrote in (t - 24 h, t]."""
    return inbound.filter(
        occurred_at__lte=OuterRef("occurred_at"),
        occurred_at__gt=OuterRef("occurred_at") - policy.SERVICE_WINDOW,
    )


def _sent(scope: Scope):
    """Our outbound messages that reached (or may still reach) the customer: failed ones cost nothing."""
    rows = Message.objects.filter(direction=Message.Direction.OUTBOUND).exclude(status=Message.Status.FAILED)
    if not scope.is_team:
        rows = rows.filter(agent_id=scope.agent_id)
    return rows


def _period_case(period: Period, field_name: str = "occurred_at"):
    return Case(
        When(**{f"{field_name}__gte": period.start}, then=Value("current")),
        default=Value("previous"),
        output_field=CharField(),
    )


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _as_datetime(value) -> datetime:
    """A datetime from raw SQL: PostgreSQL returns it aware, SQLite as UTC text."""
    parsed = value if isinstance(value, datetime) else parse_datetime(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _from_ms(value) -> datetime:
    return datetime.fromtimestamp(float(value) / 1000, tz=UTC)


def _db_datetime(value: datetime):
    """A datetime parameter for raw SQL, as the backend stores it (SQLite: UTC text without offset)."""
    return connection.ops.adapt_datetimefield_value(value)


# --- Cost estimate ----------------------------------------------------------------------------------


@dataclass
class _Priced:
    count: int = 0
    charged: int = 0
    unpriced: int = 0
    amounts: Amounts = field(default_factory=Amounts)


def cost_report(*, period: Period, scope: Scope, now: datetime) -> Report:
    previous = period.previous()
    report = Report(period=period, previous=previous, now=now, scope=scope)
    tz = period.tz
    card = RateCard.load()

    # 1. Conversations per day, category and country (conversation-based pricing).
    conversation_groups = (
        _conversations(scope)
        .filter(opened_at__gte=previous.start, opened_at__lt=period.end)
        .annotate(day=TruncDate("opened_at", tzinfo=tz))
        .values("day", "category", "customer__country")
        .annotate(n=Count("id"))
    )
    # 2. Messages per day, template category, country and why they would be free (per-message pricing).
    inbound = Message.objects.filter(
        customer_id=OuterRef("customer_id"), direction=Message.Direction.INBOUND
    ).exclude(wa_type__in=policy.NOT_FROM_THE_CUSTOMER)
    message_groups = (
        _sent(scope)
        .filter(occurred_at__gte=previous.start, occurred_at__lt=period.end)
        .annotate(
            day=TruncDate("occurred_at", tzinfo=tz),
            category=Lower("template_category"),
            charge=Case(
                When(kind=Message.Kind.FREE_FORM, then=Value("free-form")),
                When(conversation__category=Category.FREE_ENTRY_POINT, then=Value("free-entry point")),
                When(
                    Q(template_category__iexact=Category.UTILITY) & Exists(_window_open_at_send(inbound)),
                    then=Value("utility in window"),
                ),
                default=Value("charged"),
                output_field=CharField(),
            ),
        )
        .values("day", "category", "customer__country", "charge")
        .annotate(n=Count("id"))
    )

    by = {
        name: {"current": defaultdict(_Priced), "previous": defaultdict(_Priced)}
        for name in ("conv-category", "conv-country", "conv-day", "msg-category", "msg-country", "msg-day")
    }
    free_messages = defaultdict(int)  # reason -> n (this period)
    for row in conversation_groups:
        day, category, country, n = row["day"], row["category"], row["customer__country"], row["n"]
        which = "current" if day >= period.first else "previous"
        rate = None
        if category != Category.FREE_ENTRY_POINT:
            rate = card.rate(Rate.PricingModel.CONVERSATION, category, country, day)
        for name, key in (("conv-category", category), ("conv-country", country), ("conv-day", day)):
            priced = by[name][which][key]
            priced.count += n
            if category == Category.FREE_ENTRY_POINT:
                continue
            if rate is None:
                priced.unpriced += n
            else:
                priced.charged += n
                priced.amounts.add(rate.currency, rate.price * n)
    for row in message_groups:
        day, category, country, charge, n = (
            row["day"],
            row["category"],
            row["customer__country"],
            row["charge"],
            row["n"],
        )
        which = "current" if day >= period.first else "previous"
        if charge != "charged":
            if which == "current":
                free_messages[charge] += n
            if charge == "free-form":
                continue
        rate = card.rate(Rate.PricingModel.MESSAGE, category, country, day) if charge == "charged" else None
        for name, key in (("msg-category", category), ("msg-country", country), ("msg-day", day)):
            priced = by[name][which][key]
            priced.count += n
            if charge != "charged":
                continue
            if rate is None:
                priced.unpriced += n
            else:
                priced.charged += n
                priced.amounts.add(rate.currency, rate.price * n)

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
    currency = _main_currency(conv_now, msg_now, card)

    report.add(
        Table(
            "categories",
            "Estimated cost per category, both pricing models",
            [
                "category",
                "conversations",
                "cost per conversation",
                "template messages",
                "charged messages",
                "cost per message",
                "difference",
            ],
            rows=[
                [
                    c.label,
                    by["conv-category"]["current"][c.value].count,
                    by["conv-category"]["current"][c.value].amounts,
                    by["msg-category"]["current"][c.value].count if c in TEMPLATE_CATEGORIES else 0,
                    by["msg-category"]["current"][c.value].charged if c in TEMPLATE_CATEGORIES else 0,
                    by["msg-category"]["current"][c.value].amounts if c in TEMPLATE_CATEGORIES else Amounts(),
                    _difference(
                        by["msg-category"]["current"][c.value].amounts
                        if c in TEMPLATE_CATEGORIES
                        else Amounts(),
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
            "free. Per message: each template message at its category's rate; utility templates inside an "
            "open customer service window, everything inside a free-entry point and every free-form "
            "message are free. Difference = per message - per conversation.",
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
                "template messages",
                "charged messages",
                "cost per message",
            ],
            rows=[
                [
                    country or "unknown",
                    by["conv-country"]["current"][country].count,
                    by["conv-country"]["current"][country].amounts,
                    by["msg-country"]["current"][country].count,
                    by["msg-country"]["current"][country].charged,
                    by["msg-country"]["current"][country].amounts,
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
            ],
        )
    )
    dates = period.dates()
    report.add(
        Table(
            "per-day",
            "Estimated cost per day",
            ["day", "conversations", "cost per conversation", "charged messages", "cost per message"],
            rows=[
                [
                    d,
                    by["conv-day"]["current"][d].count,
                    by["conv-day"]["current"][d].amounts,
                    by["msg-day"]["current"][d].charged,
                    by["msg-day"]["current"][d].amounts,
                ]
                for d in dates
            ],
            totals=["total", conv_now.count, conv_now.amounts, msg_now.charged, msg_now.amounts],
        )
    )
    report.charts.append(
        (
            charts.bar_chart(
                slug="cost-per-day",
                title=f"Estimated cost per day ({currency}), both pricing models",
                description=f"Two bars per day from {period.label()} ({tz.key}): priced per conversation and "
                "per message; the table below has the same numbers.",
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
                ],
                x_label=f"Day ({tz.key})",
                y_label=f"Estimated cost ({currency})",
                stacked=False,
            ),
            "per-day",
        )
    )
    report.add(
        Table(
            "free-messages",
            "Messages free under per-message pricing",
            ["why free", "messages"],
            rows=[
                [reason, free_messages[reason]]
                for reason in ("free-form", "utility in window", "free-entry point")
            ],
            totals=["total", sum(free_messages.values())],
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
    unpriced = conv_now.unpriced + msg_now.unpriced
    if unpriced:
        report.notes.append(
            f"{conv_now.unpriced} conversation(s) and {msg_now.unpriced} message(s) have no rate for their "
            "category, country and day in the rate card: they are not in the estimate. "
            "An admin can add rates."
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
            f"{msg_now.charged} charged template messages",
        ),
        Card(
            "Per message - per conversation",
            _difference(msg_now.amounts, conv_now.amounts),
            hint="what the newer model changes",
        ),
    ]
    return report


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
