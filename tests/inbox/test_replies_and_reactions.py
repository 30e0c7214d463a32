"""Replies, reactions and the typing indicator in the inbox's server side (issue 14, item 4): who may use
them (every role, anonymous, CSRF), what the server refuses and how it says so, what the thread shows,
and constant query counts with replies and reactions in the thread."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conversations import services
from conversations.models import Customer, Message
from tests.factories import user

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def agent():
    return user("alex", "agents")


@pytest.fixture
def as_agent(client, agent):
    client.force_login(agent)
    return client


def wrote(body="Is it waterproof?", *, ago=timedelta(minutes=10), wa_id="16505551234") -> Message:
    return services.receive_message(
        wa_id=wa_id,
        body=body,
        wamid=f"wamid.IN-{uuid.uuid4().hex[:10]}",
        timestamp=NOW - ago,
        name="Sheena",
    )


def accepted(message: Message) -> Message:
    """WhatsApp accepted `message` (as whatsapp.services.deliver_message records it: claimed, then sent)."""
    Message.objects.filter(pk=message.pk, status="queued").update(status="sending")
    services.record_accepted(message=message, wamid=f"wamid.OUT-{uuid.uuid4().hex[:10]}")
    message.refresh_from_db()
    return message


def bubble(html: str, message: Message) -> str:
    start = html.index(f'id="message-{message.pk}"')
    return html[start : html.index("</li>", start)]


def send(client, customer, body, reply_to=""):
    return client.post(
        reverse("inbox:send-text", args=[customer.pk]),
        {"body": body, "client_token": uuid.uuid4(), "reply_to": reply_to},
        HTTP_HX_REQUEST="true",
    )


def react(client, customer, message, emoji):
    return client.post(
        reverse("inbox:react", args=[customer.pk]),
        {"message": message.pk if isinstance(message, Message) else message, "emoji": emoji},
        HTTP_HX_REQUEST="true",
    )


# --- Who may ------------------------------------------------------------------------------------------

POSTS = ["inbox:react", "inbox:typing", "inbox:send-text"]


@pytest.mark.parametrize("name", POSTS)
def test_anonymous_is_sent_to_sign_in_and_htmx_gets_401(client, name):
    question = wrote()
    url = reverse(name, args=[question.customer_id])
    response = client.post(url, {"message": question.pk, "emoji": "👍"})
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.post(url, {"message": question.pk}, HTTP_HX_REQUEST="true").status_code == 401
    assert not Message.objects.filter(direction="outbound").exists()


@pytest.mark.parametrize("name", POSTS)
@pytest.mark.parametrize("role", [None, "supervisors", "admins"])
def test_only_agents_may_reply_react_or_show_typing(client, name, role):
    question = wrote()
    client.force_login(user("someone", role))
    response = client.post(
        reverse(name, args=[question.customer_id]),
        {
            "message": question.pk,
            "emoji": "👍",
            "body": "Hi",
            "client_token": uuid.uuid4(),
            "reply_to": question.pk,
        },
    )
    assert response.status_code == 403 and "send messages to customers" in response.text
    assert not Message.objects.filter(direction="outbound").exists()
    assert Customer.objects.get(pk=question.customer_id).typing_indicated_at is None


@pytest.mark.parametrize("name", ["inbox:react", "inbox:typing"])
def test_posts_need_the_csrf_token(agent, name):
    question = wrote()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(agent)
    url = reverse(name, args=[question.customer_id])
    assert strict.post(url, {"message": question.pk, "emoji": "👍"}).status_code == 403
    assert not Message.objects.filter(direction="outbound").exists()
    strict.get(reverse("inbox:customer", args=[question.customer_id]))  # sets the cookie
    token = strict.cookies["csrftoken"].value
    answer = strict.post(url, {"message": question.pk, "emoji": "👍"}, HTTP_X_CSRFTOKEN=token)
    assert answer.status_code in (202, 204)


# --- Replies ------------------------------------------------------------------------------------------


def test_a_reply_is_sent_with_its_quote_and_shown_like_an_inbound_reply(as_agent):
    question = wrote("Is it waterproof?\nAnd does it float?")
    customer = question.customer
    response = send(as_agent, customer, "Yes, fully.", reply_to=question.pk)
    assert response.status_code == 200 and response["HX-Trigger"] == "message-sent"
    reply = Message.objects.get(direction="outbound")
    assert reply.context_wamid == question.wamid
    assert "data-reply-quote hidden" in response.text  # the quote is gone with the sent reply

    html = as_agent.get(reverse("inbox:thread", args=[customer.pk])).text
    ours = bubble(html, reply)
    assert '<p class="quote"><span class="sr-only">In reply to </span>Customer: Is it waterproof?</p>' in ours
    # The customer replies to our reply: the same quote, the other way round.
    services.record_accepted(message=reply, wamid="wamid.OURS")
    theirs = services.receive_message(
        wa_id=customer.wa_id, body="Great", wamid="wamid.R", timestamp=NOW, context_wamid="wamid.OURS"
    )
    html = as_agent.get(reverse("inbox:thread", args=[customer.pk])).text
    assert '<p class="quote"><span class="sr-only">In reply to </span>You: Yes, fully.</p>' in bubble(
        html, theirs
    )


def test_a_quote_of_a_message_we_do_not_have_says_so(as_agent):
    customer = wrote().customer
    reply = services.receive_message(
        wa_id=customer.wa_id, body="About that", wamid="wamid.R", timestamp=NOW, context_wamid="wamid.GONE"
    )
    html = as_agent.get(reverse("inbox:thread", args=[customer.pk])).text
    assert "In reply to </span>a message that is not in this inbox" in bubble(html, reply)


def test_a_reply_to_another_customers_message_is_a_400_that_keeps_the_text(as_agent):
    other = wrote(wa_id="4915112345678")
    customer = wrote().customer
    response = send(as_agent, customer, "Sorry for the wait!", reply_to=other.pk)
    assert response.status_code == 400
    assert "not in this customer&#x27;s conversation" in response.text
    assert ">Sorry for the wait!</textarea>" in response.text
    queued = Message.objects.create(  # ours, not yet accepted: no wamid
        customer=customer, direction="outbound", status="queued", body="x", occurred_at=NOW
    )
    response = send(as_agent, customer, "Again", reply_to=queued.pk)
    assert response.status_code == 400 and "has not reached WhatsApp yet" in response.text
    assert send(as_agent, customer, "Again", reply_to="nonsense").status_code == 400
    assert not Message.objects.filter(direction="outbound").exclude(pk=queued.pk).exists()


def test_a_reply_outside_the_window_is_refused_409_in_template_only_mode(as_agent, frozen_clock):
    question = wrote(ago=timedelta(hours=23, minutes=59))
    frozen_clock.shift(timedelta(minutes=1))  # 24:00:00 after the customer wrote
    response = send(as_agent, question.customer, "Late", reply_to=question.pk)
    assert response.status_code == 409 and 'data-compose-mode="template-only"' in response.text
    assert not Message.objects.filter(direction="outbound").exists()


def test_a_reply_refused_for_its_text_keeps_its_quote(as_agent):
    question = wrote("Is it waterproof?\nAnd does it float?")
    response = send(as_agent, question.customer, "   ", reply_to=question.pk)
    assert response.status_code == 422 and "The message is empty" in response.text
    assert f'name="reply_to" value="{question.pk}"' in response.text
    assert "<strong data-reply-author>Customer</strong>: <span data-reply-text>Is it waterproof?</span>" in (
        response.text
    )
    assert "data-reply-quote hidden" not in response.text
    assert not Message.objects.filter(direction="outbound").exists()


# --- Reactions -----------------------------------------------------------------------------------------


def test_a_reaction_is_queued_shown_beside_the_message_and_removed(as_agent):
    question = wrote()
    customer = question.customer
    response = react(as_agent, customer, question, "👍")
    assert response.status_code == 204 and response["HX-Trigger"] == "message-sent"
    reaction = Message.objects.get(direction="outbound")
    assert (reaction.wa_type, reaction.details, reaction.status) == ("reaction", {"reaction": "👍"}, "queued")

    html = as_agent.get(reverse("inbox:thread", args=[customer.pk])).text
    theirs = bubble(html, question)
    assert re.search(r'<p class="our-reaction pending" title="You reacted 👍 \(on its way', theirs)
    assert 'aria-pressed="true">👍</button>' in theirs and ">Remove</button>" in theirs
    assert f'id="message-{reaction.pk}"' not in html  # not a bubble of its own
    assert "Needs reply" in as_agent.get(reverse("inbox:list")).text  # a reaction answers nothing

    accepted(reaction)  # WhatsApp has it now, then the agent changes it, then removes it
    react(as_agent, customer, question, "🙏")
    theirs = bubble(as_agent.get(reverse("inbox:thread", args=[customer.pk])).text, question)
    assert "🙏</p>" in theirs and "👍</p>" not in theirs
    assert react(as_agent, customer, question, "").status_code == 204
    theirs = bubble(as_agent.get(reverse("inbox:thread", args=[customer.pk])).text, question)
    assert "our-reaction" not in theirs and ">Remove</button>" not in theirs


def test_both_sides_reactions_show_side_by_side_the_latest_of_each_wins(as_agent):
    customer = wrote().customer
    ours = accepted(services.send_text(customer=customer, body="Here you go"))
    question = wrote("Thanks! And the size?", ago=timedelta(minutes=1))
    services.receive_message(
        wa_id=customer.wa_id,
        body="[Reaction] ❤️",
        wamid="wamid.L1",
        timestamp=NOW,
        wa_type="reaction",
        context_wamid=ours.wamid,
        details={"reaction": "❤️"},
    )
    react(as_agent, customer, question, "😂")
    html = as_agent.get(reverse("inbox:thread", args=[customer.pk])).text
    assert 'title="The customer reacted ❤️"' in bubble(html, ours)
    assert "our-reaction" not in bubble(html, ours)
    assert 'title="You reacted 😂' in bubble(html, question)
    assert 'class="reaction"' not in bubble(html, question)


def test_a_reaction_that_failed_says_so_and_the_previous_one_stays(as_agent):
    question = wrote()
    customer = question.customer
    accepted(services.send_reaction(customer=customer, message=question, emoji="👍"))
    failed = services.send_reaction(customer=customer, message=question, emoji="😮")
    services.mark_message_failed(message=failed, error_code=131009, error_text="WhatsApp refused it.")
    theirs = bubble(as_agent.get(reverse("inbox:thread", args=[customer.pk])).text, question)
    assert 'title="You reacted 👍"' in theirs
    assert "Your reaction 😮 was not delivered. WhatsApp refused it." in theirs


def test_refused_reactions_say_why(as_agent, frozen_clock):
    other = wrote(wa_id="4915112345678")
    question = wrote()
    customer = question.customer
    response = react(as_agent, customer, other, "👍")
    assert response.status_code == 400 and "customer&#x27;s own messages" in response.text
    response = react(as_agent, customer, question, "🦄")
    assert response.status_code == 400 and "React with one of" in response.text
    frozen_clock.shift(timedelta(hours=24))
    response = react(as_agent, customer, question, "👍")
    assert response.status_code == 409 and 'data-compose-mode="template-only"' in response.text
    assert not Message.objects.filter(direction="outbound").exists()


# --- The actions, offered only where they can be used ------------------------------------------------------


def test_reply_and_react_are_offered_to_agents_inside_the_window_only(client, as_agent, frozen_clock):
    question = wrote()
    customer = question.customer
    ours = accepted(services.send_text(customer=customer, body="Yes"))
    queued = services.send_text(customer=customer, body="Also…")
    html = as_agent.get(reverse("inbox:customer", args=[customer.pk])).text
    theirs = bubble(html, question)
    assert (
        f'data-reply-to="{question.pk}" data-reply-author="Customer" data-reply-text="Is it waterproof?"'
        in theirs
    )
    assert "<summary" in theirs and 'value="🙏"' in theirs
    assert f'data-reply-to="{ours.pk}" data-reply-author="You"' in bubble(html, ours)
    assert "<summary" not in bubble(html, ours)  # we react to the customer's messages only
    assert "data-reply-to" not in bubble(html, queued)  # no wamid yet: nothing to quote
    assert 'name="reply_to"' in html and "data-typing-url=" in html

    client.force_login(user("morgan", "supervisors"))
    assert "data-reply-to" not in client.get(reverse("inbox:customer", args=[customer.pk])).text

    frozen_clock.shift(timedelta(hours=24))
    html = as_agent.get(reverse("inbox:customer", args=[customer.pk])).text
    assert "data-reply-to" not in html and "react-choices" not in html


def test_thread_queries_stay_constant_with_replies_and_reactions(as_agent):
    customer = wrote().customer

    def conversation(n):
        for i in range(n):
            question = wrote(f"Question {i}", ago=timedelta(minutes=5))
            reply = accepted(services.send_text(customer=customer, body=f"Answer {i}", reply_to=question))
            services.send_reaction(customer=customer, message=question, emoji="👍")
            services.receive_message(
                wa_id=customer.wa_id,
                body="[Reaction] ❤️",
                wamid=f"wamid.L{uuid.uuid4().hex[:8]}",
                timestamp=NOW - timedelta(minutes=1),
                wa_type="reaction",
                context_wamid=reply.wamid,
                details={"reaction": "❤️"},
            )

    def queries(name):
        with CaptureQueriesContext(connection) as captured:
            assert as_agent.get(reverse(name, args=[customer.pk])).status_code == 200
        return len(captured)

    conversation(3)
    few = queries("inbox:customer"), queries("inbox:thread")
    conversation(40)
    assert (queries("inbox:customer"), queries("inbox:thread")) == few


# --- The typing indicator -----------------------------------------------------------------------------------


def test_typing_is_queued_at_most_every_20_seconds_and_never_outside_the_window(
    as_agent, frozen_clock, django_capture_on_commit_callbacks
):
    customer = wrote().customer
    url = reverse("inbox:typing", args=[customer.pk])

    def typing():
        with django_capture_on_commit_callbacks() as queued:
            response = as_agent.post(url, HTTP_HX_REQUEST="true")
        return response.status_code, response["X-Typing-Indicator"], len(queued)

    assert typing() == (202, "queued", 1)
    frozen_clock.shift(timedelta(seconds=19))
    assert typing() == (204, "throttled", 0)
    frozen_clock.shift(timedelta(seconds=1))
    assert typing() == (202, "queued", 1)
    frozen_clock.shift(timedelta(hours=24))
    assert typing() == (204, "window closed", 0)
