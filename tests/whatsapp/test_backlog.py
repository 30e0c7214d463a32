"""A backlog of stored deliveries is caught up oldest first, its size and age are visible, a long wait
is logged as an error, and a delivery that crashes its worker every time ends dead without blocking
the others (issue 13: campaign scale)."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conversations.models import Customer, Message
from tests.whatsapp import deliveries as d
from whatsapp import selectors
from whatsapp import services as channel
from whatsapp.models import WebhookDelivery

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def stored(delivery, *, received_at, **fields):
    body, header = d.signed(delivery, "secret")
    row = channel.ingest(body, signature=header, now=received_at)
    if fields:
        WebhookDelivery.objects.filter(pk=row.pk).update(**fields)
    return row


def reply(number: int, *, at=NOW - timedelta(hours=1)):
    return d.inbound_delivery(f"1650555{number:04d}", f"reply {number}", timestamp=at)


def test_the_backlog_counts_what_is_waiting_failed_and_dead_in_two_queries():
    stored(reply(1), received_at=NOW - timedelta(minutes=9))  # waiting: the oldest
    stored(reply(2), received_at=NOW - timedelta(minutes=2), status="processing")
    stored(reply(3), received_at=NOW - timedelta(minutes=3), status="failed", attempts=2)
    stored(reply(4), received_at=NOW - timedelta(days=3), status="dead", attempts=12)
    stored(reply(5), received_at=NOW - timedelta(minutes=1), status="processed")
    stored(reply(6), received_at=NOW - timedelta(days=1), status="processed")
    with CaptureQueriesContext(connection) as queries:
        backlog = selectors.delivery_backlog(NOW)
    assert len(queries) == 2
    assert (backlog.waiting, backlog.failed, backlog.dead) == (2, 1, 1)
    assert backlog.oldest_age == timedelta(minutes=9)  # the dead one is a person's, not the backlog's
    assert backlog.arrived_recently == 3  # within the last five minutes: 2, 3 and 5
    assert backlog.arrivals_per_minute == pytest.approx(0.6)


def test_nothing_waiting_has_no_age():
    stored(reply(1), received_at=NOW - timedelta(minutes=1), status="processed")
    backlog = selectors.delivery_backlog(NOW)
    assert (backlog.waiting, backlog.failed, backlog.oldest_age) == (0, 0, None)


def test_a_backlog_larger_than_a_batch_is_caught_up_in_one_run_oldest_first():
    for number in range(25):
        stored(reply(number), received_at=NOW - timedelta(minutes=30) + timedelta(seconds=number))
    assert channel.retry_deliveries(now=NOW, limit=10) == 25
    assert not WebhookDelivery.objects.exclude(status="processed").exists()
    order = list(Message.objects.order_by("pk").values_list("body", flat=True))
    assert order == [f"reply {number}" for number in range(25)]


def test_one_run_stops_when_its_time_is_spent_and_the_next_goes_on():
    for number in range(25):
        stored(reply(number), received_at=NOW - timedelta(minutes=30) + timedelta(seconds=number))
    assert channel.retry_deliveries(now=NOW, limit=10, budget=timedelta(0)) == 10  # one batch
    assert channel.retry_deliveries(now=NOW, limit=10) == 15


def test_one_customer_s_deliveries_are_applied_in_the_order_they_arrived():
    # The same customer changes their profile name between two messages: the later name stays.
    first = d.inbound_delivery("16505550001", "first", timestamp=NOW - timedelta(minutes=20), name="Ana")
    second = d.inbound_delivery("16505550001", "second", timestamp=NOW - timedelta(minutes=19), name="Ana B.")
    stored(second, received_at=NOW - timedelta(minutes=9))
    stored(first, received_at=NOW - timedelta(minutes=10))
    channel.retry_deliveries(now=NOW)
    assert list(Message.objects.order_by("pk").values_list("body", flat=True)) == ["first", "second"]
    assert Customer.objects.get().name == "Ana B."


@pytest.mark.parametrize(
    ("waited", "alerted"), [(timedelta(seconds=60), False), (timedelta(seconds=61), True)]
)
def test_a_delivery_waiting_over_a_minute_is_logged_as_an_error(caplog, waited, alerted):
    stored(reply(1), received_at=NOW - waited, status="failed", next_attempt_at=NOW + timedelta(minutes=5))
    with caplog.at_level(logging.ERROR, logger="whatsapp.services"):
        channel.retry_deliveries(now=NOW)
    assert ("webhook backlog" in caplog.text) is alerted
    if alerted:
        assert "0 deliveries waiting and 1 failed, the oldest for 61 s" in caplog.text


def test_a_delivery_that_crashes_its_worker_every_time_ends_dead_and_blocks_nothing(caplog):
    """Each attempt claimed it and never finished (the worker was killed): after the last lease it is
    parked dead with the reason, never processed again by itself, and the deliveries behind it go on."""
    poison = stored(
        reply(1),
        received_at=NOW - timedelta(hours=3),
        status="processing",
        attempts=channel.DELIVERY_MAX_ATTEMPTS,
        next_attempt_at=NOW - timedelta(seconds=1),
    )
    behind = stored(reply(2), received_at=NOW - timedelta(hours=2))
    with caplog.at_level(logging.ERROR, logger="whatsapp.services"):
        assert channel.retry_deliveries(now=NOW) == 1
    poison.refresh_from_db()
    assert poison.status == "dead" and "never finished in 12 attempts" in poison.error
    assert "parked as dead" in caplog.text
    assert WebhookDelivery.objects.get(pk=behind.pk).status == "processed"
    assert channel.process_delivery(poison.pk).status == "dead"  # claimed no more
    assert Message.objects.count() == 1


def test_a_delivery_with_attempts_left_is_taken_again_after_its_lease():
    crashed = stored(
        reply(1),
        received_at=NOW - timedelta(hours=1),
        status="processing",
        attempts=3,
        next_attempt_at=NOW - timedelta(seconds=1),
    )
    channel.retry_deliveries(now=NOW)
    crashed.refresh_from_db()
    assert (crashed.status, crashed.attempts) == ("processed", 4)


def test_the_admin_shows_the_backlog_and_a_person_can_revive_a_dead_delivery(client):
    admin = User.objects.create_user("ada", password="x", is_staff=True)
    admin.groups.set([Group.objects.get(name="admins")])
    client.force_login(admin)
    with time_machine.travel(NOW, tick=False):
        stored(reply(1), received_at=NOW - timedelta(minutes=7))
        dead = stored(reply(2), received_at=NOW - timedelta(days=1), status="dead", attempts=12)
        page = client.get(reverse("admin:whatsapp_webhookdelivery_changelist"))
    text = " ".join(page.text.split())
    assert "1 waiting</strong> to be processed and <strong>0 failed" in text
    assert "the oldest arrived 7 minutes ago — <strong>processing is falling behind" in text
    assert "<strong>1 dead</strong>" in text
    response = client.post(
        reverse("admin:whatsapp_webhookdelivery_changelist"),
        {"action": "process_again", "_selected_action": [dead.pk]},
    )
    assert response.status_code == 302
    dead.refresh_from_db()
    assert (dead.status, dead.attempts) == ("processed", 1)


def batch_of_replies(count: int) -> dict:
    return d.delivery(
        d.messages_change(
            *[
                d.text_message(f"1650556{n:04d}", f"reply {n}", timestamp=NOW - timedelta(hours=1))
                for n in range(count)
            ]
        )
    )


def test_a_long_delivery_keeps_its_lease_while_it_is_applied(monkeypatch):
    """A 25,000-message delivery outlives a fixed lease: the worker renews it as it goes, so no second
    worker takes it meanwhile (here: renewed before every event)."""
    monkeypatch.setattr(channel, "LEASE_RENEW_AFTER", timedelta(0))
    delivery = stored(batch_of_replies(5), received_at=NOW - timedelta(minutes=2))
    leases = []
    receive = channel.conversation_services.receive_message

    def watching(**fields):
        leases.append(WebhookDelivery.objects.get(pk=delivery.pk).next_attempt_at)
        return receive(**fields)

    monkeypatch.setattr(channel.conversation_services, "receive_message", watching)
    assert channel.process_delivery(delivery.pk).status == "processed"
    assert len(leases) == 5 and leases == sorted(leases) and leases[0] < leases[-1]
    assert Message.objects.count() == 5


def test_a_worker_that_lost_its_lease_stops_and_leaves_the_delivery_to_the_one_holding_it(
    monkeypatch, caplog
):
    """The first worker stalled past its lease; a second claimed the delivery (a new attempt). The first
    notices at its next renewal, applies nothing more and writes nothing over the second's work."""
    monkeypatch.setattr(channel, "LEASE_RENEW_AFTER", timedelta(0))
    delivery = stored(batch_of_replies(4), received_at=NOW - timedelta(minutes=2))
    receive = channel.conversation_services.receive_message
    calls = []

    def stalled_then_overtaken(**fields):
        calls.append(fields["body"])
        if len(calls) == 2:  # meanwhile, the lease ran out and another worker claimed it
            WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=2)
        return receive(**fields)

    monkeypatch.setattr(channel.conversation_services, "receive_message", stalled_then_overtaken)
    with caplog.at_level(logging.ERROR, logger="whatsapp.services"):
        channel.process_delivery(delivery.pk)
    assert calls == ["reply 0", "reply 1"]  # nothing applied once the lease was lost
    assert "lease lost after 2 events" in caplog.text
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("processing", 2)  # the second worker's, untouched
