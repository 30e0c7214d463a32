"""R9: the platform's status webhooks are the authority on a sent message's conversation (id, expiry,
category). Where they disagree with our estimate we adopt theirs and keep a record of the disagreement
(ConversationDiscrepancy), unless adopting it would break an invariant; then ours stays, recorded too."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction

from conversations import lifecycle, policy
from conversations.models import Conversation, ConversationDiscrepancy, Message

Field = ConversationDiscrepancy.Field
# The notes a discrepancy carries: what became of the platform's word.
MOVED = "message moved to the platform's conversation"
OTHER_ID = "the platform reports another conversation id"
ADOPTED = "adopted the platform's value"
OVERLAPS = "not adopted: it would overlap another conversation of the same category"
BEYOND = "not adopted: later than any conversation lasts (72 h) plus a day from its opening"


def reconcile(
    message: Message, *, platform_id: str, expires_at: datetime | None, category: str | None, now: datetime
) -> None:
    """The platform reports `message` in its conversation `platform_id`. Adopted only where it still
    reports a 24 h (or 72 h) conversation: under per-message pricing that is a free-entry point alone,
    and its conversation id is one per message (API v23 and older), naming no conversation of ours."""
    pricing_model = policy.pricing_model(
        reported=message.pricing_model, pricing_type=message.pricing_type, sent_at=message.occurred_at
    )
    if not policy.reports_a_conversation(
        pricing_model=pricing_model, pricing_type=message.pricing_type, category=category
    ):
        return
    per_message_ids = pricing_model == policy.PER_MESSAGE
    ours = _conversation_named(message, platform_id, now, per_message_ids=per_message_ids)
    if ours is None:
        return
    try:
        platform = policy.PlatformConversation(
            id=platform_id,
            category=policy.platform_category(category) if category else ours.category,
            expires_at=expires_at,
        )
    except ValueError as error:
        _record(
            message, now, ours, Field.CATEGORY, ours.category, str(category), adopted=False, note=str(error)
        )
        return
    outcome = policy.reconcile(ours.as_policy(), platform)
    if outcome.expiry_refused:
        kept, reported = ours.expires_at.isoformat(), expires_at.isoformat()
        _record(message, now, ours, Field.EXPIRES_AT, kept, reported, adopted=False, note=BEYOND)
    _adopt(message, ours, outcome, now)


def _record(message, now, conversation, field, ours, platform, *, adopted=True, note="") -> None:
    ConversationDiscrepancy.objects.create(
        message=message,
        recorded_at=now,
        conversation=conversation,
        field=field,
        ours=ours,
        platform=platform,
        adopted=adopted,
        note=note,
    )


def _conversation_named(
    message: Message, platform_id: str, now: datetime, *, per_message_ids: bool
) -> Conversation | None:
    """Our conversation the platform's id names: the one it already names (the message moves there),
    else the message's own, which takes the id if it has none. None when ours has another id: the
    disagreement is recorded and nothing adopted."""
    ours = message.conversation
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
        named = f"{platform_id} (our #{theirs.pk})"
        _record(message, now, ours, Field.CONVERSATION, f"#{ours.pk}", named, note=MOVED)
        if not ours.messages.exists():
            lifecycle.void(ours, now)
        return theirs
    if not ours.platform_id:
        ours.platform_id = platform_id
        ours.save(update_fields=["platform_id"])
    elif ours.platform_id != platform_id and not per_message_ids:
        _record(
            message,
            now,
            ours,
            Field.CONVERSATION,
            ours.platform_id,
            platform_id,
            adopted=False,
            note=OTHER_ID,
        )
        return None
    return ours


def _adopt(message: Message, ours: Conversation, outcome: policy.Reconciliation, now: datetime) -> None:
    """Take the platform's category and expiry where they differ from ours, and record each difference."""
    if (outcome.category.value, outcome.expires_at) == (ours.category, ours.expires_at):
        return
    category, expires_at = ours.category, ours.expires_at
    ours.category = outcome.category.value
    ours.expires_at = outcome.expires_at
    if ours.status in (Conversation.Status.OPEN, Conversation.Status.EXPIRED):
        ours.status = Conversation.Status.OPEN if ours.expires_at > now else Conversation.Status.EXPIRED
    try:
        with transaction.atomic():
            ours.save(update_fields=["category", "expires_at", "status"])
        adopted, note = True, ADOPTED
    except IntegrityError:
        # Adopting it would overlap another conversation of ours (the database refuses): keep ours.
        ours.category, ours.expires_at = category, expires_at
        adopted, note = False, OVERLAPS
    if category != outcome.category.value:
        _record(
            message, now, ours, Field.CATEGORY, category, outcome.category.value, adopted=adopted, note=note
        )
    expiry_disagrees = any(d.startswith("expires_at") for d in outcome.differences)
    if expires_at != outcome.expires_at and (expiry_disagrees or not adopted):
        platform = outcome.expires_at.isoformat()
        _record(
            message, now, ours, Field.EXPIRES_AT, expires_at.isoformat(), platform, adopted=adopted, note=note
        )
