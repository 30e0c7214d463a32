"""The messages where our per-message estimate and the platform differ, as the cost report lists them:
found live in one query from the grouped figures (reports.selectors.pricing_figures), then put in words."""

from __future__ import annotations

import operator
from collections import defaultdict
from datetime import date, timedelta
from functools import reduce

from django.db.models import BooleanField, Case, ExpressionWrapper, Q, Value, When

from conversations import policy
from conversations.models import Message
from reports import facts, pricing
from reports.periods import Period, local_midnight
from reports.pricing import FreeRules
from reports.selectors import common
from reports.selectors.common import Report, as_date
from reports.selectors.pricing_figures import CostFigures, category_differs

COLUMNS = (
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
)


def day_runs(differing: set[date], agreeing: set[date]) -> list[tuple[date, date]]:
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


def _since(period: Period, per_day: dict[date, int]) -> date:
    """The newest day that, with the later ones, holds enough differing messages to fill the list: no
    need to look before."""
    found_so_far = 0
    for day in sorted(per_day, reverse=True):
        found_so_far += per_day[day]
        if found_so_far > common.LIST_LIMIT:
            return day
    return period.first


def _variants(figures: CostFigures, since: date, tz, fep) -> dict[tuple, list[Q]]:
    """(category, the platform's category, type, charged) -> each (free-entry point, window, days) that
    differ."""
    variants = defaultdict(list)
    for combination, days in figures.differing.items():
        category, in_free_entry_point, in_window, pricing_category, pricing_type, charged = combination
        for first, last in day_runs(
            {d for d in days if d >= since}, figures.agreeing.get(combination, set())
        ):
            variants[(category, pricing_category, pricing_type, charged)].append(
                Q(
                    occurred_at__gte=local_midnight(first, tz),
                    occurred_at__lt=local_midnight(last + timedelta(days=1), tz),
                )
                & (Q(fep) if in_free_entry_point else ~Q(fep))
                & Q(in_window=in_window)
            )
    return variants


def differing_messages(report: Report, figures: CostFigures) -> list[dict]:
    """The messages of the groups where our estimate and the platform differ, newest first: live, one
    query. It looks only at the combinations and days the grouped figures found differing, from the
    newest day that, with the later ones, holds enough of them to fill the list. For each message its
    own columns are read first (category, the platform's category, type and verdict, the day), and only
    where they match its conversation (a free-entry point?) and the customer's messages (was the window
    open?): a CASE, so the planner cannot move those lookups before the cheap tests. No join before the
    newest are found: the planner cannot guess how few messages match."""
    period, tz = report.period, report.period.tz
    fep = facts.in_free_entry_point_lookup()
    since = _since(period, figures.differing_per_day)
    variants = _variants(figures, since, tz, fep)
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
    span = Period(since, period.last, tz, now=report.now)
    messages = facts.with_pricing(facts.sent_messages(span), tz).filter(
        platform_pricing_model=policy.PER_MESSAGE
    )
    if not report.scope.is_team:
        messages = messages.filter(agent_id=report.scope.agent_id)
    # The keys in plain columns too, where the planner sees them (the CASE alone hides them). Nothing
    # differs: the same query, finding nothing (a page runs the same queries whatever its data).
    keys = reduce(operator.or_, [Q(pricing_category=pc, pricing_type=pt) for _, pc, pt, _ in variants], Q())
    messages = messages.filter(keys, differs) if variants else messages.filter(Value(False))
    newest = messages.order_by("-occurred_at", "-id").values("id")[: common.LIST_LIMIT + 1]
    found = facts.with_pricing(Message.objects.filter(id__in=newest), tz).annotate(in_free_entry_point=fep)
    # Sorted here: ordered in SQL, the planner may walk every message by time to meet the few found.
    rows = found.values(*COLUMNS).order_by()
    return sorted(rows, key=lambda row: (row["occurred_at"], row["id"]), reverse=True)


def _free_by(rules: FreeRules, row: dict):
    return rules.free_by(
        day=as_date(row["day"]),
        category=row["category"],
        in_free_entry_point=bool(row["in_free_entry_point"]),
        in_window=bool(row["in_window"]),
    )


def estimate_words(rules: FreeRules, row: dict) -> str:
    free_by = _free_by(rules, row)
    return f"free: {pricing.free_reason(free_by).lower()}" if free_by else "charged"


def what_differs(rules: FreeRules, row: dict) -> str:
    free_for_us, charged = _free_by(rules, row) is not None, bool(row["charged_by_platform"])
    differences = []
    if free_for_us and charged:
        differences.append("free for us, charged by the platform")
    elif not free_for_us and not charged:
        differences.append("charged by us, free on the platform")
    if category_differs(row["category"], row["pricing_category"]):
        differences.append(f"charged as {row['pricing_category']}")
    return "; ".join(differences)


def platform_words(row: dict) -> str:
    verdict = "charged" if row["charged_by_platform"] else "free"
    return f"{verdict}: {row['pricing_category'] or '(no category)'}, {row['pricing_type'] or '(no type)'}"
