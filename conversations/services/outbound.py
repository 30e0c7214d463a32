"""What we send: a text or a template, decided by the rules and recorded by one path (`_send`). A send
is queued and handed to the platform once it is durable; a message that already went out by another
route (history) is recorded by the same path as the platform accepted it, and handed to nobody."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial

from celery import current_app, signature
from django.db import transaction
from django.utils import timezone

from conversations import policy, selectors
from conversations.exceptions import (
    InvalidMessage,
    TemplateNotSendable,
    TemplateNotSendableFromInbox,
    WindowClosed,
)
from conversations.limits import TEXT_MAX_CHARS
from conversations.models import Conversation, Customer, Message
from conversations.services import targets
from conversations.services._common import insert_instance, lock_customer, record_turn
from templates_app.models import MessageTemplate

logger = logging.getLogger(__name__)

# The channel's task that hands a queued message to the platform (whatsapp.tasks.send_message). The
# domain names it and never imports the channel: the layers point one way (templates_app ← conversations
# ← whatsapp ← the screens).
SEND_TASK = "whatsapp.send_message"

# What a kind of message checks under the customer's lock at `now`, before the rules decide: the
# policy's view of it and the message's own fields. Raises a DomainError to refuse it.
Prepare = Callable[[Customer, datetime], tuple[policy.Outbound, dict]]


def send_text(
    *,
    customer: Customer,
    body: str,
    reply_to: Message | int | None = None,
    agent=None,
    client_token=None,
    now: datetime | None = None,
) -> Message:
    """Queue a free-form message. R2: refused with WindowClosed outside the customer service window,
    creating nothing. R4/R6: opens or joins a conversation. `reply_to`: the message it answers (quoted
    by WhatsApp above it): ReplyTargetInvalid unless it is this customer's thread's, with a wamid
    (targets.reply_target). `client_token` makes a repeat of the same compose form return the first
    message instead of sending twice. `now`: the instant of the send (default: the clock)."""
    prepare = _text(body)
    if reply_to is not None:
        prepare = _replying(prepare, reply_to)
    return _send(customer, prepare, agent=agent, client_token=client_token, now=now)


def send_template(
    *,
    customer: Customer,
    template: MessageTemplate,
    params: Sequence | Mapping | None,
    extras: Mapping | None = None,
    agent=None,
    client_token=None,
    now: datetime | None = None,
) -> Message:
    """Queue a template message. R2: only APPROVED templates (TemplateNotSendable otherwise), of a kind
    the compose view can fill (TemplateNotSendableFromInbox for a carousel, a product header… rather than
    a failure at the platform), with parameters that fit its placeholders and, where it has them, a
    header's value and URL buttons' (`extras`: {"header": value, "buttons": {index: value}};
    TemplateParamsInvalid otherwise). R3/R6: opens or joins a conversation of the template's category.
    `client_token` and `now` as for send_text."""
    prepare = _template(template, params, extras)
    return _send(customer, prepare, agent=agent, client_token=client_token, now=now)


def record_sent_elsewhere(
    *,
    customer: Customer,
    wamid: str,
    now: datetime,
    body: str = "",
    template: MessageTemplate | None = None,
    params: Sequence | Mapping | None = None,
    agent=None,
) -> Message:
    """Record a message that went out by another route at `now` (history replayed or brought in: the
    demo's), as the platform accepted it under `wamid`: a template message when `template` is given
    (with `params`), else a text (`body`). The same rules as a send decide it and refuse it as they
    would a send (WindowClosed, TemplateNotSendable…), so its conversations are what a live send's
    would be. Nothing is handed to the platform, and nothing is left queued for the outbox job."""
    prepare = _template(template, params, None) if template is not None else _text(body)
    return _send(customer, prepare, agent=agent, now=now, accepted_as=wamid)


def _text(body: str) -> Prepare:
    body = body or ""
    if not body.strip():
        raise InvalidMessage("The message is empty: write something to send.")
    if len(body) > TEXT_MAX_CHARS:
        raise InvalidMessage(f"The message is {len(body)} characters long; WhatsApp allows {TEXT_MAX_CHARS}.")
    return lambda customer, now: (policy.Outbound.free_form(), {"kind": Message.Kind.FREE_FORM, "body": body})


def _replying(prepare: Prepare, reply_to: Message | int) -> Prepare:
    """`prepare`, quoting `reply_to` (checked under the lock, like the rest of the send)."""

    def quoting(customer: Customer, now: datetime) -> tuple[policy.Outbound, dict]:
        target = targets.reply_target(customer, reply_to)
        outbound, fields = prepare(customer, now)
        return outbound, fields | {"context_wamid": target.wamid}

    return quoting


def _template(template: MessageTemplate, params, extras) -> Prepare:
    def prepare(customer: Customer, now: datetime) -> tuple[policy.Outbound, dict]:
        # The template as it is now, not as it was when the agent's page loaded.
        current = MessageTemplate.objects.get(pk=template.pk)
        if not current.is_sendable:
            raise TemplateNotSendable(
                f"The template “{current.name}” ({current.language}) is {current.status.lower()}, "
                "not approved, so it cannot be sent. Choose an approved template."
            )
        if reason := current.not_sendable_from_inbox:
            raise TemplateNotSendableFromInbox(
                f"The template “{current.name}” ({current.language}) is approved, but cannot be sent "
                f"from the inbox. {reason} Choose another template."
            )
        body, prepared_extras = current.prepare_send(params, extras)
        if refusal := selectors.template_refusal(customer, current, now=now):
            raise TemplateNotSendable(refusal)
        fields = {
            "kind": Message.Kind.TEMPLATE,
            "body": body,
            "template": current,
            "template_params": _stored_params(params),
            "template_extras": prepared_extras,
            "template_category": current.category,
        }
        return policy.Outbound.template(current.category, current.status), fields

    return prepare


def _stored_params(params):
    if params is None:
        return None
    if isinstance(params, Mapping):
        return {str(k): str(v) for k, v in params.items()}
    return [str(v) for v in params]


def _send(
    customer: Customer,
    prepare: Prepare,
    *,
    agent,
    now: datetime | None,
    client_token=None,
    accepted_as: str | None = None,
) -> Message:
    """The one send path: lock the customer, read the clock, check the message, let the rules decide,
    record the decision, then hand the message over (queued) or record it accepted (`accepted_as`)."""
    with transaction.atomic():
        customer = lock_customer(customer)
        if sent := _already_sent(agent, client_token):
            return sent
        now = selectors.resolve_now(now)
        outbound, fields = prepare(customer, now)
        state, rows = selectors.customer_state(customer, now)
        decision = policy.decide_send(state, outbound, now)
        if not decision.allowed:  # R2: a text outside the window (prepare() refused unapproved templates)
            raise WindowClosed(_window_closed_message(state.window(now), now))
        if accepted_as is not None:
            fields |= {"status": Message.Status.SENT, "wamid": accepted_as}
        message = _record_outbound(
            customer, decision, rows, now=now, agent=agent, client_token=client_token, **fields
        )
        if accepted_as is None:
            # Hand it to the platform once the decision is durable. `robust`: a broker that is down must
            # not undo or fail the send; the message stays queued and the outbox job picks it up.
            transaction.on_commit(partial(_dispatch_outbound, message.pk), robust=True)
    logger.info(
        "%s %s message %s for customer %s: %s (%s)",
        "queued" if accepted_as is None else "recorded as sent elsewhere",
        message.kind,
        message.pk,
        customer.pk,
        decision.describe(),
        decision.rule,
    )
    return message


def _already_sent(agent, client_token) -> Message | None:
    """A second post of one compose form (double click, retried request) gets the first one's message."""
    if client_token is None or agent is None:
        return None
    return Message.objects.filter(agent=agent, client_token=client_token).first()


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
    status: str = Message.Status.QUEUED,
    **message_fields,
) -> Message:
    """Write what the policy decided: open (closing others for a free-entry point) or join, then the
    message (queued for the platform unless `status` says it is past that)."""
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
    message = Message(
        customer=customer,
        direction=Message.Direction.OUTBOUND,
        occurred_at=now,
        created_at=now,
        status=status,
        status_changed_at=now,
        agent=agent,
        conversation=conversation,
        **message_fields,
    )
    customer.last_activity_at = max(customer.last_activity_at, now)  # under the lock: no GREATEST needed
    turn = record_turn(customer, message.wa_type, Message.Direction.OUTBOUND, now)
    # The message and the customer's activity in one statement; nothing Customer.save derives depends on
    # the customer's columns written.
    insert_instance(message, then_update=(customer, ["last_activity_at", *turn]))
    if decision.opens:
        conversation.opening_message = message
        conversation.save(update_fields=["opening_message"])
    return message


def _dispatch_outbound(message_id: int) -> None:
    # A signature by name runs the registered task (eagerly too, under CELERY_TASK_ALWAYS_EAGER). Its
    # arguments' repr is given (Celery would compute a guarded one), and on a broker that needs no queue
    # declared to deliver to it, none is declared again on every send (_declare).
    signature(SEND_TASK, args=(message_id,)).apply_async(
        argsrepr=f"({message_id},)", kwargsrepr="{}", **_declare()
    )


@functools.cache
def _declare() -> dict:
    """Publishing options: on kombu's virtual transports (Redis, the filesystem of the demo, memory) a
    task goes to the default exchange, which delivers straight into the queue's list by its name, so
    declaring the queue first changes nothing (and costs a fifth of a dispatch). A real AMQP broker drops
    a message for a queue not declared yet: there Celery declares it as usual."""
    from kombu.transport import virtual

    with current_app.connection_for_write() as connection:
        if issubclass(connection.get_transport_cls(), virtual.Transport):
            return {"declare": []}
    return {}
