"""Writes: the domain's actions. This is the public contract the webhook, the inbox and the tests use.

Each action runs in one transaction, locks the customer row it decides on, reads the clock once *after*
the lock is held (a time read before waiting for a lock is stale), asks policy.py what to do, and
writes the answer. The database refuses two overlapping conversations of one category even if this
code were wrong (migration conversations 0002).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial

from celery import signature
from django.db import IntegrityError, transaction
from django.utils import timezone

from conversations import identity as identity_service
from conversations import lifecycle, policy, selectors
from conversations.exceptions import (
    InvalidMessage,
    TemplateNotSendable,
    TemplateNotSendableFromInbox,
    WindowClosed,
)
from conversations.identifiers import Identity, InvalidIdentifier
from conversations.limits import TEXT_MAX_CHARS
from conversations.models import Conversation, ConversationDiscrepancy, Customer, Message
from templates_app.models import MessageTemplate

logger = logging.getLogger(__name__)

SWEEP_BATCH_SIZE = 1000


def _lock_customer(customer: Customer | int) -> Customer:
    pk = customer.pk if isinstance(customer, Customer) else customer
    return Customer.objects.select_for_update().get(pk=pk)


def _identity(**parts) -> Identity:
    try:
        return Identity.of(**parts).require()
    except InvalidIdentifier as error:
        raise InvalidMessage(str(error)) from None


def _recorded(wamid: str | None) -> Message | None:
    return Message.objects.filter(wamid=wamid).first() if wamid else None


# --- Inbound -------------------------------------------------------------------------------------


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
    policy.require_aware(timestamp, "timestamp")
    identity = _identity(wa_id=wa_id, user_id=user_id, username=username, parent_user_id=parent_user_id)
    if existing := _recorded(wamid):
        return existing
    with transaction.atomic():
        now = timezone.now()
        customer = identity_service.customer_for(identity, at=timestamp, now=now, name=name)
        now = timezone.now()  # after the lock: a time read before waiting for it is stale
        # Re-check under the lock: a concurrent delivery of the same message may have just committed.
        if existing := _recorded(wamid):
            return existing

        changed = {"last_activity_at"}
        customer.last_activity_at = max(customer.last_activity_at, timestamp)
        from_customer = policy.opens_window(wa_type)
        if from_customer:
            customer.last_inbound_at = policy.latest_inbound(customer.last_inbound_at, timestamp)
            changed.add("last_inbound_at")
        if name and name != customer.name:
            customer.name = name
            changed.add("name")
        changed |= _record_turn(customer, wa_type or "text", Message.Direction.INBOUND, timestamp)
        if from_customer and referral is not None and _referral_grants_eligibility(customer, timestamp):
            customer.fep_referral_at = policy.latest_inbound(customer.fep_referral_at, timestamp)
            changed.add("fep_referral_at")
        try:
            with transaction.atomic():
                message = Message.objects.create(
                    customer=customer,
                    direction=Message.Direction.INBOUND,
                    kind=Message.Kind.FREE_FORM,
                    wa_type=wa_type or "text",
                    body=body or "",
                    wamid=wamid or None,
                    occurred_at=timestamp,
                    platform_timestamp=timestamp,
                    created_at=now,
                    status=Message.Status.RECEIVED,
                    status_changed_at=now,
                    referral=dict(referral) if referral is not None else None,
                    context_wamid=context_wamid or "",
                    details=dict(details) if details else None,
                )
        except IntegrityError:
            # The same wamid recorded for another customer in the meantime: the platform's id wins.
            if existing := _recorded(wamid):
                return existing
            raise
        customer.save(update_fields=changed)
    return message


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


def _record_turn(customer: Customer, wa_type: str, direction: str, at: datetime) -> set[str]:
    """Keep who spoke last (Customer.last_turn_direction, the inbox's "needs reply") when a message at
    `at` is the customer's latest turn: a reaction or a notice is none, and a late delivery stamped
    before the latest turn changes nothing (a later row wins a tie, as in the thread's order)."""
    if not policy.is_turn(wa_type) or (customer.last_turn_at is not None and at < customer.last_turn_at):
        return set()
    customer.last_turn_at, customer.last_turn_direction = at, direction
    return {"last_turn_at", "last_turn_direction"}


def _referral_grants_eligibility(customer: Customer, timestamp: datetime) -> bool:
    free_entry_points = Conversation.objects.filter(
        selectors.open_at(timestamp), customer=customer, category=Conversation.Category.FREE_ENTRY_POINT
    )
    return policy.referral_grants_eligibility(
        timestamp=timestamp, conversations=[c.as_policy() for c in free_entry_points]
    )


# --- Outbound ------------------------------------------------------------------------------------


def _already_sent(agent, client_token) -> Message | None:
    """A second post of one compose form (double click, retried request) gets the first one's message."""
    if client_token is None or agent is None:
        return None
    return Message.objects.filter(agent=agent, client_token=client_token).first()


def send_text(
    *,
    customer: Customer,
    body: str,
    agent=None,
    client_token=None,
    now: datetime | None = None,
    dispatch: bool = True,
) -> Message:
    """Queue a free-form message. R2: refused with WindowClosed outside the customer service window,
    creating nothing. R4/R6: opens or joins a conversation. `client_token` makes a repeat of the same
    compose form return the first message instead of sending twice. `now`: the instant of the send
    (default: the clock). `dispatch=False` records a message that went out elsewhere (history: the
    demo's) without handing it to the platform."""
    body = body or ""
    if not body.strip():
        raise InvalidMessage("The message is empty: write something to send.")
    if len(body) > TEXT_MAX_CHARS:
        raise InvalidMessage(f"The message is {len(body)} characters long; WhatsApp allows {TEXT_MAX_CHARS}.")
    with transaction.atomic():
        customer = _lock_customer(customer)
        if sent := _already_sent(agent, client_token):
            return sent
        now = selectors.resolve_now(now)
        state, rows = selectors.customer_state(customer, now)
        decision = policy.decide_send(state, policy.Outbound.free_form(), now)
        if not decision.allowed:
            raise WindowClosed(_window_closed_message(state.window(now), now))
        return _record_outbound(
            customer,
            decision,
            rows,
            now=now,
            dispatch=dispatch,
            agent=agent,
            kind=Message.Kind.FREE_FORM,
            body=body,
            client_token=client_token,
        )


def send_template(
    *,
    customer: Customer,
    template: MessageTemplate,
    params: Sequence | Mapping | None,
    extras: Mapping | None = None,
    agent=None,
    client_token=None,
    now: datetime | None = None,
    dispatch: bool = True,
) -> Message:
    """Queue a template message. R2: only APPROVED templates (TemplateNotSendable otherwise), of a kind
    the compose view can fill (TemplateNotSendableFromInbox for a carousel, a product header… rather than
    a failure at the platform), with parameters that fit its placeholders and, where it has them, a
    header's value and URL buttons' (`extras`: {"header": value, "buttons": {index: value}};
    TemplateParamsInvalid otherwise). R3/R6:
    opens or joins a conversation of the template's category. `now` and `dispatch` as for send_text."""
    with transaction.atomic():
        customer = _lock_customer(customer)
        if sent := _already_sent(agent, client_token):
            return sent
        # The template as it is now, not as it was when the agent's page loaded.
        template = MessageTemplate.objects.get(pk=template.pk)
        if not template.is_sendable:
            raise TemplateNotSendable(
                f"The template “{template.name}” ({template.language}) is {template.status.lower()}, "
                "not approved, so it cannot be sent. Choose an approved template."
            )
        if reason := template.not_sendable_from_inbox:
            raise TemplateNotSendableFromInbox(
                f"The template “{template.name}” ({template.language}) is approved, but cannot be sent "
                f"from the inbox. {reason} Choose another template."
            )
        body, prepared_extras = template.prepare_send(params, extras)
        now = selectors.resolve_now(now)
        if refusal := selectors.template_refusal(customer, template, now=now):
            raise TemplateNotSendable(refusal)
        state, rows = selectors.customer_state(customer, now)
        decision = policy.decide_send(
            state, policy.Outbound.template(template.category, template.status), now
        )
        return _record_outbound(
            customer,
            decision,
            rows,
            now=now,
            dispatch=dispatch,
            agent=agent,
            kind=Message.Kind.TEMPLATE,
            body=body,
            template=template,
            template_params=_stored_params(params),
            template_extras=prepared_extras,
            template_category=template.category,
            client_token=client_token,
        )


def _stored_params(params):
    if params is None:
        return None
    if isinstance(params, Mapping):
        return {str(k): str(v) for k, v in params.items()}
    return [str(v) for v in params]


def _window_closed_message(window: policy.ServiceWindow, now: datetime) -> str:
    if window.opened_at is None:
        return (
            "The customer has never written to us, so there is no customer service window: "
            "only approved templates can be sent until they reply."
        )
    # In the active time zone: the agent's own when a request is being served (inbox.middleware).
    closed = timezone.localtime(window.closes_at)
    return (
        f"The customer service window closed at {closed:%Y-%m-%d %H:%M:%S %Z} "
        "(24 hours after the customer last wrote): only approved templates can be sent until they reply."
    )


def _record_outbound(
    customer: Customer,
    decision: policy.SendDecision,
    rows: dict[int, Conversation],
    *,
    now: datetime,
    agent,
    dispatch: bool = True,
    **message_fields,
) -> Message:
    """Write what the policy decided: open (closing others for a free-entry point) or join, then the
    message, queued for the platform."""
    if decision.opens:
        conversation = Conversation.objects.create(
            customer=customer,
            category=decision.category.value,
            opened_at=now,
            expires_at=decision.expires_at,
            status=Conversation.Status.OPEN,
            status_changed_at=now,
        )
        if decision.closes:
            # R6: opening a free-entry-point conversation closes every other open one at this instant.
            Conversation.objects.filter(pk__in=[c.key for c in decision.closes]).update(
                closed_at=now,
                closed_by=conversation,
                status=Conversation.Status.CLOSED,
                status_changed_at=now,
            )
    else:
        conversation = rows[decision.joins]
    message = Message.objects.create(
        customer=customer,
        direction=Message.Direction.OUTBOUND,
        occurred_at=now,
        created_at=now,
        status=Message.Status.QUEUED,
        status_changed_at=now,
        agent=agent,
        conversation=conversation,
        **message_fields,
    )
    if decision.opens:
        conversation.opening_message = message
        conversation.save(update_fields=["opening_message"])
    customer.last_activity_at = max(customer.last_activity_at, now)
    turn = _record_turn(customer, message.wa_type, Message.Direction.OUTBOUND, now)
    customer.save(update_fields=["last_activity_at", *turn])
    # Hand it to the platform once the decision is durable. `robust`: a broker that is down must not
    # undo or fail the send; the message stays queued and the outbox job picks it up.
    if dispatch:
        transaction.on_commit(partial(_dispatch_outbound, message.pk), robust=True)
    logger.info(
        "queued %s message %s for customer %s: %s (%s)",
        message.kind,
        message.pk,
        customer.pk,
        decision.describe(),
        decision.rule,
    )
    return message


# The channel's task that hands a queued message to the platform (whatsapp.tasks.send_message). The
# domain names it and never imports the channel: the layers point one way (templates_app ← conversations
# ← whatsapp ← the screens).
SEND_TASK = "whatsapp.send_message"


def _dispatch_outbound(message_id: int) -> None:
    # A signature by name runs the registered task (eagerly too, under CELERY_TASK_ALWAYS_EAGER).
    signature(SEND_TASK, args=(message_id,)).apply_async()


# --- The platform's reports on our messages (R9) ------------------------------------------------------


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
        customer = _lock_customer(message.customer_id)
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


CALLBACK_PREFIX = "msg-"


def callback_data(message: Message) -> str:
    """What we hand the platform as biz_opaque_callback_data; it comes back on every status."""
    return f"{CALLBACK_PREFIX}{message.pk}"


def _message_for_status(wamid: str, callback: str | None) -> Message | None:
    message = Message.objects.filter(wamid=wamid, direction=Message.Direction.OUTBOUND).first()
    if message is None and callback and callback.startswith(CALLBACK_PREFIX):
        pk = callback.removeprefix(CALLBACK_PREFIX)
        if pk.isdigit():
            message = Message.objects.filter(pk=int(pk), direction=Message.Direction.OUTBOUND).first()
    return message


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
    found = _message_for_status(wamid, callback)
    if found is None:
        return None
    with transaction.atomic():
        customer = _lock_customer(found.customer_id)
        now = timezone.now()
        message = Message.objects.select_related("conversation").get(pk=found.pk)
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
            message.save(update_fields=fields)
        if moved_to == policy.FAILED:
            _fail(message, customer, error_code, error_text, closes_window, timestamp, now)
        elif conversation_id and message.conversation_id is not None:
            pricing_model = policy.pricing_model(
                reported=message.pricing_model, pricing_type=message.pricing_type, sent_at=message.occurred_at
            )
            if policy.reports_a_conversation(
                pricing_model=pricing_model, pricing_type=message.pricing_type, category=conversation_category
            ):
                per_message_ids = pricing_model == policy.PER_MESSAGE
                _reconcile(
                    message,
                    conversation_id,
                    conversation_expires_at,
                    conversation_category,
                    now,
                    per_message_ids,
                )
        if recipient is not None and recipient.names_someone:
            identity_service.link(customer, recipient, at=timestamp, now=now)
    return message


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


def _reconcile(message, platform_id, expires_at, category, now, per_message_ids=False) -> None:
    """R9: the platform's status reports which conversation our message is in. Adopt it, keep a record."""
    ours = message.conversation
    record = partial(ConversationDiscrepancy.objects.create, message=message, recorded_at=now)
    # Under per-message pricing the platform's conversation id is one per message (API v23 and older):
    # it names no conversation of ours to move a message to, nor a disagreement about ours.
    theirs = (
        None
        if per_message_ids
        else Conversation.objects.filter(customer_id=message.customer_id, platform_id=platform_id)
        .exclude(pk=ours.pk)
        .first()
    )
    if theirs is not None:
        # The platform counted the message in another conversation than the one we estimated.
        message.conversation = theirs
        message.save(update_fields=["conversation"])
        record(
            conversation=ours,
            field=ConversationDiscrepancy.Field.CONVERSATION,
            ours=f"#{ours.pk}",
            platform=f"{platform_id} (our #{theirs.pk})",
            note="message moved to the platform's conversation",
        )
        if not ours.messages.exists():
            lifecycle.void(ours, now)
        ours = theirs
    elif not ours.platform_id:
        ours.platform_id = platform_id
        ours.save(update_fields=["platform_id"])
    elif ours.platform_id != platform_id and not per_message_ids:
        record(
            conversation=ours,
            field=ConversationDiscrepancy.Field.CONVERSATION,
            ours=ours.platform_id,
            platform=platform_id,
            adopted=False,
            note="the platform reports another conversation id",
        )
        return
    try:
        platform = policy.PlatformConversation(
            id=platform_id,
            category=policy.platform_category(category) if category else ours.category,
            expires_at=expires_at,
        )
    except ValueError as error:
        record(
            conversation=ours,
            field=ConversationDiscrepancy.Field.CATEGORY,
            ours=ours.category,
            platform=str(category),
            adopted=False,
            note=str(error),
        )
        return
    outcome = policy.reconcile(ours.as_policy(), platform)
    if (outcome.category.value, outcome.expires_at) == (ours.category, ours.expires_at):
        return
    before = {"category": ours.category, "expires_at": ours.expires_at}
    ours.category = outcome.category.value
    ours.expires_at = outcome.expires_at
    if ours.status in (Conversation.Status.OPEN, Conversation.Status.EXPIRED):
        ours.status = Conversation.Status.OPEN if ours.expires_at > now else Conversation.Status.EXPIRED
    try:
        with transaction.atomic():
            ours.save(update_fields=["category", "expires_at", "status"])
        adopted, note = True, "adopted the platform's value"
    except IntegrityError:
        # Adopting it would overlap another conversation of ours (the database refuses): keep ours.
        ours.category, ours.expires_at = before["category"], before["expires_at"]
        adopted, note = False, "not adopted: it would overlap another conversation of the same category"
    if before["category"] != outcome.category.value:
        record(
            conversation=ours,
            field=ConversationDiscrepancy.Field.CATEGORY,
            ours=before["category"],
            platform=outcome.category.value,
            adopted=adopted,
            note=note,
        )
    expiry_disagrees = any(d.startswith("expires_at") for d in outcome.differences)
    if before["expires_at"] != outcome.expires_at and (expiry_disagrees or not adopted):
        record(
            conversation=ours,
            field=ConversationDiscrepancy.Field.EXPIRES_AT,
            ours=before["expires_at"].isoformat(),
            platform=outcome.expires_at.isoformat(),
            adopted=adopted,
            note=note,
        )


# --- The sweep (R8) ---------------------------------------------------------------------------------


def expire_due_conversations(*, now: datetime | None = None, batch_size: int = SWEEP_BATCH_SIZE) -> int:
    """Mark open conversations whose expires_at has passed as expired; return how many were marked.

    Tidying only: R8 reads never wait for it. Idempotent, and safe when two sweeps run at once: each
    batch locks its rows with SKIP LOCKED and the update re-checks the status, so a row is counted once.
    """
    now = selectors.resolve_now(now)
    marked = 0
    while True:
        with transaction.atomic():
            due = list(
                Conversation.objects.select_for_update(skip_locked=True)
                .filter(status=Conversation.Status.OPEN, expires_at__lte=now)
                .order_by("expires_at")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not due:
                break
            marked += Conversation.objects.filter(pk__in=due, status=Conversation.Status.OPEN).update(
                status=Conversation.Status.EXPIRED, status_changed_at=now
            )
        if len(due) < batch_size:
            break
    if marked:
        logger.info("marked %d conversation(s) expired as of %s", marked, now.isoformat())
    return marked
