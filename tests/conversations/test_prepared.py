"""Prepared queries (conversations/prepared.py): the ORM's own SQL compiled once and run with each call's
arguments, giving the rows the ORM gives; a query that uses an argument otherwise runs through the ORM."""

from datetime import timedelta

import pytest

from conversations import selectors
from conversations.models import Conversation
from conversations.prepared import Prepared
from tests import factories
from tests.factories import at, h

pytestmark = pytest.mark.django_db


def _orm_conversations(customer, now, referral_at):
    relevant = selectors.open_at(now)
    if referral_at is not None:
        relevant |= selectors.Q(category="free_entry_point", opened_at__gte=referral_at, opened_at__lte=now)
    return list(Conversation.objects.filter(relevant, customer=customer).order_by("opened_at", "pk"))


@pytest.mark.postgres
def test_a_send_reads_the_conversations_the_orm_would_with_each_calls_values():
    customer, other = factories.customer(), factories.customer()
    for who in (customer, other):
        for day, category in ((0, "service"), (1, "free_entry_point"), (1, "utility"), (3, "marketing")):
            Conversation.objects.create(
                customer=who, category=category, opened_at=at(day, "09:00"),
                expires_at=at(day, "09:00") + h(24), status="open", status_changed_at=at(day, "09:00"),
            )  # fmt: skip
    for now in (at(0, "08:00"), at(0, "12:00"), at(1, "09:00"), at(1, "10:00"), at(3, "09:30")):
        for referral_at in (None, at(0, "10:00"), now - timedelta(days=5)):
            got = selectors.customer_conversations(customer, now, referral_at)
            assert [(c.pk, c.category, c.opened_at, c.expires_at) for c in got] == [
                (c.pk, c.category, c.opened_at, c.expires_at)
                for c in _orm_conversations(customer, now, referral_at)
            ]
    compiled = selectors._CUSTOMER_CONVERSATIONS.compiled
    assert set(compiled) == {("referral_at",), ()} and all(compiled.values())  # run prepared, not by the ORM
    assert [c.pk for c in selectors.customer_conversations(customer, at(1, "10:00"), None)] == [
        c.pk for c in Conversation.objects.filter(customer=customer, opened_at=at(1, "09:00")).order_by("pk")
    ]


def test_a_query_using_an_argument_otherwise_than_as_a_value_runs_through_the_orm():
    customer = factories.customer()
    for day in (0, 2):
        Conversation.objects.create(
            customer=customer, category="service", opened_at=at(day, "09:00"),
            expires_at=at(day, "09:00") + h(24), status="open", status_changed_at=at(day, "09:00"),
        )  # fmt: skip
    recent = Prepared(
        lambda now: Conversation.objects.filter(opened_at__gt=now - h(24), opened_at__lte=now).order_by("pk")
    )
    assert [c.opened_at for c in recent.rows(now=at(2, "10:00"))] == [at(2, "09:00")]
    assert [c.opened_at for c in recent.rows(now=at(0, "10:00"))] == [at(0, "09:00")]
    assert recent.compiled == {(): None}


# --- prepared.cursor: the hot paths' statements, prepared once per connection -----------------------------

_BY_ID = "SELECT id, name FROM conversations_customer WHERE id = %s"


def _prepared_statements() -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.postgres
def test_a_hot_statement_is_prepared_once_and_answers_with_each_calls_values():
    from django.db import connection

    from conversations import prepared

    first, second = factories.customer(name="Ann"), factories.customer(name="Bob")
    answers = []
    for customer in (first, second, first):
        with prepared.cursor(connection) as cursor:
            cursor.execute(_BY_ID, [customer.pk])
            answers.append(cursor.fetchone())

    assert answers == [(first.pk, "Ann"), (second.pk, "Bob"), (first.pk, "Ann")]
    assert _prepared_statements().count("SELECT id, name FROM conversations_customer WHERE id = $1") == 1


@pytest.mark.postgres
def test_a_counted_hot_statement_shows_its_values_in_the_query_log():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from conversations import prepared

    customer = factories.customer(name="O'Hara")
    with CaptureQueriesContext(connection) as queries, prepared.cursor(connection) as cursor:
        cursor.execute(
            "SELECT id FROM conversations_customer WHERE name = %s AND id = %s", ["O'Hara", customer.pk]
        )

    assert [query["sql"] for query in queries.captured_queries] == [
        f"SELECT id FROM conversations_customer WHERE name = 'O''Hara' AND id = {customer.pk}"
    ]


@pytest.mark.postgres
def test_without_prepared_statements_the_hot_statements_still_run_unprepared(settings):
    """DATABASE_PREPARED_STATEMENTS=false (a pooler in transaction mode): the same statements, bound on the
    server, never prepared."""
    from django.db import connection

    from conversations import prepared

    customer = factories.customer(name="Ann")
    connection.ensure_connection()
    threshold = connection.connection.prepare_threshold
    connection.connection.prepare_threshold = None  # what the setting makes of a new connection
    try:
        for _ in range(3):
            with prepared.cursor(connection) as cursor:
                cursor.execute(_BY_ID, [customer.pk])
                assert cursor.fetchone() == (customer.pk, "Ann")
        assert "SELECT id, name FROM conversations_customer WHERE id = $1" not in _prepared_statements()
    finally:
        connection.connection.prepare_threshold = threshold


@pytest.mark.postgres
def test_a_partial_instance_converts_its_columns_and_reads_the_others_on_access():
    from django.db import connection

    from conversations import prepared
    from conversations.models import Message

    customer = factories.customer(name="Ann")
    message = Message.objects.create(
        customer=customer, direction="outbound", kind="free_form", wa_type="text", body="Hello",
        occurred_at=at(0, "09:00"), status="sent", pricing={"category": "utility", "billable": True},
    )  # fmt: skip
    names = ("id", "customer_id", "status", "pricing")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, customer_id, status, pricing FROM conversations_message WHERE id = %s", [message.pk]
        )
        row = cursor.fetchone()

    partial = prepared.partial_instance(row, connection, Message, names)

    assert (partial.pk, partial.customer_id, partial.status) == (message.pk, customer.pk, "sent")
    assert partial.pricing == {"category": "utility", "billable": True}  # decoded, as the ORM does
    assert partial.body == "Hello"  # deferred: read on access
    with pytest.raises(ValueError, match="in its order"):
        prepared.partial_instance(row, connection, Message, ("status", "id", "customer_id", "pricing"))
