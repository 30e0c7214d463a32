"""Small writes on conversations that more than one service needs."""

from __future__ import annotations

import logging
from datetime import datetime

from conversations.models import Conversation

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
