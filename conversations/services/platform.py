# ruff: noqa: S608 — only quoted column lists of our models are interpolated; values are parameters
"""The platform's reports on our messages: accepted (with its id), status webhooks (sent, delivered, read,
failed, with what it charged and which conversation it counted), and final failures (R9)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.db import connections, transaction
from django.utils import timezone

from conversations import identity as identity_service
from conversations import lifecycle, policy, prepared, selectors
from conversations.identifiers import Identity
from conversations.models import Conversation, Customer, Message
from conversations.services._common import lock_customer, select_instances, update_columns
from conversations.services.reconciliation import reconcile

logger = logging.getLogger(__name__)

CALLBACK_PREFIX = "msg-"


def callback_data(message: Message) -> str:
    """What we hand the platform as biz_opaque_callback_data; it comes back on every status."""
    return f"{CALLBACK_PREFIX}{message.pk}"


def record_accepted(*, message: Message, wamid: str, now: datetime | None = None) -> Message:
    """The platform accepted `message` and gave it `wamid`. A status webhook may have got here first:
    the status only moves forward, and the wamid is recorded either way."""
    now = selectors.resolve_now(now)
    Message.objects.filter(pk=message.pk, wamid__isnull=True).update(wamid=wamid)
    Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
        status=Message.Status.SENT,
        status_changed_at=now,
        next_attempt_at=None,
        error_code=None,
        error_text="",
    )
    return Message.objects.get(pk=message.pk)


def mark_message_failed(
    *,
    message: Message,
    error_code: int | None = None,
    error_text: str = "",
    closes_window: bool = False,
    failed_at: datetime | None = None,
    now: datetime | None = None,
) -> Message:
    """The platform finally rejected `message`. R9: a conversation whose every message failed is voided
    (open at no instant, counted nowhere); conversations a voided free-entry point had closed reopen.
    `closes_window` (error 131047): the platform says the window is closed, so it is, from `failed_at`.
    Idempotent: a repeat changes nothing."""
    with transaction.atomic():
        customer = lock_customer(message.customer_id)
        now = selectors.resolve_now(now)
        message = Message.objects.select_related("conversation").get(pk=message.pk)
        _fail(message, customer, error_code, error_text, closes_window, failed_at or now, now)
    return message


def _fail(message, customer, error_code, error_text, closes_window, failed_at, now) -> bool:
    if message.direction != Message.Direction.OUTBOUND or message.status == Message.Status.FAILED:
        return False
    message.status = Message.Status.FAILED
    message.status_changed_at = now
    message.failed_at = failed_at
    message.error_code = error_code
    message.error_text = error_text or ""
    message.next_attempt_at = None
    message.save(
        update_fields=[
            "status",
            "status_changed_at",
            "failed_at",
            "error_code",
            "error_text",
            "next_attempt_at",
        ]
    )
    if closes_window and (
        customer.platform_window_closed_at is None or customer.platform_window_closed_at < failed_at
    ):
        customer.platform_window_closed_at = failed_at
        customer.save(update_fields=["platform_window_closed_at"])
    conversation = message.conversation
    if conversation is not None and conversation.status != Conversation.Status.VOIDED:
        statuses = conversation.messages.values_list("status", flat=True)
        if policy.is_voided(statuses):
            lifecycle.void(conversation, now)
    logger.info("message %s failed (code %s): %s", message.pk, error_code, error_text)
    return True


# A status's message and its customer, found by the message's wamid and locked in one statement: the
# customer first, then the message (the lock order of every write: customer → message), so the message is
# read as it is under the customer's lock (a row locked is read in its latest version, not the
# statement's snapshot). Raw SQL: compiling the ORM's query cost more than running it.
_LOCK_BY_WAMID = (
    f"SELECT {prepared.columns(Customer, 'c')}, {prepared.columns(Message, 'm')} FROM conversations_message m"
    " JOIN conversations_customer c ON c.id = m.customer_id WHERE m.wamid = %s AND m.direction = %s"
    " FOR UPDATE OF c FOR NO KEY UPDATE OF m"
)


def _lock_by_wamid(wamid: str) -> tuple[Customer, Message] | None:
    """None when no message of ours has this wamid, or when the row changed customer while we waited."""
    return select_instances(_LOCK_BY_WAMID, [wamid, Message.Direction.OUTBOUND], Customer, Message)


# The usual status (sent, delivered, read: no failure, no conversation of the platform's) writes the
# message alone, so it locks the message alone: a campaign's 30,000 statuses take no customer's lock (no
# write of its row, no wait behind an agent's send to that customer). The customer's identifiers come
# along, unlocked, to see whether the status names them as they are (it almost always does); when it
# tells something new, the customer is locked and linked (conversations.identity). That one case takes
# the customer's lock after the message's, against the usual order: should it meet a writer holding the
# customer and waiting for this message, PostgreSQL ends one of the two (a deadlock error), and the
# webhook applies the delivery again (an event at a time, then the retry job).
_IDENTIFIERS = ("wa_id", "user_id", "parent_user_id", "username")
# What a usual status reads and writes of its message (_apply_status, _record_pricing); the others are
# deferred (read on first access).
_STATUS_FIELDS = tuple(
    field.attname
    for field in Message._meta.concrete_fields  # in the model's order, as Model.from_db takes them
    if field.attname in {
        "id", "customer_id", "direction", "wamid", "status", "status_changed_at", "sent_at", "delivered_at",
        "read_at", "pricing", "pricing_model", "pricing_category", "pricing_type", "billable",
        "pricing_changed_at", "next_attempt_at", "error_code", "error_text", "conversation_id",
    }
)  # fmt: skip
_MESSAGE_COLUMNS = {field.attname: field.column for field in Message._meta.concrete_fields}
_LOCK_MESSAGE_BY_WAMID = (
    f"SELECT {', '.join(f'm.{_MESSAGE_COLUMNS[name]}' for name in _STATUS_FIELDS)},"
    f" {', '.join(f'c.{name}' for name in _IDENTIFIERS)}"
    " FROM conversations_message m JOIN conversations_customer c ON c.id = m.customer_id"
    " WHERE m.wamid = %s AND m.direction = %s FOR NO KEY UPDATE OF m"
)
_PLAIN_STATUSES = frozenset({"sent", "delivered", "read"})


def _lock_message_by_wamid(wamid: str) -> tuple[Customer, Message] | None:
    """The message (locked, its status fields) and its customer as far as its identifiers go (not
    locked); None: no message of ours has this wamid."""
    connection = connections[Message.objects.db]
    with prepared.cursor(connection) as cursor:
        cursor.execute(_LOCK_MESSAGE_BY_WAMID, [wamid, Message.Direction.OUTBOUND])
        row = cursor.fetchone()
    if row is None:
        return None
    message = prepared.partial_instance(row[: len(_STATUS_FIELDS)], connection, Message, _STATUS_FIELDS)
    customer = Customer.from_db(
        connection.alias, ["id", *_IDENTIFIERS], [message.customer_id, *row[len(_STATUS_FIELDS) :]]
    )
    return customer, message


# --- The usual status as one statement -------------------------------------------------------------
# A campaign's statuses are nearly all alike: sent, delivered or read, of a message we sent, naming its
# customer as they are, with the platform's whole pricing object (or none). record_status reads such a
# message, decides in Python and writes it back: a transaction of three statements. `usual_status_write`
# makes the same write as one UPDATE whose decisions are taken in Python beforehand from the status
# alone (conversations.policy's, not a copy: the statuses it moves forward from, the pricing's parts),
# left to the row only where they depend on it (CASE on its status, COALESCE of a stamp, the pricing
# merged). The channel runs it with the delivery's INSERT as one statement, one implicit commit; when it
# matches no row (not our message, a customer named anew), the caller applies the status the usual way.
# tests/conversations/test_usual_status_write.py compares its rows with record_status's, case by case.

PRICING_KEYS = frozenset({"pricing_model", "category", "type", "billable"})  # what pricing_parts reads
_MESSAGE_STATUSES = tuple(Message.Status.values)


@dataclass(frozen=True)
class StatusWrite:
    """An `UPDATE conversations_message m … RETURNING m.id` (named parameters, in `params`) for a caller
    to run in a statement of its own (a WITH clause), or alone."""

    sql: str
    params: dict


def usual_status_write(
    *,
    wamid: str,
    status: str,
    timestamp: datetime,
    pricing: Mapping | None,
    recipient: Identity | None,
    now: datetime,
) -> StatusWrite | None:
    """record_status's write for the usual status, as one statement; None: not the usual status (a
    failure, the platform's conversation, a partial pricing object, another database): record_status.

    The UPDATE matches no row when no message of ours has `wamid`, or when `recipient` carries an
    identifier its customer lacks (identity.tells_nothing_new): then record_status, which links them."""
    policy.require_aware(timestamp, "timestamp")
    if status not in _PLAIN_STATUSES or not has_select_for_update_of():
        return None
    if pricing is not None and not pricing.keys() >= PRICING_KEYS:
        return None  # its parts would depend on the pricing stored before: record_status merges them
    at = policy.on_timeline(timestamp, now)
    params = {"wamid": wamid, "status": status, "now": now, "at": at}
    named = []
    for name in _IDENTIFIERS:  # only those the status carries are compared (fewer values to send)
        if recipient is not None and (value := getattr(recipient, name)):
            params[f"named_{name}"] = value
            named.append(name)
    if pricing is not None:
        parts = policy.pricing_parts(dict(pricing))
        connection = connections[Message.objects.db]
        params |= {
            "pricing": Message._meta.get_field("pricing").get_db_prep_save(dict(pricing), connection),
            "pricing_model": parts.model,
            "pricing_category": parts.category,
            "pricing_type": parts.type,
            "billable": parts.billable,
        }
    return StatusWrite(_usual_status_sql(status, pricing is not None, tuple(named)), params)


_STAMPS = {"sent": "sent_at", "delivered": "delivered_at", "read": "read_at"}
# Every value is cast: a parameter used in two places (an assignment, a comparison) is given one type.
_PART_TYPES = {
    "pricing_model": "text",
    "pricing_category": "text",
    "pricing_type": "text",
    "billable": "boolean",
}


@functools.cache
def _usual_status_sql(status: str, with_pricing: bool, named: tuple[str, ...]) -> str:
    """The statement for `status`: the statuses it moves from (policy.next_delivery_status) and the
    identifiers compared (`named`, those the status carries) are written into it, the rest are values."""
    stamp = _STAMPS[status]
    moves_from = [
        current for current in _MESSAGE_STATUSES if policy.next_delivery_status(current, status) == status
    ]
    moves = f"m.status IN ({', '.join(map(_literal, moves_from))})" if moves_from else "false"
    assignments = [
        f"status = CASE WHEN {moves} THEN %(status)s::text ELSE m.status END",
        f"status_changed_at = CASE WHEN {moves} THEN %(now)s::timestamptz ELSE m.status_changed_at END",
        # A retry note or "outcome unknown" is answered when the status moves: the platform has it.
        f"next_attempt_at = CASE WHEN {moves} THEN NULL ELSE m.next_attempt_at END",
        f"error_code = CASE WHEN {moves} THEN NULL ELSE m.error_code END",
        f"error_text = CASE WHEN {moves} THEN '' ELSE m.error_text END",
        f"{stamp} = COALESCE(m.{stamp}, %(at)s::timestamptz)",
    ]
    if with_pricing:
        merged = "(COALESCE(m.pricing, '{}'::jsonb) || %(pricing)s::jsonb)"
        parts = ("pricing_model", "pricing_category", "pricing_type", "billable")
        changed = " OR ".join(
            [
                f"m.pricing IS DISTINCT FROM {merged}",
                *(f"m.{part} IS DISTINCT FROM %({part})s::{_PART_TYPES[part]}" for part in parts),
            ]
        )
        assignments += [
            f"pricing = {merged}",
            *(f"{part} = %({part})s::{_PART_TYPES[part]}" for part in parts),
            # The reports' rollup recomputes the day it was sent when the pricing changed.
            f"pricing_changed_at = CASE WHEN {changed} THEN %(now)s::timestamptz"
            " ELSE m.pricing_changed_at END",
        ]
    compared = "".join(f" AND c.{name} = %(named_{name})s::text" for name in named)
    return (
        f"UPDATE conversations_message m SET {', '.join(assignments)} FROM conversations_customer c"
        f" WHERE m.wamid = %(wamid)s::text AND m.direction = {_literal(Message.Direction.OUTBOUND)}"
        f" AND c.id = m.customer_id{compared}"
        " RETURNING m.id"
    )


def _literal(value: str) -> str:
    """One of our own constants (a status, a direction) as an SQL string."""
    if not value.replace("_", "").isalnum():
        raise ValueError(f"not a constant of ours: {value!r}")
    return f"'{value}'"


def has_select_for_update_of() -> bool:
    """PostgreSQL locks the rows of one table of a join (FOR UPDATE OF); SQLite has no row locks."""
    return connections[Message.objects.db].features.has_select_for_update_of


def _locked_for_status(wamid: str, callback: str | None) -> tuple[Customer, Message] | None:
    """Our message a status is about (by its wamid, else by our callback data) and its customer, locked
    (None when the message is not ours): usually one statement (_LOCK_BY_WAMID); the message of a
    status that names it by our callback data alone, or whose customer was merged into another while
    we waited for the lock, is found the long way."""
    if has_select_for_update_of():
        found = _lock_by_wamid(wamid)
        if found is not None:
            return found
    ours = Message.objects.filter(direction=Message.Direction.OUTBOUND)
    matches = [ours.filter(wamid=wamid)]
    if callback and callback.startswith(CALLBACK_PREFIX) and callback.removeprefix(CALLBACK_PREFIX).isdigit():
        matches.append(ours.filter(pk=int(callback.removeprefix(CALLBACK_PREFIX))))
    for match in matches:
        owner = Customer.objects.select_for_update().filter(pk__in=match.values("customer_id")).first()
        if owner is None and not match.exists():
            continue
        message = match.get()
        if owner is None or message.customer_id != owner.pk:  # merged into another customer meanwhile
            owner = lock_customer(message.customer_id)
            message = match.get()
        return owner, message
    return None


def record_status(
    *,
    wamid: str,
    status: str,
    timestamp: datetime,
    callback: str | None = None,
    conversation_id: str | None = None,
    conversation_expires_at: datetime | None = None,
    conversation_category: str | None = None,
    pricing: Mapping | None = None,
    error_code: int | None = None,
    error_text: str = "",
    closes_window: bool = False,
    recipient: Identity | None = None,
) -> Message | None:
    """Apply one status webhook to our message (None when the message is not ours).

    Matched by the message id (or our callback data), never by the recipient. Statuses only move forward
    whatever order they arrive in; a duplicate changes nothing. `failed` fails the message (R9: voids
    what it alone opened). `pricing` is recorded per message: the platform's word on what it charged.
    The platform's conversation (id, expiry, category) is adopted over our estimate, with every
    disagreement recorded, only where it still reports a 24 h (or 72 h) conversation: under per-message
    pricing that is a free-entry point alone (R9). `recipient`: the identifiers the status carries
    (phone number, BSUID, username), linked to the customer.
    """
    policy.require_aware(timestamp, "timestamp")
    # No savepoint of its own inside a caller's transaction: when it fails, that whole transaction must
    # be rolled back (the webhook's inline path then applies the delivery again, an event at a time).
    with transaction.atomic(savepoint=False):
        # Its conversation is read only when a failure or the platform's conversation needs it.
        plain = status in _PLAIN_STATUSES and not conversation_id and has_select_for_update_of()
        found = plain and _lock_message_by_wamid(wamid)
        message_alone = bool(found)  # the message is locked, the customer is not
        found = found or _locked_for_status(wamid, callback)
        if found is None:
            return None
        customer, message = found
        now = timezone.now()
        timestamp = policy.on_timeline(timestamp, now)  # a tick from the future is put at our clock
        if message_alone and recipient is not None:
            if not identity_service.tells_nothing_new(customer, recipient):  # rare: lock and link
                identity_service.link(lock_customer(customer.pk), recipient, at=timestamp, now=now)
            recipient = None
        moved_to = _apply_status(
            message, wamid=wamid, status=status, timestamp=timestamp, pricing=pricing, now=now
        )
        if moved_to == policy.FAILED:
            _fail(message, customer, error_code, error_text, closes_window, timestamp, now)
        elif conversation_id and message.conversation_id is not None:
            reconcile(
                message,
                platform_id=conversation_id,
                expires_at=conversation_expires_at,
                category=conversation_category,
                now=now,
            )
        if recipient is not None and recipient.names_someone:
            identity_service.link(customer, recipient, at=timestamp, now=now)
    return message


def _apply_status(
    message: Message, *, wamid: str, status: str, timestamp: datetime, pricing: Mapping | None, now: datetime
) -> str | None:
    """Record what a status says about the message itself (its id, when it was sent, delivered or read,
    what it cost) and move its status forward; returns the status it moved to (None: none). A failure
    is left to the caller, which fails the message (R9)."""
    fields = set()
    if message.wamid is None:
        message.wamid = wamid
        fields.add("wamid")
    stamp = {"sent": "sent_at", "delivered": "delivered_at", "read": "read_at"}.get(status)
    if stamp and getattr(message, stamp) is None:
        setattr(message, stamp, timestamp)
        fields.add(stamp)
    if pricing is not None:
        fields |= _record_pricing(message, pricing, now)
    moved_to = policy.next_delivery_status(message.status, status)
    if moved_to and moved_to != policy.FAILED:
        message.status = moved_to
        message.status_changed_at = now
        message.next_attempt_at = None
        # A retry note or "outcome unknown" is answered now: the platform has the message.
        message.error_code, message.error_text = None, ""
        fields |= {"status", "status_changed_at", "next_attempt_at", "error_code", "error_text"}
    if fields:
        update_columns(message, fields)
    return moved_to


def _record_pricing(message: Message, pricing: Mapping, now: datetime) -> set[str]:
    """The platform's pricing object, as received and in parts (a later status may repeat or complete it)."""
    merged = {**(message.pricing or {}), **dict(pricing)}
    parts = policy.pricing_parts(merged)
    values = {
        "pricing": merged,
        "pricing_model": parts.model,
        "pricing_category": parts.category,
        "pricing_type": parts.type,
        "billable": parts.billable,
    }
    changed = {field for field, value in values.items() if getattr(message, field) != value}
    for field in changed:
        setattr(message, field, values[field])
    if changed:
        message.pricing_changed_at = now  # the reports' rollup recomputes the day it was sent
        changed.add("pricing_changed_at")
    return changed
