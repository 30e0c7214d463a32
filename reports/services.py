# ruff: noqa: S608 — only quoted table names and column lists are interpolated; values are parameters
"""Writes: the daily rollup the report pages read for past days (reports.models, reports.facts).

`refresh_rollup` rolls up every business day that is old enough, oldest first, without gaps:

- a day is rolled up once it ended ROLLUP_HORIZON ago (late webhooks, failures that void a conversation
  and windows closing 24 h later have happened by then) with nothing opened on it still undecided (a
  conversation still open, a window still open that nobody answered), or once it ended PENDING_LIMIT
  ago, as things stand then;
- days are computed as a range, in one transaction: the range's rows are deleted and inserted again
  (INSERT … SELECT of the same SQL the pages use live), so a run is idempotent and a re-run of old days
  (`manage.py rollup_reports --from … --to …`) replaces them;
- a rolled-up day whose data changed since (a failure reported late voiding a conversation, a customer
  message delivered days late, the platform correcting a conversation's category or expiry) is computed
  again by the next run: every run looks for what changed since the previous one (messages that failed
  or arrived late, statuses that brought the platform's pricing, conversations whose status changed,
  discrepancies the platform reported; indexed) and recomputes their days and the day before (a window
  opened then may have been answered on the day). A receipt for a message without pricing changes no
  figure and recomputes nothing;
- a run claims the work first (a PostgreSQL advisory lock; SQLite's write lock serialises anyway), so
  two runs at once never both write: the second skips, or waits when asked to.

The pages count every day after the last rolled-up one live, so the rollup is never more stale than
the data it was computed from; what can go stale is a change to a day after it was rolled up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Min, Q
from django.db.models.functions import TruncDate

from conversations import policy
from conversations.models import Conversation, ConversationDiscrepancy, Message
from reports import facts
from reports.models import ROLLUP_TABLES, RollupDay, RollupState
from reports.periods import Period, local_midnight
from reports.selectors import rolled_up_through

logger = logging.getLogger(__name__)

ROLLUP_HORIZON = timedelta(days=3)
PENDING_LIMIT = timedelta(days=7)
# Changes are looked for from this long before the previous run: a change committed while that run
# worked is found by the next one (recomputing a day twice changes nothing).
CHANGE_MARGIN = timedelta(minutes=10)
# pg_advisory_xact_lock key: "reports.refresh_rollup" has the lock while it works.
ROLLUP_LOCK = 0x7265706F7274  # "report"

WRITTEN_FACTS = (facts.CONVERSATIONS, facts.LENGTHS, facts.CLOSED_EARLY, facts.MESSAGES)
WINDOW_FACTS = (facts.FIRST_RESPONSES, facts.UNANSWERED)


@dataclass(frozen=True)
class RollupRun:
    computed: tuple[date, date] | None  # the days recomputed, if any
    rolled_up_through: date | None  # the last rolled-up day after the run
    skipped: bool = False  # another run had the work
    changed: tuple[tuple[date, date], ...] = ()  # rolled-up days computed again because their data changed

    def __str__(self):
        if self.skipped:
            return "skipped: another run is rolling up"
        done = f"computed {self.computed[0]} to {self.computed[1]}" if self.computed else "nothing to compute"
        if self.changed:
            done += "; changed since rolled up, computed again: " + ", ".join(
                str(first) if first == last else f"{first} to {last}" for first, last in self.changed
            )
        return f"{done}; rolled up through {self.rolled_up_through or 'no day yet'}"


def business_time_zone() -> ZoneInfo:
    return ZoneInfo(settings.BUSINESS_TIME_ZONE)


def last_day_to_roll_up(tz: ZoneInfo, now: datetime, horizon: timedelta = ROLLUP_HORIZON) -> date:
    """The latest day that ended `horizon` ago or more."""
    return (now - horizon).astimezone(tz).date() - timedelta(days=1)


def refresh_rollup(
    *,
    now: datetime,
    recompute: tuple[date, date] | None = None,
    wait: bool = False,
    horizon: timedelta = ROLLUP_HORIZON,
) -> RollupRun:
    """Roll up the days that have become old enough; with `recompute`, also compute those days again
    (never one inside the horizon). Returns what was done. `wait`: wait for a run in progress instead of
    skipping. `horizon`: how long after its end a day may be rolled up (today never is)."""
    policy.require_aware(now)
    tz = business_time_zone()
    with transaction.atomic():
        if not _claim(wait=wait):
            return RollupRun(None, None, skipped=True)
        _forget_other_time_zones(tz)
        days = _days_to_compute(tz, now, recompute, last_day_to_roll_up(tz, now, horizon))
        changed = _changed_ranges(tz, now, skip=days)
        if days is not None:
            _compute(days[0], days[1], tz=tz, now=now)
        # After the new days: a changed day found undecided again drops itself and every later day
        # (counted live until a later run), so the rolled-up days never have a gap.
        for first, last in changed:
            through = rolled_up_through(tz)
            if through is None or first > through:
                break  # an earlier range dropped these days: they are counted live now
            _compute(first, min(last, through), tz=tz, now=now)
        run = RollupRun(days, rolled_up_through(tz), changed=tuple(changed))
    logger.info("report rollup: %s", run)
    return run


def _changed_ranges(
    tz: ZoneInfo, now: datetime, *, skip: tuple[date, date] | None
) -> list[tuple[date, date]]:
    """The rolled-up days whose conversations or messages changed since the previous run looked (and
    the day before each), as ranges of consecutive days; `skip`: days this run computes anyway. Records
    that changes have been looked for until `now`."""
    state = RollupState.objects.select_for_update().first()
    through = rolled_up_through(tz)
    if state is None or through is None:
        RollupState.objects.update_or_create(pk=1, defaults={"changes_checked_at": now})
        return []
    since = state.changes_checked_at - CHANGE_MARGIN
    end = local_midnight(through + timedelta(days=1), tz)
    days: set[date] = set()
    for queryset, field_name in (
        (Message.objects.filter(_message_changes_since(since)), "occurred_at"),
        (Conversation.objects.filter(status_changed_at__gte=since), "opened_at"),
        (ConversationDiscrepancy.objects.filter(recorded_at__gte=since), "conversation__opened_at"),
    ):
        found = (
            queryset.filter(**{f"{field_name}__lt": end})
            .annotate(day=TruncDate(field_name, tzinfo=tz))
            .values_list("day", flat=True)
            .distinct()
            .order_by()
        )
        for day in found:
            day = _as_date(day)
            days |= {day - timedelta(days=1), day}  # a window opened the day before may end on it
    state.changes_checked_at = now
    state.save(update_fields=["changes_checked_at"])
    first_rolled_up = RollupDay.objects.filter(time_zone=tz.key).aggregate(first=Min("day"))["first"]
    days = {d for d in days if first_rolled_up <= d <= through}
    if skip is not None:
        days = {d for d in days if not skip[0] <= d <= skip[1]}
    ranges: list[tuple[date, date]] = []
    for day in sorted(days):
        if ranges and ranges[-1][1] == day - timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def _message_changes_since(since: datetime) -> Q:
    """Messages whose figures may have changed since `since`: recorded since (a customer message delivered
    late), failed since, or whose status moved since on a message that has the platform's pricing (the
    status that moved may have brought or changed it: pricing comes with sent, delivered or read). A
    status that moves a message without pricing changes no figure.

    Pricing a status brought without moving the message (a `sent` arriving after `read`) is seen by
    `pricing_changed_at`."""
    status_moved = Q(status_changed_at__gte=since)
    return (
        Q(created_at__gte=since)
        | (status_moved & Q(status=Message.Status.FAILED))
        | (status_moved & Q(pricing__isnull=False))
        | Q(pricing_changed_at__gte=since)
    )


def _claim(*, wait: bool) -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite: the transaction holds the database's single write lock
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ROLLUP_LOCK])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [ROLLUP_LOCK])
        return cursor.fetchone()[0]


def _forget_other_time_zones(tz: ZoneInfo) -> None:
    """Days are business days: after BUSINESS_TIME_ZONE changes, everything is rolled up again."""
    if RollupDay.objects.exclude(time_zone=tz.key).exists():
        _delete_days(None, None)


def _first_day_with_data(tz: ZoneInfo) -> date | None:
    starts = [
        Conversation.objects.aggregate(first=Min("opened_at"))["first"],
        Message.objects.aggregate(first=Min("occurred_at"))["first"],
    ]
    starts = [start for start in starts if start is not None]
    return min(starts).astimezone(tz).date() if starts else None


def _days_to_compute(
    tz: ZoneInfo, now: datetime, recompute: tuple[date, date] | None, last_allowed: date
) -> tuple[date, date] | None:
    """One range of days: the days not rolled up yet up to `last_allowed`, any days with data before
    the first rolled-up one, and the days asked for; the rolled-up days stay without a gap."""
    bounds = RollupDay.objects.aggregate(first=Min("day"), last=Max("day"))
    first_data = _first_day_with_data(tz)
    ranges = []
    if bounds["first"] is None:
        if first_data is not None:
            ranges.append((first_data, last_allowed))
    else:
        if first_data is not None and first_data < bounds["first"]:
            ranges.append((first_data, bounds["first"] - timedelta(days=1)))
        ranges.append((bounds["last"] + timedelta(days=1), last_allowed))
    known = [d for d in (first_data, bounds["first"]) if d is not None]
    if recompute is not None and known:
        # Days before the first with data hold nothing to recompute.
        ranges.append((max(recompute[0], min(known)), min(recompute[1], last_allowed)))
    ranges = [(first, last) for first, last in ranges if first <= last]
    if not ranges:
        return None
    return min(first for first, _ in ranges), max(last for _, last in ranges)


def _compute(first: date, last: date, *, tz: ZoneInfo, now: datetime) -> None:
    span = Period(first, last, tz, now=now)
    _delete_days(first, last)
    with connection.cursor() as cursor:
        for fact in WRITTEN_FACTS:
            _insert(cursor, fact, span)
        with facts.service_windows(cursor, span) as windows:
            for fact in WINDOW_FACTS:
                _insert(cursor, fact, span)
            cursor.execute(f"SELECT day FROM {windows} WHERE outcome = 'waiting' GROUP BY day")
            undecided = {_as_date(day) for (day,) in cursor.fetchall()}
    still_open = (
        Conversation.objects.exclude(status=Conversation.Status.VOIDED)
        .filter(opened_at__gte=span.start, opened_at__lt=span.end, expires_at__gt=now)
        .exclude(closed_at__lte=now)
        .annotate(day=TruncDate("opened_at", tzinfo=tz))
        .values_list("day", flat=True)
        .distinct()
        .order_by()
    )
    undecided |= {_as_date(day) for day in still_open}

    final_through = first - timedelta(days=1)
    day = first
    while day <= last:
        pending = day in undecided and local_midnight(day + timedelta(days=1), tz) + PENDING_LIMIT > now
        if pending:
            break
        final_through = day
        day += timedelta(days=1)
    if final_through < last:
        # A day still undecided: it and every later day are counted live until a later run.
        _delete_days(final_through + timedelta(days=1), None)
    RollupDay.objects.bulk_create(
        [
            RollupDay(day=first + timedelta(days=n), time_zone=tz.key, computed_at=now)
            for n in range((final_through - first).days + 1)
        ]
    )
    if connection.vendor == "postgresql":
        # Fresh statistics, or the planner takes a backfill's hundreds of thousands of rows for a few.
        with connection.cursor() as cursor:
            for model in (*ROLLUP_TABLES, RollupDay):
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def _insert(cursor, fact: facts.Fact, span: Period) -> None:
    sql, params = fact.live_sql(span)
    cursor.execute(f"INSERT INTO {fact.table} ({', '.join(fact.columns)}) {sql}", params)


def _delete_days(first: date | None, last: date | None) -> None:
    """Delete the rollup's rows and days in [first, last] (None: unbounded)."""
    where, params = [], []
    if first is not None:
        where.append("day >= %s")
        params.append(facts.db_date(first))
    if last is not None:
        where.append("day <= %s")
        params.append(facts.db_date(last))
    condition = f" WHERE {' AND '.join(where)}" if where else ""
    with connection.cursor() as cursor:
        for model in (*ROLLUP_TABLES, RollupDay):
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"DELETE FROM {table}{condition}", params)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
