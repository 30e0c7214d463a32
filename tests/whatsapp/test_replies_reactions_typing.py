"""Replies, reactions and the typing indicator on the wire: the exact JSON posted to a real HTTP server on
loopback standing in for the Graph API (fake_graph.py), through `deliver_message` (what the send task
runs) and `reading.indicate_typing` (what the typing task runs); the throttle of the typing indicator
with time-machine; and the sandbox, which checks what these name like the platform (131009)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group, User

from conversations import services
from conversations.models import Customer, Message
from tests.whatsapp.fake_graph import Reply, graph_error
from whatsapp import reading, sandbox
from whatsapp import services as channel
from whatsapp.client import PlatformError

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WA_ID = "16505551234"
PHONE_NUMBER_ID = "106540352242922"


@pytest.fixture
def platform(settings, fake_graph):
    settings.WHATSAPP_SANDBOX = False
    settings.WHATSAPP_API_BASE = fake_graph.url
    settings.WHATSAPP_API_VERSION = "v23.0"
    settings.WHATSAPP_PHONE_NUMBER_ID = PHONE_NUMBER_ID
    settings.WHATSAPP_ACCESS_TOKEN = "test-token"
    settings.WHATSAPP_HTTP_TIMEOUT = 2.0
    return fake_graph


def writes(body="Is it waterproof?", *, at=T0, wa_id=WA_ID, wa_type="text", wamid=None) -> Message:
    with time_machine.travel(at, tick=False):
        return services.receive_message(
            wa_id=wa_id,
            body=body,
            wamid=wamid or f"wamid.IN-{wa_id}-{at.timestamp():.0f}",
            timestamp=at,
            name="Sheena",
            wa_type=wa_type,
            context_wamid="wamid.SOMETHING" if wa_type == "reaction" else "",
        )


def delivered(message: Message) -> Message:
    assert channel.deliver_message(message.pk).result == "sent"
    message.refresh_from_db()
    return message


# --- On the wire ---------------------------------------------------------------------------------------


def test_a_reply_carries_the_quoted_messages_wamid_as_context(platform):
    question = writes()
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        reply = services.send_text(customer=question.customer, body="Yes, fully.", reply_to=question)
    reply = delivered(reply)
    [request] = platform.requests
    assert request.path == f"/v23.0/{PHONE_NUMBER_ID}/messages"
    assert request.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": f"+{WA_ID}",
        "type": "text",
        "text": {"body": "Yes, fully.", "preview_url": False},
        "biz_opaque_callback_data": f"msg-{reply.pk}",
        "context": {"message_id": question.wamid},
    }
    assert reply.status == "sent" and reply.wamid.startswith("wamid.FAKE")


def test_a_text_without_a_reply_carries_no_context(platform):
    question = writes()
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        delivered(services.send_text(customer=question.customer, body="Hello"))
    assert "context" not in platform.requests[0].json


def test_a_reaction_and_its_removal_are_posted_in_the_documented_shape(platform):
    question = writes()
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        like = delivered(services.send_reaction(customer=question.customer, message=question, emoji="👍"))
        removal = delivered(services.send_reaction(customer=question.customer, message=question, emoji=""))
    assert [r.json for r in platform.requests] == [
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": f"+{WA_ID}",
            "type": "reaction",
            "reaction": {"message_id": question.wamid, "emoji": "👍"},
            "biz_opaque_callback_data": f"msg-{like.pk}",
        },
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": f"+{WA_ID}",
            "type": "reaction",
            "reaction": {"message_id": question.wamid, "emoji": ""},
            "biz_opaque_callback_data": f"msg-{removal.pk}",
        },
    ]
    assert like.status == removal.status == "sent"


def test_a_reaction_to_a_customer_known_only_by_user_id_goes_to_recipient(platform):
    with time_machine.travel(T0, tick=False):
        question = services.receive_message(
            user_id="US.13491208655302741918", body="Hi", wamid="wamid.BSUID1", timestamp=T0, name="Noa"
        )
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        delivered(services.send_reaction(customer=question.customer, message=question, emoji="❤️"))
    [request] = platform.requests
    assert request.json["recipient"] == "US.13491208655302741918" and "to" not in request.json
    assert not platform.misaddressed


# --- The typing indicator --------------------------------------------------------------------------------


def test_the_typing_indicator_is_the_read_call_with_the_indicator_on_the_latest_customer_message(platform):
    writes("First", at=T0 - timedelta(minutes=5))
    latest = writes("Second", at=T0 - timedelta(minutes=1))
    writes("[Reaction] 👍", at=T0, wa_type="reaction", wamid="wamid.REACTION")  # never the one marked
    with time_machine.travel(T0 + timedelta(seconds=5), tick=False):
        assert reading.indicate_typing(latest.customer_id).result == "shown"
    [request] = platform.requests
    assert request.path == f"/v23.0/{PHONE_NUMBER_ID}/messages"
    assert request.json == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": latest.wamid,
        "typing_indicator": {"type": "text"},
    }


def test_a_refused_typing_indicator_is_not_retried(platform):
    customer = writes().customer
    platform.enqueue(Reply(status=400, body=graph_error(131009, "Parameter value is not valid")))
    with time_machine.travel(T0 + timedelta(seconds=5), tick=False):
        assert reading.indicate_typing(customer.pk).result == "failed"
    assert len(platform.requests) == 1


def test_typing_is_asked_for_at_most_every_20_seconds_per_customer(django_capture_on_commit_callbacks):
    customer = writes().customer
    asked = []
    for seconds in (0, 10, 19, 20, 39, 40):
        now = T0 + timedelta(minutes=1, seconds=seconds)
        with django_capture_on_commit_callbacks() as queued:
            outcome = reading.request_typing_indicator(Customer.objects.get(pk=customer.pk), now=now)
        asked.append((seconds, outcome, len(queued)))
    assert asked == [
        (0, "queued", 1),
        (10, "throttled", 0),
        (19, "throttled", 0),
        (20, "queued", 1),  # 20 s after the last one: asked again
        (39, "throttled", 0),
        (40, "queued", 1),
    ]
    customer.refresh_from_db()
    assert customer.typing_indicated_at == T0 + timedelta(minutes=1, seconds=40)


def test_two_agents_typing_at_once_ask_once(
    django_capture_on_commit_callbacks,
):
    """Two agents (two processes: each with its own copy of the row) typing at once: one call."""
    customer = writes().customer
    first, second = Customer.objects.get(pk=customer.pk), Customer.objects.get(pk=customer.pk)
    now = T0 + timedelta(minutes=1)
    with django_capture_on_commit_callbacks() as queued:
        outcomes = [reading.request_typing_indicator(c, now=now) for c in (first, second)]
    assert outcomes == ["queued", "throttled"] and len(queued) == 1
    other = writes(wa_id="4915112345678").customer  # another customer has their own 20 s
    assert reading.request_typing_indicator(other, now=now) == "queued"


def test_no_typing_indicator_outside_the_window_or_without_a_customer_message():
    customer = writes().customer
    # R2: at 24:00:00 the window is closed, no reply is coming: nothing is asked (23:59:59 still is).
    assert reading.request_typing_indicator(customer, now=T0 + timedelta(hours=24)) == "window closed"
    assert reading.request_typing_indicator(
        customer, now=T0 + timedelta(hours=23, minutes=59, seconds=59)
    ) == ("queued")
    # Only a reaction from this customer: their window is open, but there is no message to show it on.
    reacted = writes("[Reaction] 👍", wa_id="4915112345678", wa_type="reaction").customer
    assert reading.request_typing_indicator(reacted, now=T0 + timedelta(minutes=1)) == "no customer message"
    assert Customer.objects.get(pk=reacted.pk).typing_indicated_at is None


# --- The sandbox -------------------------------------------------------------------------------------------


@pytest.fixture
def in_sandbox(settings):
    settings.WHATSAPP_SANDBOX = True


def sandbox_send(payload):
    return sandbox.SandboxClient().send(payload)


def test_the_sandbox_takes_replies_and_reactions_naming_messages_of_the_chat(in_sandbox):
    question = writes(at=datetime.now(UTC) - timedelta(minutes=5))
    base = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": f"+{WA_ID}"}
    text = {"type": "text", "text": {"body": "Yes"}}
    assert sandbox_send({**base, **text, "context": {"message_id": question.wamid}}).wamid
    reaction = {"type": "reaction", "reaction": {"message_id": question.wamid, "emoji": "👍"}}
    assert sandbox_send({**base, **reaction}).wamid
    removal = {"type": "reaction", "reaction": {"message_id": question.wamid, "emoji": ""}}
    assert sandbox_send({**base, **removal}).wamid

    other = writes(wa_id="4915112345678", at=datetime.now(UTC) - timedelta(minutes=5))
    for refused in (
        {**base, **text, "context": {"message_id": "wamid.NOPE"}},
        {**base, **text, "context": {"message_id": other.wamid}},  # another chat's message
        {**base, "type": "reaction", "reaction": {"message_id": "wamid.NOPE", "emoji": "👍"}},
    ):
        with pytest.raises(PlatformError) as refusal:
            sandbox_send(refused)
        assert refusal.value.code == 131009
    with pytest.raises(PlatformError) as malformed:
        sandbox_send({**base, "type": "reaction", "reaction": {"message_id": question.wamid}})
    assert malformed.value.code == 100


def test_the_sandbox_refuses_a_reaction_outside_the_window_with_131047(in_sandbox):
    question = writes(at=datetime.now(UTC) - timedelta(hours=25))
    reaction = {"type": "reaction", "reaction": {"message_id": question.wamid, "emoji": "👍"}}
    with pytest.raises(PlatformError) as refusal:
        sandbox_send({"messaging_product": "whatsapp", "to": f"+{WA_ID}", **reaction})
    assert refusal.value.code == 131047


def test_the_sandbox_shows_the_typing_indicator_on_a_customers_message(in_sandbox):
    question = writes(at=datetime.now(UTC) - timedelta(minutes=1))
    assert reading.indicate_typing(question.customer_id).result == "shown"
    assert sandbox.typing_indicators[-1] == question.wamid == sandbox.read_marks[-1]
    with pytest.raises(PlatformError) as refusal:
        sandbox.SandboxClient().mark_read(
            {
                "messaging_product": "whatsapp",
                "status": "read",
                "message_id": "wamid.NOPE",
                "typing_indicator": {"type": "text"},
            }
        )
    assert refusal.value.code == 131009


def test_the_sandbox_sends_a_reaction_through_the_send_task_end_to_end(in_sandbox):
    agent = User.objects.create_user("alex")
    agent.groups.set([Group.objects.get(name="agents")])
    question = writes(at=datetime.now(UTC) - timedelta(minutes=1))
    reaction = services.send_reaction(customer=question.customer, message=question, emoji="🙏", agent=agent)
    assert channel.deliver_message(reaction.pk).result == "sent"
    reaction.refresh_from_db()
    assert reaction.status == "sent" and reaction.wamid.startswith("wamid.SANDBOX")
