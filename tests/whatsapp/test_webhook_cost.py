"""What one delivery costs the database: the statements a status and a reply take on the webhook's way
in, and one commit each (issue 13: the raw SQL of the same writes is the yardstick; scripts/
benchmark_channel.py measures the time). A change that adds a statement here should be one we mean."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations.models import Customer, Message
from tests import factories
from tests.whatsapp import deliveries as d
from whatsapp.models import WebhookDelivery

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

URL = "/webhooks/whatsapp/"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
WA_ID = "16505551234"


def post_counted(client, delivery) -> list[str]:
    body, signature = d.signed(delivery, settings.WHATSAPP_APP_SECRET)
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            URL, data=body, content_type="application/json", headers={"X-Hub-Signature-256": signature}
        )
    assert response.status_code == 200
    return [query["sql"].split()[0].upper() for query in queries.captured_queries]


PMP = {"billable": True, "pricing_model": "PMP", "category": "utility", "type": "regular"}


def test_a_usual_status_delivery_is_one_statement(client, sent_message):
    """Sent, delivered, read of our message, naming its customer as they are: the message's write and
    the delivery's INSERT in one statement (WITH … UPDATE … INSERT), its own transaction: no BEGIN, no
    COMMIT of ours (tests/conversations/test_usual_status_write.py: the same write as record_status)."""
    for minutes, state in enumerate(("sent", "delivered", "read"), start=1):
        status = d.status("wamid.OURS", state, T0 + timedelta(minutes=minutes), recipient_id=WA_ID)
        status["pricing"] = PMP
        assert post_counted(client, d.delivery(d.statuses_change(status))) == ["WITH"]
    message = Message.objects.get(pk=sent_message.pk)
    assert (message.status, message.pricing_category, message.billable) == ("read", "utility", True)
    assert message.delivered_at == T0 + timedelta(minutes=2)
    assert (
        list(WebhookDelivery.objects.values_list("status", "summary", "attempts"))
        == [("processed", {"statuses": 1}, 1)] * 3
    )


def test_a_status_that_names_the_customer_anew_is_applied_the_usual_way(client, sent_message):
    """The one statement writes nothing (the customer lacks the BSUID the status carries); then the
    usual transaction: find and lock the message, lock the customer and link it, update the message,
    store the delivery."""
    status = d.status("wamid.OURS", "delivered", T0 + timedelta(minutes=1), recipient_id=WA_ID)
    status["recipient_user_id"] = "US.13491208655302741918"
    statements = post_counted(client, d.delivery(d.statuses_change(status)))
    assert statements[:3] == ["WITH", "BEGIN", "SELECT"] and statements[-2:] == ["INSERT", "COMMIT"]
    assert Customer.objects.get(pk=sent_message.customer_id).user_id == "US.13491208655302741918"
    assert WebhookDelivery.objects.get().status == "processed"


def test_a_status_with_the_platforms_conversation_is_one_transaction_of_the_usual_statements(
    client, sent_message
):
    """A status that reports the platform's conversation (reconciled with ours, R9) is not the usual
    status: no one-statement attempt; the customer and the message are locked first."""
    status = d.status("wamid.OURS", "sent", T0 + timedelta(minutes=1), recipient_id=WA_ID)
    status["conversation"] = {"id": "CONV-1", "origin": {"type": "utility"}}
    statements = post_counted(client, d.delivery(d.statuses_change(status)))
    assert statements[0] == "BEGIN" and statements[-1] == "COMMIT" and "WITH" not in statements
    assert Message.objects.get(pk=sent_message.pk).status == "sent"


def test_a_reply_from_a_known_customer_is_one_transaction_of_ten_statements(client):
    factories.customer(wa_id=WA_ID, name="Ann")
    delivery = d.inbound_delivery(WA_ID, "Thanks!", timestamp=T0, wamid="wamid.REPLY", name="Ann")
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        statements = post_counted(client, delivery)
    # Lock the customer (found and locked in one query), check the wamid under the lock, insert the
    # message (ON CONFLICT DO NOTHING, no savepoint: a wamid another customer's delivery took meanwhile
    # is not an error), ask which team gives out a thread nobody holds (the default team: one read of a
    # unique index; none here), update the customer; store the delivery.
    assert statements == [
        "BEGIN",
        "SAVEPOINT",
        "SELECT",
        "SELECT",
        "INSERT",
        "SELECT",
        "UPDATE",
        "RELEASE",
        "INSERT",
        "COMMIT",
    ]


def test_a_reply_to_a_held_thread_asks_no_team(client):
    """A thread someone holds is not given out again: no team is read."""
    customer = factories.customer(wa_id=WA_ID, name="Ann")
    agent = User.objects.create_user("alex")
    agent.groups.set([Group.objects.get(name="agents")])
    Customer.objects.filter(pk=customer.pk).update(assigned_to=agent)
    delivery = d.inbound_delivery(WA_ID, "Thanks!", timestamp=T0, wamid="wamid.REPLY", name="Ann")
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        statements = post_counted(client, delivery)
    assert statements.count("SELECT") == 2 and len(statements) == 9
    assert Message.objects.filter(wamid="wamid.REPLY", direction="inbound").count() == 1


def test_the_delivery_row_written_by_hand_reads_back_as_the_orm_would_have_written_it():
    """whatsapp.services._insert_delivery hands most values to psycopg as they are (only the JSON summary
    goes through its field): every field of the stored row reads back as it was set, through the ORM."""
    from whatsapp.services import _insert_delivery

    delivery = WebhookDelivery(
        received_at=T0,
        body=b'{"object": "whatsapp_business_account", "entry": [\x00]}',
        signature="sha256=" + "ab" * 32,
        size=52,
        status=WebhookDelivery.Status.FAILED,
        attempts=3,
        next_attempt_at=T0 + timedelta(minutes=5),
        processed_at=T0 + timedelta(seconds=1),
        error="event 0 (StatusUpdate): boom — «ünïcode»",
        summary={"statuses": 1, "kept": 2, "note": "Sofía"},
    )
    stored = WebhookDelivery.objects.get(pk=_insert_delivery(delivery))
    for field in WebhookDelivery._meta.concrete_fields:
        if not field.primary_key:
            assert getattr(stored, field.attname) == getattr(delivery, field.attname), field.name
