"""Small writes on conversations that more than one service needs."""

from __future__ import annotations

import logging
from datetime import datetime

from conversations.models import Conversation, Customer, Message

logger = logging.getLogger(__name__)


def void(conversation: Conversation, now: datetime) -> None:
    """R9: the conversation never happened (open at no instant, counted nowhere); conversations a voided
    free-entry point had closed are open again."""
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


def thread_line(
    customer: Customer, body: str, *, at: datetime, now: datetime, details: dict, wamid: str | None = None
) -> Message:
    """A platform notice about the customer (an identity change, two threads merged), kept in the thread
    as a line: an inbound `system` message, which opens no window (R1, policy.NOT_FROM_THE_CUSTOMER)."""
    return Message.objects.create(
        customer=customer,
        direction=Message.Direction.INBOUND,
        kind=Message.Kind.FREE_FORM,
        wa_type="system",
        body=body,
        wamid=wamid or None,
        occurred_at=at,
        platform_timestamp=at if wamid else None,
        created_at=now,
        status=Message.Status.RECEIVED,
        status_changed_at=now,
        details=details,
    )
