"""Sending to a customer known only by a business-scoped user id (BSUID): posted with `recipient`, never
the BSUID in `to`; the answer without `wa_id` understood; error 131062 explained and the compose area
offering what can still be sent. The Graph API is a real HTTP server on loopback (fake_graph.py)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from conversations import selectors, services
from conversations.models import Message
from tests import factories
from tests.whatsapp import deliveries as d
from tests.whatsapp.fake_graph import graph_error
from whatsapp import sandbox
from whatsapp import services as channel

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
BSUID = "US.13491208655302741918"
OTP = [
    {"type": "BODY", "text": "{{1}} is your verification code."},
    {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy code"}]},
]


@pytest.fixture
def platform(settings, fake_graph):
    settings.WHATSAPP_SANDBOX = False
    settings.WHATSAPP_API_BASE = fake_graph.url
    settings.WHATSAPP_API_VERSION = "v25.0"
    settings.WHATSAPP_PHONE_NUMBER_ID = "106540352242922"
    settings.WHATSAPP_ACCESS_TOKEN = "test-token"
    settings.WHATSAPP_HTTP_TIMEOUT = 1.0
    return fake_graph


def username_only_customer():
    return services.receive_message(
        user_id=BSUID, username="@sheena", body="Another colour?", wamid="in-1", timestamp=T0, name="Sheena"
    ).customer


def test_a_reply_is_posted_with_recipient_and_the_answer_without_wa_id_is_understood(platform):
    customer = username_only_customer()
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        message = services.send_text(customer=customer, body="Yes: red and blue.")
    assert channel.deliver_message(message.pk).result == "sent"
    [request] = platform.requests
    assert request.json["recipient"] == BSUID and "to" not in request.json
    assert request.json["text"]["body"] == "Yes: red and blue."
    assert platform.misaddressed == []
    message.refresh_from_db()
    assert message.status == "sent" and message.wamid.startswith("wamid.")


def test_a_customer_with_both_identifiers_is_addressed_by_phone_number(platform):
    customer = services.receive_message(
        wa_id="16505551234", user_id=BSUID, body="hi", wamid="in-1", timestamp=T0
    ).customer
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        message = services.send_text(customer=customer, body="Hello")
    channel.deliver_message(message.pk)
    [request] = platform.requests
    assert request.json["to"] == "+16505551234" and "recipient" not in request.json


def test_131062_fails_the_message_in_plain_words_with_nothing_promised(platform):
    customer = username_only_customer()
    template = factories.template(category="UTILITY", body="Your order {{1}} shipped.")
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        message = services.send_template(customer=customer, template=template, params=["A-1"])
    platform.enqueue(
        status=400,
        body=graph_error(
            131062,
            "Business-scoped user ID (BSUID) recipients are not supported for this message",
            details="This message type requires a phone number recipient",
        ),
    )
    assert channel.deliver_message(message.pk).result == "failed"
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", 131062)
    assert message.error_text.startswith("This customer is known only by their WhatsApp username")
    assert "You can still reply to them and send other templates" in message.error_text
    assert message.error_text.endswith(
        "WhatsApp said: “This message type requires a phone number recipient”."
    )
    assert "tries again" not in message.error_text  # nothing retries a final failure
    assert message.conversation.status == "voided"  # R9: it cost nothing


def test_the_compose_area_offers_what_can_still_be_sent_and_the_server_refuses_the_rest(
    client, django_user_model
):
    agent = django_user_model.objects.create_user("ana", password="pw")
    agent.groups.add(_agents_group())
    customer = username_only_customer()
    code = factories.template(category="AUTHENTICATION", body="x", name="login_code")
    type(code).objects.filter(pk=code.pk).update(components=OTP)
    factories.template(category="UTILITY", body="Your order {{1}} shipped.", name="order_update")
    client.force_login(agent)
    with time_machine.travel(T0 + timedelta(hours=25), tick=False):  # window closed: templates only
        page = client.get(reverse("inbox:customer", args=[customer.pk])).text
        assert "@sheena" in page and BSUID in page
        assert "(not for this customer)" in page and "error 131062" in page
        assert "login_code · Authentication · en_US (not for this customer)" in page
        response = client.post(
            reverse("inbox:send-template", args=[customer.pk]),
            {"template": code.pk, "p_1": "123456", "client_token": "6f1f7b54-3f0e-4b8c-9a7b-0c6f4a1d2e3f"},
        )
    assert response.status_code in (409, 422) and "131062" in response.text
    assert not Message.objects.filter(direction="outbound").exists()


def _agents_group():
    from django.contrib.auth.models import Group

    from accounts import roles

    return Group.objects.get(name=roles.AGENTS)


def test_the_sandbox_behaves_the_same_way(settings):
    settings.WHATSAPP_SANDBOX = True
    customer = username_only_customer()
    with time_machine.travel(T0 + timedelta(minutes=1), tick=True):
        message = services.send_text(customer=customer, body="Yes")
        assert channel.deliver_message(message.pk).result == "sent"
        message.refresh_from_db()
        for status in ("sent", "delivered", "read"):
            sandbox.emit_status(message_id=message.pk, wamid=message.wamid, status=status)
    message.refresh_from_db()
    # Addressed by BSUID, its statuses came back with recipient_user_id and per-message pricing.
    assert message.status == "read"
    assert (message.pricing_model, message.pricing_category, message.pricing_type) == (
        "PMP",
        "service",
        "regular",
    )
    # A code template is refused with 131062, as the platform does (here the server refuses it first;
    # the sandbox refuses a payload that reaches it anyway).
    code = factories.template(category="AUTHENTICATION", body="x")
    type(code).objects.filter(pk=code.pk).update(components=OTP)
    code.refresh_from_db()
    with pytest.raises(Exception) as refused:
        sandbox.SandboxClient().send(
            {
                "messaging_product": "whatsapp",
                "recipient": BSUID,
                "type": "template",
                "template": {"name": code.name, "language": {"code": "en_US"}, "components": []},
            }
        )
    assert getattr(refused.value, "code", None) == 131062
    with pytest.raises(Exception) as dropped:
        sandbox.SandboxClient().send(
            {"messaging_product": "whatsapp", "to": BSUID, "type": "text", "text": {"body": "x"}}
        )
    assert "must be a phone number" in str(getattr(dropped.value, "title", "")) + str(dropped.value.message)


def test_a_status_with_recipient_user_id_and_contacts_links_the_phone_number(client, settings):
    customer = username_only_customer()
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        message = services.send_text(customer=customer, body="Hello")
    Message.objects.filter(pk=message.pk).update(status="sent", wamid="wamid.OURS1")
    status = d.status("wamid.OURS1", "delivered", T0 + timedelta(minutes=2), recipient_id="")
    del status["recipient_id"]  # a username-only customer: the platform names them by BSUID only
    status["recipient_user_id"] = BSUID
    status["contacts"] = [{"wa_id": "16505551234", "user_id": BSUID}]
    body, header = d.signed(d.delivery(d.statuses_change(status)), settings.WHATSAPP_APP_SECRET)
    response = client.post(
        "/webhooks/whatsapp/",
        data=body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": header},
    )
    assert response.status_code == 200
    customer.refresh_from_db()
    assert (customer.wa_id, customer.user_id) == ("16505551234", BSUID)
    assert selectors.service_window(customer, now=T0 + timedelta(hours=1)).is_open


def test_a_message_that_cannot_be_put_in_the_platforms_shape_fails_with_the_reason_never_stuck(platform):
    """A user id in a form the platform never documented (seen in published test fixtures) is recorded,
    but a reply to it cannot be addressed: the message fails saying so, it is not left 'sending'."""
    customer = services.receive_message(user_id="BSUID_123", body="hi", wamid="in-x", timestamp=T0).customer
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        message = services.send_text(customer=customer, body="Hello")
    assert channel.deliver_message(message.pk).result == "failed"
    message.refresh_from_db()
    assert message.status == "failed" and "could not be prepared for WhatsApp" in message.error_text
    assert platform.requests == []  # nothing was posted
