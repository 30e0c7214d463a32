"""The thread's status in the team's work: open, pending (waiting for the customer), snoozed until a
time, resolved. Agents change it here; the customer's next message reopens it (inbound.receive_message,
in the same transaction: `reopen_on_inbound`); a snooze ends at its instant by itself (reads ask
policy.thread_status_at), and `end_due_snoozes` only tidies the column.

Sending a reply does not change the status: the list already says who spoke last ("needs reply"), and
"pending" is the agent's own statement that the thread waits on the customer.

Each change is one transaction with the customer row locked, the clock read once after the lock, and
stamped with its instant and who made it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import F

from conversations import policy, selectors
from conversations.exceptions import InvalidStatusChange, ResolveNeedsConfirmation
from conversations.models import Customer, ThreadStatus
from conversations.services._common import lock_customer

logger = logging.getLogger(__name__)


def _changed(
    customer: Customer, status: str, *, now: datetime, by, until: datetime | None = None
) -> Customer:
    customer.status = status
    customer.snoozed_until = until
    customer.status_changed_at = now
    customer.status_changed_by = by
    customer.save(update_fields=["status", "snoozed_until", "status_changed_at", "status_changed_by"])
    return customer


def resolve(*, customer: Customer, agent, confirm: bool = False, now: datetime | None = None) -> Customer:
    """Resolve the thread. When the customer's last message is unanswered while the window is still
    open (a reply is still possible), refuse with ResolveNeedsConfirmation unless `confirm`: the agent
    saw the warning and resolves anyway."""
    with transaction.atomic():
        customer = lock_customer(customer)
        now = selectors.resolve_now(now)
        window = selectors.service_window(customer, now=now)
        if not confirm and policy.resolve_needs_confirmation(
            last_turn_direction=customer.last_turn_direction, window=window
        ):
            raise ResolveNeedsConfirmation(window.closes_at)
        return _changed(customer, ThreadStatus.RESOLVED, now=now, by=agent)


def snooze(*, customer: Customer, until: datetime, agent, now: datetime | None = None) -> Customer:
    """Hide the thread from the working views until `until` (aware, later than now); it comes back by
    itself then, or earlier when the customer writes."""
    if until is None or until.tzinfo is None or until.utcoffset() is None:
        raise InvalidStatusChange("Choose when the snooze ends: a date and a time.")
    with transaction.atomic():
        customer = lock_customer(customer)
        now = selectors.resolve_now(now)
        if until <= now:
            raise InvalidStatusChange("A snooze must end in the future: choose a later time.")
        return _changed(customer, ThreadStatus.SNOOZED, now=now, by=agent, until=until)


def mark_pending(*, customer: Customer, agent, now: datetime | None = None) -> Customer:
    """The thread waits for the customer (it stays in the working views, marked pending)."""
    with transaction.atomic():
        customer = lock_customer(customer)
        now = selectors.resolve_now(now)
        return _changed(customer, ThreadStatus.PENDING, now=now, by=agent)


def reopen(*, customer: Customer, agent, now: datetime | None = None) -> Customer:
    """Back to open, whatever it was (a resolved, snoozed or pending thread)."""
    with transaction.atomic():
        customer = lock_customer(customer)
        now = selectors.resolve_now(now)
        return _changed(customer, ThreadStatus.OPEN, now=now, by=agent)


def reopen_on_inbound(customer: Customer, *, now: datetime) -> set[str]:
    """The customer wrote: a resolved, snoozed or pending thread is open again. Called by receive_message
    with the row locked, in its transaction; returns the fields changed for its `update_fields`."""
    if customer.status == ThreadStatus.OPEN:
        return set()
    customer.status = ThreadStatus.OPEN
    customer.snoozed_until = None
    customer.status_changed_at = now
    customer.status_changed_by = None
    return {"status", "snoozed_until", "status_changed_at", "status_changed_by"}


def end_due_snoozes(*, now: datetime | None = None) -> int:
    """Tidying only (reads never wait for it): snoozes that ended at or before `now` become open, stamped
    with the instant each ended. One bulk UPDATE; idempotent and safe to run twice at once (the WHERE is
    re-checked under each row's lock, so a row reopened or snoozed again meanwhile is left alone)."""
    now = selectors.resolve_now(now)
    ended = Customer.objects.filter(status=ThreadStatus.SNOOZED, snoozed_until__lte=now)
    count = ended.update(
        status=ThreadStatus.OPEN,
        status_changed_at=F("snoozed_until"),
        snoozed_until=None,
        status_changed_by=None,
    )
    if count:
        logger.info("%d snooze(s) ended as of %s", count, now.isoformat())
    return count
