"""The message a reply quotes or a reaction is about: checked under the customer's lock, at the send's
`now`, before anything is recorded. It must be in THIS customer's thread and known to WhatsApp by its id
(the platform takes `context.message_id` and `reaction.message_id` as wamids), and be a message a person
wrote: never a reaction or a platform notice."""

from __future__ import annotations

from datetime import datetime, timedelta

from conversations import policy
from conversations.exceptions import ReactionTargetInvalid, ReplyTargetInvalid
from conversations.limits import REACTION_EMOJIS, REACTION_WITHIN_DAYS
from conversations.models import Customer, Message

REACTION_WITHIN = timedelta(days=REACTION_WITHIN_DAYS)


def _in_thread(customer: Customer, message: Message | int | str | None) -> Message | None:
    pk = message.pk if isinstance(message, Message) else message
    if isinstance(pk, str):
        pk = int(pk) if pk.isdigit() else None
    if not isinstance(pk, int):
        return None
    return Message.objects.filter(pk=pk, customer=customer).first()


def reply_target(customer: Customer, message: Message | int | str | None) -> Message:
    """The message a reply quotes: the customer's or ours, in this thread, with a wamid."""
    target = _in_thread(customer, message)
    if target is None:
        raise ReplyTargetInvalid(
            "The message you are replying to is not in this customer's conversation, so it cannot be "
            "quoted. Choose Reply on a message of this thread, or send without the quote."
        )
    if target.wa_type in policy.NOT_A_TURN:
        raise ReplyTargetInvalid("A reaction or a notice cannot be quoted: reply to the message itself.")
    if not target.wamid:
        raise ReplyTargetInvalid(
            "The message you are replying to has not reached WhatsApp yet (it has no WhatsApp id), so it "
            "cannot be quoted. Wait for its tick, or send without the quote."
        )
    if target.status == Message.Status.FAILED:
        raise ReplyTargetInvalid(
            "The message you are replying to was not delivered, so the customer could not see the quote. "
            "Send without the quote."
        )
    return target


def reaction_target(customer: Customer, message: Message | int | str | None, *, now: datetime) -> Message:
    """The customer's message a reaction is about: theirs, in this thread, with a wamid, at most
    REACTION_WITHIN old (the platform refuses older ones)."""
    target = _in_thread(customer, message)
    if target is None or target.direction != Message.Direction.INBOUND:
        raise ReactionTargetInvalid(
            "Reactions go on the customer's own messages in this conversation: that message is not one."
        )
    if target.wa_type in policy.NOT_A_TURN:
        raise ReactionTargetInvalid("A reaction or a notice cannot be reacted to: react to a message.")
    if not target.wamid:
        raise ReactionTargetInvalid("WhatsApp gave this message no id, so it cannot be reacted to.")
    if target.occurred_at < now - REACTION_WITHIN:
        raise ReactionTargetInvalid(
            f"WhatsApp takes reactions only to messages from the last {REACTION_WITHIN_DAYS} days; "
            "this one is older."
        )
    return target


def check_emoji(emoji: str) -> str:
    """One of the offered emoji, or "" (removes our reaction)."""
    emoji = (emoji or "").strip()
    if emoji and emoji not in REACTION_EMOJIS:
        offered = " ".join(REACTION_EMOJIS)
        raise ReactionTargetInvalid(f"React with one of {offered}, or remove your reaction.")
    return emoji


def our_reaction(target: Message) -> Message | None:
    """Our latest reaction to `target` (the one the customer sees: a later one replaces or removes it)."""
    return (
        Message.objects.filter(
            customer_id=target.customer_id,
            direction=Message.Direction.OUTBOUND,
            wa_type="reaction",
            context_wamid=target.wamid,
        )
        .exclude(status=Message.Status.FAILED)
        .order_by("-occurred_at", "-pk")
        .first()
    )
