"""Two agents on one customer (issue 15, item 7): each sees the other on the thread (viewing, typing a
reply), and a send after a colleague replied since the sender's compose area was drawn is refused with
409 and the colleague's reply quoted, until the agent confirms ("Send anyway"). The check is the
server's (inbox.collision); who is on the thread is inbox.presence."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import strip_tags

from conversations import services
from conversations.models import Message
from inbox import presence
from tests import factories
from tests.factories import user
from whatsapp import sandbox_media

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
LOADED = NOW.isoformat()


@pytest.fixture(autouse=True)
def frozen_clock():
    cache.clear()
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def alex():
    return user("alex", "agents")


@pytest.fixture
def sam():
    return user("sam", "agents")


def signed_in(account) -> Client:
    client = Client()
    client.force_login(account)
    return client


def customer_who_wrote(ago=timedelta(minutes=10)):
    return services.receive_message(
        wa_id="16505551234", body="Where is my order?", wamid="wamid.IN-1", timestamp=NOW - ago, name="Sheena"
    ).customer


def send(client, customer, body="It ships today.", **fields):
    data = {"body": body, "client_token": uuid.uuid4(), "loaded_at": LOADED, **fields}
    return client.post(reverse("inbox:send-text", args=[customer.pk]), data, headers={"HX-Request": "true"})


# --- Who is on the thread ----------------------------------------------------------------------------


def test_a_colleague_is_seen_viewing_then_typing_then_gone(alex, sam, frozen_clock):
    assert presence.report(1, alex, typing=False, now=NOW) == []
    [seen] = presence.report(1, sam, typing=False, now=NOW + timedelta(seconds=2))
    assert (seen.name, seen.typing) == ("Alex", False)
    presence.report(1, alex, typing=True, now=NOW + timedelta(seconds=4))
    [seen] = presence.report(1, sam, typing=False, now=NOW + timedelta(seconds=5))
    assert seen.typing
    # Typing lasts 6 s after the last key; viewing 15 s after the last report (two missed polls).
    [seen] = presence.report(1, sam, typing=False, now=NOW + timedelta(seconds=9, microseconds=999_999))
    assert seen.typing
    [seen] = presence.report(1, sam, typing=False, now=NOW + timedelta(seconds=10))
    assert not seen.typing
    assert presence.report(1, sam, typing=False, now=NOW + timedelta(seconds=18, microseconds=999_999))
    assert presence.report(1, sam, typing=False, now=NOW + timedelta(seconds=19)) == []
    # Another customer's thread is another roster.
    assert presence.report(2, sam, typing=False, now=NOW) == []


def test_the_presence_line_names_colleagues_and_never_oneself(alex, sam):
    customer = customer_who_wrote()
    url = reverse("inbox:presence", args=[customer.pk])
    as_alex, as_sam = signed_in(alex), signed_in(sam)
    assert as_alex.post(url, {"typing": ""}).text.strip() == ""
    assert strip_tags(as_sam.post(url, {"typing": "1"}).text).strip() == "Alex is viewing"
    line = as_alex.post(url, {"typing": ""}).text
    assert "Sam is typing a reply…" in line and "Alex" not in line


@pytest.mark.parametrize("role", ["agents", "supervisors", "admins"])
def test_every_role_that_reads_threads_reports_itself(role, alex):
    customer = customer_who_wrote()
    url = reverse("inbox:presence", args=[customer.pk])
    signed_in(alex).post(url, {"typing": ""})
    response = signed_in(user("reader", role)).post(url, {"typing": "1"})
    assert response.status_code == 200 and "Alex is viewing" in response.text
    # A role that cannot send is never shown typing a reply.
    typing = "Reader is typing" in signed_in(alex).post(url).text
    assert typing is (role == "agents")


def test_presence_refuses_no_role_anonymous_a_get_and_a_post_without_csrf(alex):
    customer = customer_who_wrote()
    url = reverse("inbox:presence", args=[customer.pk])
    assert signed_in(user("nobody")).post(url).status_code == 403
    assert Client().post(url).status_code == 302
    assert Client().post(url, headers={"HX-Request": "true"}).status_code == 401
    assert signed_in(alex).get(url).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alex)
    assert strict.post(url).status_code == 403


def test_the_presence_poll_costs_the_same_with_one_or_four_colleagues(alex):
    customer = customer_who_wrote()
    url = reverse("inbox:presence", args=[customer.pk])
    as_alex = signed_in(alex)
    as_alex.post(url)
    with CaptureQueriesContext(connection) as one:
        as_alex.post(url)
    for n in range(4):
        signed_in(user(f"colleague{n}", "agents")).post(url)
    with CaptureQueriesContext(connection) as four:
        assert as_alex.post(url).text.count("is viewing") == 4
    assert len(four) == len(one)


# --- A send after a colleague replied ----------------------------------------------------------------


def test_a_reply_after_a_colleagues_is_held_with_theirs_quoted_then_sent_when_confirmed(
    alex, sam, frozen_clock
):
    customer = customer_who_wrote()
    frozen_clock.shift(timedelta(minutes=1))
    services.send_text(customer=customer, body="Hi Sheena, it left our warehouse this morning.", agent=sam)
    frozen_clock.shift(timedelta(minutes=1))
    as_alex = signed_in(alex)

    held = send(as_alex, customer, "Let me check for you.")
    assert held.status_code == 409
    assert "Sam replied to Sheena since you opened this thread" in held.text
    assert "it left our warehouse this morning" in held.text
    assert "Let me check for you." in held.text  # the draft is kept
    assert "window-refused" not in held.get("HX-Trigger", "")  # the window is open: nothing to refresh
    assert not Message.objects.filter(agent=alex).exists()
    # The refused form keeps the instant it was first drawn: a plain Send warns again.
    assert f'name="loaded_at" value="{LOADED}"' in held.text
    assert send(as_alex, customer, "Let me check for you.").status_code == 409

    sent = send(as_alex, customer, "Let me check for you.", confirm_collision="1")
    assert sent.status_code == 200 and "Queued for WhatsApp" in sent.text
    assert Message.objects.get(agent=alex).body == "Let me check for you."


def test_ones_own_replies_reactions_failures_and_earlier_replies_hold_nothing(alex, sam, frozen_clock):
    customer = customer_who_wrote()
    services.send_text(customer=customer, body="Before Alex opened the thread.", agent=sam)
    frozen_clock.shift(timedelta(minutes=1))
    loaded = NOW + timedelta(minutes=1)
    frozen_clock.shift(timedelta(seconds=30))
    services.send_text(customer=customer, body="Alex's own first reply.", agent=alex)
    failed = services.send_text(customer=customer, body="Refused by WhatsApp.", agent=sam)
    services.mark_message_failed(message=failed, error_code=131026, error_text="undeliverable")
    Message.objects.create(
        customer=customer, direction="outbound", kind="free_form", wa_type="reaction", body="[Reaction] 👍",
        occurred_at=NOW + timedelta(minutes=1, seconds=40), status="sent", agent=sam,
    )  # fmt: skip
    response = send(signed_in(alex), customer, "Anything else?", loaded_at=loaded.isoformat())
    assert response.status_code == 200


def test_a_form_that_does_not_say_when_it_was_drawn_is_sent(alex, sam, frozen_clock):
    customer = customer_who_wrote()
    frozen_clock.shift(timedelta(minutes=1))
    services.send_text(customer=customer, body="Sam's reply.", agent=sam)
    for loaded_at in ("", "yesterday", "2026-03-02T11:00:00"):  # missing, unreadable, without a time zone
        assert send(signed_in(alex), customer, "Mine.", loaded_at=loaded_at).status_code == 200


def test_a_template_and_a_file_are_held_the_same_way(alex, sam, frozen_clock):
    customer = customer_who_wrote()
    template = factories.template(category="UTILITY", body="Your order {{1}} has shipped.")
    frozen_clock.shift(timedelta(minutes=1))
    services.send_text(customer=customer, body="Sam's reply.", agent=sam)
    as_alex = signed_in(alex)
    url = reverse("inbox:send-template", args=[customer.pk])
    fields = {"template": template.pk, "p_1": "A-1", "client_token": uuid.uuid4(), "loaded_at": LOADED}
    held = as_alex.post(url, fields)
    assert held.status_code == 409 and "Send this template anyway" in held.text
    assert as_alex.post(url, {**fields, "confirm_collision": "1"}).status_code == 200

    upload = SimpleUploadedFile("quote.pdf", sandbox_media.pdf(), content_type="application/pdf")
    held = send(as_alex, customer, "The quote", file=upload)
    assert held.status_code == 409 and "Choose the file again" in held.text
    assert not Message.objects.filter(agent=alex, wa_type="document").exists()
