"""The webhook endpoint with deliveries in exactly the documented shapes, signed like the platform signs
them (over the raw, \\u-escaped bytes)."""

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import OperationalError
from django.urls import reverse

from conversations import selectors, services
from conversations.models import Conversation, ConversationDiscrepancy, Customer, Message
from templates_app.models import TemplateEvent
from tests import factories
from tests.whatsapp import deliveries as d
from whatsapp import payloads
from whatsapp import services as channel
from whatsapp.models import KeptItem, WebhookDelivery

pytestmark = pytest.mark.django_db

URL = "/webhooks/whatsapp/"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def post(client, delivery, *, secret=None, header=None, raw=None):
    body, signature = (
        d.signed(delivery, secret or settings.WHATSAPP_APP_SECRET) if raw is None else (raw, None)
    )
    headers = {}
    if header is not False:
        headers["X-Hub-Signature-256"] = header or signature or d.sign(raw, settings.WHATSAPP_APP_SECRET)
    return client.post(URL, data=body, content_type="application/json", headers=headers)


def test_url_name():
    assert reverse("whatsapp-webhook") == URL


# --- GET: the verification handshake ------------------------------------------------------------------


def test_verification_handshake_echoes_the_challenge(client):
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": settings.WHATSAPP_VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    response = client.get(URL, query)
    assert (response.status_code, response.content, response["Content-Type"]) == (
        200,
        b"1158201444",
        "text/plain",
    )


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "sandbox-verify-token", "hub.challenge": "1"},
        {"hub.challenge": "1"},
    ],
    ids=["wrong-token", "wrong-mode", "nothing"],
)
def test_verification_refused(client, query, caplog):
    with caplog.at_level(logging.WARNING, logger="whatsapp.views"):
        response = client.get(URL, query)
    assert response.status_code == 403 and b"1" not in response.content
    assert "verification refused" in caplog.text


# --- POST: signatures ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "why"),
    [(False, "missing"), ("sha256=" + "0" * 64, "wrong"), ("md5=abc", "wrong")],
    ids=["missing", "wrong-digest", "garbled"],
)
def test_unsigned_or_wrongly_signed_deliveries_are_refused_and_nothing_is_stored(client, caplog, header, why):
    delivery = d.inbound_delivery("16505551234", "hi", timestamp=T0)
    with caplog.at_level(logging.WARNING, logger="whatsapp.views"):
        response = post(client, delivery, header=header)
    assert response.status_code == 403
    assert f"refused: {why} X-Hub-Signature-256" in caplog.text
    assert not WebhookDelivery.objects.exists() and not Message.objects.exists()


def test_signed_with_another_secret_is_refused(client):
    response = post(client, d.inbound_delivery("16505551234", "hi", timestamp=T0), secret="someone-elses")
    assert response.status_code == 403
    assert not WebhookDelivery.objects.exists()


def test_non_ascii_text_verifies_over_the_platforms_escaped_bytes(client):
    delivery = d.inbound_delivery("5511987654321", "Olá 👋 — ça va? 你好", timestamp=T0, name="João")
    body, header = d.signed(delivery, settings.WHATSAPP_APP_SECRET)
    assert b"\\u00e1" in body and b"\\ud83d\\udc4b" in body  # escaped on the wire, as the platform does
    response = client.post(
        URL, data=body, content_type="application/json", headers={"X-Hub-Signature-256": header}
    )
    assert response.status_code == 200
    message = Message.objects.get()
    assert message.body == "Olá 👋 — ça va? 你好" and message.customer.name == "João"
    assert bytes(WebhookDelivery.objects.get().body) == body  # stored byte for byte

    unescaped = json.dumps(delivery, ensure_ascii=False, separators=(",", ":")).encode()
    response = client.post(
        URL, data=unescaped, content_type="application/json", headers={"X-Hub-Signature-256": header}
    )
    assert response.status_code == 403  # a signature is over bytes, not over "the same JSON"


# --- POST: inbound messages ----------------------------------------------------------------------------


def test_text_message_becomes_an_inbound_message_with_the_platform_timestamp(client):
    with time_machine.travel(T0 + timedelta(hours=6), tick=False):  # delivered late (E11)
        response = post(
            client, d.inbound_delivery("16505551234", "Can I get more info?", timestamp=T0, wamid="wamid.A1")
        )
    assert (response.status_code, response.content) == (200, b"EVENT_RECEIVED")
    message = Message.objects.get()
    assert (message.wamid, message.body, message.direction, message.occurred_at) == (
        "wamid.A1",
        "Can I get more info?",
        "inbound",
        T0,
    )
    customer = message.customer
    assert (customer.wa_id, customer.name, customer.country) == ("16505551234", "Sheena Nelson", "US")
    assert selectors.service_window(customer, now=T0 + timedelta(hours=6)).closes_at == T0 + timedelta(
        hours=24
    )
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.summary, delivery.attempts) == ("processed", {"messages": 1}, 1)


def test_referral_makes_the_customer_free_entry_point_eligible(client):
    post(client, d.inbound_delivery("16505551234", "Saw your ad", timestamp=T0, referral=d.AD_REFERRAL))
    customer = Customer.objects.get()
    assert customer.fep_referral_at == T0
    assert Message.objects.get().referral == d.AD_REFERRAL
    assert selectors.fep_eligibility(customer, now=T0 + timedelta(hours=1)).is_eligible


@pytest.mark.parametrize(
    ("inbound", "wa_type", "body"),
    [
        (d.image_message("16505551234", caption="my receipt", timestamp=T0), "image", "[Image] my receipt"),
        (d.audio_message("16505551234", voice=True, timestamp=T0), "audio", "[Voice message]"),
        (d.location_message("16505551234", 52.52, 13.405, place="Office", timestamp=T0), "location", None),
        (d.button_reply_message("16505551234", "Yes, confirm", timestamp=T0), "interactive", "Yes, confirm"),
        (d.reaction_message("16505551234", "wamid.OURS", "👍", timestamp=T0), "reaction", "[Reaction] 👍"),
        (d.unsupported_message("16505551234", timestamp=T0), "unsupported", None),
        (
            d.message("16505551234", "poll", {"question": "?"}, timestamp=T0),
            "poll",
            "[Unsupported message: poll]",
        ),
    ],
    ids=["image", "voice", "location", "button-reply", "reaction", "unsupported", "unknown-type"],
)
def test_every_message_type_is_kept_with_a_readable_summary(client, inbound, wa_type, body):
    response = post(client, d.delivery(d.messages_change(inbound)))
    assert response.status_code == 200
    message = Message.objects.get()
    assert message.wa_type == wa_type
    assert message.body.startswith(body or "[")
    assert message.customer.last_inbound_at == T0  # a customer's message of any kind opens the window


def test_a_system_message_is_kept_but_opens_no_window(client):
    post(
        client,
        d.delivery(d.messages_change(d.system_message("16505551234", "User changed number", timestamp=T0))),
    )
    message = Message.objects.get()
    assert (message.wa_type, message.body) == ("system", "User changed number")
    assert message.customer.last_inbound_at is None
    assert not selectors.service_window(message.customer, now=T0).is_open


def test_duplicate_deliveries_change_nothing(client):
    delivery = d.inbound_delivery("16505551234", "hi", timestamp=T0, wamid="wamid.DUP")
    assert post(client, delivery).status_code == 200
    assert post(client, delivery).status_code == 200  # the platform retries: duplicates are certain
    assert Message.objects.count() == 1
    assert WebhookDelivery.objects.filter(status="processed").count() == 2  # both kept as received


def test_a_batch_of_entries_changes_messages_and_statuses_is_applied_entirely(client):
    customer = factories.customer(wa_id="447400123456")
    template = factories.template(category="UTILITY")
    with time_machine.travel(T0, tick=False):
        ours = services.send_template(customer=customer, template=template, params=["Ann"])
    Message.objects.filter(pk=ours.pk).update(status="sent", wamid="wamid.OURS")
    batch = d.delivery_entries(
        d.entry(
            d.messages_change(
                d.text_message("16505551234", "one", timestamp=T0),
                d.text_message("4915112345678", "two", timestamp=T0, name="Lukas"),
            ),
            d.statuses_change(
                d.status("wamid.OURS", "delivered", T0 + timedelta(minutes=1), recipient_id=customer.wa_id)
            ),
        ),
        d.entry(
            d.messages_change(d.text_message("16505551234", "three", timestamp=T0 + timedelta(minutes=2))),
            d.statuses_change(
                d.status("wamid.OURS", "read", T0 + timedelta(minutes=3), recipient_id=customer.wa_id)
            ),
        ),
    )
    assert post(client, batch).status_code == 200
    assert sorted(Message.objects.filter(direction="inbound").values_list("body", flat=True)) == [
        "one",
        "three",
        "two",
    ]
    ours.refresh_from_db()
    assert (ours.status, ours.delivered_at, ours.read_at) == (
        "read",
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=3),
    )
    assert WebhookDelivery.objects.get().summary == {"messages": 3, "statuses": 2}


def test_one_bad_item_does_not_lose_the_others_and_is_kept_with_the_reason(client, caplog):
    batch = d.delivery(
        d.messages_change(
            d.text_message("16505551234", "good", timestamp=T0),
            d.text_message("12ab", "bad sender id", timestamp=T0),
        )
    )
    with caplog.at_level(logging.WARNING):
        assert post(client, batch).status_code == 200
    assert list(Message.objects.values_list("body", flat=True)) == ["good"]
    delivery = WebhookDelivery.objects.get()
    # Retrying cannot make "12ab" a phone number: the item is kept for an admin, the delivery is done.
    assert (delivery.status, delivery.summary) == ("processed", {"messages": 1, "kept": 1})
    kept = KeptItem.objects.get()
    assert (kept.delivery, kept.kind, kept.field) == (delivery, "not_understood", "messages")
    assert "'12ab' is not a WhatsApp phone number" in kept.reason
    assert kept.data["text"] == {"body": "bad sender id"}  # the item as received
    assert "not applied" in caplog.text
    # A replay (the platform's retry) keeps it once and duplicates nothing.
    post(client, batch)
    assert (Message.objects.count(), KeptItem.objects.count()) == (1, 2)  # one per delivery received
    assert channel.retry_deliveries(now=datetime.now(UTC) + timedelta(days=2)) == 0


def test_a_status_that_fails_after_writing_is_undone_alone_and_retried(client, monkeypatch):
    """Inline, a delivery's events share one transaction without a savepoint each: when one fails after
    it wrote, the attempt is undone whole and applied again an event at a time, so the other event is
    applied, the failed one is not half-applied, and the delivery is retried for it."""
    from conversations.services import platform

    template = factories.template(category="UTILITY")
    messages = []
    for wa_id, wamid in (("16505551234", "wamid.ONE"), ("4915112345678", "wamid.TWO")):
        with time_machine.travel(T0, tick=False):
            message = services.send_template(
                customer=factories.customer(wa_id=wa_id), template=template, params=["Ann"]
            )
        Message.objects.filter(pk=message.pk).update(status="sent", wamid=wamid)
        messages.append(message)
    real_update = platform.update_columns

    def update_then_fail(message, fields):
        real_update(message, fields)
        if message.wamid == "wamid.TWO":
            raise OperationalError("the connection dropped after the UPDATE")

    monkeypatch.setattr(platform, "update_columns", update_then_fail)
    batch = d.delivery(
        d.statuses_change(
            d.status("wamid.ONE", "delivered", T0 + timedelta(minutes=1), recipient_id="16505551234"),
            d.status("wamid.TWO", "delivered", T0 + timedelta(minutes=1), recipient_id="4915112345678"),
        )
    )
    assert post(client, batch).status_code == 200
    one, two = (Message.objects.get(pk=message.pk) for message in messages)
    assert (one.status, one.delivered_at) == ("delivered", T0 + timedelta(minutes=1))
    assert (two.status, two.delivered_at) == ("sent", None)  # its UPDATE was undone with it
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.summary) == ("failed", {"statuses": 1})
    assert "event 1 (StatusUpdate): the connection dropped after the UPDATE" in delivery.error
    monkeypatch.setattr(platform, "update_columns", real_update)
    assert channel.retry_deliveries(now=datetime.now(UTC) + timedelta(days=2)) == 1
    two.refresh_from_db()
    assert (two.status, two.delivered_at) == ("delivered", T0 + timedelta(minutes=1))
    assert WebhookDelivery.objects.get().status == "processed"


def test_a_delivery_that_keeps_failing_is_parked_not_lost(client, monkeypatch):
    """A failure that may pass (the database refusing for a while) is retried, then parked."""

    def database_down(**kwargs):
        raise OperationalError("the database is not accepting connections")

    monkeypatch.setattr(channel.conversation_services, "receive_message", database_down)
    post(client, d.delivery(d.messages_change(d.text_message("16505551234", "hi", timestamp=T0))))
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and "not accepting connections" in delivery.error
    for _ in range(channel.DELIVERY_MAX_ATTEMPTS):
        channel.retry_deliveries(now=datetime.now(UTC) + timedelta(days=2))
    delivery.refresh_from_db()
    assert delivery.status == "dead" and delivery.attempts == channel.DELIVERY_MAX_ATTEMPTS
    assert bytes(delivery.body)  # still there, for a person


# --- POST: malformed, unknown, oversized ----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "object"),
        (json.dumps({"object": "page", "entry": []}).encode(), "'object' is 'page'"),
        (json.dumps({"object": "whatsapp_business_account"}).encode(), "entry"),
    ],
    ids=["not-json", "not-an-object", "wrong-object", "no-entry"],
)
def test_malformed_deliveries_get_a_clear_400_are_logged_and_kept(client, caplog, raw, reason):
    with caplog.at_level(logging.WARNING, logger="whatsapp.views"):
        response = post(client, None, raw=raw)
    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert "rejected" in caplog.text
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "rejected" and bytes(delivery.body) == raw and reason in delivery.error


def test_unknown_fields_are_kept_and_ignored(client, caplog):
    delivery = d.delivery(d.change("account_update", {"event": "VERIFIED_ACCOUNT"}))
    with caplog.at_level(logging.INFO, logger="whatsapp.services"):
        assert post(client, delivery).status_code == 200
    assert WebhookDelivery.objects.get().summary == {"ignored": 1}
    assert "account_update" in caplog.text


def test_unknown_extra_keys_are_fine(client):
    delivery = d.inbound_delivery("16505551234", "hi", timestamp=T0)
    delivery["entry"][0]["changes"][0]["value"]["messages"][0]["brand_new_key"] = {"x": 1}
    delivery["something_new"] = True
    assert post(client, delivery).status_code == 200
    assert Message.objects.count() == 1


def test_oversized_bodies_are_refused_unread(client, caplog):
    raw = b"{" + b" " * (4 * 1024 * 1024) + b"}"
    with caplog.at_level(logging.WARNING, logger="whatsapp.views"):
        response = post(client, None, raw=raw)
    assert response.status_code == 413 and "4 MB" in response.json()["error"]
    assert "over 4 MB" in caplog.text
    assert not WebhookDelivery.objects.exists()


def test_a_small_delivery_is_read_once_from_the_request_to_the_domain(client, monkeypatch):
    """The webhook parses the body once: the events it checked are the events it applies."""
    parsed = []

    def parse_delivery(data):
        parsed.append(data)
        return read(data)

    read = payloads.parse_delivery
    monkeypatch.setattr(payloads, "parse_delivery", parse_delivery)
    assert post(client, d.inbound_delivery("16505551234", "hi", timestamp=T0)).status_code == 200
    assert len(parsed) == 1
    assert WebhookDelivery.objects.get().status == "processed" and Message.objects.count() == 1


def test_a_large_delivery_is_stored_and_processed_by_the_retry_job_when_no_task_ran(client, settings):
    settings.WHATSAPP_WEBHOOK_INLINE_MAX_BYTES = 200
    response = post(client, d.inbound_delivery("16505551234", "a long one " * 40, timestamp=T0))
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and not Message.objects.exists()  # a task would process it
    assert channel.retry_deliveries(now=delivery.received_at + timedelta(seconds=59)) == 0
    assert channel.retry_deliveries(now=delivery.received_at + timedelta(seconds=60)) == 1
    assert Message.objects.count() == 1


# --- POST: statuses ----------------------------------------------------------------------------------


def status(state, minutes, **fields):
    fields.setdefault("recipient_id", "16505551234")
    return d.status("wamid.OURS", state, T0 + timedelta(minutes=minutes), **fields)


@pytest.mark.parametrize(
    ("order", "final"),
    [
        (["sent", "delivered", "read"], "read"),
        (["read", "delivered", "sent"], "read"),
        (["delivered", "sent"], "delivered"),
        (["read"], "read"),
        (["sent", "failed", "delivered"], "failed"),
        (["delivered", "failed"], "delivered"),
    ],
    ids=[
        "in-order",
        "reversed",
        "delivered-then-sent",
        "read-without-delivered",
        "failed-is-terminal",
        "failure-after-delivery-ignored",
    ],
)
def test_statuses_only_move_forward_whatever_the_order(client, sent_message, order, final):
    for minutes, state in enumerate(order, start=1):
        extra = {"errors": [d.error(131026, "Message undeliverable")]} if state == "failed" else {}
        assert post(client, d.delivery(d.statuses_change(status(state, minutes, **extra)))).status_code == 200
    sent_message.refresh_from_db()
    assert sent_message.status == final


def test_duplicate_status_changes_nothing(client, sent_message):
    post(client, d.delivery(d.statuses_change(status("delivered", 1))))
    sent_message.refresh_from_db()
    changed = sent_message.status_changed_at
    post(client, d.delivery(d.statuses_change(status("delivered", 5))))
    sent_message.refresh_from_db()
    assert (sent_message.delivered_at, sent_message.status_changed_at) == (T0 + timedelta(minutes=1), changed)


def test_failed_status_explains_in_plain_words_and_voids_what_it_alone_opened(client, sent_message):
    failure = status("failed", 1, errors=[d.error(131026, "Message undeliverable")])
    post(client, d.delivery(d.statuses_change(failure)))
    sent_message.refresh_from_db()
    assert (sent_message.status, sent_message.error_code) == ("failed", 131026)
    assert "WhatsApp" in sent_message.error_text or "deliver" in sent_message.error_text.lower()
    conversation = Conversation.objects.get(pk=sent_message.conversation_id)
    assert conversation.status == "voided"  # R9
    assert not selectors.open_conversations(sent_message.customer, now=T0 + timedelta(minutes=2)).exists()


def test_131047_closes_the_window_so_the_composer_switches_to_templates(client):
    with time_machine.travel(T0, tick=False):
        services.receive_message(
            wa_id="16505551234", body="hi", wamid="w-in", timestamp=T0 - timedelta(hours=1)
        )
        text = services.send_text(customer=Customer.objects.get(), body="hello")
    Message.objects.filter(pk=text.pk).update(status="sent", wamid="wamid.TXT")
    failure = d.status(
        "wamid.TXT",
        "failed",
        T0 + timedelta(seconds=5),
        recipient_id="16505551234",
        errors=[d.error(131047, "Re-engagement message")],
    )
    post(client, d.delivery(d.statuses_change(failure)))
    customer = Customer.objects.get()
    window = selectors.service_window(customer, now=T0 + timedelta(minutes=1))
    assert not window.is_open and window.closes_at == T0 + timedelta(seconds=5)
    text.refresh_from_db()
    assert text.error_code == 131047 and "template" in text.error_text
    # When the customer writes again, the window opens again.
    services.receive_message(
        wa_id="16505551234", body="back", wamid="w-in-2", timestamp=T0 + timedelta(hours=2)
    )
    customer.refresh_from_db()
    assert selectors.service_window(customer, now=T0 + timedelta(hours=2, minutes=1)).is_open


def test_status_for_a_message_we_never_recorded_a_wamid_for_is_matched_by_callback_data(client):
    customer = factories.customer(wa_id="16505551234")
    with time_machine.travel(T0, tick=False):
        message = services.send_template(customer=customer, template=factories.template(), params=["Ann"])
    Message.objects.filter(pk=message.pk).update(status="sending")  # the worker died before recording it
    early = d.status(
        "wamid.EARLY",
        "sent",
        T0 + timedelta(seconds=2),
        recipient_id="16505551234",
        callback_data=f"msg-{message.pk}",
    )
    post(client, d.delivery(d.statuses_change(early)))
    message.refresh_from_db()
    assert (message.status, message.wamid, message.sent_at) == (
        "sent",
        "wamid.EARLY",
        T0 + timedelta(seconds=2),
    )


def test_status_for_a_message_that_is_not_ours_is_logged(client, caplog):
    with caplog.at_level(logging.WARNING, logger="whatsapp.services"):
        post(client, d.delivery(d.statuses_change(d.status("wamid.OTHER", "read", T0, recipient_id="1555"))))
    assert WebhookDelivery.objects.get().summary == {"statuses_unknown_message": 1}
    assert "unknown message wamid.OTHER" in caplog.text


# --- R9: the platform's conversation -----------------------------------------------------------------


def test_the_platforms_conversation_id_is_recorded_and_agreement_leaves_no_note(client, sent_message):
    conversation = sent_message.conversation
    sent = status(
        "sent",
        0,
        conversation_id="72b14d6bd5407799e66f64d1b338e567",
        expires_at=conversation.expires_at,
        category="utility",
    )
    post(client, d.delivery(d.statuses_change(sent)))
    conversation.refresh_from_db()
    assert conversation.platform_id == "72b14d6bd5407799e66f64d1b338e567"
    assert not ConversationDiscrepancy.objects.exists()
    sent_message.refresh_from_db()
    assert sent_message.pricing == {"billable": True, "pricing_model": "CBP", "category": "utility"}


def test_disagreement_on_expiry_and_category_is_adopted_and_recorded(client, sent_message):
    conversation = sent_message.conversation
    later = conversation.expires_at + timedelta(minutes=30)
    sent = status("sent", 0, conversation_id="conv-1", expires_at=later, category="marketing")
    post(client, d.delivery(d.statuses_change(sent)))
    conversation.refresh_from_db()
    assert (conversation.category, conversation.expires_at) == ("marketing", later)
    notes = {n.field: n for n in ConversationDiscrepancy.objects.all()}
    assert set(notes) == {"category", "expires_at"}
    assert (notes["category"].ours, notes["category"].platform, notes["category"].adopted) == (
        "utility",
        "marketing",
        True,
    )


def test_an_expiry_in_the_year_9999_is_recorded_never_adopted(client, sent_message):
    """R9 within sane bounds: the platform's expiry is believed up to the longest conversation (72 h)
    plus a day from the opening; beyond that it is a disagreement kept for a person, and ours stands."""
    conversation = sent_message.conversation
    absurd = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    sent = status("sent", 0, conversation_id="conv-1", expires_at=absurd, category="utility")
    assert post(client, d.delivery(d.statuses_change(sent))).status_code == 200
    kept = conversation.expires_at
    conversation.refresh_from_db()
    assert conversation.expires_at == kept == T0 + timedelta(hours=24)
    note = ConversationDiscrepancy.objects.get()
    assert (note.field, note.ours, note.platform, note.adopted) == (
        "expires_at",
        kept.isoformat(),
        absurd.isoformat(),
        False,
    )
    assert "later than any conversation lasts" in note.note
    assert Message.objects.get(pk=sent_message.pk).status == "sent"  # the status itself is applied


@pytest.mark.parametrize(
    ("ahead", "believed"),
    [
        (timedelta(minutes=5), True),
        (timedelta(minutes=5, seconds=1), False),
        (timedelta(days=5 * 365), False),
    ],
    ids=["5-minutes-ahead", "beyond-the-skew", "five-years-ahead"],
)
def test_a_message_from_the_future_never_pins_its_customer_to_the_top(client, ahead, believed):
    """A message dated ahead of our clock (beyond five minutes) is ordered, and opens the window (R1), at
    the moment it arrived; the platform's own timestamp is kept as sent."""
    arrived = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    other = factories.customer(wa_id="16505550000", last_activity_at=arrived - timedelta(minutes=1))
    with time_machine.travel(arrived, tick=False):
        post(client, d.inbound_delivery("16505551234", "from the future", timestamp=arrived + ahead))
        message = Message.objects.get()
        expected = arrived + ahead if believed else arrived
        assert message.occurred_at == expected and message.platform_timestamp == arrived + ahead
        customer = message.customer
        assert customer.last_activity_at == customer.last_inbound_at == expected
        assert selectors.service_window(customer, now=expected).closes_at == expected + timedelta(hours=24)
    # Once a real message arrives later from another customer, the list puts it first.
    with time_machine.travel(arrived + timedelta(minutes=10), tick=False):
        post(client, d.inbound_delivery("16505550000", "later", timestamp=arrived + timedelta(minutes=10)))
    assert Customer.objects.order_by("-last_activity_at").first() == other


def test_platform_counting_the_message_in_another_conversation_moves_it(client):
    customer = factories.customer(wa_id="16505551234")
    template = factories.template(category="UTILITY")
    with time_machine.travel(T0, tick=False):
        first = services.send_template(customer=customer, template=template, params=["a"])
    with time_machine.travel(T0 + timedelta(hours=24), tick=False):  # ours: U1 over, U2 opens
        second = services.send_template(customer=customer, template=template, params=["b"])
    Conversation.objects.filter(pk=first.conversation_id).update(platform_id="conv-U1")
    Message.objects.filter(pk=second.pk).update(wamid="wamid.SECOND", status="sent")
    # The platform says the second message still belongs to U1 (its clock: U1 had not ended yet).
    sent = d.status(
        "wamid.SECOND",
        "sent",
        T0 + timedelta(hours=24),
        recipient_id="16505551234",
        conversation_id="conv-U1",
        expires_at=T0 + timedelta(hours=24, seconds=3),
        category="utility",
    )
    post(client, d.delivery(d.statuses_change(sent)))
    second.refresh_from_db()
    assert second.conversation_id == first.conversation_id
    # U2 never existed on the platform, so U1's later expiry overlaps nothing and is adopted.
    assert Conversation.objects.get(pk=second.conversation_id).expires_at == T0 + timedelta(
        hours=24, seconds=3
    )
    u2 = Conversation.objects.exclude(pk=first.conversation_id).get()
    assert u2.status == "voided"  # it never existed on the platform
    fields = sorted(ConversationDiscrepancy.objects.values_list("field", "adopted"))
    assert fields == [("conversation", True)]  # 3 s of clock jitter on the expiry is not a disagreement


# --- Template webhooks ---------------------------------------------------------------------------------


def test_template_status_and_category_updates_change_the_template_and_are_recorded(client):
    template = factories.template(
        category="UTILITY", status="PENDING", name="order_update", platform_id="5649"
    )
    post(client, d.delivery(d.template_status_update("5649", "order_update", "en_US", "APPROVED")))
    template.refresh_from_db()
    assert template.status == "APPROVED"
    post(
        client,
        d.delivery(
            d.template_status_update("5649", "order_update", "en_US", "REJECTED", reason="INCORRECT_CATEGORY")
        ),
    )
    post(
        client,
        d.delivery(
            d.template_category_update(
                "5649", "order_update", "en_US", "MARKETING", previous_category="UTILITY"
            )
        ),
    )
    template.refresh_from_db()
    assert (template.status, template.rejected_reason, template.category) == (
        "REJECTED",
        "INCORRECT_CATEGORY",
        "MARKETING",
    )
    events = list(TemplateEvent.objects.order_by("id").values_list("kind", "old", "new"))
    assert events == [
        ("status", "PENDING", "APPROVED"),
        ("status", "APPROVED", "REJECTED"),
        ("category", "UTILITY", "MARKETING"),
    ]


def test_messages_already_sent_keep_their_category_when_the_template_is_recategorised(client):
    template = factories.template(category="UTILITY", name="order_update", platform_id="5649")
    message = services.send_template(customer=factories.customer(), template=template, params=["a"])
    post(client, d.delivery(d.template_category_update("5649", "order_update", "en_US", "MARKETING")))
    message.refresh_from_db()
    assert message.template_category == "UTILITY"


def test_template_found_by_name_and_language_when_the_platform_id_is_new(client):
    template = factories.template(name="follow_up", language="pt_BR", status="APPROVED")
    post(client, d.delivery(d.template_status_update("777", "follow_up", "pt_BR", "PAUSED")))
    template.refresh_from_db()
    assert (template.status, template.platform_id) == ("PAUSED", "777")
    assert not template.is_sendable


def test_a_content_length_that_is_not_a_number_is_a_clear_400(client):
    body, signature = d.signed(
        d.inbound_delivery("16505551234", "hi", timestamp=T0), settings.WHATSAPP_APP_SECRET
    )
    response = client.generic(
        "POST",
        URL,
        body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": signature},
        CONTENT_LENGTH="twelve",
    )
    assert response.status_code == 400 and "Content-Length" in response.json()["error"]
    assert not Message.objects.exists()


def test_json_nested_too_deeply_is_refused_not_a_crash(client):
    raw = b'{"object": "whatsapp_business_account", "entry": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = post(client, None, raw=raw)
    assert response.status_code == 400 and "nested too deeply" in response.json()["error"]
    assert WebhookDelivery.objects.get().status == "rejected"


def test_a_template_update_about_a_template_we_do_not_hold_is_kept_for_an_admin(client):
    post(client, d.delivery(d.template_status_update("9900112233", "spring_sale", "en_US", "APPROVED")))
    delivery = WebhookDelivery.objects.get()
    kept = KeptItem.objects.get()
    assert (delivery.status, kept.kind, kept.field) == (
        "processed",
        "unknown_template",
        "message_template_status_update",
    )
    assert "spring_sale (en_US" in kept.reason and "sync the templates" in kept.reason
