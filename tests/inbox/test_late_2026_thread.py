"""What the agent sees of the platform as it is in late 2026: customers without a phone number, identity
changes, replies and reactions with their context, form answers and marketing opt-outs, all arriving
through the signed webhook in the platform's shapes and rendered by the inbox pages."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.urls import reverse

from conversations import services
from conversations.models import Customer, Message
from tests import factories
from tests.whatsapp import deliveries as d

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
BSUID = "US.13491208655302741918"


@pytest.fixture
def agent_client(client):
    agent = User.objects.create_user("alex", password="pw", first_name="Alex")
    agent.groups.set([Group.objects.get(name="agents")])
    client.force_login(agent)
    return client


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def post(client, delivery):
    body, header = d.signed(delivery, settings.WHATSAPP_APP_SECRET)
    response = client.post(
        "/webhooks/whatsapp/",
        data=body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": header},
    )
    assert response.status_code == 200, response.content
    return response


def username_only(text, *, wamid, at, **extra):
    """A text from a customer with a username and no shared phone number (whatsapp-cloud-api.md)."""
    message = {
        "from_user_id": BSUID,
        "id": wamid,
        "timestamp": d.unix(at),
        "type": "text",
        "text": {"body": text},
    }
    message.update(extra)
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": d.DISPLAY_PHONE_NUMBER, "phone_number_id": d.PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Sheena Nelson", "username": "@sheena"}, "user_id": BSUID}],
        "messages": [message],
    }
    return d.delivery(d.change("messages", value))


def page(client, customer):
    return client.get(reverse("inbox:customer", args=[customer.pk])).text


def test_a_username_only_customer_is_shown_searched_and_answered_in_the_window(client, agent_client):
    post(client, username_only("Another colour?", wamid="wamid.S1", at=NOW - timedelta(minutes=5)))
    customer = Customer.objects.get()
    html = page(agent_client, customer)
    assert "Sheena Nelson" in html and "@sheena" in html and BSUID in html
    assert "Not shared with us" in html  # the phone number, in the side panel
    assert 'data-compose-mode="free-form"' in html  # R1: the window opened at the message's timestamp
    listing = agent_client.get(reverse("inbox:list"), {"q": "@sheena"}).text
    assert "Sheena Nelson" in listing
    assert "Sheena Nelson" in agent_client.get(reverse("inbox:list"), {"q": BSUID}).text
    response = agent_client.post(
        reverse("inbox:send-text", args=[customer.pk]),
        {"body": "Yes, in red.", "client_token": "0b0f6c3e-8a43-4b7e-9d57-1f4c6c2d7a10"},
    )
    assert response.status_code == 200
    assert Message.objects.get(direction="outbound").conversation.category == "service"  # R4


def test_a_number_change_is_a_line_in_the_thread_and_the_same_customer(client, agent_client):
    post(client, d.inbound_delivery("16505551234", "Hi", timestamp=NOW - timedelta(hours=1), wamid="wamid.A"))
    notice = d.system_message(
        "16505551234",
        "User Sheena Nelson changed from 16505551234 to 16505559876",
        new_wa_id="16505559876",
        timestamp=NOW - timedelta(minutes=30),
    )
    post(client, d.delivery(d.messages_change(notice)))
    post(
        client,
        d.inbound_delivery(
            "16505559876", "New phone", timestamp=NOW - timedelta(minutes=10), wamid="wamid.B"
        ),
    )
    customer = Customer.objects.get()
    assert customer.wa_id == "16505559876"
    html = page(agent_client, customer)
    assert re.search(
        r'class="system system-identity"><span>The customer&#x27;s WhatsApp identity changed: phone number '
        r"\+16505551234 → \+16505559876\.",
        html,
    )
    assert "New phone" in html and "Hi" in html


def test_replies_quote_what_they_answer_and_reactions_sit_beside_their_message(client, agent_client):
    post(
        client,
        d.inbound_delivery(
            "16505551234", "Is it waterproof?", timestamp=NOW - timedelta(minutes=20), wamid="wamid.Q"
        ),
    )
    customer = Customer.objects.get()
    ours = services.send_text(customer=customer, body="Yes, fully waterproof.")
    Message.objects.filter(pk=ours.pk).update(wamid="wamid.OURS", status="sent")
    reply = d.text_message(
        "16505551234",
        "Great, ordering now",
        timestamp=NOW - timedelta(minutes=5),
        wamid="wamid.R",
        context="wamid.OURS",
    )
    like = d.reaction_message(
        "16505551234", "wamid.OURS", "👍", timestamp=NOW - timedelta(minutes=4), wamid="wamid.L"
    )
    post(client, d.delivery(d.messages_change(reply, like)))
    html = page(agent_client, customer)
    assert "In reply to </span>You: Yes, fully waterproof." in html
    ours_html = html[html.index(f'id="message-{ours.pk}"') :]
    ours_html = ours_html[: ours_html.index("</li>")]
    assert 'class="reaction"' in ours_html and "👍" in ours_html
    assert "[Reaction]" not in html  # not a bubble of its own
    # A removed reaction removes it.
    post(
        client,
        d.delivery(
            d.messages_change(
                d.reaction_message(
                    "16505551234", "wamid.OURS", "", timestamp=NOW - timedelta(minutes=2), wamid="wamid.L2"
                )
            )
        ),
    )
    html = page(agent_client, customer)
    ours_html = html[html.index(f'id="message-{ours.pk}"') :]
    assert 'class="reaction"' not in ours_html[: ours_html.index("</li>")]


def test_form_answers_and_a_marketing_opt_out_are_shown(client, agent_client):
    answers = {"flow_token": "t-1", "screen_0_Size_0": "0_Large", "screen_0_Gift_wrap_1": True}
    post(
        client,
        d.delivery(
            d.messages_change(
                d.form_reply_message("16505551234", answers, timestamp=NOW - timedelta(minutes=3))
            )
        ),
    )
    customer = Customer.objects.get()
    preferences = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": d.DISPLAY_PHONE_NUMBER, "phone_number_id": d.PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Sheena"}, "wa_id": "16505551234"}],
        "user_preferences": [
            {
                "wa_id": "16505551234",
                "detail": "User requested to stop marketing messages",
                "category": "marketing_messages",
                "value": "stop",
                "timestamp": int((NOW - timedelta(minutes=1)).timestamp()),
            }
        ],
    }
    post(client, d.delivery(d.change("user_preferences", preferences)))
    marketing = factories.template(category="MARKETING", name="autumn_sale")
    html = page(agent_client, customer)
    assert "<dt>Size</dt><dd>Large</dd>" in html and "<dt>Gift wrap</dt><dd>yes</dd>" in html
    assert "stopped marketing messages from us" in html
    assert f'value="{marketing.pk}" data-category="MARKETING" data-language="en_US" disabled' in html


def test_a_customer_who_only_reacted_to_our_reply_needs_no_reply_and_the_preview_is_theirs(
    client, agent_client
):
    post(
        client,
        d.inbound_delivery(
            "16505551234", "Open on Sunday?", timestamp=NOW - timedelta(minutes=20), wamid="wamid.Q"
        ),
    )
    customer = Customer.objects.get()
    ours = services.send_text(customer=customer, body="Yes, 10 to 4.", now=NOW - timedelta(minutes=10))
    Message.objects.filter(pk=ours.pk).update(wamid="wamid.OURS", status="sent")
    post(
        client,
        d.delivery(
            d.messages_change(
                d.reaction_message(
                    "16505551234", "wamid.OURS", "🙏", timestamp=NOW - timedelta(minutes=1), wamid="wamid.L"
                )
            )
        ),
    )
    row = agent_client.get(reverse("inbox:list"), {"view": "all"}).text
    preview = re.search(r"<span class=\"preview\">(.*?)</span>\s*<span class=\"row-meta\">", row, re.S).group(
        1
    )
    assert preview.strip() == "[Reaction] 🙏", preview  # the customer's, not "You:"
    assert "Needs reply" not in row
    assert "Nobody here" in agent_client.get(reverse("inbox:list"), {"view": "needs-reply"}).text
