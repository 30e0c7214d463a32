"""Issue 15, items 3 and 4, on the server: private notes (never sent: no message, no task, no platform
call), @mentions and their notifications, contact attributes (validated by kind, who and when), canned
replies (variables filled, one with no value left visible and refused on send; personal and team, who
may change which), templates prefilled from attributes; every view per role, anonymous, CSRF; constant
query counts."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from conversations import services
from conversations.exceptions import AttributeInvalid
from conversations.models import ContactAttribute, ContactAttributeValue, Message
from inbox import canned, notes
from inbox.models import CannedReply, Note, Notification
from tests import factories
from tests.factories import user
from tests.whatsapp.fake_graph import FakeGraph

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def platform(settings):
    """The loopback Graph stand-in as the platform: any call the code made would land here."""
    with FakeGraph() as fake_graph:
        yield _configured(settings, fake_graph)


def _configured(settings, fake_graph):
    settings.WHATSAPP_SANDBOX = False
    settings.WHATSAPP_API_BASE = fake_graph.url
    settings.WHATSAPP_API_VERSION = "v23.0"
    settings.WHATSAPP_PHONE_NUMBER_ID = "106540352242922"
    settings.WHATSAPP_ACCESS_TOKEN = "test-token"
    settings.WHATSAPP_HTTP_TIMEOUT = 1.0
    return fake_graph


@pytest.fixture
def alex():
    return user("alex", "agents", first_name="Alex")


@pytest.fixture
def sam():
    return user("sam", "agents", first_name="Sam")


def logged_in(account) -> Client:
    client = Client()
    client.force_login(account)
    return client


def wrote(wa_id="16505551234", *, ago=timedelta(minutes=10), body="Where is my order?", name="Sofía Ruiz"):
    return services.receive_message(
        wa_id=wa_id, body=body, wamid=f"wamid.IN-{uuid.uuid4().hex[:10]}", timestamp=NOW - ago, name=name
    ).customer


def attribute(key="order_number", label="Order number", kind="text", optional=True, position=0):
    return ContactAttribute.objects.create(
        key=key, label=label, kind=kind, optional=optional, position=position
    )


# --- Notes: never sent ---------------------------------------------------------------------------------


def test_a_note_is_never_sent_no_message_no_task_no_platform_call(
    platform, alex, django_capture_on_commit_callbacks
):
    customer = wrote()
    before = Message.objects.count()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = logged_in(alex).post(
            reverse("inbox:add-note", args=[customer.pk]),
            {"note": "Customer is upset, handle with care"},
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200 and response["HX-Trigger"] == "note-added"
    assert "Note added. Only colleagues see it." in response.text
    assert Message.objects.count() == before
    assert callbacks == []  # nothing queued after commit: no send task, no read mark
    assert platform.requests == []
    [note] = Note.objects.all()
    assert (note.customer, note.author, note.body, note.created_at) == (
        customer,
        alex,
        "Customer is upset, handle with care",
        NOW,
    )


def test_an_empty_or_too_long_note_is_refused_in_words_and_the_text_kept(alex):
    customer = wrote()
    client = logged_in(alex)
    empty = client.post(
        reverse("inbox:add-note", args=[customer.pk]), {"note": "   "}, HTTP_HX_REQUEST="true"
    )
    assert empty.status_code == 422 and "The note is empty" in empty.text
    long = "x" * 2001
    too_long = client.post(
        reverse("inbox:add-note", args=[customer.pk]), {"note": long}, HTTP_HX_REQUEST="true"
    )
    assert too_long.status_code == 422 and "at most 2000 characters" in too_long.text
    assert long in too_long.text  # kept for the author to shorten
    assert not Note.objects.exists()


def test_the_thread_shows_a_note_at_its_time_marked_private_with_its_author_and_escaped(alex, frozen_clock):
    customer = wrote(ago=timedelta(minutes=30))
    frozen_clock.move_to(NOW - timedelta(minutes=20))
    notes.add_note(
        customer=customer,
        author=alex,
        body="<script>alert(1)</script> ask @sam",
        now=NOW - timedelta(minutes=20),
    )
    frozen_clock.move_to(NOW)
    services.receive_message(
        wa_id="16505551234", body="Hello again", wamid="wamid.IN-later", timestamp=NOW - timedelta(minutes=5)
    )
    html = logged_in(alex).get(reverse("inbox:thread", args=[customer.pk]), HTTP_HX_REQUEST="true").text
    assert "Private note" in html and "Alex" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # At its time: after the first message, before the later one.
    assert html.index("Where is my order?") < html.index("Private note") < html.index("Hello again")


def test_a_new_note_changes_the_threads_version_so_the_poll_brings_it(alex, sam):
    customer = wrote()
    client = logged_in(sam)
    first = client.get(reverse("inbox:thread", args=[customer.pk]), HTTP_HX_REQUEST="true")
    version = first.text.split('"v": "')[1].split('"')[0]
    url = reverse("inbox:thread", args=[customer.pk])
    assert client.get(url, {"v": version}, HTTP_HX_REQUEST="true").status_code == 204
    notes.add_note(customer=customer, author=alex, body="Refund approved", now=NOW)
    polled = client.get(url, {"v": version}, HTTP_HX_REQUEST="true")
    assert polled.status_code == 200 and "Refund approved" in polled.text


def test_only_the_author_deletes_a_note_and_nobody_edits_one(alex, sam):
    customer = wrote()
    note = notes.add_note(customer=customer, author=alex, body="Mine", now=NOW)
    url = reverse("inbox:delete-note", args=[customer.pk, note.pk])
    refused = logged_in(sam).post(url, HTTP_HX_REQUEST="true")
    assert refused.status_code == 403 and "Only the author" in refused.text
    assert Note.objects.filter(pk=note.pk).exists()
    html = logged_in(sam).get(reverse("inbox:thread", args=[customer.pk]), HTTP_HX_REQUEST="true").text
    assert "Delete my note" not in html
    assert (
        "Delete my note"
        in logged_in(alex).get(reverse("inbox:thread", args=[customer.pk]), HTTP_HX_REQUEST="true").text
    )
    deleted = logged_in(alex).post(url, HTTP_HX_REQUEST="true")
    assert deleted.status_code == 204 and deleted["HX-Trigger"] == "note-added"
    assert not Note.objects.filter(pk=note.pk).exists()
    with pytest.raises(NoReverseMatch):  # there is no way to edit a note
        reverse("inbox:edit-note", args=[customer.pk, note.pk])


# --- Mentions and notifications ------------------------------------------------------------------------


def test_a_mention_by_username_or_unique_first_name_notifies_each_colleague_once(alex, sam):
    user("mjones", "supervisors", first_name="Morgan")  # @Morgan: the only colleague of that first name
    user("kim1", "agents", first_name="Kim")
    user("kim2", "agents", first_name="Kim")  # @Kim is ambiguous: nobody (the autocomplete offers usernames)
    outsider = user("visitor", first_name="Vic")  # no role: not a colleague
    customer = wrote()
    note = notes.add_note(
        customer=customer,
        author=alex,
        body="@SAM please call; cc @Morgan @mjones, @Kim @visitor @alex mail a@b.com",
        now=NOW,
    )
    notified = sorted(n.user.username for n in Notification.objects.filter(note=note))
    assert notified == ["mjones", "sam"]  # the author, an outsider and an e-mail address are not
    assert not Notification.objects.filter(user=outsider).exists()
    assert Notification.objects.filter(note=note, read_at__isnull=True, created_at=NOW).count() == 2
    assert (
        notes.add_note(customer=customer, author=alex, body="@kim2 yours", now=NOW)
        .notifications.get()
        .user.username
        == "kim2"
    )


def test_the_bell_counts_unread_mentions_and_opening_one_marks_it_read_and_goes_to_the_note(
    alex, sam, frozen_clock
):
    customer = wrote()
    note = notes.add_note(customer=customer, author=alex, body="@sam over to you", now=NOW)
    client = logged_in(sam)
    bell = client.get(reverse("inbox:bell"), HTTP_HX_REQUEST="true")
    assert bell.status_code == 200 and 'data-unread="1"' in bell.text and "1 unread" in bell.text
    assert 'data-unread="0"' in logged_in(alex).get(reverse("inbox:bell"), HTTP_HX_REQUEST="true").text
    listed = client.get(reverse("inbox:notifications"))
    assert "Alex</strong> mentioned you about <strong>Sofía Ruiz" in listed.text and "Unread" in listed.text
    [notification] = Notification.objects.all()
    frozen_clock.move_to(NOW + timedelta(minutes=3))
    opened = client.post(reverse("inbox:open-notification", args=[notification.pk]))
    assert opened.status_code == 302
    assert opened["Location"] == reverse("inbox:customer", args=[customer.pk]) + f"#note-{note.pk}"
    notification.refresh_from_db()
    assert notification.read_at == NOW + timedelta(minutes=3)
    assert 'data-unread="0"' in client.get(reverse("inbox:bell"), HTTP_HX_REQUEST="true").text
    # Another's notification is nobody else's to open.
    assert logged_in(alex).post(reverse("inbox:open-notification", args=[notification.pk])).status_code == 404


def test_the_bell_is_one_query_however_many_notifications(alex, sam):
    customer = wrote()
    client = logged_in(sam)
    counts = []
    for n in (1, 30):
        for _ in range(n):
            notes.add_note(customer=customer, author=alex, body="@sam look", now=NOW)
        client.get(reverse("inbox:bell"), HTTP_HX_REQUEST="true")
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("inbox:bell"), HTTP_HX_REQUEST="true").status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]


# --- Contact attributes --------------------------------------------------------------------------------


def test_attribute_values_are_checked_by_kind_and_normalised():
    customer = wrote()
    attribute("order_number", kind="text")
    attribute("seats", "Seats", kind="number")
    attribute("renewal", "Renewal", kind="date")
    agent = user("alex", "agents")
    set_ = services.set_attribute
    assert set_(customer=customer, key="seats", value=" 5.50 ", by=agent, now=NOW).value == "5.50"
    assert set_(customer=customer, key="renewal", value="2026-04-01", by=agent, now=NOW).value == "2026-04-01"
    with pytest.raises(AttributeInvalid, match="Seats is a number: “five” is not one"):
        set_(customer=customer, key="seats", value="five", by=agent, now=NOW)
    with pytest.raises(AttributeInvalid, match="Renewal is a date: “1 April” is not one"):
        set_(customer=customer, key="renewal", value="1 April", by=agent, now=NOW)
    with pytest.raises(AttributeInvalid, match="too long"):
        set_(customer=customer, key="order_number", value="x" * 501, by=agent, now=NOW)
    with pytest.raises(AttributeInvalid, match="There is no contact field “plan”"):
        set_(customer=customer, key="plan", value="Pro", by=agent, now=NOW)
    assert ContactAttributeValue.objects.get(attribute__key="seats").value == "5.50"  # nothing lost


def test_who_changed_a_value_and_when_and_a_required_field_cannot_be_cleared(frozen_clock):
    customer = wrote()
    attribute("plan", "Plan", optional=False)
    attribute("order_number")
    alex, sam = user("alex", "agents"), user("sam", "agents")
    services.set_attribute(customer=customer, key="plan", value="Pro", by=alex, now=NOW)
    later = NOW + timedelta(hours=1)
    services.set_attribute(customer=customer, key="plan", value="Pro", by=sam, now=later)  # unchanged
    kept = ContactAttributeValue.objects.get()
    assert (kept.changed_by, kept.changed_at) == (alex, NOW)
    services.set_attribute(customer=customer, key="plan", value="Team", by=sam, now=later)
    kept.refresh_from_db()
    assert (kept.value, kept.changed_by, kept.changed_at) == ("Team", sam, later)
    with pytest.raises(AttributeInvalid, match="Plan is required"):
        services.set_attribute(customer=customer, key="plan", value="", by=sam, now=later)
    services.set_attribute(customer=customer, key="order_number", value="A-1", by=sam, now=later)
    assert services.set_attribute(customer=customer, key="order_number", value=" ", by=sam, now=later) is None
    assert not ContactAttributeValue.objects.filter(attribute__key="order_number").exists()


def test_the_side_panel_shows_the_fields_and_an_agent_edits_one_inline(alex):
    customer = wrote()
    attribute("order_number", "Order number")
    attribute("seats", "Seats", kind="number", position=1)
    client = logged_in(alex)
    side = client.get(reverse("inbox:side", args=[customer.pk]), HTTP_HX_REQUEST="true").text
    assert "Contact fields" in side and "Order number" in side and "Seats" in side
    url = reverse("inbox:set-attribute", args=[customer.pk, "seats"])
    refused = client.post(url, {"value": "a dozen"}, HTTP_HX_REQUEST="true")
    assert (
        refused.status_code == 422
        and "Seats is a number" in refused.text
        and 'value="a dozen"' in refused.text
    )
    saved = client.post(url, {"value": "12"}, HTTP_HX_REQUEST="true")
    assert saved.status_code == 200 and ">12<" in saved.text and "Alex" in saved.text
    assert ContactAttributeValue.objects.get().changed_by == alex


def test_supervisors_see_the_fields_but_cannot_edit_them():
    customer = wrote()
    attribute()
    services.set_attribute(customer=customer, key="order_number", value="77", by=None, now=NOW)
    client = logged_in(user("morgan", "supervisors"))
    side = client.get(reverse("inbox:side", args=[customer.pk]), HTTP_HX_REQUEST="true").text
    assert "Order number" in side and "77" in side and "Save" not in side
    refused = client.post(reverse("inbox:set-attribute", args=[customer.pk, "order_number"]), {"value": "1"})
    assert refused.status_code == 403 and "change customers&#x27; contact fields" in refused.text


def test_an_attribute_key_must_be_a_variable_name():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        ContactAttribute(key="Order Number", label="x").full_clean()
    ContactAttribute(key="order_number", label="Order number").full_clean()


# --- Canned replies ------------------------------------------------------------------------------------


def test_variables_are_filled_in_one_pass_and_those_without_a_value_are_left_and_listed(alex):
    customer = wrote(name="Sofía Ruiz")
    attribute("order_number")
    attribute("plan")
    services.set_attribute(customer=customer, key="order_number", value="{{plan}} 860198", by=alex, now=NOW)
    values = canned.values_for(customer, alex)
    filled = canned.fill(
        "Hi {{first_name}} ({{ name }}), order {{order_number}}, plan {{plan}}; {{agent}} {{nope}}", values
    )
    assert filled.text == "Hi Sofía (Sofía Ruiz), order {{plan}} 860198, plan {{plan}}; Alex {{nope}}"
    assert filled.missing == ["plan", "nope"]


def test_the_slash_list_offers_my_replies_and_the_teams_filled_for_the_customer(alex, sam):
    customer = wrote(name="Sofía Ruiz")
    attribute("order_number")
    services.set_attribute(customer=customer, key="order_number", value="860198", by=alex, now=NOW)
    CannedReply.objects.create(
        owner=None,
        title="Order status",
        body="Hi {{first_name}}, order {{order_number}} ships today. {{agent}}",
        created_at=NOW,
        updated_at=NOW,
    )
    CannedReply.objects.create(
        owner=alex, title="Mine", body="Plan {{plan}}?", created_at=NOW, updated_at=NOW
    )
    CannedReply.objects.create(owner=sam, title="Sam's", body="Not for Alex", created_at=NOW, updated_at=NOW)
    data = logged_in(alex).get(reverse("inbox:canned", args=[customer.pk]), HTTP_HX_REQUEST="true").json()
    assert [(r["title"], r["team"], r["text"], r["missing"]) for r in data["replies"]] == [
        ("Order status", True, "Hi Sofía, order 860198 ships today. Alex", []),
        ("Mine", False, "Plan {{plan}}?", ["plan"]),
    ]


def test_the_slash_list_takes_constant_queries(alex):
    customer = wrote()
    counts = []
    for n in (2, 30):
        attribute(f"field_{n}")
        for i in range(n):
            CannedReply.objects.create(
                owner=alex, title=f"r{n}-{i}", body="{{name}} {{field_2}}", created_at=NOW, updated_at=NOW
            )
        with CaptureQueriesContext(connection) as captured:
            logged_in(alex).get(reverse("inbox:canned", args=[customer.pk]), HTTP_HX_REQUEST="true")
        counts.append(len(captured))
    assert counts[0] == counts[1]


def test_a_reply_that_still_holds_a_variable_is_refused_with_the_text_kept(alex):
    customer = wrote()
    response = logged_in(alex).post(
        reverse("inbox:send-text", args=[customer.pk]),
        {"body": "Your order {{order_number}} ships today", "client_token": uuid.uuid4()},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422
    assert "still has {{order_number}}: a variable with no value" in response.text
    assert "Your order {{order_number}} ships today</textarea>" in response.text
    assert not Message.objects.filter(direction="outbound").exists()


def test_agents_keep_their_own_replies_and_admins_the_teams(alex, sam):
    admin = user("robin", "admins")
    as_alex = logged_in(alex)
    added = as_alex.post(
        reverse("inbox:replies"), {"title": "Thanks", "body": "Thanks {{first_name}}!", "scope": "mine"}
    )
    assert added.status_code == 302
    mine = CannedReply.objects.get(title="Thanks")
    assert mine.owner == alex
    # An agent cannot add a team reply, nor change or delete a colleague's or the team's.
    assert (
        as_alex.post(reverse("inbox:replies"), {"title": "T", "body": "b", "scope": "team"}).status_code
        == 403
    )
    team = CannedReply.objects.create(owner=None, title="Hours", body="9–5", created_at=NOW, updated_at=NOW)
    theirs = CannedReply.objects.create(owner=sam, title="Sam's", body="x", created_at=NOW, updated_at=NOW)
    for reply in (team, theirs):
        assert as_alex.get(reverse("inbox:edit-reply", args=[reply.pk])).status_code == 403
        assert (
            as_alex.post(
                reverse("inbox:edit-reply", args=[reply.pk]), {"title": "h", "body": "h"}
            ).status_code
            == 403
        )
        assert as_alex.post(reverse("inbox:delete-reply", args=[reply.pk])).status_code == 403
    page = as_alex.get(reverse("inbox:replies")).text
    assert "Thanks" in page and "Hours" in page and "Sam&#x27;s" not in page and "Sam's" not in page
    # The agent edits and deletes their own.
    assert (
        as_alex.post(
            reverse("inbox:edit-reply", args=[mine.pk]), {"title": "Thank you", "body": "Thanks!"}
        ).status_code
        == 302
    )
    mine.refresh_from_db()
    assert (mine.title, mine.body) == ("Thank you", "Thanks!")
    assert as_alex.post(reverse("inbox:delete-reply", args=[mine.pk])).status_code == 302
    assert not CannedReply.objects.filter(pk=mine.pk).exists()
    # Admins manage the team's.
    as_admin = logged_in(admin)
    assert (
        as_admin.post(
            reverse("inbox:replies"), {"title": "Bye", "body": "Bye {{name}}", "scope": "team"}
        ).status_code
        == 302
    )
    assert CannedReply.objects.get(title="Bye").owner is None
    assert (
        as_admin.post(
            reverse("inbox:edit-reply", args=[team.pk]), {"title": "Opening hours", "body": "9–6"}
        ).status_code
        == 302
    )
    assert as_admin.post(reverse("inbox:delete-reply", args=[theirs.pk])).status_code == 403  # an agent's own


def test_supervisors_read_every_reply_but_change_none(alex):
    CannedReply.objects.create(owner=alex, title="Alex's reply", body="x", created_at=NOW, updated_at=NOW)
    client = logged_in(user("morgan", "supervisors"))
    page = client.get(reverse("inbox:replies"))
    assert (
        page.status_code == 200 and "Alex&#x27;s reply" in page.text and "Add a canned reply" not in page.text
    )
    assert (
        client.post(reverse("inbox:replies"), {"title": "T", "body": "b", "scope": "mine"}).status_code == 403
    )


def test_an_empty_reply_is_refused_in_words_with_what_was_typed(alex):
    response = logged_in(alex).post(
        reverse("inbox:replies"), {"title": "", "body": "Kept text", "scope": "mine"}
    )
    assert (
        response.status_code == 422
        and "Give the reply a title" in response.text
        and "Kept text" in response.text
    )
    assert not CannedReply.objects.exists()


# --- Templates prefilled from attributes ------------------------------------------------------------------


def test_a_named_template_parameter_is_prefilled_from_the_attribute_of_the_same_key(alex):
    customer = wrote(ago=timedelta(days=3), name="Sofía Ruiz")
    attribute("order_number")
    services.set_attribute(customer=customer, key="order_number", value="860198", by=alex, now=NOW)
    template = factories.template(
        name="order_update",
        category="UTILITY",
        parameter_format="NAMED",
        body="Hi {{first_name}}, order {{order_number}} arrives in {{days}} days.",
    )
    html = (
        logged_in(alex)
        .get(
            reverse("inbox:template-form", args=[customer.pk]),
            {"template": template.pk},
            HTTP_HX_REQUEST="true",
        )
        .text
    )
    assert 'name="p_order_number" value="860198"' in html
    assert 'name="p_first_name" value="Sofía"' in html
    assert 'name="p_days" value=""' in html


# --- Access: every view per role, anonymous, CSRF ----------------------------------------------------------

ROLES = ["agents", "supervisors", "admins", None]


def _urls(customer, note, reply, notification):
    return {
        "add-note": ("post", reverse("inbox:add-note", args=[customer.pk]), {"note": "hi"}),
        "delete-note": ("post", reverse("inbox:delete-note", args=[customer.pk, note.pk]), {}),
        "set-attribute": (
            "post",
            reverse("inbox:set-attribute", args=[customer.pk, "order_number"]),
            {"value": "1"},
        ),
        "canned": ("get", reverse("inbox:canned", args=[customer.pk]), {}),
        "notifications": ("get", reverse("inbox:notifications"), {}),
        "bell": ("get", reverse("inbox:bell"), {}),
        "open-notification": ("post", reverse("inbox:open-notification", args=[notification.pk]), {}),
        "replies": ("get", reverse("inbox:replies"), {}),
        "add-reply": ("post", reverse("inbox:replies"), {"title": "t", "body": "b", "scope": "mine"}),
        "edit-reply": ("get", reverse("inbox:edit-reply", args=[reply.pk]), {}),
        "delete-reply": ("post", reverse("inbox:delete-reply", args=[reply.pk]), {}),
    }


# What each role gets (the note, reply and notification belong to the user under test when it can own them).
EXPECTED = {
    "add-note": {"agents": 302, "supervisors": 302, "admins": 403, None: 403},
    "delete-note": {"agents": 302, "supervisors": 302, "admins": 403, None: 403},
    "set-attribute": {"agents": 302, "supervisors": 403, "admins": 403, None: 403},
    "canned": {"agents": 200, "supervisors": 200, "admins": 200, None: 403},
    "notifications": {"agents": 200, "supervisors": 200, "admins": 200, None: 403},
    "bell": {"agents": 200, "supervisors": 200, "admins": 200, None: 403},
    "open-notification": {"agents": 302, "supervisors": 302, "admins": 302, None: 403},
    "replies": {"agents": 200, "supervisors": 200, "admins": 200, None: 403},
    "add-reply": {"agents": 302, "supervisors": 403, "admins": 403, None: 403},
    "edit-reply": {"agents": 200, "supervisors": 403, "admins": 403, None: 403},
    "delete-reply": {"agents": 302, "supervisors": 403, "admins": 403, None: 403},
}


def _setup(role):
    account = user("tester", role)
    customer = wrote()
    attribute()
    note = Note.objects.create(customer=customer, author=account, body="n", created_at=NOW)
    notification = Notification.objects.create(user=account, customer=customer, note=note, created_at=NOW)
    reply = CannedReply.objects.create(owner=account, title="r", body="b", created_at=NOW, updated_at=NOW)
    return account, _urls(customer, note, reply, notification)


@pytest.mark.parametrize("name", list(EXPECTED))
@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "no-role")
def test_each_view_answers_each_role_as_it_should(name, role):
    account, urls = _setup(role)
    method, url, data = urls[name]
    response = getattr(logged_in(account), method)(url, data)
    assert response.status_code == EXPECTED[name][role], response.text[:300]
    if response.status_code == 403:
        assert "You can't do that with your account" in response.text


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_view_needs_a_sign_in_302_for_a_page_401_for_htmx(name, client):
    _, urls = _setup("agents")
    method, url, data = urls[name]
    page = getattr(client, method)(url, data)
    assert page.status_code == 302 and page["Location"].startswith("/login/")
    htmx = getattr(client, method)(url, data, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 401 and htmx["HX-Trigger"] == "signed-out"


POSTS = ["add-note", "delete-note", "set-attribute", "open-notification", "add-reply", "delete-reply"]


@pytest.mark.parametrize("name", POSTS)
def test_every_post_needs_the_csrf_token(name):
    account, urls = _setup("agents")
    method, url, data = urls[name]
    assert method == "post"
    client = Client(enforce_csrf_checks=True)
    client.force_login(account)
    assert client.post(url, data).status_code == 403
    assert Note.objects.count() == 1 and CannedReply.objects.count() == 1
    assert (
        not ContactAttributeValue.objects.exists()
        and not Notification.objects.filter(read_at__isnull=False).exists()
    )


# --- Query counts ---------------------------------------------------------------------------------------


def test_the_customer_page_and_thread_take_constant_queries_with_notes_fields_and_mentions(alex, sam):
    customer = wrote()
    client = logged_in(sam)
    counts = []
    for n in (2, 40):
        attribute(f"f{n}")
        for i in range(n):
            services.set_attribute(customer=customer, key=f"f{n}", value=str(i), by=alex, now=NOW)
            notes.add_note(customer=customer, author=alex, body=f"note {i} @sam", now=NOW)
        client.get(reverse("inbox:customer", args=[customer.pk]))
        with CaptureQueriesContext(connection) as page:
            assert client.get(reverse("inbox:customer", args=[customer.pk])).status_code == 200
        with CaptureQueriesContext(connection) as thread:
            client.get(reverse("inbox:thread", args=[customer.pk]), HTTP_HX_REQUEST="true")
        with CaptureQueriesContext(connection) as side:
            client.get(reverse("inbox:side", args=[customer.pk]), HTTP_HX_REQUEST="true")
        counts.append((len(page), len(thread), len(side)))
    assert counts[0] == counts[1]


def test_the_colleagues_offered_for_mentions_are_in_the_note_box(alex, sam):
    customer = wrote()
    html = logged_in(alex).get(reverse("inbox:customer", args=[customer.pk])).text
    listed = json.loads(unescape(html.split('data-colleagues="')[1].split('"')[0]))
    assert listed == [{"username": "sam", "name": "Sam"}]  # the author does not mention themselves


# --- Admin: admins define the fields; values are view-only there -------------------------------------------


def test_admins_define_contact_fields_in_the_admin_and_see_values_read_only(client):
    admin = user("robin", "admins")
    admin.is_staff = True
    admin.save()
    client.force_login(admin)
    added = client.post(
        reverse("admin:conversations_contactattribute_add"),
        {"key": "order_number", "label": "Order number", "kind": "text", "optional": "on", "position": 0},
    )
    assert added.status_code == 302
    refused = client.post(
        reverse("admin:conversations_contactattribute_add"),
        {"key": "Order Number", "label": "Bad", "kind": "text", "position": 1},
    )
    assert refused.status_code == 200 and "lowercase letters, digits and _" in refused.text
    customer = wrote()
    services.set_attribute(customer=customer, key="order_number", value="860198", by=admin, now=NOW)
    counts = []
    for n in (1, 20):
        for i in range(n):
            attribute(f"extra_{n}_{i}", f"Extra {n} {i}", position=i + 1)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("admin:conversations_contactattribute_changelist")).status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]
    value = ContactAttributeValue.objects.get()
    page = client.get(reverse("admin:conversations_contactattributevalue_change", args=[value.pk]))
    assert page.status_code == 200 and "860198" in page.text and 'name="value"' not in page.text
    assert client.get(reverse("admin:conversations_contactattributevalue_add")).status_code == 403
    # Agents do not define fields.
    agent = user("alex", "agents")
    agent.is_staff = True
    agent.save()
    client.force_login(agent)
    assert client.get(reverse("admin:conversations_contactattribute_add")).status_code == 403
