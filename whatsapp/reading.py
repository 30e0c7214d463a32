"""Read marks: when an agent opens a customer's thread, WhatsApp is told the customer's messages were read
(the customer sees blue ticks). The platform's call marks one message and every earlier one of the chat
(Meta, "Mark messages as read"), so only the latest customer message is marked, once.

The inbox asks (`request_read_mark`, after commit, no query: the customer row says whether a customer
message came in since the last marking); a task (`whatsapp.mark_read`) runs `mark_read`, which claims the
message with an atomic update on the customer row, so two agents opening the thread at once post one
call; it posts outside any transaction, and records what the platform answered. Reactions and platform
notices are not marked, nor messages older than the platform accepts (30 days).

The same call with a typing indicator shows the customer "typing…" while an agent writes a reply
(`request_typing_indicator`, then the task `whatsapp.typing_indicator` runs `indicate_typing`): asked at
most every 20 s per customer, claimed on the customer row like the read mark, only inside the window.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from conversations import policy, selectors
from conversations.models import Customer, Message
from whatsapp.client import PlatformError, read_payload
from whatsapp.services import SEND_MAX_ATTEMPTS, client, send_retry_delay

logger = logging.getLogger(__name__)

# Meta: "Mark incoming messages as read within 30 days of receipt."
READ_MARK_WITHIN = timedelta(days=30)
# Not the customer writing to us: a reaction belongs to another message; a notice comes from the platform.
NOT_MARKED_READ = frozenset({"reaction", *policy.NOT_FROM_THE_CUSTOMER})
READ_MAX_ATTEMPTS = SEND_MAX_ATTEMPTS


def read_mark_due(customer: Customer, *, now: datetime) -> bool:
    """Whether a customer message came in, recently enough to be marked, since the marking last dealt
    with the thread. Reads only the row: the inbox asks on every open and poll."""
    latest = customer.last_inbound_at
    if latest is None or latest < now - READ_MARK_WITHIN:
        return False
    return customer.platform_read_through is None or latest > customer.platform_read_through


def request_read_mark(customer: Customer, *, now: datetime) -> bool:
    """An agent opened the thread: queue the read mark after commit when one is due. `robust`: a broker
    that is down costs the customer their blue ticks until the next open, never the agent their page."""
    if not read_mark_due(customer, now=now):
        return False
    transaction.on_commit(partial(_dispatch, customer.pk), robust=True)
    return True


def _dispatch(customer_id: int) -> None:
    from whatsapp.tasks import mark_read

    mark_read.delay(customer_id)


def latest_markable(customer_id: int, *, now: datetime) -> Message | None:
    """The customer's latest message that WhatsApp can mark read: theirs, with a wamid, recent enough."""
    return (
        Message.objects.filter(
            customer_id=customer_id,
            direction=Message.Direction.INBOUND,
            occurred_at__gte=now - READ_MARK_WITHIN,
            wamid__isnull=False,
        )
        .exclude(wa_type__in=NOT_MARKED_READ)
        .exclude(wamid="")
        .order_by("-occurred_at", "-id")
        .only("pk", "wamid", "occurred_at")
        .first()
    )


@dataclass(frozen=True)
class ReadOutcome:
    """What mark_read did; `retry_in` seconds (for `wamid`) when the platform may take it later."""

    result: str
    wamid: str = ""
    retry_in: int | None = None


def mark_read(customer_id: int, *, claimed: str = "", attempt: int = 1) -> ReadOutcome:
    """Mark the customer's latest message read on WhatsApp, unless it already was (or is being).

    A first attempt finds the message and claims it; a retry (`claimed`, the wamid its first attempt
    claimed) posts again only while that claim stands unconfirmed: a newer message claimed since
    supersedes it (marking the newer one marks it too)."""
    now = timezone.now()
    if claimed:
        wamid = claimed
        if not Customer.objects.filter(
            pk=customer_id, platform_read_wamid=wamid, platform_read_at__isnull=True
        ).exists():
            return ReadOutcome("superseded", wamid)
    else:
        covered = Customer.objects.filter(pk=customer_id).values_list("last_inbound_at", flat=True).first()
        message = latest_markable(customer_id, now=now)
        if message is None or not _claim(customer_id, message, covered):
            _cover(customer_id, covered)
            return ReadOutcome("nothing to mark")
        wamid = message.wamid
    try:
        with client() as platform:
            platform.mark_read(read_payload(wamid))
    except PlatformError as error:
        return _handle_error(customer_id, wamid, error, attempt)
    Customer.objects.filter(pk=customer_id, platform_read_wamid=wamid, platform_read_at__isnull=True).update(
        platform_read_at=timezone.now()
    )
    logger.info("customer %s: %s marked read on WhatsApp", customer_id, wamid)
    return ReadOutcome("marked", wamid)


def _claim(customer_id: int, message: Message, covered: datetime | None) -> bool:
    """Take `message` for marking, once: an atomic update of the customer row wins or does nothing. It
    does nothing when the message is already marked (or claimed), or when a later one was."""
    through = max(message.occurred_at, covered or message.occurred_at)
    return bool(
        Customer.objects.filter(pk=customer_id)
        .exclude(platform_read_wamid=message.wamid)
        .filter(Q(platform_read_through__isnull=True) | Q(platform_read_through__lte=message.occurred_at))
        .update(
            platform_read_wamid=message.wamid,
            platform_read_at=None,
            platform_read_through=Greatest(
                Coalesce(F("platform_read_through"), Value(through)), Value(through)
            ),
        )
    )


def _cover(customer_id: int, covered: datetime | None) -> None:
    """Nothing (more) to mark up to `covered`: later opens ask again only for a newer customer message."""
    if covered is not None:
        Customer.objects.filter(pk=customer_id).filter(
            Q(platform_read_through__isnull=True) | Q(platform_read_through__lt=covered)
        ).update(platform_read_through=covered)


def _handle_error(customer_id: int, wamid: str, error: PlatformError, attempt: int) -> ReadOutcome:
    # A read mark is harmless to post twice, so an unknown outcome is retried like a passing failure.
    if (error.retryable or error.ambiguous) and attempt < READ_MAX_ATTEMPTS:
        delay = send_retry_delay(attempt)
        logger.warning("customer %s: read mark of %s: %s; retry in %s s", customer_id, wamid, error, delay)
        return ReadOutcome("retry", wamid, retry_in=delay)
    # The claim stays (unconfirmed): opening the thread again does not ask again for this message; the
    # customer's next message is marked, and this one with it.
    logger.error("customer %s: read mark of %s failed for good: %s", customer_id, wamid, error)
    return ReadOutcome("failed", wamid)


# --- The typing indicator ------------------------------------------------------------------------------
# While an agent types a reply, the customer sees "typing…": the read call with a typing indicator
# (whatsapp-cloud-api.md, "Messages beyond text"). The indicator lasts 25 s or until our reply arrives, so
# asking again every 20 s keeps it up; any more often is noise the platform may throttle.
TYPING_EVERY = timedelta(seconds=20)


def request_typing_indicator(customer: Customer, *, now: datetime) -> str:
    """An agent is typing in `customer`'s reply box at `now`: queue the typing indicator after commit,
    unless the window is closed (R2: nothing but templates, no reply is coming), the customer has no
    message to show it on, or it was asked for within TYPING_EVERY (by any agent, in any process: an
    atomic update of the customer row claims each 20 s). Returns what it did, in words."""
    if not selectors.service_window(customer, now=now).is_open:
        return "window closed"
    if latest_markable(customer.pk, now=now) is None:
        return "no customer message"
    claimed = (
        Customer.objects.filter(pk=customer.pk)
        .filter(Q(typing_indicated_at__isnull=True) | Q(typing_indicated_at__lte=now - TYPING_EVERY))
        .update(typing_indicated_at=now)
    )
    if not claimed:
        return "throttled"
    transaction.on_commit(partial(_dispatch_typing, customer.pk), robust=True)
    return "queued"


def _dispatch_typing(customer_id: int) -> None:
    from whatsapp.tasks import typing_indicator

    typing_indicator.delay(customer_id)


def indicate_typing(customer_id: int) -> ReadOutcome:
    """Post the typing indicator on the customer's latest message (which marks it read too). Never
    retried: an indicator that comes late is worse than none, and the agent's next keystrokes ask again."""
    message = latest_markable(customer_id, now=timezone.now())
    if message is None:
        return ReadOutcome("nothing to show it on")
    try:
        with client() as platform:
            platform.mark_read(read_payload(message.wamid, typing=True))
    except PlatformError as error:
        logger.warning("customer %s: typing indicator on %s: %s", customer_id, message.wamid, error)
        return ReadOutcome("failed", message.wamid)
    return ReadOutcome("shown", message.wamid)
