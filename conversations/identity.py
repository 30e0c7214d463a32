"""Which customer a webhook item is about, and what it teaches us about who they are.

A customer is one WhatsApp user known by a phone number, a business-scoped user id (BSUID), or both
(rules.md, "Customer"); either may come first and the other later. Called inside a transaction by the
services that record inbound messages, statuses and identity changes:

- `customer_for(identity, at=…)` finds the customer (by phone number, BSUID, or a previous BSUID),
  creating one when nobody matches, locks the row, and links what the item carries: a message with
  both identifiers links them, and when they belonged to two customers so far (one known by phone, one
  by BSUID), the two become one (`merge`): one thread, one window, one set of conversations.
- `change_identifiers(customer, …)` applies the platform's `user_changed_number` /
  `user_changed_user_id`: the identifiers change, never the customer.

Identifiers carried by an item older than the customer's last identity change are stale: they find the
customer but never overwrite what it is known by now.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, connections, transaction
from django.db.models import Q

from conversations import lifecycle, prepared
from conversations.identifiers import Identity
from conversations.models import Conversation, ConversationDiscrepancy, Customer, Message, PreviousIdentifier

logger = logging.getLogger(__name__)


def customer_for(
    identity: Identity, *, at: datetime, now: datetime, name: str = "", current: bool = True
) -> Customer:
    """The customer `identity` names, locked (select_for_update), created when nobody matches, with the
    identifiers the item carries linked to it (`current=False`: they are who the customer *was*, to
    find them by, never to link). Must run inside a transaction."""
    identity.require()
    locked, stale = _find(identity, at)
    if not locked:
        created = _create(identity, at=at, name=name)
        if created is not None:
            return created
        locked, stale = _find(identity, at)  # a concurrent delivery created them first
        if not locked:
            raise RuntimeError(f"could neither create nor find the customer {identity.describe()}")
    customer = locked[0]
    for other in locked[1:]:
        customer = merge(customer, other, at=at, now=now, because=identity)
    if current and not stale:
        learn(customer, identity, at=at)
    return customer


def link(customer: Customer, identity: Identity, *, at: datetime, now: datetime) -> Customer:
    """What a status or contact says about the user `customer` (locked) is: identifiers it lacked are
    added; another customer holding them is the same user and is merged in."""
    if not identity.names_someone or tells_nothing_new(customer, identity):
        return customer
    holders = Q(pk__in=[])
    if identity.wa_id and identity.wa_id != customer.wa_id:
        holders |= Q(wa_id=identity.wa_id)
    if identity.user_id and identity.user_id != customer.user_id:
        holders |= Q(user_id=identity.user_id)
    for other in Customer.objects.select_for_update().filter(holders).exclude(pk=customer.pk).order_by("pk"):
        customer = merge(customer, other, at=at, now=now, because=identity)
    learn(customer, identity, at=at)
    return customer


def tells_nothing_new(customer: Customer, identity: Identity) -> bool:
    """Whether `identity` tells nothing new about `customer`: every identifier and detail it carries is
    the customer's already (the usual status of a known customer), so there is nobody to link."""
    return all(
        not getattr(identity, field) or getattr(identity, field) == getattr(customer, field)
        for field in ("wa_id", "user_id", "parent_user_id", "username")
    )


def _find(identity: Identity, at: datetime) -> tuple[list[Customer], bool]:
    """Customers named by the current identifiers, else by a previous one (then the item is stale),
    locked in one statement each, in pk order. A row that stopped matching while we waited for its lock
    (merged away, or its identifier changed) is not returned."""
    found = _holders(identity)
    if found:
        return found, False
    previous = Q(pk__in=[])
    if identity.user_id:
        previous |= Q(kind=PreviousIdentifier.Kind.USER_ID, value=identity.user_id)
    if identity.wa_id:
        # A recycled number belongs to someone else now: only what was sent before the change is theirs.
        previous |= Q(kind=PreviousIdentifier.Kind.PHONE, value=identity.wa_id, replaced_at__gt=at)
    match = PreviousIdentifier.objects.filter(previous).order_by("replaced_at").values("customer_id").first()
    if match is None:
        return [], False
    return list(Customer.objects.select_for_update().filter(pk=match["customer_id"])), True


# The ORM's query of _holders, without compiling it on every inbound message (PostgreSQL; an absent
# identifier is NULL, which matches nobody).
_HOLDERS = (
    f"SELECT {prepared.columns(Customer, 'c')} FROM conversations_customer c"  # noqa: S608 — our columns
    " WHERE c.wa_id = %s OR c.user_id = %s ORDER BY c.id FOR UPDATE"
)


def _holders(identity: Identity) -> list[Customer]:
    """The customers holding the identity's phone number or user id, locked in pk order."""
    connection = connections[Customer.objects.db]
    if connection.vendor == "postgresql":
        params = [identity.wa_id or None, identity.user_id or None]
        return prepared.fetch(connection, _HOLDERS, params, Customer)
    current = Q(pk__in=[])
    if identity.wa_id:
        current |= Q(wa_id=identity.wa_id)
    if identity.user_id:
        current |= Q(user_id=identity.user_id)
    return list(Customer.objects.select_for_update().filter(current).order_by("pk"))


def _create(identity: Identity, *, at: datetime, name: str) -> Customer | None:
    try:
        with transaction.atomic():
            customer = Customer.objects.create(
                wa_id=identity.wa_id,
                user_id=identity.user_id,
                parent_user_id=identity.parent_user_id,
                username=identity.username,
                name=name or "",
                last_activity_at=at,
            )
    except IntegrityError:
        return None
    return Customer.objects.select_for_update().get(pk=customer.pk)


def learn(customer: Customer, identity: Identity, *, at: datetime) -> None:
    """Link what `identity` says to `customer` (locked): an identifier it lacked is added; one that
    differs replaces the old (kept as previous) unless the item predates the last identity change."""
    if customer.identity_changed_at is not None and at < customer.identity_changed_at:
        return
    changed = set()
    for field, kind in (
        ("wa_id", PreviousIdentifier.Kind.PHONE),
        ("user_id", PreviousIdentifier.Kind.USER_ID),
    ):
        new = getattr(identity, field)
        old = getattr(customer, field)
        if not new or new == old:
            continue
        if old:
            # A replaced identifier is an identity change: older items must not bring the old one back.
            _remember(customer, kind, old, replaced_at=at)
            customer.identity_changed_at = _latest(customer.identity_changed_at, at)
            changed.add("identity_changed_at")
            logger.info("customer %s: %s changed from %s to %s", customer.pk, field, old, new)
        setattr(customer, field, new)
        changed.add(field)
    for field in ("parent_user_id", "username"):
        new = getattr(identity, field)
        if new and new != getattr(customer, field):
            setattr(customer, field, new)
            changed.add(field)
    if changed:
        customer.save(update_fields=changed)


def change_identifiers(
    customer: Customer, *, current: Identity, at: datetime, now: datetime
) -> tuple[Customer, list[str]]:
    """The platform says the user behind `customer` is now known by `current` (a number change, a new
    BSUID). Returns the customer (another one holding the new identifiers is merged into it) and what
    changed, in words. A notice older than the last change applied changes nothing."""
    if customer.identity_changed_at is not None and at < customer.identity_changed_at:
        return customer, []
    holders = Q(pk__in=[])
    if current.wa_id:
        holders |= Q(wa_id=current.wa_id)
    if current.user_id:
        holders |= Q(user_id=current.user_id)
    for other in Customer.objects.select_for_update().filter(holders).exclude(pk=customer.pk).order_by("pk"):
        customer = merge(customer, other, at=at, now=now, because=current)
    before = (customer.wa_id, customer.user_id)
    learn(customer, current, at=at)
    changes = []
    if before[0] != customer.wa_id:
        changes.append(f"phone number {_phone(before[0])} → {_phone(customer.wa_id)}")
    if before[1] != customer.user_id:
        changes.append(f"WhatsApp user id {before[1] or 'none'} → {customer.user_id}")
    if changes:
        customer.identity_changed_at = _latest(customer.identity_changed_at, at)
        customer.save(update_fields=["identity_changed_at"])
    return customer, changes


def _phone(wa_id: str | None) -> str:
    return f"+{wa_id}" if wa_id else "none"


def _remember(customer: Customer, kind: str, value: str, *, replaced_at: datetime) -> None:
    PreviousIdentifier.objects.update_or_create(
        kind=kind, value=value, customer=customer, defaults={"replaced_at": replaced_at}
    )


# --- Two customers who are one user ----------------------------------------------------------------


def merge(first: Customer, second: Customer, *, at: datetime, now: datetime, because: Identity) -> Customer:
    """`first` and `second` (both locked) are the same WhatsApp user: keep the older row, move every
    message and conversation of the other to it, and delete the other.

    Two conversations of one category that were open at the same time (each thread had its own) cannot
    both stand (R3/R4: the platform would have counted the later messages in the earlier one): the later
    one's messages join the earlier, it is voided (R9), and a discrepancy says why."""
    survivor, absorbed = (first, second) if first.pk < second.pk else (second, first)
    kept = [
        c for c in Conversation.objects.filter(customer=survivor) if c.status != Conversation.Status.VOIDED
    ]
    for conversation in Conversation.objects.filter(customer=absorbed).order_by("opened_at", "pk"):
        if conversation.status == Conversation.Status.VOIDED:
            continue
        clash = next(
            (c for c in kept if c.category == conversation.category and _overlap(c, conversation)), None
        )
        if clash is None:
            kept.append(conversation)
            continue
        Message.objects.filter(conversation=conversation).update(conversation=clash)
        lifecycle.void(conversation, now)
        ConversationDiscrepancy.objects.create(
            conversation=conversation,
            field=ConversationDiscrepancy.Field.CONVERSATION,
            ours=f"#{conversation.pk}",
            platform=f"#{clash.pk}",
            adopted=True,
            note="two threads of one customer were merged: its messages joined the conversation open then",
            recorded_at=now,
        )
    Conversation.objects.filter(customer=absorbed).update(customer=survivor)
    Message.objects.filter(customer=absorbed).update(customer=survivor)
    PreviousIdentifier.objects.filter(customer=absorbed).exclude(
        value__in=PreviousIdentifier.objects.filter(customer=survivor).values("value")
    ).update(customer=survivor)
    theirs, ours = absorbed.marketing_preference_at, survivor.marketing_preference_at
    if theirs is not None and (ours is None or theirs > ours):
        survivor.marketing_stopped_at = absorbed.marketing_stopped_at  # the latest stop or resume wins
    if absorbed.last_turn_at is not None and (
        survivor.last_turn_at is None or absorbed.last_turn_at > survivor.last_turn_at
    ):
        survivor.last_turn_at, survivor.last_turn_direction = (
            absorbed.last_turn_at,
            absorbed.last_turn_direction,
        )
    for field in LATEST_WINS:
        setattr(survivor, field, _latest(getattr(survivor, field), getattr(absorbed, field)))
    for field in SURVIVOR_WINS:
        setattr(survivor, field, getattr(survivor, field) or getattr(absorbed, field))
    if (
        _latest(survivor.platform_read_through, absorbed.platform_read_through)
        != survivor.platform_read_through
    ):
        for field in PLATFORM_READ:  # one marking's fields go together: the one that dealt with the later
            setattr(survivor, field, getattr(absorbed, field))
    survivor.created_at = min(survivor.created_at, absorbed.created_at)
    identifiers = {"wa_id": survivor.wa_id or absorbed.wa_id, "user_id": survivor.user_id or absorbed.user_id}
    absorbed_label = absorbed.handle
    absorbed.delete()
    survivor.wa_id, survivor.user_id = identifiers["wa_id"], identifiers["user_id"]
    survivor.save()
    lifecycle.thread_line(
        survivor,
        f"WhatsApp named {because.describe()}: {survivor.handle} and {absorbed_label} are the same person, "
        "so their two threads are now one.",
        at=at,
        now=now,
        details={"event": "customers_merged", "absorbed": absorbed_label},
    )
    logger.info("customer %s merged into customer %s (%s)", absorbed_label, survivor.pk, because.describe())
    return survivor


# What a merged customer keeps: the latest of both instants (R1, R6 and the rest read them as maxima)…
LATEST_WINS = (
    "last_inbound_at",
    "fep_referral_at",
    "platform_window_closed_at",
    "last_activity_at",
    "identity_changed_at",
    "marketing_preference_at",
)
# … and the older row's own details where it has them, else the other's.
SURVIVOR_WINS = ("name", "username", "parent_user_id", "assigned_to_id")
# … and what WhatsApp was last told is read, from whichever marking covered the later messages.
PLATFORM_READ = ("platform_read_wamid", "platform_read_at", "platform_read_through")


def _overlap(a: Conversation, b: Conversation) -> bool:
    return a.opened_at < b.ends_at and b.opened_at < a.ends_at


def _latest(a, b):
    if a is None or b is None:
        return a or b
    return max(a, b)
