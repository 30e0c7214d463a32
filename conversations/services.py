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

from django.db import IntegrityError, transaction
from django.utils import timezone

from conversations import policy, selectors
from conversations.exceptions import InvalidMessage, TemplateNotSendable, WindowClosed
from conversations.models import Conversation, Customer, Message, wa_id_validator
from templates_app.models import MessageTemplate

logger = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 4096  # the platform's limit for a text message body
SWEEP_BATCH_SIZE = 1000


def _lock_customer(customer: Customer | int) -> Customer:
    pk = customer.pk if isinstance(customer, Customer) else customer
    return Customer.objects.select_for_update().get(pk=pk)


def _clean_wa_id(wa_id) -> str:
    value = str(wa_id or "").strip().removeprefix("+")
    if not wa_id_validator.regex.fullmatch(value):
        raise InvalidMessage(f"{wa_id!r} is not a WhatsApp id: it must be the phone number in digits.")
    return value


# --- Inbound -------------------------------------------------------------------------------------


def receive_message(
    *,
    wa_id: str,
    body: str,
    wamid: str | None,
    timestamp: datetime,
    name: str = "",
    referral: Mapping | None = None,
    wa_type: str = "text",
) -> Message:
    """Record a customer's message. Idempotent on `wamid`: a repeat returns the first and changes nothing.

    R1: the window restarts from the message's own platform `timestamp` (never moved back by a late
    one). R5: opens no conversation. R6: a `referral` makes the customer free-entry-point eligible,
    unless a free-entry-point conversation is open at that instant.
    """
    policy.require_aware(timestamp, "timestamp")
    wa_id = _clean_wa_id(wa_id)
    if wamid and (existing := Message.objects.filter(wamid=wamid).first()):
        return existing
    with transaction.atomic():
        customer, _ = Customer.objects.get_or_create(wa_id=wa_id, defaults={"name": name or ""})
        customer = _lock_customer(customer)
        now = timezone.now()
        # Re-check under the lock: a concurrent delivery of the same message may have just committed.
        if wamid and (existing := Message.objects.filter(wamid=wamid).first()):
            return existing

        changed = {"last_inbound_at", "last_activity_at"}
        customer.last_inbound_at = policy.latest_inbound(customer.last_inbound_at, timestamp)
        customer.last_activity_at = max(customer.last_activity_at, timestamp)
        if name and name != customer.name:
            customer.name = name
            changed.add("name")
        if referral is not None and _referral_grants_eligibility(customer, timestamp):
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
                )
        except IntegrityError:
            # The same wamid recorded for another customer in the meantime: the platform's id wins.
            if wamid and (existing := Message.objects.filter(wamid=wamid).first()):
                return existing
            raise
        customer.save(update_fields=changed)
    return message


def _referral_grants_eligibility(customer: Customer, timestamp: datetime) -> bool:
    free_entry_points = Conversation.objects.filter(
        selectors.open_at(timestamp), customer=customer, category=Conversation.Category.FREE_ENTRY_POINT
    )
    return policy.referral_grants_eligibility(
        timestamp=timestamp, conversations=[c.as_policy() for c in free_entry_points]
    )


# --- Outbound ------------------------------------------------------------------------------------


def send_text(*, customer: Customer, body: str, agent=None) -> Message:
    """Queue a free-form message. R2: refused with WindowClosed outside the customer service window,
    creating nothing. R4/R6: opens or joins a conversation."""
    body = body or ""
    if not body.strip():
        raise InvalidMessage("The message is empty: write something to send.")
    if len(body) > MAX_TEXT_LENGTH:
        raise InvalidMessage(
            f"The message is {len(body)} characters long; WhatsApp allows {MAX_TEXT_LENGTH}."
        )
    with transaction.atomic():
        customer = _lock_customer(customer)
        now = timezone.now()
        state, rows = selectors.customer_state(customer, now)
        decision = policy.decide_send(state, policy.Outbound.free_form(), now)
        if not decision.allowed:
            raise WindowClosed(_window_closed_message(state.window(now), now))
        return _record_outbound(
            customer, decision, rows, now=now, agent=agent, kind=Message.Kind.FREE_FORM, body=body
        )


def send_template(
    *, customer: Customer, template: MessageTemplate, params: Sequence | Mapping | None, agent=None
) -> Message:
    """Queue a template message. R2: only APPROVED templates (TemplateNotSendable otherwise), with
    parameters that fit its placeholders (TemplateParamsInvalid otherwise). R3/R6: opens or joins a
    conversation of the template's category."""
    with transaction.atomic():
        customer = _lock_customer(customer)
        # The template as it is now, not as it was when the agent's page loaded.
        template = MessageTemplate.objects.get(pk=template.pk)
        if not template.is_sendable:
            raise TemplateNotSendable(
                f"The template “{template.name}” ({template.language}) is {template.status.lower()}, "
                "not approved, so it cannot be sent. Choose an approved template."
            )
        body = template.render(params)
        now = timezone.now()
        state, rows = selectors.customer_state(customer, now)
        decision = policy.decide_send(
            state, policy.Outbound.template(template.category, template.status), now
        )
        return _record_outbound(
            customer,
            decision,
            rows,
            now=now,
            agent=agent,
            kind=Message.Kind.TEMPLATE,
            body=body,
            template=template,
            template_params=_stored_params(params),
            template_category=template.category,
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
    return (
        f"The customer service window closed at {window.closes_at:%Y-%m-%d %H:%M:%S %Z} "
        "(24 hours after the customer last wrote): only approved templates can be sent until they reply."
    )


def _record_outbound(
    customer: Customer,
    decision: policy.SendDecision,
    rows: dict[int, Conversation],
    *,
    now: datetime,
    agent,
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
    customer.save(update_fields=["last_activity_at"])
    logger.info(
        "queued %s message %s for customer %s: %s (%s)",
        message.kind,
        message.pk,
        customer.pk,
        decision.describe(),
        decision.rule,
    )
    return message


# --- R9: failures void what they alone opened ------------------------------------------------------


def mark_message_failed(
    *, message: Message, error_code: int | None = None, error_text: str = "", now: datetime | None = None
) -> Message:
    """The platform finally rejected `message`. R9: a conversation whose every message failed is voided
    (open at no instant, counted nowhere); conversations a voided free-entry point had closed reopen.
    Idempotent: a repeat changes nothing."""
    with transaction.atomic():
        _lock_customer(message.customer_id)
        now = selectors.resolve_now(now)
        message = Message.objects.select_related("conversation").get(pk=message.pk)
        if message.direction != Message.Direction.OUTBOUND or message.status == Message.Status.FAILED:
            return message
        message.status = Message.Status.FAILED
        message.status_changed_at = now
        message.error_code = error_code
        message.error_text = error_text or ""
        message.save(update_fields=["status", "status_changed_at", "error_code", "error_text"])
        conversation = message.conversation
        if conversation is not None and conversation.status != Conversation.Status.VOIDED:
            statuses = conversation.messages.values_list("status", flat=True)
            if policy.is_voided(statuses):
                _void(conversation, now)
    return message


def _void(conversation: Conversation, now: datetime) -> None:
    reopened = list(conversation.closed_conversations.all())
    conversation.closed_at = conversation.opened_at
    conversation.status = Conversation.Status.VOIDED
    conversation.voided_at = now
    conversation.status_changed_at = now
    conversation.save(update_fields=["closed_at", "status", "voided_at", "status_changed_at"])
    for other in reopened:
        other.closed_at = None
        other.closed_by = None
        other.status = Conversation.Status.OPEN if other.expires_at > now else Conversation.Status.EXPIRED
        other.status_changed_at = now
        other.save(update_fields=["closed_at", "closed_by", "status", "status_changed_at"])
    logger.info("voided conversation %s (R9); reopened %s", conversation.pk, [c.pk for c in reopened])


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
