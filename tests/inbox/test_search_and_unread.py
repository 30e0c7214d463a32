"""The inbox at scale (issue 11): search that ignores accents and case and finds a phone number however
it is typed, unread counts per agent, filter counts that stop counting at a limit, and who spoke last
kept on the customer by every service that records a message."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.urls import reverse

from conversations import identity, services
from conversations.identifiers import Identity
from conversations.models import Customer, Message
from conversations.search import fold, phone_digits
from inbox import selectors
from inbox import services as inbox_services
from inbox.models import CustomerSeen

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def agent(username):
    account = User.objects.create_user(username, password="pw")
    account.groups.set([Group.objects.get(name="agents")])
    return account


def wrote(*, ago, wa_id=None, user_id=None, username="", name="", body="Hello?", wa_type="text", context=""):
    return services.receive_message(
        wa_id=wa_id,
        user_id=user_id,
        username=username,
        body=body,
        wamid=f"w-{uuid.uuid4().hex}",
        timestamp=NOW - ago,
        name=name,
        wa_type=wa_type,
        context_wamid=context,
    )


def listed(client, **query):
    html = client.get(reverse("inbox:list"), query).text
    return re.findall(r'<span class="name">([^<]+)</span>', html)


@pytest.fixture
def alex(client):
    account = agent("alex")
    client.force_login(account)
    return account


# --- Search ------------------------------------------------------------------------------------------


def test_folding_drops_accents_and_case():
    assert fold("Sofía") == fold("SOFIA") == fold("sofia") == "sofia"
    assert fold("Björn Øster") == "bjorn øster"  # Ø is a letter of its own, not an O with an accent
    assert fold("Weiß") == "weiss"


@pytest.mark.parametrize("typed", ["Sofia", "sofia", "SOFÍA", "sofía núñez", "Nunez"])
def test_a_name_is_found_whatever_its_accents_and_case(client, alex, typed):
    wrote(wa_id="5215512345678", name="Sofía Núñez", ago=timedelta(hours=1))
    wrote(wa_id="5215587654321", name="Sofian Other", ago=timedelta(hours=2))
    wrote(wa_id="5215500000000", name="José", ago=timedelta(hours=3))
    found = listed(client, q=typed)
    assert "Sofía Núñez" in found
    assert "José" not in found


def test_a_username_is_found_with_or_without_the_at_sign(client, alex):
    wrote(user_id="US.1349120865530274", username="@Renée_k", name="", ago=timedelta(hours=1))
    assert len(listed(client, q="@renee_k")) == 1
    assert len(listed(client, q="RENEE")) == 1


@pytest.mark.parametrize(
    "typed",
    ["+1 650 555 0102", "16505550102", "1-650-555-0102", "(650) 555-0102", "650.555.0102", "555 0102"],
)
def test_a_phone_number_is_found_however_it_is_typed(client, alex, typed):
    wrote(wa_id="16505550102", name="Carla", ago=timedelta(hours=1))
    wrote(wa_id="16505550999", name="Other", ago=timedelta(hours=1))
    assert listed(client, q=typed) == ["Carla"]


def test_a_phone_number_in_national_format_follows_the_business_country(client, alex, settings):
    wrote(wa_id="447700900123", name="Harriet", ago=timedelta(hours=1))
    settings.BUSINESS_COUNTRY = "GB"
    assert listed(client, q="07700 900123") == ["Harriet"]  # the trunk 0 is no digit of the E.164 number
    settings.BUSINESS_COUNTRY = "US"
    assert listed(client, q="07700 900123") == []


def test_what_is_no_phone_number_is_not_read_as_one():
    assert phone_digits("12", country="US") == []
    assert phone_digits("order 1234", country="US") == []
    assert phone_digits("(650) 555-0102", country="US") == ["6505550102", "16505550102"]


def test_message_text_is_found_whatever_its_case(client, alex):
    wrote(wa_id="16505550001", name="Wendy", body="I would like a Refund please", ago=timedelta(hours=1))
    wrote(wa_id="16505550002", name="Andy", body="Thanks!", ago=timedelta(hours=1))
    assert listed(client, q="REFUND") == ["Wendy"]


def test_search_pages_by_keyset_and_keeps_the_filter(client, alex):
    for i in range(30):
        wrote(wa_id=f"1650555{i:04d}", name=f"Sofía {i:02d}", ago=timedelta(minutes=i))
    first = client.get(reverse("inbox:list"), {"q": "sofia"}).text
    names = re.findall(r'<span class="name">([^<]+)</span>', first)
    assert names == [f"Sofía {i:02d}" for i in range(selectors.PAGE_SIZE)]
    before = re.search(r"before=([^\"&]+)", first).group(1)
    rest = client.get(reverse("inbox:list") + f"?q=sofia&before={before}").text
    assert re.findall(r'<span class="name">([^<]+)</span>', rest) == [
        f"Sofía {i:02d}" for i in range(selectors.PAGE_SIZE, 30)
    ]
    assert listed(client, q="sofia", view="mine") == []


# --- Unread, per agent ---------------------------------------------------------------------------------


def unread(client) -> dict[str, int]:
    """The unread count each row of the list shows (rows without one left out)."""
    html = client.get(reverse("inbox:list")).text
    counts = {}
    for row in re.findall(r'<li class="row.*?</li>', html, flags=re.S):
        name = re.search(r'<span class="name">([^<]+)</span>', row).group(1)
        if count := re.search(r'title="(\d+) unread"', row):
            counts[name] = int(count.group(1))
    return counts


def test_unread_counts_are_each_agents_own(client, frozen_clock):
    a, b = agent("alex"), agent("bea")
    customer = wrote(wa_id="16505550001", name="Wendy", ago=timedelta(hours=2)).customer
    wrote(wa_id="16505550001", name="Wendy", ago=timedelta(hours=1))
    client.force_login(a)
    assert unread(client) == {"Wendy": 2}
    client.get(reverse("inbox:customer", args=[customer.pk]))  # A opens the thread
    assert unread(client) == {}
    client.force_login(b)
    assert unread(client) == {"Wendy": 2}  # B has not read it
    frozen_clock.shift(timedelta(minutes=10))
    wrote(wa_id="16505550001", name="Wendy", ago=-timedelta(minutes=5))  # she writes again
    assert unread(client) == {"Wendy": 3}
    client.force_login(a)
    assert unread(client) == {"Wendy": 1}


def test_marking_seen_is_one_upsert_that_never_goes_back(django_assert_num_queries):
    a = agent("alex")
    customer = wrote(wa_id="16505550001", ago=timedelta(hours=1)).customer
    with django_assert_num_queries(1):
        inbox_services.mark_seen(customer=customer, agent=a, now=NOW)
    inbox_services.mark_seen(customer=customer, agent=a, now=NOW - timedelta(hours=1))  # a stale request
    inbox_services.mark_seen(customer=customer, agent=a, now=NOW)
    assert CustomerSeen.objects.get(agent=a, customer=customer).seen_at == NOW


# --- Filter counts --------------------------------------------------------------------------------------


def test_filter_counts_stop_at_the_limit(client, alex, monkeypatch, django_assert_max_num_queries):
    for i in range(4):
        wrote(wa_id=f"1650555{i:04d}", name=f"Customer {i}", ago=timedelta(hours=1))
    monkeypatch.setattr(selectors, "COUNT_LIMIT", 2)
    counts = selectors.filter_counts(user=alex, now=NOW)
    assert counts == {
        "needs-reply": 3,
        "closing-soon": 0,
        "lost": 0,
        "mine": 0,
        "unassigned": 3,
        "open": 3,
        "pending": 0,
        "snoozed": 0,
        "resolved": 0,
        "all": 3,
    }
    html = client.get(reverse("inbox:home")).text
    assert re.search(r'id="count-all">2\+<', html)
    monkeypatch.setattr(selectors, "COUNT_LIMIT", 1000)
    assert re.search(r'id="count-all">4<', client.get(reverse("inbox:home")).text)


# --- Who spoke last --------------------------------------------------------------------------------------


def test_who_spoke_last_follows_turns_not_reactions_notices_or_late_deliveries():
    a = agent("alex")
    first = wrote(wa_id="16505550001", ago=timedelta(hours=3))
    customer = Customer.objects.get(pk=first.customer_id)
    assert (customer.last_turn_direction, customer.last_turn_at) == ("inbound", NOW - timedelta(hours=3))
    services.send_text(customer=customer, body="On its way", agent=a)
    customer.refresh_from_db()
    assert (customer.last_turn_direction, customer.last_turn_at) == ("outbound", NOW)
    # A reaction to our reply and a late delivery of an older message: no turn that needs a reply.
    wrote(wa_id="16505550001", ago=timedelta(0), wa_type="reaction", body="")
    wrote(wa_id="16505550001", ago=timedelta(hours=2), body="sent earlier, delivered late")
    customer.refresh_from_db()
    assert customer.last_turn_direction == "outbound"
    assert not Customer.objects.filter(pk=customer.pk, last_turn_direction="inbound").exists()
    needs_reply = selectors.inbox_page(user=a, view=selectors.Filter.NEEDS_REPLY, now=NOW).rows
    assert needs_reply == []


def test_a_merge_keeps_the_latest_turn_of_both_threads():
    by_phone = wrote(wa_id="16505550001", ago=timedelta(hours=3)).customer
    by_user_id = wrote(user_id="US.1349120865530274", ago=timedelta(hours=1)).customer
    services.send_text(customer=by_phone, body="Hello", now=NOW - timedelta(hours=2))
    wrote(wa_id="16505550001", user_id="US.1349120865530274", ago=timedelta(minutes=90), wa_type="reaction")
    merged = Customer.objects.get(wa_id="16505550001")
    assert merged.user_id == "US.1349120865530274"
    assert not Customer.objects.filter(pk=by_user_id.pk).exclude(pk=merged.pk).exists()
    assert (merged.last_turn_direction, merged.last_turn_at) == ("inbound", NOW - timedelta(hours=1))
    assert Message.objects.filter(customer=merged).count() >= 4


def test_identity_links_keep_the_search_name():
    customer = wrote(wa_id="16505550001", name="Zoë", ago=timedelta(hours=1)).customer
    with time_machine.travel(NOW):
        identity.link(
            Customer.objects.get(pk=customer.pk),
            Identity.of(wa_id="16505550001", username="@zozo"),
            at=NOW,
            now=NOW,
        )
    assert Customer.objects.get(pk=customer.pk).search_name == "zoe @zozo"
