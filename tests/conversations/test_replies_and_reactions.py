"""Agents' replies (quoting a message) and reactions (an emoji on the customer's message), through the
public services on the database, with the clock controlled by time-machine (issue 14, item 4)."""

import pytest
import time_machine

from conversations import services
from conversations.exceptions import (
    InvalidMessage,
    ReactionTargetInvalid,
    ReplyTargetInvalid,
    WindowClosed,
)
from conversations.models import Conversation, Customer, Message
from tests import factories
from tests.factories import at

pytestmark = pytest.mark.django_db


def wrote(wa_id: str, when, body="Where is my order?", *, wa_type="text", context_wamid="") -> Message:
    with time_machine.travel(when, tick=False):
        return services.receive_message(
            wa_id=wa_id,
            body=body,
            wamid=f"wamid.IN-{wa_id}-{when.timestamp():.0f}-{wa_type}",
            timestamp=when,
            name="Sheena",
            wa_type=wa_type,
            context_wamid=context_wamid,
        )


def accepted(message: Message, wamid: str) -> Message:
    """The platform accepted our message under `wamid` (as whatsapp.services.deliver_message records it:
    claimed, then sent)."""
    Message.objects.filter(pk=message.pk, status="queued").update(status="sending")
    services.record_accepted(message=message, wamid=wamid)
    message.refresh_from_db()
    return message


def outbound_count() -> int:
    return Message.objects.filter(direction=Message.Direction.OUTBOUND).count()


# --- Replies -----------------------------------------------------------------------------------------


def test_a_reply_quotes_the_customers_message_and_ours_by_their_wamids():
    question = wrote("16505551234", at(0, "09:00"))
    customer = question.customer
    reply = services.send_text(
        customer=customer, body="It left today.", reply_to=question, now=at(0, "09:05")
    )
    assert (reply.context_wamid, reply.wa_type, reply.kind) == (question.wamid, "text", "free_form")
    ours = accepted(reply, "wamid.OURS1")
    again = services.send_text(customer=customer, body="Tracking: 123", reply_to=ours.pk, now=at(0, "09:06"))
    assert again.context_wamid == "wamid.OURS1"
    # A reply is a turn like any text: the customer no longer waits for one.
    customer.refresh_from_db()
    assert customer.last_turn_direction == "outbound"


def test_a_reply_to_another_customers_message_is_refused_and_creates_nothing():
    theirs = wrote("4915112345678", at(0, "08:00"))
    customer = wrote("16505551234", at(0, "09:00")).customer
    with pytest.raises(ReplyTargetInvalid, match="not in this customer's conversation"):
        services.send_text(customer=customer, body="Hi", reply_to=theirs, now=at(0, "09:05"))
    with pytest.raises(ReplyTargetInvalid, match="not in this customer's conversation"):
        services.send_text(customer=customer, body="Hi", reply_to=999_999, now=at(0, "09:05"))
    assert outbound_count() == 0 and not Conversation.objects.exists()


def test_a_reply_to_a_message_without_a_wamid_a_failed_one_or_a_reaction_is_refused():
    question = wrote("16505551234", at(0, "09:00"))
    customer = question.customer
    queued = services.send_text(customer=customer, body="On it", now=at(0, "09:01"))  # no wamid yet
    with pytest.raises(ReplyTargetInvalid, match="has not reached WhatsApp yet"):
        services.send_text(customer=customer, body="Hi", reply_to=queued, now=at(0, "09:02"))
    failed = accepted(services.send_text(customer=customer, body="Lost", now=at(0, "09:03")), "wamid.F")
    services.mark_message_failed(message=failed, error_code=131026, error_text="Undeliverable.")
    with pytest.raises(ReplyTargetInvalid, match="was not delivered"):
        services.send_text(customer=customer, body="Hi", reply_to=failed, now=at(0, "09:04"))
    like = wrote("16505551234", at(0, "09:05"), "[Reaction] 👍", wa_type="reaction", context_wamid="wamid.F")
    with pytest.raises(ReplyTargetInvalid, match="reaction or a notice cannot be quoted"):
        services.send_text(customer=customer, body="Hi", reply_to=like, now=at(0, "09:06"))
    assert outbound_count() == 2  # the two sends above, nothing from the refusals


def test_R2_a_reply_outside_the_window_is_refused_like_any_free_form_message():
    question = wrote("16505551234", at(0, "09:00"))
    services.send_text(customer=question.customer, body="ok", reply_to=question, now=at(1, "08:59:59"))
    with pytest.raises(WindowClosed):
        services.send_text(customer=question.customer, body="late", reply_to=question, now=at(1, "09:00"))
    assert outbound_count() == 1


# --- Reactions ---------------------------------------------------------------------------------------


def test_R2_R4_a_reaction_is_a_free_form_message_inside_the_window_only():
    """Decision (rules.md): a reaction is not a template, so it is a free-form message by the contract's
    own terms ("Terms": "free-form (text, media, anything that is not a template)"). R2: allowed inside
    the customer service window only: 23:59:59 after the customer wrote is allowed, 24:00:00 refused.
    R4: when no conversation is open, it opens a service conversation, as a text would (the platform
    prices a reaction per message as a service message); when one is open, it joins it."""
    question = wrote("16505551234", at(0, "09:00"))
    customer = question.customer
    first = services.send_reaction(customer=customer, message=question, emoji="👍", now=at(1, "08:59:59"))
    assert (first.wa_type, first.kind, first.status) == ("reaction", "free_form", "queued")
    assert (first.context_wamid, first.details, first.body) == (
        question.wamid,
        {"reaction": "👍"},
        "[Reaction] 👍",
    )
    assert first.conversation.category == "service" and first.conversation.opening_message == first
    with pytest.raises(WindowClosed):
        services.send_reaction(customer=customer, message=question, emoji="❤️", now=at(1, "09:00"))
    assert outbound_count() == 1
    # R4: a conversation is open (the one the first reaction opened): the next joins it.
    later = wrote("16505551234", at(1, "10:00"))
    second = services.send_reaction(customer=customer, message=later, emoji="🙏", now=at(1, "10:01"))
    assert second.conversation == first.conversation and Conversation.objects.count() == 1


def test_a_reaction_is_no_reply_the_customer_still_needs_one():
    question = wrote("16505551234", at(0, "09:00"))
    services.send_reaction(customer=question.customer, message=question, emoji="👍", now=at(0, "09:01"))
    customer = Customer.objects.get(pk=question.customer_id)
    assert customer.last_turn_direction == "inbound"  # "needs reply" follows turns, reactions aside
    assert customer.last_activity_at == at(0, "09:01")


def test_removing_our_reaction_sends_an_empty_emoji_and_needs_one_to_remove():
    question = wrote("16505551234", at(0, "09:00"))
    customer = question.customer
    with pytest.raises(ReactionTargetInvalid, match="nothing to remove"):
        services.send_reaction(customer=customer, message=question, emoji="", now=at(0, "09:01"))
    services.send_reaction(customer=customer, message=question, emoji="😂", now=at(0, "09:02"))
    removal = services.send_reaction(customer=customer, message=question, emoji="", now=at(0, "09:03"))
    assert (removal.details, removal.body, removal.context_wamid) == (
        {"reaction": ""},
        "[Reaction removed]",
        question.wamid,
    )
    with pytest.raises(ReactionTargetInvalid, match="nothing to remove"):
        services.send_reaction(customer=customer, message=question, emoji="", now=at(0, "09:04"))


def test_reactions_go_only_on_this_customers_own_messages_with_offered_emoji():
    other = wrote("4915112345678", at(0, "08:00"))
    question = wrote("16505551234", at(0, "09:00"))
    customer = question.customer
    ours = accepted(services.send_text(customer=customer, body="Hi", now=at(0, "09:01")), "wamid.OURS")
    for target in (other, ours, 424242):
        with pytest.raises(ReactionTargetInvalid, match="customer's own messages"):
            services.send_reaction(customer=customer, message=target, emoji="👍", now=at(0, "09:02"))
    with pytest.raises(ReactionTargetInvalid, match="React with one of"):
        services.send_reaction(customer=customer, message=question, emoji="🤖", now=at(0, "09:02"))
    with pytest.raises(InvalidMessage):  # the same error family the views map to 400
        services.send_reaction(customer=customer, message=question, emoji="<b>", now=at(0, "09:02"))
    assert outbound_count() == 1


def test_a_message_older_than_30_days_cannot_be_reacted_to():
    old = wrote("16505551234", at(0, "09:00"))
    wrote("16505551234", at(30, "08:00"))  # the window is open again
    services.send_reaction(customer=old.customer, message=old, emoji="👍", now=at(30, "09:00"))  # 30 days
    with pytest.raises(ReactionTargetInvalid, match="last 30 days"):
        services.send_reaction(customer=old.customer, message=old, emoji="❤️", now=at(30, "09:00:01"))


def test_a_customer_who_never_wrote_gets_neither():
    customer = factories.customer()
    with pytest.raises(ReplyTargetInvalid):
        services.send_text(customer=customer, body="Hi", reply_to=1, now=at(0, "09:00"))
