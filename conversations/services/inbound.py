"""What the customer (or the platform, about the customer) tells us: their messages, a change of phone
number or user id, and their marketing preference."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from django.db import connections, transaction
from django.utils import timezone

from conversations import identity as identity_service
from conversations import lifecycle, policy, prepared, selectors
from conversations.exceptions import InvalidMessage
from conversations.identifiers import Identity, InvalidIdentifier
from conversations.models import Conversation, Customer, Message
from conversations.services import assignment
from conversations.services import media as media_services
from conversations.services import status as status_services
from conversations.services._common import insert_instance, record_turn, update_columns

logger = logging.getLogger(__name__)


def _identity(**parts) -> Identity:
    try:
        return Identity.of(**parts).require()
    except InvalidIdentifier as error:
        raise InvalidMessage(str(error)) from None


def _recorded(wamid: str | None) -> Message | None:
    # Almost always nothing is: the check reads an id (a prepared statement on PostgreSQL: it runs for
    # every inbound message), and the row only when there is one.
    if not wamid:
        return None
    connection = connections[Message.objects.db]
    if connection.vendor == "postgresql":
        with prepared.cursor(connection) as cursor:
            cursor.execute(_RECORDED, [wamid])
            row = cursor.fetchone()
        found = None if row is None else row[0]
    else:
        found = Message.objects.filter(wamid=wamid).values_list("pk", flat=True).first()
    return None if found is None else Message.objects.get(pk=found)


_RECORDED = "SELECT m.id FROM conversations_message m WHERE m.wamid = %s LIMIT 1"


def receive_message(
    *,
    wa_id: str | None = None,
    user_id: str | None = None,
    username: str = "",
    parent_user_id: str = "",
    body: str,
    wamid: str | None,
    timestamp: datetime,
    name: str = "",
    referral: Mapping | None = None,
    wa_type: str = "text",
    context_wamid: str = "",
    details: Mapping | None = None,
) -> Message:
    """Record a customer's message. Idempotent on `wamid`: a repeat returns the first and changes nothing.

    The customer is whoever the message names: a phone number (`wa_id`), a business-scoped user id
    (`user_id`), or both (which links them: conversations.identity). R1: the window restarts from the
    message's own platform `timestamp` (never moved back by a late one). R5: opens no conversation.
    R6: a `referral` makes the customer free-entry-point eligible, unless a free-entry-point conversation
    is open at that instant. `context_wamid`: the message it replies or reacts to.
    """
    # A time from the future (a clock off, a hostile payload) is put on the timeline at our clock: it
    # orders the thread and the list and starts the window (R1); the platform's own time is kept as sent.
    at = policy.on_timeline(timestamp, timezone.now())
    identity = _identity(wa_id=wa_id, user_id=user_id, username=username, parent_user_id=parent_user_id)
    wa_type = wa_type or "text"
    with transaction.atomic():
        customer = identity_service.customer_for(identity, at=at, now=timezone.now(), name=name)
        now = timezone.now()  # after the lock: a time read before waiting for it is stale
        # Checked under the lock, so a concurrent delivery of the same message has committed or waits.
        if existing := _recorded(wamid):
            return existing
        changed = _note_inbound(customer, wa_type=wa_type, timestamp=at, name=name, referral=referral)
        if policy.opens_window(wa_type) and policy.is_turn(wa_type):
            # The customer wrote (a reaction is no turn): a resolved, snoozed or pending thread is open.
            changed |= status_services.reopen_on_inbound(customer, now=now)
        message = Message(
            customer=customer,
            direction=Message.Direction.INBOUND,
            kind=Message.Kind.FREE_FORM,
            wa_type=wa_type,
            body=body or "",
            wamid=wamid or None,
            occurred_at=at,
            platform_timestamp=timestamp,
            created_at=now,
            status=Message.Status.RECEIVED,
            status_changed_at=now,
            referral=dict(referral) if referral is not None else None,
            context_wamid=context_wamid or "",
            details=dict(details) if details else None,
        )
        if insert_instance(message, unless_taken="wamid") is None:
            # The same wamid recorded for another customer in the meantime: the platform's id wins.
            if (existing := _recorded(wamid)) is None:  # taken, then gone again: let the caller retry
                raise RuntimeError(f"message {wamid} was recorded meanwhile and cannot be read back")
            return existing
        if policy.is_turn(wa_type):
            # A customer writing to a thread nobody holds (a reaction is no turn: it needs no answer): the
            # team gives it to its next available agent, in this transaction.
            changed |= assignment.assign_in_turn(customer, at=at, now=now)
        if changed & Customer.DERIVED_FROM:
            customer.save(update_fields=changed)  # derives the search name, the phone…
        else:
            update_columns(customer, changed)
        media_services.expect_media(message, now=now)  # its file is fetched after commit
    return message


def _note_inbound(
    customer: Customer, *, wa_type: str, timestamp: datetime, name: str, referral: Mapping | None
) -> set[str]:
    """What a message at `timestamp` changes about its customer (R1, R6, the latest turn, their name);
    returns the fields changed, saved with the message."""
    changed = {"last_activity_at"}
    customer.last_activity_at = max(customer.last_activity_at, timestamp)
    from_customer = policy.opens_window(wa_type)
    if from_customer:
        customer.last_inbound_at = policy.latest_inbound(customer.last_inbound_at, timestamp)
        changed.add("last_inbound_at")
    if name and name != customer.name:
        customer.name = name
        changed.add("name")
    changed |= record_turn(customer, wa_type, Message.Direction.INBOUND, timestamp)
    if from_customer and referral is not None and _referral_grants_eligibility(customer, timestamp):
        customer.fep_referral_at = policy.latest_inbound(customer.fep_referral_at, timestamp)
        changed.add("fep_referral_at")
    return changed


def _referral_grants_eligibility(customer: Customer, timestamp: datetime) -> bool:
    free_entry_points = Conversation.objects.filter(
        selectors.open_at(timestamp), customer=customer, category=Conversation.Category.FREE_ENTRY_POINT
    )
    return policy.referral_grants_eligibility(
        timestamp=timestamp, conversations=[c.as_policy() for c in free_entry_points]
    )


def record_identity_change(
    *,
    previous: Identity,
    current: Identity,
    wamid: str | None,
    timestamp: datetime,
    change: str,
    body: str = "",
) -> Message | None:
    """The platform says a user changed phone number or business-scoped user id (`system` messages
    `user_changed_number`, `user_changed_user_id`): the customer they were (found by `previous`, else by
    `current`) is now known by `current`. Never a second customer, never a lost thread: the window and
    the conversations stay as they were. Recorded as a line in the thread; opens no window (R1).
    Idempotent on `wamid`; a notice without one (`user_id_update`) that changes nothing any more (a
    replay) records no second line and returns None."""
    policy.require_aware(timestamp, "timestamp")
    by_previous = previous.names_someone
    known = (previous if by_previous else current).require()
    if existing := _recorded(wamid):
        return existing
    with transaction.atomic():
        # Who they were finds them; it is never linked to them again (a replay would undo the change).
        customer = identity_service.customer_for(
            known, at=timestamp, now=timezone.now(), current=not by_previous
        )
        now = timezone.now()
        if existing := _recorded(wamid):
            return existing
        customer, changes = identity_service.change_identifiers(
            customer, current=current, at=timestamp, now=now
        )
        if not changes and not wamid:
            return None
        what = (
            f"The customer's WhatsApp identity changed: {'; '.join(changes)}."
            if changes
            else body or "The customer's WhatsApp identity changed."
        )
        customer.last_activity_at = max(customer.last_activity_at, timestamp)
        customer.save(update_fields=["last_activity_at"])
        return lifecycle.thread_line(
            customer,
            what,
            at=timestamp,
            now=now,
            wamid=wamid,
            details={"event": change, "changes": changes, "platform_text": body or ""},
        )


def record_marketing_preference(
    *, identity: Identity, stopped: bool, timestamp: datetime, name: str = ""
) -> Customer:
    """The customer stopped (or resumed) marketing messages from us (the `user_preferences` webhook).
    While stopped, the platform refuses marketing templates to them (131050): the inbox says so and the
    server refuses them before they cost anything. A notice older than the latest one applied (webhooks
    arrive in any order) changes nothing."""
    policy.require_aware(timestamp, "timestamp")
    identity = identity.require()
    with transaction.atomic():
        customer = identity_service.customer_for(identity, at=timestamp, now=timezone.now(), name=name)
        latest = customer.marketing_preference_at
        if latest is not None and timestamp <= latest:
            return customer
        customer.marketing_stopped_at = timestamp if stopped else None
        customer.marketing_preference_at = timestamp
        customer.save(update_fields=["marketing_stopped_at", "marketing_preference_at"])
    logger.info("customer %s %s marketing messages", customer.pk, "stopped" if stopped else "resumed")
    return customer
