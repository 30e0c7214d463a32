"""The thread's status (issue 15): open, pending, snoozed until a time, resolved; the customer's next
message reopens it in the same transaction; a snooze ends at its exact instant by itself; resolving an
unanswered customer inside the window needs a confirmation, to the second."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group, User

from conversations import policy, services
from conversations.exceptions import InvalidStatusChange, ResolveNeedsConfirmation
from conversations.models import Customer, ThreadStatus

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def agent():
    account = User.objects.create_user("alex", password="pw")
    account.groups.set([Group.objects.get(name="agents")])
    return account


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def wrote(wa_id="16505551234", *, at, wa_type="text", body="Hello?"):
    return services.receive_message(
        wa_id=wa_id, body=body, wamid=f"w-{uuid.uuid4().hex[:10]}", timestamp=at, wa_type=wa_type
    ).customer


def fresh(customer) -> Customer:
    return Customer.objects.get(pk=customer.pk)


# --- Changes, stamped ----------------------------------------------------------------------------------


def test_a_new_customer_is_open_and_each_change_is_stamped_with_its_instant_and_agent(agent):
    customer = wrote(at=NOW - timedelta(hours=2))
    assert (customer.status, customer.status_changed_at) == (ThreadStatus.OPEN, None)
    services.mark_pending(customer=customer, agent=agent, now=NOW)
    customer = fresh(customer)
    assert (customer.status, customer.status_changed_at, customer.status_changed_by) == (
        "pending",
        NOW,
        agent,
    )
    later = NOW + timedelta(minutes=5)
    services.snooze(customer=customer, until=later + timedelta(hours=1), agent=agent, now=later)
    customer = fresh(customer)
    assert (customer.status, customer.snoozed_until, customer.status_changed_at) == (
        "snoozed",
        later + timedelta(hours=1),
        later,
    )
    services.reopen(customer=customer, agent=agent, now=later + timedelta(minutes=1))
    customer = fresh(customer)
    assert (customer.status, customer.snoozed_until) == ("open", None)


def test_a_snooze_needs_an_aware_end_in_the_future(agent):
    customer = wrote(at=NOW - timedelta(hours=2))
    with pytest.raises(InvalidStatusChange, match="in the future"):
        services.snooze(customer=customer, until=NOW, agent=agent, now=NOW)
    with pytest.raises(InvalidStatusChange, match="date and a time"):
        services.snooze(customer=customer, until=datetime(2026, 3, 3, 9, 0), agent=agent, now=NOW)
    assert fresh(customer).status == "open"


def test_the_database_refuses_a_snooze_without_an_end_and_an_unknown_status():
    from django.db import IntegrityError, transaction

    customer = wrote(at=NOW - timedelta(hours=2))
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.filter(pk=customer.pk).update(status="snoozed")
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.filter(pk=customer.pk).update(status="archived")
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.filter(pk=customer.pk).update(snoozed_until=NOW)  # open, with an end


# --- The customer writes: the thread reopens ----------------------------------------------------------


@pytest.mark.parametrize("status", ["resolved", "snoozed", "pending"])
def test_the_customers_message_reopens_the_thread_whatever_its_status(agent, status):
    customer = wrote(at=NOW - timedelta(hours=3))
    services.send_text(customer=customer, body="Done, anything else?", agent=agent)
    if status == "resolved":
        services.resolve(customer=customer, agent=agent, now=NOW)
    elif status == "snoozed":
        services.snooze(customer=customer, until=NOW + timedelta(days=1), agent=agent, now=NOW)
    else:
        services.mark_pending(customer=customer, agent=agent, now=NOW)
    assert fresh(customer).status == status
    wrote(at=NOW, body="One more question")
    customer = fresh(customer)
    assert (customer.status, customer.snoozed_until, customer.status_changed_at) == ("open", None, NOW)
    assert customer.status_changed_by is None  # the customer's message, no agent


def test_an_open_thread_stays_as_it_was_and_a_reaction_or_a_notice_reopens_nothing(agent):
    customer = wrote(at=NOW - timedelta(hours=3))
    services.send_text(customer=customer, body="Done", agent=agent)
    wrote(at=NOW - timedelta(hours=2))
    assert fresh(customer).status_changed_at is None  # open already: not touched
    services.resolve(customer=customer, agent=agent, confirm=True, now=NOW)
    wrote(at=NOW, wa_type="reaction", body="")
    assert fresh(customer).status == "resolved"  # a thumbs-up to our answer asks nothing


# --- A snooze ends at its instant -------------------------------------------------------------------


def test_a_snooze_ends_at_its_exact_instant_for_every_read_and_the_sweep_tidies_it(agent):
    customer = wrote(at=NOW - timedelta(hours=2))
    until = NOW + timedelta(hours=1)
    services.snooze(customer=customer, until=until, agent=agent, now=NOW)
    customer = fresh(customer)
    one_second_before = until - timedelta(seconds=1)
    assert policy.thread_status_at(customer.status, customer.snoozed_until, one_second_before) == "snoozed"
    assert policy.thread_status_at(customer.status, customer.snoozed_until, until) == "open"
    assert services.end_due_snoozes(now=one_second_before) == 0
    assert fresh(customer).status == "snoozed"
    assert services.end_due_snoozes(now=until) == 1
    customer = fresh(customer)
    assert (customer.status, customer.snoozed_until, customer.status_changed_at) == ("open", None, until)
    assert services.end_due_snoozes(now=until + timedelta(minutes=1)) == 0  # idempotent


def test_thread_status_at_needs_an_aware_now():
    with pytest.raises(ValueError):
        policy.thread_status_at("snoozed", NOW, datetime(2026, 3, 2, 12, 0))


# --- Resolving: a warning while a reply is still possible -------------------------------------------


def test_resolving_when_nothing_is_unanswered_asks_nothing(agent):
    customer = wrote(at=NOW - timedelta(hours=2))
    services.send_text(customer=customer, body="Here you go", agent=agent)
    services.resolve(customer=customer, agent=agent, now=NOW)
    assert fresh(customer).status == "resolved"


@pytest.mark.parametrize(
    ("wrote_ago", "warns"),
    [
        (timedelta(hours=23, minutes=59, seconds=59), True),  # the window is open for one more second
        (timedelta(hours=24), False),  # closed at exactly 24:00:00: nothing a reply could do
        (timedelta(hours=30), False),
    ],
    ids=["23:59:59-warns", "24:00:00-asks-nothing", "30h-asks-nothing"],
)
def test_resolving_an_unanswered_customer_warns_only_while_the_window_is_open(agent, wrote_ago, warns):
    customer = wrote(at=NOW - wrote_ago)
    if warns:
        with pytest.raises(ResolveNeedsConfirmation) as refused:
            services.resolve(customer=customer, agent=agent, now=NOW)
        assert "no reply yet" in refused.value.message
        assert refused.value.window_closes_at == NOW - wrote_ago + timedelta(hours=24)
        assert fresh(customer).status == "open"
        services.resolve(customer=customer, agent=agent, confirm=True, now=NOW)
    else:
        services.resolve(customer=customer, agent=agent, now=NOW)
    assert fresh(customer).status == "resolved"
