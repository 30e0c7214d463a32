# ruff: noqa: S608 — only our own SQL fragments and quoted table names are interpolated; values are parameters
"""What the reports count, per business day, each defined once as SQL.

A fact is a grouped query over the conversations or messages of a span of whole business days, one row
per day and key (category, country, agent, bucket …). The same SQL fills the rollup tables
(reports.services.refresh_rollup: INSERT … SELECT) and counts the days not rolled up yet live
(reports.selectors), so a day gives the same rows either way. A page reads `Fact.rows_sql`: the rollup's
rows for its rolled-up days UNION ALL the live rows for the rest, and aggregates them in SQL.

Definitions (README "Reports" states them for supervisors):
- A conversation, window or message belongs to the business day it opened (was sent) on.
- Voided conversations (R9) are counted apart (`voided`) and nowhere else.
- A conversation's length is min(expires_at, closed_at) - opened_at, for those that had ended at the
  span's `now`.
- Customer service windows are R1 replayed in SQL: see `windows_sql`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.db import connection, models
from django.db.models import Case, Count, Exists, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, Lower, TruncDate

from conversations import policy
from conversations.models import Assignment, Conversation, Message
from reports.models import (
    ClosedEarlyDay,
    ConversationDay,
    ConversationLengthDay,
    FirstResponseDay,
    MessageDay,
    UnansweredWindow,
)
from reports.periods import Period
from reports.sql import DAY_MS, EpochMs, WholeMs, bucket_ms, epoch_ms, from_epoch_ms, local_date, whole_ms

Category = Conversation.Category
WINDOWS_TABLE = "report_service_windows"


def db_date(value: date):
    return connection.ops.adapt_datefield_value(value)


def db_datetime(value: datetime):
    """A datetime parameter for raw SQL, as the backend stores it (SQLite: UTC text without offset)."""
    return connection.ops.adapt_datetimefield_value(value)


@dataclass(frozen=True)
class Fact:
    model: type[models.Model]
    columns: tuple[str, ...]
    live: Callable[[Period], tuple[str, list]]  # one row per day and key, columns in this order

    @property
    def table(self) -> str:
        return connection.ops.quote_name(self.model._meta.db_table)

    def live_sql(self, span: Period) -> tuple[str, list]:
        sql, params = self.live(span)
        return f"SELECT {', '.join(self.columns)} FROM ({sql}) AS live_", list(params)

    def rows_sql(self, *, rolled_up: tuple[date, date] | None, span: Period | None) -> tuple[str, list]:
        """The fact's rows: from the rollup for the days `rolled_up`, counted live over `span`."""
        parts, params = [], []
        if rolled_up is not None:
            parts.append(f"SELECT {', '.join(self.columns)} FROM {self.table} WHERE day >= %s AND day <= %s")
            params += [db_date(rolled_up[0]), db_date(rolled_up[1])]
        if span is not None and not span.is_empty:
            sql, live_params = self.live_sql(span)
            parts.append(sql)
            params += live_params
        if not parts:
            parts.append(f"SELECT {', '.join(self.columns)} FROM {self.table} WHERE 1 = 0")
        return " UNION ALL ".join(parts), params


def _sql(queryset) -> tuple[str, tuple]:
    return queryset.order_by().query.sql_with_params()


# --- Conversations ----------------------------------------------------------------------------------


def _in_span(span: Period, field_name: str = "opened_at") -> Q:
    return Q(**{f"{field_name}__gte": span.start, f"{field_name}__lt": span.end})


def _live_conversations(span: Period):
    voided = Q(status=Conversation.Status.VOIDED)
    return _sql(
        Conversation.objects.filter(_in_span(span))
        .annotate(
            day=TruncDate("opened_at", tzinfo=span.tz),
            country=F("customer__country"),
            agent_id=F("opening_message__agent"),
        )
        .values("day", "category", "country", "agent_id")
        .annotate(opened=Count("id", filter=~voided), voided=Count("id", filter=voided))
    )


def _live_lengths(span: Period):
    ends_at = Coalesce("closed_at", "expires_at")
    rows = (
        Conversation.objects.exclude(status=Conversation.Status.VOIDED)
        .filter(_in_span(span))
        .annotate(ends_at=ends_at)
        .filter(ends_at__lte=span.now)
        .annotate(
            day=TruncDate("opened_at", tzinfo=span.tz),
            agent_id=F("opening_message__agent"),
            length_ms=WholeMs(EpochMs(ends_at) - EpochMs("opened_at")),
        )
        .values("day", "category", "agent_id", "length_ms")
    )
    sql, params = _sql(rows)
    return (
        f"""SELECT day, category, agent_id, {bucket_ms("length_ms")} AS bucket_ms,
                   COUNT(*) AS conversations, SUM(length_ms) AS total_ms
            FROM ({sql}) AS ended GROUP BY 1, 2, 3, 4""",
        params,
    )


def _live_closed_early(span: Period):
    """R6: conversations a free-entry point opened in the span closed, on the free-entry point's day."""
    rows = (
        Conversation.objects.exclude(status=Conversation.Status.VOIDED)
        .filter(_in_span(span, "closed_by__opened_at"))
        .annotate(
            day=TruncDate("closed_by__opened_at", tzinfo=span.tz),
            agent_id=F("closed_by__opening_message__agent"),
            left_ms=WholeMs(EpochMs("expires_at") - EpochMs("closed_at")),
        )
        .values("day", "category", "agent_id", "left_ms")
    )
    sql, params = _sql(rows)
    return (
        f"""SELECT day, category, agent_id, COUNT(*) AS conversations, SUM(left_ms) AS total_ms
            FROM ({sql}) AS closed GROUP BY 1, 2, 3""",
        params,
    )


CONVERSATIONS = Fact(
    ConversationDay, ("day", "category", "country", "agent_id", "opened", "voided"), _live_conversations
)
LENGTHS = Fact(
    ConversationLengthDay,
    ("day", "category", "agent_id", "bucket_ms", "conversations", "total_ms"),
    _live_lengths,
)
CLOSED_EARLY = Fact(
    ClosedEarlyDay, ("day", "category", "agent_id", "conversations", "total_ms"), _live_closed_early
)


# --- Messages -----------------------------------------------------------------------------------------


def _customer_messages():
    """Messages from the customer of the outer row: they open and extend windows (R1)."""
    return Message.objects.filter(
        customer_id=OuterRef("customer_id"), direction=Message.Direction.INBOUND
    ).exclude(wa_type__in=policy.NOT_FROM_THE_CUSTOMER)


def _our_messages():
    """Our messages to the customer of the outer row that did not fail."""
    return Message.objects.filter(
        customer_id=OuterRef("customer_id"), direction=Message.Direction.OUTBOUND
    ).exclude(status=Message.Status.FAILED)


def _latest(messages):
    return messages.order_by("-occurred_at").values("occurred_at")[:1]


def _platform_pricing_model():
    """How the platform priced a message (policy.pricing_model): what its pricing said; else per message
    when the pricing carries a type (only per-message pricing has one); else, when it carries anything, by
    when the message was sent; blank while the platform has reported no pricing."""
    reported = Q(pricing_model__in=[policy.CONVERSATION_BASED, policy.PER_MESSAGE])
    has_pricing = ~Q(pricing_category="") | Q(billable__isnull=False)
    return Case(
        When(reported, then=F("pricing_model")),
        When(~Q(pricing_type=""), then=Value(policy.PER_MESSAGE)),
        When(
            has_pricing & Q(occurred_at__gte=policy.PER_MESSAGE_PRICING_SINCE), then=Value(policy.PER_MESSAGE)
        ),
        When(has_pricing, then=Value(policy.CONVERSATION_BASED)),
        default=Value(""),
        output_field=models.CharField(),
    )


def _charged_by_platform():
    """The platform charged the message: its per-message type is `regular`; without a type (CBP, or an
    older webhook), `billable` says so."""
    return Case(
        When(pricing_type="regular", then=Value(True)),
        When(~Q(pricing_type=""), then=Value(False)),
        When(billable=True, then=Value(True)),
        default=Value(False),
        output_field=models.BooleanField(),
    )


def sent_messages(span: Period):
    """Our messages sent in the span that reached (or may still reach) the customer: failed ones cost
    nothing."""
    return (
        Message.objects.filter(direction=Message.Direction.OUTBOUND)
        .exclude(status=Message.Status.FAILED)
        .filter(_in_span(span, "occurred_at"))
    )


def in_free_entry_point_lookup() -> Exists:
    """Whether the message of the outer row joined a free-entry-point conversation (R6), as a lookup of
    its conversation (the facts join it instead: the same answer)."""
    return Exists(
        Conversation.objects.filter(pk=OuterRef("conversation_id"), category=Category.FREE_ENTRY_POINT)
    )


def with_pricing(messages, tz: ZoneInfo):
    """Our messages with what per-message pricing asks of each, from its own row and the customer's
    messages (no join): its business day, its category (the template's, or service for a free-form
    message), whether it was inside the customer service window (R1: the customer wrote in (t - 24 h, t];
    a free-form message always is, R2 allowed nothing else), and what the platform's pricing said. The
    facts below and the cost page's list of messages where our estimate and the platform differ read
    them alike."""
    is_template = Q(kind=Message.Kind.TEMPLATE)
    at = OuterRef("occurred_at")
    return messages.annotate(
        day=TruncDate("occurred_at", tzinfo=tz),
        category=Case(
            When(is_template, then=Lower("template_category")),
            default=Value(Category.SERVICE.value),
            output_field=models.CharField(),
        ),
        in_window=Case(
            When(
                is_template,
                then=Exists(
                    _customer_messages().filter(
                        occurred_at__lte=at, occurred_at__gt=at - policy.SERVICE_WINDOW
                    )
                ),
            ),
            default=Value(True),
            output_field=models.BooleanField(),
        ),
        platform_pricing_model=_platform_pricing_model(),
        charged_by_platform=_charged_by_platform(),
    )


def _live_messages(span: Period):
    """Our messages per day and everything the cost and window pages group them by; and whether a template
    was the only way to reply (R2): it answered the customer's last message (nothing of ours reached them
    in between) after their window closed."""
    is_template = Q(kind=Message.Kind.TEMPLATE)
    at = OuterRef("occurred_at")
    rows = (
        with_pricing(sent_messages(span), span.tz)
        .annotate(
            country=F("customer__country"),
            in_free_entry_point=Case(
                When(conversation__category=Category.FREE_ENTRY_POINT, then=Value(True)),
                default=Value(False),
                output_field=models.BooleanField(),
            ),
            # For templates: the customer's last message before it, and ours (not failed) before it. A
            # template after the customer's last message, with nothing of ours in between and the window
            # closed, is a reply that had to be a template (R2).
            customer_wrote_at=Case(
                When(is_template, then=Subquery(_latest(_customer_messages().filter(occurred_at__lt=at)))),
                default=None,
                output_field=models.DateTimeField(),
            ),
            we_wrote_at=Case(
                When(is_template, then=Subquery(_latest(_our_messages().filter(occurred_at__lt=at)))),
                default=None,
                output_field=models.DateTimeField(),
            ),
        )
        .values(
            "day",
            "agent_id",
            "category",
            "country",
            "in_free_entry_point",
            "in_window",
            "customer_wrote_at",
            "we_wrote_at",
            "kind",
            "platform_pricing_model",
            "pricing_category",
            "pricing_type",
            "charged_by_platform",
        )
    )
    sql, params = _sql(rows)
    return (
        f"""SELECT day, agent_id, category, country, in_free_entry_point, in_window,
                   (kind = %s AND NOT in_window AND customer_wrote_at IS NOT NULL
                    AND (we_wrote_at IS NULL OR we_wrote_at < customer_wrote_at)) AS after_closed_window,
                   platform_pricing_model AS pricing_model, pricing_category, pricing_type,
                   charged_by_platform, COUNT(*) AS messages
            FROM ({sql}) AS sent GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11""",
        [Message.Kind.TEMPLATE.value, *params],
    )


MESSAGES = Fact(
    MessageDay,
    (
        "day",
        "agent_id",
        "category",
        "country",
        "in_free_entry_point",
        "in_window",
        "after_closed_window",
        "pricing_model",
        "pricing_category",
        "pricing_type",
        "charged_by_platform",
        "messages",
    ),
    _live_messages,
)


# --- Customer service windows -------------------------------------------------------------------------


def _window_islands(span: Period) -> tuple[str, list]:
    """The first steps of windows_sql, up to its windows: the events read, each customer's windows
    (islands) numbered, and each event ranked in its island."""
    ms = epoch_ms
    not_from_customer = ", ".join(["%s"] * len(policy.NOT_FROM_THE_CUSTOMER))
    # An empty span reads nothing (a constant the planner sees, not a parameter).
    nothing = " AND 1 = 0" if span.is_empty else ""
    sql = f"""
    WITH events AS (
        SELECT customer_id, occurred_at, {ms("occurred_at")} AS t, agent_id,
               CASE WHEN direction = 'inbound' THEN 1 ELSE 0 END AS inbound
        FROM conversations_message
        WHERE occurred_at >= %s AND occurred_at <= %s{nothing}
          AND customer_id IN (SELECT customer_id FROM conversations_message
                              WHERE direction = 'inbound' AND occurred_at >= %s AND occurred_at < %s)
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
"""
    params = [
        db_datetime(span.start - policy.SERVICE_WINDOW),
        db_datetime(span.now),
        db_datetime(span.start),
        db_datetime(span.end),
        *sorted(policy.NOT_FROM_THE_CUSTOMER),
    ]
    return sql, params


def windows_sql(span: Period) -> tuple[str, list]:
    """SELECT one row per customer service window opened in the span, with its outcome at `span.now`.
    This is policy.service_windows (R1) as SQL ("gaps and islands"), in one ordered pass over the
    messages with window functions, no per-window lookups:

    - events: customer messages (they open and extend windows) and agents' replies that did not fail;
    - a customer message 24 h or more after the customer's previous one starts a new window (island);
      a running count of starts numbers the windows, and a reply belongs to the window of the latest
      customer message before it;
    - a window ends 24 h after its last customer message, or when the platform closed it (131047);
    - its first reply is the earliest reply in the island: answered in time if before the end, else lost
      once the window has closed, else waiting;
    - an answered window is the agent's who held the thread at its first reply (the assignment history,
      `holder_at`), else, when nobody held it, the agent who sent that reply.

    Only messages from 24 h before the span on are read: an earlier message cannot change whether a
    later one opens a window (the gap is already 24 h or more); and only those of customers who wrote
    in the span (nobody else opened a window in it), so an old span reads its customers' later
    messages, not every message since.
    """
    ms = epoch_ms
    day_sql, day_params = local_date("opened_at", span.tz.key)
    islands, islands_params = _window_islands(span)
    sql = f"""{islands}    windows AS (
        SELECT customer_id,
               MIN(CASE WHEN inbound = 1 THEN occurred_at END) AS opened_at,
               MIN(CASE WHEN inbound = 1 THEN t END) AS start_t,
               MAX(CASE WHEN inbound = 1 THEN t END) + {DAY_MS} AS natural_end_t,
               MIN(CASE WHEN inbound = 0 THEN t END) AS reply_t,
               MIN(CASE WHEN inbound = 0 THEN occurred_at END) AS replied_at,
               MAX(CASE WHEN inbound = 0 AND rn = 1 THEN agent_id END) AS replier_id
        FROM ranked
        GROUP BY customer_id, island
        HAVING MIN(CASE WHEN inbound = 1 THEN occurred_at END) >= %s
           AND MIN(CASE WHEN inbound = 1 THEN occurred_at END) < %s
    ),
    bounded AS (
        SELECT w.customer_id, w.opened_at, w.start_t, w.reply_t,
               COALESCE({holder_at("w.customer_id", "w.replied_at")}, w.replier_id) AS replier_id,
               CASE WHEN c.platform_window_closed_at IS NOT NULL
                         AND {ms("c.platform_window_closed_at")} >= w.start_t
                         AND {ms("c.platform_window_closed_at")} < w.natural_end_t
                    THEN {ms("c.platform_window_closed_at")} ELSE w.natural_end_t END AS end_t
        FROM windows w JOIN conversations_customer c ON c.id = w.customer_id
    )
    SELECT customer_id, opened_at, {day_sql} AS day, {from_epoch_ms("end_t")} AS closed_at,
           CASE WHEN reply_t < end_t THEN replier_id END AS responder_id,
           CASE WHEN reply_t < end_t THEN {whole_ms("reply_t - start_t")} END AS response_ms,
           CASE WHEN reply_t < end_t THEN 'answered' WHEN end_t <= %s THEN 'lost' ELSE 'waiting' END
               AS outcome
    FROM bounded
    """
    params = [
        *islands_params,
        db_datetime(span.start),
        db_datetime(span.end),
        *day_params,
        int(span.now.timestamp() * 1000),
    ]
    return sql, params


@contextmanager
def service_windows(cursor, span: Period) -> Iterator[str]:
    """The windows opened in `span`, in a temporary table private to this connection, which the window
    facts' live rows are read from."""
    table = connection.ops.quote_name(WINDOWS_TABLE)
    sql, params = windows_sql(span)
    cursor.execute(f"DROP TABLE IF EXISTS {table}")
    cursor.execute(f"CREATE TEMPORARY TABLE {table} AS {sql}", params)
    try:
        yield table
    finally:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")


def holder_at(customer: str, moment: str) -> str:
    """SQL for the agent who held `customer`'s thread at `moment` (column expressions): the assignment
    history's row whose [started_at, ended_at) holds it (conversations.Assignment; NULL: nobody did)."""
    table = connection.ops.quote_name(Assignment._meta.db_table)
    return f"""(SELECT h.agent_id FROM {table} h
                 WHERE h.customer_id = {customer} AND h.started_at <= {moment}
                   AND (h.ended_at IS NULL OR h.ended_at > {moment})
                 ORDER BY h.started_at DESC, h.id DESC LIMIT 1)"""


def _live_first_responses(span: Period):
    table = connection.ops.quote_name(WINDOWS_TABLE)
    return (
        f"""SELECT day, responder_id AS agent_id, {bucket_ms("response_ms")} AS bucket_ms,
                   COUNT(*) AS windows, SUM(response_ms) AS total_ms
            FROM {table} WHERE outcome = 'answered' GROUP BY 1, 2, 3""",
        [],
    )


def _live_unanswered(span: Period):
    table = connection.ops.quote_name(WINDOWS_TABLE)
    return (
        f"SELECT day, customer_id, opened_at, closed_at, outcome FROM {table} WHERE outcome <> 'answered'",
        [],
    )


# Read from the windows table: only inside `service_windows` over the same span.
FIRST_RESPONSES = Fact(
    FirstResponseDay, ("day", "agent_id", "bucket_ms", "windows", "total_ms"), _live_first_responses
)
UNANSWERED = Fact(
    UnansweredWindow, ("day", "customer_id", "opened_at", "closed_at", "outcome"), _live_unanswered
)
