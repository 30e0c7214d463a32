"""What one send_text costs the database inside an open window: the statements of its raw transaction
and no more (issue 13; scripts/benchmark_channel.py measures the time against that raw SQL)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations import services
from conversations.models import Message
from tests import factories
from tests.factories import at

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def statements_of(call) -> tuple[object, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        result = call()
    return result, [query["sql"].split()[0].upper() for query in queries.captured_queries]


def test_a_reply_in_an_open_conversation_is_one_transaction_of_five_statements():
    customer = factories.customer()
    services.receive_message(wa_id=customer.wa_id, body="hi", wamid="wamid.IN", timestamp=at(0, "09:00"))
    first = services.send_text(customer=customer, body="Hello", now=at(0, "09:01"))
    second, statements = statements_of(
        lambda: services.send_text(customer=customer, body="Anything else?", now=at(0, "09:02"))
    )
    # Lock the customer, read the conversations the rules need, insert the message into the open one and
    # move the customer's activity in one statement (WITH … INSERT … UPDATE).
    assert statements == ["BEGIN", "SELECT", "SELECT", "WITH", "COMMIT"]
    assert second.conversation_id == first.conversation_id
    assert Message.objects.filter(customer=customer, direction="outbound").count() == 2
    customer.refresh_from_db()
    assert (customer.last_turn_at, customer.last_turn_direction) == (at(0, "09:02"), "outbound")
    assert Message.objects.get(pk=second.pk).body == "Anything else?"


@pytest.mark.parametrize(
    ("broker", "options"),
    [
        ("redis://127.0.0.1:6379/0", {"declare": []}),
        ("filesystem://", {"declare": []}),
        ("memory://", {"declare": []}),
        ("amqp://guest:guest@127.0.0.1:5672//", {}),
    ],
)
def test_the_queue_is_declared_again_only_where_a_broker_needs_it(monkeypatch, broker, options):
    """kombu's virtual transports deliver a task to its queue by name (the default exchange), declared or
    not: the send path skips declaring it on every dispatch there, never on an AMQP broker, which would
    drop a message for a queue not declared yet. Nothing connects to decide it."""
    from celery import Celery

    from conversations.services import outbound

    monkeypatch.setattr(outbound, "current_app", Celery(broker=broker, set_as_current=False))
    assert outbound._declare.__wrapped__() == options
