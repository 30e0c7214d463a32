"""The webhook's fast paths (issue 13: a usual status in one statement; a reply through prepared
statements and ON CONFLICT) replayed in the platform's late-2026 shapes (whatsapp-cloud-api.md, last
section): a customer known only by a BSUID and a username, no phone number; per-message pricing with and
without the platform's conversation object; one bad item in a batch. Each is applied as the usual path
would apply it, and the fast path is taken where it should be."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations import services
from conversations.models import Customer, Message
from tests import factories
from tests.whatsapp import deliveries as d
from whatsapp.models import KeptItem, WebhookDelivery

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

URL = "/webhooks/whatsapp/"
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
USER_ID = "US.71234500000000000001"
PMP = {"billable": True, "pricing_model": "PMP", "category": "utility", "type": "regular"}


def post(client, delivery) -> list[str]:
    body, signature = d.signed(delivery, settings.WHATSAPP_APP_SECRET)
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            URL, data=body, content_type="application/json", headers={"X-Hub-Signature-256": signature}
        )
    assert response.status_code == 200, response.content
    return [query["sql"].split()[0].upper() for query in queries.captured_queries]


def bsuid_text(wamid: str, body: str, at: datetime, *, user_id: str = USER_ID) -> dict:
    """A message from a user with a username and no phone number: from_user_id, no `from`."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": d.DISPLAY_PHONE_NUMBER, "phone_number_id": d.PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Marisol K.", "username": "@marisol.k"}, "user_id": user_id}],
        "messages": [
            {
                "from_user_id": user_id,
                "id": wamid,
                "timestamp": d.unix(at),
                "type": "text",
                "text": {"body": body},
            }
        ],
    }
    return d.delivery(d.change("messages", value))


def bsuid_status(wamid: str, state: str, at: datetime, **fields) -> dict:
    return {"id": wamid, "status": state, "timestamp": d.unix(at), "recipient_user_id": USER_ID, **fields}


def test_a_bsuid_only_customer_writes_is_answered_and_the_statuses_take_the_fast_path(client):
    # First message from a stranger known only by a BSUID: the customer is created, no phone number.
    post(client, bsuid_text("wamid.IN1", "Hello, can I change my address?", T0))
    customer = Customer.objects.get(user_id=USER_ID)
    assert (customer.wa_id, customer.username, customer.last_inbound_at) == (None, "@marisol.k", T0)

    # A second message from the now known customer: the reply path's prepared lookup finds them.
    with time_machine.travel(T0 + timedelta(minutes=2), tick=False):
        statements = post(client, bsuid_text("wamid.IN2", "Anyone there?", T0 + timedelta(minutes=1)))
    assert statements.count("INSERT") == 2 and statements[-1] == "COMMIT"
    assert Message.objects.filter(customer=customer, direction="inbound").count() == 2
    customer.refresh_from_db()
    assert (customer.last_inbound_at, customer.last_turn_direction) == (T0 + timedelta(minutes=1), "inbound")

    # The same message again (the platform retries): recorded once.
    post(client, bsuid_text("wamid.IN2", "Anyone there?", T0 + timedelta(minutes=1)))
    assert Message.objects.filter(wamid="wamid.IN2").count() == 1

    # Our reply, then its statuses addressed by recipient_user_id only, per-message pricing.
    with time_machine.travel(T0 + timedelta(minutes=3), tick=False):
        sent = services.send_text(customer=customer, body="Yes, which address?")
    Message.objects.filter(pk=sent.pk).update(status="sending")
    services.record_accepted(message=sent, wamid="wamid.OUT")
    sent_status = bsuid_status("wamid.OUT", "sent", T0 + timedelta(minutes=3), pricing=PMP)
    assert post(client, d.delivery(d.statuses_change(sent_status))) == ["WITH"]
    # Per-message pricing with the platform's conversation object: not the one statement, yet applied.
    delivered = bsuid_status(
        "wamid.OUT",
        "delivered",
        T0 + timedelta(minutes=4),
        pricing=PMP,
        conversation={"id": "CONV-PMP-1", "origin": {"type": "service"}},
    )
    statements = post(client, d.delivery(d.statuses_change(delivered)))
    assert "WITH" not in statements and statements[0] == "BEGIN"
    assert post(
        client, d.delivery(d.statuses_change(bsuid_status("wamid.OUT", "read", T0 + timedelta(minutes=5))))
    ) == ["WITH"]

    message = Message.objects.get(pk=sent.pk)
    assert (message.status, message.pricing_model, message.pricing_category, message.billable) == (
        "read",
        "PMP",
        "utility",
        True,
    )
    assert (message.sent_at, message.delivered_at, message.read_at) == (
        T0 + timedelta(minutes=3),
        T0 + timedelta(minutes=4),
        T0 + timedelta(minutes=5),
    )
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"processed"}


def test_a_status_naming_another_bsuid_is_not_written_by_the_fast_path(client):
    """A status whose recipient_user_id is not its message's customer's matches no row in the one
    statement; the usual path then decides (links or keeps it), never writes the wrong customer's row
    silently."""
    customer = factories.customer(wa_id=None, user_id=USER_ID, name="Marisol")
    services.receive_message(user_id=USER_ID, body="hi", wamid="wamid.IN", timestamp=T0)
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        sent = services.send_text(customer=customer, body="Hello")
    Message.objects.filter(pk=sent.pk).update(status="sending")
    services.record_accepted(message=sent, wamid="wamid.OUT")
    other = {"id": "wamid.OUT", "status": "delivered", "timestamp": d.unix(T0 + timedelta(minutes=2)),
             "recipient_user_id": "US.71234500000000000999", "pricing": PMP}  # fmt: skip
    statements = post(client, d.delivery(d.statuses_change(other)))
    assert statements[0] == "WITH" and "BEGIN" in statements  # tried, matched nothing, then the usual way
    assert WebhookDelivery.objects.get().status in {"processed", "failed"}


def test_one_bad_item_in_a_batch_with_a_bsuid_reply_loses_neither(client):
    """A batch: a message without an id (bad), and a good one from a BSUID-only customer. The good one is
    recorded through the reply path, the bad one kept with its reason; the platform gets its 200."""
    good = {"from_user_id": USER_ID, "id": "wamid.GOOD", "timestamp": d.unix(T0), "type": "text",
            "text": {"body": "Still there?"}}  # fmt: skip
    bad = {"from_user_id": USER_ID, "timestamp": d.unix(T0), "type": "text", "text": {"body": "no id"}}
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": d.DISPLAY_PHONE_NUMBER, "phone_number_id": d.PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Marisol K.", "username": "@marisol.k"}, "user_id": USER_ID}],
        "messages": [bad, good],
    }
    post(client, d.delivery(d.change("messages", value)))
    assert Message.objects.filter(wamid="wamid.GOOD", customer__user_id=USER_ID).count() == 1
    assert KeptItem.objects.count() == 1
    assert WebhookDelivery.objects.count() == 1
