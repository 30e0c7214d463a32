"""Reads for the reports: each report (conversations, windows, costs: a module each) is a short
composition of named sections, each adding its tables (and chart) to a Report (common).

Every figure is an aggregate computed by the database (SUM and COUNT grouped by business day,
category, country, agent); Python only arranges the grouped rows, which are bounded by days x
categories x countries x agents (and duration buckets), never one per conversation or message.
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

from reports.selectors.common import LIST_LIMIT, Card, Report, Scope, Sources, rolled_up_through
from reports.selectors.conversations import conversation_report
from reports.selectors.costs import cost_report
from reports.selectors.windows import window_report

REPORTS = {
    "conversations": conversation_report,
    "windows": window_report,
    "costs": cost_report,
}

__all__ = [
    "LIST_LIMIT",
    "REPORTS",
    "Card",
    "Report",
    "Scope",
    "Sources",
    "conversation_report",
    "cost_report",
    "rolled_up_through",
    "window_report",
]
