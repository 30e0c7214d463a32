"""Handing queued messages to the platform: a real HTTP server on loopback stands in for the Graph API
(tests/whatsapp/fake_graph.py); `deliver_message` is what the Celery task runs."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from conversations import selectors, services
from conversations.exceptions import TemplateParamsInvalid
from conversations.models import Conversation, Message
from tests import factories
from tests.whatsapp.fake_graph import graph_error
from whatsapp import sandbox
from whatsapp import services as channel
from whatsapp.models import WebhookDelivery

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def platform(settings, fake_graph):
    settings.WHATSAPP_SANDBOX = False
    settings.WHATSAPP_API_BASE = fake_graph.url
    settings.WHATSAPP_API_VERSION = "v23.0"
    settings.WHATSAPP_PHONE_NUMBER_ID = "106540352242922"
    settings.WHATSAPP_ACCESS_TOKEN = "test-token"
    settings.WHATSAPP_HTTP_TIMEOUT = 1.0
    return fake_graph


def customer_who_wrote(wa_id="16505551234"):
    return services.receive_message(
        wa_id=wa_id, body="hi", wamid=f"in-{wa_id}", timestamp=T0, name="Sheena"
    ).customer


def queued_text(body="Hello from support"):
    customer = customer_who_wrote()
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        return services.send_text(customer=customer, body=body)


def test_a_free_form_message_is_posted_once_in_the_documented_shape(platform):
    message = queued_text()
    assert channel.deliver_message(message.pk).result == "sent"
    [request] = platform.requests
    assert request.path == "/v23.0/106540352242922/messages"
    assert request.headers["authorization"] == "Bearer test-token"
    assert request.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+16505551234",
        "type": "text",
        "text": {"body": "Hello from support", "preview_url": False},
        "biz_opaque_callback_data": f"msg-{message.pk}",
    }
    message.refresh_from_db()
    assert message.status == "sent" and message.wamid.startswith("wamid.") and message.send_attempts == 1


@pytest.mark.parametrize(
    ("parameter_format", "body", "params", "parameters"),
    [
        (
            "POSITIONAL",
            "Hi {{1}}, order {{2}} shipped.",
            ["Pablo", "860198"],
            [{"type": "text", "text": "Pablo"}, {"type": "text", "text": "860198"}],
        ),
        (
            "NAMED",
            "Hi {{first_name}}, order {{order_number}} shipped.",
            {"first_name": "Pablo", "order_number": "860198"},
            [
                {"type": "text", "parameter_name": "first_name", "text": "Pablo"},
                {"type": "text", "parameter_name": "order_number", "text": "860198"},
            ],
        ),
    ],
    ids=["positional", "named"],
)
def test_templates_are_posted_with_their_parameters(platform, parameter_format, body, params, parameters):
    template = factories.template(
        name="order_update", body=body, parameter_format=parameter_format, category="UTILITY"
    )
    message = services.send_template(
        customer=factories.customer(wa_id="5511987654321"), template=template, params=params
    )
    channel.deliver_message(message.pk)
    payload = platform.requests[0].json
    assert payload["type"] == "template" and payload["to"] == "+5511987654321"
    assert payload["template"] == {
        "name": "order_update",
        "language": {"code": "en_US"},
        "components": [{"type": "body", "parameters": parameters}],
    }


def test_a_message_is_never_posted_twice_whoever_asks(platform):
    message = queued_text()
    outcomes = [channel.deliver_message(message.pk).result for _ in range(3)]  # redelivered tasks
    assert outcomes == ["sent", "not queued", "not queued"]
    assert len(platform.requests) == 1


def test_throttling_is_retried_with_backoff_then_succeeds(platform):
    platform.enqueue(status=400, body=graph_error(131056, "(#131056) Pair rate limit hit"))
    message = queued_text()
    with time_machine.travel(T0 + timedelta(minutes=2), tick=False):
        outcome = channel.deliver_message(message.pk)
    assert (outcome.result, outcome.retry_in) == ("retry", 5)
    message.refresh_from_db()
    assert (message.status, message.next_attempt_at) == ("queued", T0 + timedelta(minutes=2, seconds=5))
    assert "Retrying" in message.error_text
    assert channel.deliver_message(message.pk).result == "sent"
    message.refresh_from_db()
    assert (message.status, message.send_attempts, len(platform.requests)) == ("sent", 2, 2)
    assert (message.error_code, message.error_text) == (None, "")  # the retry note is answered


def test_server_errors_back_off_exponentially_and_finally_fail(platform):
    message = queued_text()
    delays = []
    for _ in range(channel.SEND_MAX_ATTEMPTS):
        platform.enqueue(status=500, body=graph_error(131000, "Something went wrong"))
        outcome = channel.deliver_message(message.pk)
        delays.append(outcome.retry_in)
    assert delays[:4] == [5, 10, 20, 40] and delays[-1] is None
    message.refresh_from_db()
    assert message.status == "failed" and message.error_code == 131000
    assert len(platform.requests) == channel.SEND_MAX_ATTEMPTS


def test_131047_fails_the_message_closes_the_window_and_voids_its_conversation(platform):
    platform.enqueue(status=400, body=graph_error(131047, "Re-engagement message"))
    message = queued_text()
    with time_machine.travel(T0 + timedelta(minutes=2), tick=False):
        assert channel.deliver_message(message.pk).result == "failed"
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", 131047)
    assert "template" in message.error_text  # what to do, in plain words
    customer = message.customer
    customer.refresh_from_db()
    assert not selectors.service_window(customer, now=T0 + timedelta(minutes=3)).is_open
    assert Conversation.objects.get(pk=message.conversation_id).status == "voided"  # R9: it cost nothing
    assert len(platform.requests) == 1  # never retried


def test_no_answer_leaves_the_outcome_unknown_and_never_posts_again(platform):
    platform.enqueue(hang=True)
    message = queued_text()
    assert channel.deliver_message(message.pk).result == "unknown"
    message.refresh_from_db()
    assert message.status == "sending" and "not known whether this message was sent" in message.error_text
    assert channel.requeue_outbound(now=T0 + timedelta(days=1)) == 0
    assert channel.deliver_message(message.pk).result == "not queued"
    assert len(platform.requests) == 1


def test_the_outbox_job_requeues_only_messages_whose_task_was_lost(platform):
    message = queued_text()
    fresh = message.created_at
    assert channel.requeue_outbound(now=fresh + timedelta(seconds=29)) == 0
    assert channel.requeue_outbound(now=fresh + timedelta(seconds=30)) == 1
    Message.objects.filter(pk=message.pk).update(next_attempt_at=fresh + timedelta(minutes=5))
    assert channel.requeue_outbound(now=fresh + timedelta(minutes=4)) == 0
    assert channel.requeue_outbound(now=fresh + timedelta(minutes=5)) == 1


@pytest.mark.django_db(transaction=True)
def test_sending_dispatches_after_commit_and_never_fails_the_send_when_the_broker_is_down(settings):
    from config.celery import app

    customer = customer_who_wrote()
    previous = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens there: the broker is down
    try:
        with time_machine.travel(T0 + timedelta(minutes=1), tick=True):
            message = services.send_text(customer=customer, body="still recorded")
    finally:
        app.conf.broker_url = previous
    message.refresh_from_db()
    assert message.status == "queued"  # the outbox job will hand it over


# --- The sandbox (no credentials: the embedded default) ----------------------------------------------


def test_sandbox_accepts_and_feeds_statuses_back_through_the_webhook_processing(settings):
    settings.WHATSAPP_SANDBOX = True
    message = queued_text()
    with time_machine.travel(T0 + timedelta(minutes=2), tick=True):
        assert channel.deliver_message(message.pk).result == "sent"
        message.refresh_from_db()
        assert message.wamid.startswith("wamid.SANDBOX")
        for status in ("sent", "delivered", "read"):  # what the scheduled sandbox tasks run
            sandbox.emit_status(message_id=message.pk, wamid=message.wamid, status=status)
    message.refresh_from_db()
    assert message.status == "read" and message.delivered_at and message.read_at
    deliveries = WebhookDelivery.objects.all()
    assert deliveries.count() == 3 and {x.status for x in deliveries} == {"processed"}
    # Like the platform today (API v24+, per-message pricing, R9): the price of each message, and no
    # conversation object outside a free-entry point, so our service conversation is left as we opened it.
    assert (message.pricing_model, message.pricing_category, message.pricing_type) == (
        "PMP",
        "service",
        "free_customer_service",  # T0 is in January 2026: service replies in the window were free then
    )
    conversation = message.conversation
    conversation.refresh_from_db()
    assert conversation.platform_id == "" and conversation.status == "open"
    assert not conversation.discrepancies.exists()  # the sandbox agrees with our rules


def test_sandbox_refuses_free_form_outside_the_window_like_the_platform(settings):
    settings.WHATSAPP_SANDBOX = True
    message = queued_text()
    with time_machine.travel(T0 + timedelta(hours=24), tick=False):  # the window closed while queued
        assert channel.deliver_message(message.pk).result == "failed"
    message.refresh_from_db()
    assert message.error_code == 131047


def test_sandbox_refuses_a_template_that_is_no_longer_approved(settings):
    settings.WHATSAPP_SANDBOX = True
    template = factories.template(category="UTILITY")
    message = services.send_template(customer=factories.customer(), template=template, params=["a"])
    type(template).objects.filter(pk=template.pk).update(status="PAUSED")
    assert channel.deliver_message(message.pk).result == "failed"
    message.refresh_from_db()
    assert message.error_code == 132001


# --- Headers and buttons -------------------------------------------------------------------------------


def ticket_template(**fields):
    """NAMED, a text header with a placeholder and a URL button with a variable: as in the demo."""
    template = factories.template(
        category="UTILITY",
        parameter_format="NAMED",
        body="Hi {{first_name}}, there is news on your request.",
        **fields,
    )
    template.components = [
        {"type": "HEADER", "format": "TEXT", "text": "Ticket {{ticket_id}}"},
        *template.components,
        {
            "type": "BUTTONS",
            "buttons": [
                {"type": "QUICK_REPLY", "text": "Thanks"},
                {"type": "URL", "text": "Open the ticket", "url": "https://support.example.com/t/{{1}}"},
            ],
        },
    ]
    template.save()
    return template


def test_a_header_parameter_and_a_url_button_are_posted_in_the_documented_shape(platform):
    message = services.send_template(
        customer=factories.customer(wa_id="5511987654321"),
        template=ticket_template(name="ticket_update"),
        params={"first_name": "Pablo"},
        extras={"header": "T-4821", "buttons": {"1": "4821"}},
    )
    assert message.template_extras == {
        "header": {"format": "TEXT", "name": "ticket_id", "value": "T-4821"},
        "buttons": [{"index": 1, "value": "4821"}],
    }
    channel.deliver_message(message.pk)
    assert platform.requests[0].json["template"] == {
        "name": "ticket_update",
        "language": {"code": "en_US"},
        "components": [
            {
                "type": "header",
                "parameters": [{"type": "text", "parameter_name": "ticket_id", "text": "T-4821"}],
            },
            {
                "type": "body",
                "parameters": [{"type": "text", "parameter_name": "first_name", "text": "Pablo"}],
            },
            {
                "type": "button",
                "sub_type": "url",
                "index": "1",
                "parameters": [{"type": "text", "text": "4821"}],
            },
        ],
    }


def test_a_media_header_and_an_authentication_code_button_are_posted(platform):
    photo = factories.template(category="MARKETING", body="Hi {{1}}, the new season is here.")
    photo.components = [{"type": "HEADER", "format": "IMAGE"}, *photo.components]
    photo.save()
    code = factories.template(
        category="AUTHENTICATION", body="{{1}} is your verification code.", name="login_code"
    )
    code.components = [
        *code.components,
        {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy code"}]},
    ]
    code.save()
    customer = factories.customer(wa_id="5511987654321")
    link = "https://cdn.example.com/picks.jpg"
    first = services.send_template(customer=customer, template=photo, params=["Mei"], extras={"header": link})
    second = services.send_template(customer=customer, template=code, params=["482913"])
    channel.deliver_message(first.pk)
    channel.deliver_message(second.pk)
    assert platform.requests[0].json["template"]["components"][0] == {
        "type": "header",
        "parameters": [{"type": "image", "image": {"link": link}}],
    }
    assert platform.requests[1].json["template"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": "482913"}]},
        {
            "type": "button",
            "sub_type": "url",
            "index": "0",
            "parameters": [{"type": "text", "text": "482913"}],
        },
    ]


def test_a_location_header_is_posted_with_its_place(platform):
    visit = factories.template(category="UTILITY", body="Hi {{1}}, your parcel waits for you here.")
    visit.components = [{"type": "HEADER", "format": "LOCATION"}, *visit.components]
    visit.save()
    place = {"latitude": "52.52", "longitude": "13.405", "name": "Shop Mitte", "address": "Torstr. 1, Berlin"}
    message = services.send_template(
        customer=factories.customer(), template=visit, params=["Lukas"], extras={"header": place}
    )
    channel.deliver_message(message.pk)
    assert platform.requests[0].json["template"]["components"][0] == {
        "type": "header",
        "parameters": [
            {
                "type": "location",
                "location": {
                    "latitude": "52.52",
                    "longitude": "13.405",
                    "name": "Shop Mitte",
                    "address": "Torstr. 1, Berlin",
                },
            }
        ],
    }


def test_a_copy_code_button_is_posted_with_its_coupon_code(platform):
    offer = factories.template(category="MARKETING", body="Hi {{1}}, 25% off this week.")
    offer.components = [
        *offer.components,
        {"type": "BUTTONS", "buttons": [{"type": "COPY_CODE", "example": "X"}]},
    ]
    offer.save()
    message = services.send_template(
        customer=factories.customer(), template=offer, params=["Mei"], extras={"buttons": {"0": "SPRING25"}}
    )
    channel.deliver_message(message.pk)
    assert platform.requests[0].json["template"]["components"][1] == {
        "type": "button",
        "sub_type": "copy_code",
        "index": "0",
        "parameters": [{"type": "coupon_code", "coupon_code": "SPRING25"}],
    }


def test_a_send_missing_its_header_or_button_value_creates_nothing():
    customer = factories.customer()
    with pytest.raises(TemplateParamsInvalid) as refused:
        services.send_template(customer=customer, template=ticket_template(), params={"first_name": "Ann"})
    assert refused.value.errors == [
        "header {{ticket_id}} is empty",
        "the button “Open the ticket” needs the end of its link (https://support.example.com/t/{{1}})",
    ]
    assert not Message.objects.exists() and not Conversation.objects.exists()


def test_sandbox_checks_header_and_button_parameters_like_the_platform(settings):
    settings.WHATSAPP_SANDBOX = True
    template = ticket_template()
    good = services.send_template(
        customer=factories.customer(),
        template=template,
        params={"first_name": "Ann"},
        extras={"header": "T-1", "buttons": {"1": "1"}},
    )
    assert channel.deliver_message(good.pk).result == "sent"
    # A message queued before the template gained its header: the platform would refuse it (132000).
    stale = Message.objects.create(
        customer=good.customer,
        direction="outbound",
        kind="template",
        template=template,
        template_params={"first_name": "Ann"},
        body="Hi Ann",
        occurred_at=good.occurred_at,
        created_at=good.created_at,
        status="queued",
        status_changed_at=good.created_at,
        conversation=good.conversation,
    )
    assert channel.deliver_message(stale.pk).result == "failed"
    stale.refresh_from_db()
    assert stale.error_code == 132000
