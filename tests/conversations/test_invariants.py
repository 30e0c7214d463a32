"""Invariants the database refuses to break, and services that stay correct with concurrent senders.

"Never two open conversations of one category for one customer" is enforced by the database itself:
an exclusion constraint on PostgreSQL, triggers on SQLite. Concurrency is proven on PostgreSQL with
real threads and connections (SQLite serialises writers anyway)."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import IntegrityError, close_old_connections, connection, transaction

from conversations import services
from conversations.models import Conversation, Customer, Message
from tests import factories
from tests.factories import at

pytestmark = pytest.mark.django_db


def insert_conversation(customer, category, opened_at, expires_at, **fields):
    with transaction.atomic():
        return Conversation.objects.create(
            customer=customer, category=category, opened_at=opened_at, expires_at=expires_at, **fields
        )


def test_overlapping_conversations_of_one_category_are_refused_by_the_database():
    customer = factories.customer()
    insert_conversation(customer, "marketing", at(0, "10:00"), at(1, "10:00"))
    with pytest.raises(IntegrityError):
        insert_conversation(customer, "marketing", at(0, "20:00"), at(1, "20:00"))
    with pytest.raises(IntegrityError):
        insert_conversation(customer, "marketing", at(0, "09:00"), at(0, "10:00:01"))


def test_adjacent_or_differently_categorised_conversations_are_allowed():
    customer, other = factories.customer(), factories.customer()
    insert_conversation(customer, "marketing", at(0, "10:00"), at(1, "10:00"))
    insert_conversation(customer, "marketing", at(1, "10:00"), at(2, "10:00"))  # half-open: touching is fine
    insert_conversation(customer, "utility", at(0, "12:00"), at(1, "12:00"))
    insert_conversation(other, "marketing", at(0, "12:00"), at(1, "12:00"))
    assert Conversation.objects.count() == 4


def test_a_closed_conversation_frees_its_range_after_closed_at():
    customer = factories.customer()
    insert_conversation(customer, "utility", at(0, "08:00"), at(1, "08:00"), closed_at=at(0, "10:20"))
    insert_conversation(customer, "utility", at(0, "10:20"), at(1, "10:20"))
    voided = insert_conversation(customer, "marketing", at(0, "11:00"), at(1, "11:00"))
    Conversation.objects.filter(pk=voided.pk).update(
        status="voided", voided_at=at(0, "11:05"), closed_at=at(0, "11:00")
    )
    insert_conversation(
        customer, "marketing", at(0, "11:10"), at(1, "11:10")
    )  # the voided one occupies nothing


def test_updates_that_would_create_an_overlap_are_refused():
    customer = factories.customer()
    insert_conversation(customer, "utility", at(0, "08:00"), at(1, "08:00"), closed_at=at(0, "10:20"))
    insert_conversation(customer, "utility", at(0, "10:20"), at(1, "10:20"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Conversation.objects.filter(closed_at__isnull=False).update(closed_at=None)


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"opened_at": at(0, "10:00"), "expires_at": at(0, "10:00")}, "expires_at must be after opened_at"),
        (
            {"opened_at": at(0, "10:00"), "expires_at": at(1, "10:00"), "closed_at": at(0, "09:00")},
            "closed early",
        ),
        (
            {"opened_at": at(0, "10:00"), "expires_at": at(1, "10:00"), "closed_at": at(1, "11:00")},
            "closed late",
        ),
        (
            {"opened_at": at(0, "10:00"), "expires_at": at(1, "10:00"), "category": "sales"},
            "unknown category",
        ),
        (
            {"opened_at": at(0, "10:00"), "expires_at": at(1, "10:00"), "status": "voided"},
            "voided without time",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_check_constraints(fields, why):
    fields = {"category": "utility", **fields}
    with pytest.raises(IntegrityError), transaction.atomic():
        Conversation.objects.create(customer=factories.customer(), **fields)


@pytest.mark.parametrize("wa_id", ["+15551234567", "1555 123", "abc", ""])
def test_wa_id_is_digits_only_in_the_database(wa_id):
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(wa_id=wa_id, name="x")


def test_inbound_messages_cannot_belong_to_a_conversation():
    customer = factories.customer()
    conversation = insert_conversation(customer, "service", at(0, "10:00"), at(1, "10:00"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(
            customer=customer,
            direction="inbound",
            status="received",
            occurred_at=at(0, "10:00"),
            conversation=conversation,
        )


def test_wamid_is_unique_when_present():
    customer = factories.customer()
    common = {
        "customer": customer,
        "direction": "inbound",
        "status": "received",
        "occurred_at": at(0, "09:00"),
    }
    Message.objects.create(wamid=None, **common)
    Message.objects.create(wamid=None, **common)  # many messages have no platform id yet
    Message.objects.create(wamid="wamid.1", **common)
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(wamid="wamid.1", **common)


# --- Concurrency (PostgreSQL: real row locks, real connections) -----------------------------------


def run_concurrently(count, action):
    """Start `count` threads that call action(i) at the same moment; return (results, errors)."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def worker(i):
        try:
            barrier.wait()
            results[i] = action(i)
        except Exception as exc:  # reported to the test
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_template_sends_open_exactly_one_conversation():
    customer = factories.customer()
    template = factories.template(category="MARKETING")
    with time_machine.travel(at(0, "10:00"), tick=True):
        results, errors = run_concurrently(
            8, lambda i: services.send_template(customer=customer, template=template, params=[f"n{i}"])
        )
    assert errors == []
    assert Conversation.objects.filter(customer=customer).count() == 1
    conversation = Conversation.objects.get(customer=customer)
    assert {m.conversation_id for m in results} == {conversation.pk}
    assert conversation.messages.count() == 8


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_replies_open_one_service_conversation_and_one_fep():
    referred, plain = factories.customer(), factories.customer()
    services.receive_message(wa_id=plain.wa_id, body="hi", wamid="w-plain", timestamp=at(0, "09:00"))
    services.receive_message(
        wa_id=referred.wa_id,
        body="hi",
        wamid="w-ref",
        timestamp=at(0, "09:00"),
        referral={"source_type": "ad"},
    )
    with time_machine.travel(at(0, "09:05"), tick=True):
        _, errors = run_concurrently(
            10, lambda i: services.send_text(customer=(plain, referred)[i % 2], body=f"reply {i}")
        )
    assert errors == []
    assert list(Conversation.objects.filter(customer=plain).values_list("category", flat=True)) == ["service"]
    assert list(Conversation.objects.filter(customer=referred).values_list("category", flat=True)) == [
        "free_entry_point"
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_clock_is_read_after_the_lock_is_held():
    """A sender that waited for the customer lock decides with the time it got the lock, not before."""
    customer = factories.customer()
    template = factories.template(category="UTILITY")
    with time_machine.travel(at(0, "10:00"), tick=False) as traveller:
        first = services.send_template(customer=customer, template=template, params=["a"])
    locked, release = threading.Event(), threading.Event()

    def hold_lock():
        try:
            with transaction.atomic():
                Customer.objects.select_for_update().get(pk=customer.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_lock)
    with time_machine.travel(at(1, "09:59:59"), tick=False) as traveller:
        holder.start()
        locked.wait(10)
        sender_result = {}

        def send():
            try:
                sender_result["message"] = services.send_template(
                    customer=customer, template=template, params=["b"]
                )
            finally:
                connection.close()

        sender = threading.Thread(target=send)
        sender.start()
        sender.join(0.5)  # the sender is now waiting for the lock
        traveller.shift(timedelta(seconds=2))  # ...and U1 ends while it waits
        release.set()
        sender.join(10)
        holder.join(10)
    second = sender_result["message"]
    assert second.conversation_id != first.conversation_id  # decided at Tue 10:00:01, after U1 ended
    assert second.occurred_at == at(1, "10:00:01")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_count_each_conversation_once():
    for _ in range(40):
        factory_customer = factories.customer()
        insert_conversation(factory_customer, "marketing", at(0, "10:00"), at(1, "10:00"))
    results, errors = run_concurrently(
        4, lambda i: services.expire_due_conversations(now=at(1, "10:00"), batch_size=7)
    )
    assert errors == []
    assert sum(results) == 40
    assert Conversation.objects.filter(status="expired").count() == 40


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_message_store_it_once():
    results, errors = run_concurrently(
        6,
        lambda i: services.receive_message(
            wa_id="16505550000", body="hi", wamid="wamid.same", timestamp=at(0, "09:00"), name="Ann"
        ),
    )
    assert errors == []
    assert len({m.pk for m in results}) == 1
    assert Customer.objects.filter(wa_id="16505550000").count() == 1
