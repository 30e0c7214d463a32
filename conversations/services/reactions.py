"""An agent's emoji reaction to a customer's message: a message of the platform's own type (`reaction`),
sent through the one send path (outbound._send) and its Celery task like a text.

Which rules apply, decided from rules.md: a reaction is not a template, so it is a *free-form* message
("Terms": "free-form (text, media, anything that is not a template)"). Hence R2: inside the customer
service window only; and R4 (R6 for a free-entry point): it joins an open conversation, or opens a
service conversation when none is open, exactly as a text would (the platform prices it as a service
message, per message: whatsapp-cloud-api.md, "Pricing per message"). It is no *turn* of the
conversation (policy.NOT_A_TURN): it never answers the customer for the inbox's "needs reply".
"""

from __future__ import annotations

from datetime import datetime

from conversations import policy
from conversations.exceptions import ReactionTargetInvalid
from conversations.models import Customer, Message
from conversations.services import targets
from conversations.services.outbound import Prepare, _send


def send_reaction(
    *,
    customer: Customer,
    message: Message | int,
    emoji: str,
    agent=None,
    now: datetime | None = None,
) -> Message:
    """Queue our reaction `emoji` to the customer's `message` ("" removes our reaction; the latest one
    is what the customer sees). ReactionTargetInvalid for a message that is not the customer's own in
    this thread with a wamid, older than the platform takes, an emoji not offered, or a removal with
    nothing to remove; WindowClosed outside the window (R2). R4/R6: see the module's docstring."""
    return _send(customer, _reaction(message, targets.check_emoji(emoji)), agent=agent, now=now)


def _reaction(message: Message | int, emoji: str) -> Prepare:
    def prepare(customer: Customer, now: datetime) -> tuple[policy.Outbound, dict]:
        target = targets.reaction_target(customer, message, now=now)
        if not emoji:
            current = targets.our_reaction(target)
            if current is None or not (current.details or {}).get("reaction"):
                raise ReactionTargetInvalid(
                    "You have not reacted to this message, so there is nothing to remove."
                )
        fields = {
            "kind": Message.Kind.FREE_FORM,
            "wa_type": "reaction",
            "body": f"[Reaction] {emoji}" if emoji else "[Reaction removed]",
            "context_wamid": target.wamid,
            "details": {"reaction": emoji},
        }
        return policy.Outbound.free_form(), fields

    return prepare
