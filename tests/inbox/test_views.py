"""The inbox's server side: every page behind a login and a role, the rules re-checked on every send,
constant query counts, and partials that render what the policy decided."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conversations import services
from conversations.exceptions import TemplateNotSendable, TemplateNotSendableFromInbox
from conversations.models import Customer, Message
from tests import factories
from tests.factories import user
from tests.inbox import listing

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def agent():
    return user("alex", "agents")


@pytest.fixture
def client_as(client):
    def login(account):
        client.force_login(account)
        return client

    return login


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def visible(html: str) -> str:
    """The text a person reads in `html`: tags dropped (a block's end reads as a space), white space
    collapsed."""
    blocks_apart = re.sub(r"<(br|/p|/li|/div|/dt|/dd)\b[^>]*>", " ", html)
    return " ".join(re.sub(r"<[^>]+>", "", blocks_apart).split())


def wrote(wa_id, *, ago, body="Hello?", name="Customer", referral=None):
    return services.receive_message(
        wa_id=wa_id,
        body=body,
        wamid=f"w-{wa_id}-{uuid.uuid4().hex[:6]}",
        timestamp=NOW - ago,
        name=name,
        referral=referral,
    ).customer


def compose_mode(html: str) -> str:
    return re.search(r'data-compose-mode="([^"]+)"', html).group(1)


# --- Access ------------------------------------------------------------------------------------------


INBOX_URLS = [
    ("inbox:home", False, "get"),
    ("inbox:list", False, "get"),
    ("inbox:customer", True, "get"),
    ("inbox:thread", True, "get"),
    ("inbox:side", True, "get"),
    ("inbox:compose", True, "get"),
    ("inbox:template-form", True, "get"),
    ("inbox:send-text", True, "post"),
    ("inbox:send-template", True, "post"),
    ("inbox:assign", True, "post"),
]


@pytest.mark.parametrize(("name", "per_customer", "method"), INBOX_URLS, ids=[u[0] for u in INBOX_URLS])
def test_every_page_and_partial_needs_a_login(client, name, per_customer, method):
    customer = factories.customer()
    url = reverse(name, args=[customer.pk] if per_customer else [])
    response = getattr(client, method)(url)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize(("name", "per_customer", "method"), INBOX_URLS, ids=[u[0] for u in INBOX_URLS])
def test_a_user_without_a_role_gets_a_403_that_says_what_is_missing(client_as, name, per_customer, method):
    customer = factories.customer()
    url = reverse(name, args=[customer.pk] if per_customer else [])
    response = getattr(client_as(user("nobody")), method)(url)
    assert response.status_code == 403
    assert "You can't do that with your account" in response.text
    assert "see the inbox" in response.text or "send messages" in response.text or "assign" in response.text


def test_supervisors_read_but_cannot_send_or_assign(client_as):
    customer = wrote("16505551234", ago=timedelta(hours=1))
    supervisor = client_as(user("morgan", "supervisors"))
    page = supervisor.get(reverse("inbox:customer", args=[customer.pk]))
    assert page.status_code == 200 and "can read conversations but not send" in page.text
    assert 'name="body"' not in page.text
    refused = supervisor.post(
        reverse("inbox:send-text", args=[customer.pk]), {"body": "hi", "client_token": uuid.uuid4()}
    )
    assert refused.status_code == 403 and "send messages to customers" in refused.text
    assert not Message.objects.filter(direction="outbound").exists()


def test_login_page_and_logout(client, agent):
    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": "alex", "password": "pw"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_pages_carry_a_strict_csp_and_no_inline_script(client_as, agent):
    customer = wrote("16505551234", ago=timedelta(hours=1))
    response = client_as(agent).get(reverse("inbox:customer", args=[customer.pk]))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert not re.search(r"<script(?![^>]*\bsrc=)", response.text)
    assert not re.search(r'\sstyle="', response.text)


def test_customer_text_is_escaped(client_as, agent):
    customer = wrote(
        "16505551234", ago=timedelta(hours=1), body="<script>alert(1)</script>", name="<b>Eve</b>"
    )
    html = client_as(agent).get(reverse("inbox:customer", args=[customer.pk])).text
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>Eve</b>" not in html


# --- The list ----------------------------------------------------------------------------------------


def listed(client, **query):
    html = client.get(reverse("inbox:list"), query).text
    return re.findall(r'<span class="name">([^<]+)</span>', html)


def test_filters_and_search(client_as, agent):
    wrote("16505550001", ago=timedelta(hours=2), name="Waiting Wendy", body="Where is my parcel?")
    answered = wrote("16505550002", ago=timedelta(hours=3), name="Answered Andy")
    services.send_text(customer=answered, body="On its way", agent=agent)
    wrote("16505550003", ago=timedelta(hours=23, minutes=30), name="Closing Carla")
    gone = wrote("16505550004", ago=timedelta(days=2), name="Gone Gary")
    Customer.objects.filter(pk=gone.pk).update(assigned_to=agent)
    client = client_as(agent)
    assert set(listed(client, view="needs-reply")) == {"Waiting Wendy", "Closing Carla"}
    assert listed(client, view="closing-soon") == ["Closing Carla"]
    assert listed(client, view="mine") == ["Gone Gary"]
    assert "Gone Gary" not in listed(client, view="unassigned")
    assert len(listed(client, view="all")) == 4
    assert listed(client, q="wendy") == ["Waiting Wendy"]
    assert listed(client, q="parcel") == ["Waiting Wendy"]  # message text
    assert listed(client, q="+1 650 555 0003") == ["Closing Carla"]  # phone, however it is typed
    assert listed(client, q="nobody-like-this") == []


def test_list_shows_window_badges_unread_counts_and_assignee(client_as, agent):
    customer = wrote("16505550001", ago=timedelta(hours=2), name="Wendy")
    wrote("16505550001", ago=timedelta(hours=1), name="Wendy")
    wrote("5511987654321", ago=timedelta(hours=23, minutes=30), name="Carla")
    wrote("4915112345678", ago=timedelta(days=3), name="Gary")
    wrote("6591234567", ago=timedelta(hours=1), name="Mei", referral={"source_type": "ad"})
    html = client_as(agent).get(reverse("inbox:list"), {"view": "all"}).text
    assert 'class="badge badge-open"' in html and 'class="badge badge-closing"' in html
    assert "Window closed" in html and "From an ad" in html
    assert f'datetime="{(NOW + timedelta(hours=23)).isoformat()}"' in html  # Wendy's window, to the second
    assert '<span class="unread-count" title="2 unread">' in html
    client_as(agent).get(reverse("inbox:customer", args=[customer.pk]))  # reading it clears the count
    assert (
        '<span class="unread-count" title="2 unread">' not in client_as(agent).get(reverse("inbox:list")).text
    )


def test_keyset_pages_cover_every_customer_once(client_as, agent):
    for i in range(60):
        wrote(f"1650555{i:04d}", ago=timedelta(minutes=i), name=f"Customer {i:02d}")
    client = client_as(agent)
    seen = listing.every_page(client, {"view": "all"}, most=5)
    assert seen == [f"Customer {i:02d}" for i in range(60)]


def test_list_queries_are_constant_in_the_number_of_customers(client_as, agent):
    def queries():
        client = client_as(agent)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("inbox:list"), {"view": "all"}).status_code == 200
        return len(captured)

    for i in range(10):
        wrote(f"1650555{i:04d}", ago=timedelta(minutes=i))
    ten = queries()
    for i in range(10, 200):
        wrote(f"1650555{i:04d}", ago=timedelta(minutes=i))
    assert queries() == ten


def test_a_poll_that_would_show_the_same_list_answers_204(client_as, agent):
    wrote("16505550001", ago=timedelta(hours=1))
    client = client_as(agent)
    first = client.get(reverse("inbox:list"))
    version = re.search(r'data-version="([0-9a-f]+)"', first.text).group(1)
    assert client.get(reverse("inbox:list"), {"v": version}).status_code == 204
    wrote("16505550002", ago=timedelta(minutes=1))
    assert client.get(reverse("inbox:list"), {"v": version}).status_code == 200


# --- The thread --------------------------------------------------------------------------------------


def test_thread_shows_ticks_failures_and_system_lines(client_as, agent):
    customer = wrote("16505551234", ago=timedelta(hours=30), body="First")
    wrote("16505551234", ago=timedelta(hours=2), body="Back again")
    ok = services.send_text(customer=customer, body="Hi!", agent=agent)
    Message.objects.filter(pk=ok.pk).update(status="read", read_at=NOW)
    bad = services.send_template(
        customer=customer, template=factories.template(category="MARKETING"), params=["A"], agent=agent
    )
    services.mark_message_failed(
        message=bad, error_code=131050, error_text="The customer stopped marketing messages."
    )
    html = client_as(agent).get(reverse("inbox:thread", args=[customer.pk])).text
    assert html.count("Customer service window opened") == 2
    assert "Customer service window closed: templates only" in html
    assert "Service conversation opened (24 h)" in html
    assert "Marketing conversation voided" in html
    assert 'class="ticks ticks-read"' in html
    assert "Not delivered (131050)" in html and "stopped marketing messages" in html
    assert "Yesterday" in html and "Today" in html


def test_thread_queries_are_constant_in_the_number_of_messages(client_as, agent):
    customer = wrote("16505551234", ago=timedelta(hours=1))

    def queries():
        client = client_as(agent)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("inbox:customer", args=[customer.pk])).status_code == 200
        return len(captured)

    for i in range(10):
        services.send_text(customer=customer, body=f"m{i}", agent=agent)
    ten = queries()
    for i in range(190):
        services.send_text(customer=customer, body=f"n{i}", agent=agent)
    assert queries() == ten


def test_earlier_messages_load_by_keyset(client_as, agent):
    customer = wrote("16505551234", ago=timedelta(hours=5))
    for i in range(70):
        with time_machine.travel(NOW + timedelta(seconds=i), tick=False):
            services.send_text(customer=customer, body=f"message {i:02d}", agent=agent)
    client = client_as(agent)
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        page = client.get(reverse("inbox:customer", args=[customer.pk])).text
        assert "message 69" in page and "message 09" not in page and "Earlier messages" in page
        cursor = re.search(r'thread/\?before=([^"]+)"', page).group(1)
        earlier = client.get(f"{reverse('inbox:thread', args=[customer.pk])}?before={cursor}").text
    assert (
        "message 09" in earlier
        and "message 69" not in earlier
        and "Customer service window opened" in earlier
    )


# --- Compose ---------------------------------------------------------------------------------------


def test_compose_inside_the_window_is_free_form_with_a_countdown(client_as, agent):
    customer = wrote("16505551234", ago=timedelta(hours=3))
    html = client_as(agent).get(reverse("inbox:compose", args=[customer.pk])).text
    assert compose_mode(html) == "free-form"
    assert f'<time data-window-countdown datetime="{(NOW + timedelta(hours=21)).isoformat()}"' in html
    assert "A reply opens a new service conversation" in html


def test_compose_outside_the_window_is_template_only_and_says_why(client_as, agent):
    customer = wrote("16505551234", ago=timedelta(days=2, hours=1))
    html = client_as(agent).get(reverse("inbox:compose", args=[customer.pk])).text
    assert compose_mode(html) == "template-only"
    assert 'name="body"' not in html
    assert "The customer last wrote 2 days ago; only approved templates can be sent until they reply." in html
    never = factories.customer()
    html = client_as(agent).get(reverse("inbox:compose", args=[never.pk])).text
    assert "has never written to us" in html


def test_at_23_59_59_free_form_at_24_00_00_template_only(client_as, agent, frozen_clock):
    customer = wrote("16505551234", ago=timedelta(0))
    client = client_as(agent)
    frozen_clock.move_to(NOW + timedelta(hours=23, minutes=59, seconds=59))
    assert compose_mode(client.get(reverse("inbox:compose", args=[customer.pk])).text) == "free-form"
    frozen_clock.move_to(NOW + timedelta(hours=24))
    assert compose_mode(client.get(reverse("inbox:compose", args=[customer.pk])).text) == "template-only"


def test_reply_is_queued_and_the_page_is_told_to_refresh(client_as, agent):
    customer = wrote("16505551234", ago=timedelta(hours=1))
    response = client_as(agent).post(
        reverse("inbox:send-text", args=[customer.pk]), {"body": "On it!", "client_token": uuid.uuid4()}
    )
    assert response.status_code == 200 and response["HX-Trigger"] == "message-sent"
    message = Message.objects.get(direction="outbound")
    assert (message.body, message.agent, message.status) == ("On it!", agent, "queued")
    assert compose_mode(response.text) == "free-form" and "Queued for WhatsApp" in response.text


def test_a_double_click_never_sends_twice(client_as, agent):
    customer = wrote("16505551234", ago=timedelta(hours=1))
    client, token = client_as(agent), uuid.uuid4()
    for _ in range(3):
        client.post(reverse("inbox:send-text", args=[customer.pk]), {"body": "Once", "client_token": token})
    assert Message.objects.filter(direction="outbound", body="Once").count() == 1


def test_a_stale_tab_is_refused_and_keeps_the_text(client_as, agent, frozen_clock):
    customer = wrote("16505551234", ago=timedelta(hours=23, minutes=59))
    client = client_as(agent)
    assert compose_mode(client.get(reverse("inbox:compose", args=[customer.pk])).text) == "free-form"
    frozen_clock.shift(timedelta(minutes=2))  # the window closed while the tab stayed open
    response = client.post(
        reverse("inbox:send-text", args=[customer.pk]),
        {"body": "Sorry for the wait!", "client_token": uuid.uuid4()},
    )
    assert response.status_code == 409
    assert compose_mode(response.text) == "template-only"
    assert "window closed at" in response.text and "only approved templates" in response.text
    assert ">Sorry for the wait!</textarea>" in response.text
    assert not Message.objects.filter(direction="outbound").exists()


def test_empty_reply_is_refused_in_plain_words(client_as, agent):
    customer = wrote("16505551234", ago=timedelta(hours=1))
    response = client_as(agent).post(
        reverse("inbox:send-text", args=[customer.pk]), {"body": "   ", "client_token": uuid.uuid4()}
    )
    assert response.status_code == 422 and "The message is empty" in response.text


def test_template_picker_prefills_the_name_previews_and_says_what_the_send_does(client_as, agent):
    customer = wrote("16505551234", ago=timedelta(days=3), name="Sheena Nelson")
    template = factories.template(
        name="order_update",
        category="UTILITY",
        parameter_format="NAMED",
        body="Hi {{first_name}}, order {{order_number}} ships today.",
    )
    client = client_as(agent)
    fields = client.get(reverse("inbox:template-form", args=[customer.pk]), {"template": template.pk}).text
    assert 'value="Sheena"' in fields and "{{order_number}}" in fields
    assert "Sending it opens a new utility conversation." in fields
    preview = client.post(
        reverse("inbox:template-form", args=[customer.pk]),
        {"template": template.pk, "p_first_name": "Sheena", "p_order_number": "860198"},
    ).text
    assert "Hi Sheena, order 860198 ships today." in visible(preview) and "problems" not in preview


def test_positional_greeting_prefills_the_first_name(client_as, agent):
    customer = wrote("16505551234", ago=timedelta(days=3), name="Pablo Morales")
    template = factories.template(body="Hello {{1}}, your appointment is on {{2}}.")
    fields = (
        client_as(agent)
        .get(reverse("inbox:template-form", args=[customer.pk]), {"template": template.pk})
        .text
    )
    assert 'id="id_p_1" name="p_1" value="Pablo"' in fields


def test_sending_a_template_with_parameters(client_as, agent):
    customer = wrote("16505551234", ago=timedelta(days=3))
    template = factories.template(body="Hi {{1}}, order {{2}} shipped.", category="UTILITY")
    client = client_as(agent)
    missing = client.post(
        reverse("inbox:send-template", args=[customer.pk]),
        {"template": template.pk, "p_1": "Ann", "p_2": "", "client_token": uuid.uuid4()},
    )
    assert missing.status_code == 422 and "parameter {{2}} is empty" in missing.text
    sent = client.post(
        reverse("inbox:send-template", args=[customer.pk]),
        {"template": template.pk, "p_1": "Ann", "p_2": "42", "client_token": uuid.uuid4()},
    )
    assert sent.status_code == 200
    message = Message.objects.get(direction="outbound")
    assert (message.body, message.template_params, message.conversation.category) == (
        "Hi Ann, order 42 shipped.",
        ["Ann", "42"],
        "utility",
    )


def test_a_template_with_a_header_and_a_url_button_asks_for_both_previews_and_sends_them(client_as, agent):
    customer = wrote("16505551234", ago=timedelta(days=3), name="Sheena Nelson")
    template = factories.template(
        name="ticket_update", category="UTILITY", parameter_format="NAMED", body="Hi {{first_name}}, news."
    )
    template.components = [
        {"type": "HEADER", "format": "TEXT", "text": "Ticket {{ticket_id}}"},
        *template.components,
        {
            "type": "BUTTONS",
            "buttons": [{"type": "URL", "text": "Open", "url": "https://s.example.com/t/{{1}}"}],
        },
    ]
    template.save()
    client = client_as(agent)
    url = reverse("inbox:template-form", args=[customer.pk])
    fields = client.get(url, {"template": template.pk}).text
    assert "Header {{ticket_id}}" in fields and 'name="header"' in fields
    assert "Button “Open”: end of its link" in fields and 'name="button_0"' in fields
    preview = client.post(
        url, {"template": template.pk, "p_first_name": "Sheena", "header": "T-7", "button_0": "7"}
    ).text
    assert visible(preview).startswith("What the customer will see Ticket T-7 Hi Sheena, news.")
    assert "Open https://s.example.com/t/7" in visible(preview)
    assert "problems" not in preview

    send = reverse("inbox:send-template", args=[customer.pk])
    missing = client.post(
        send, {"template": template.pk, "p_first_name": "Sheena", "client_token": uuid.uuid4()}
    )
    assert missing.status_code == 422
    assert "header {{ticket_id}} is empty" in missing.text and "needs the end of its link" in missing.text
    assert "Ticket {{ticket_id}} Hi Sheena, news." in visible(missing.text)  # the preview comes back too
    assert not Message.objects.filter(direction="outbound").exists()
    sent = client.post(
        send,
        {
            "template": template.pk,
            "p_first_name": "Sheena",
            "header": "T-7",
            "button_0": "7",
            "client_token": uuid.uuid4(),
        },
    )
    assert sent.status_code == 200
    message = Message.objects.get(direction="outbound")
    assert message.template_extras == {
        "header": {"format": "TEXT", "name": "ticket_id", "value": "T-7"},
        "buttons": [{"index": 0, "value": "7"}],
    }
    # The thread shows the message as the customer sees it: header, body, the button's link.
    thread = client.get(reverse("inbox:thread", args=[customer.pk])).text
    assert '<p class="tpl-header">Ticket <span class="tpl-value">T-7</span></p>' in thread
    assert "Ticket T-7 Hi Sheena, news. Open https://s.example.com/t/7" in visible(thread)


def test_a_location_header_asks_for_the_place_and_the_thread_shows_it(client_as, agent):
    customer = wrote("16505551234", ago=timedelta(days=3), name="Sheena Nelson")
    template = factories.template(name="pickup", category="UTILITY", body="Hi {{1}}, your parcel is here.")
    template.components = [{"type": "HEADER", "format": "LOCATION"}, *template.components]
    template.save()
    client = client_as(agent)
    fields = client.get(reverse("inbox:template-form", args=[customer.pk]), {"template": template.pk}).text
    for part in ("latitude", "longitude", "name (optional)", "address (optional)"):
        assert f"Header location: {part}" in fields
    sent = client.post(
        reverse("inbox:send-template", args=[customer.pk]),
        {
            "template": template.pk,
            "p_1": "Sheena",
            "header_latitude": "52.52",
            "header_longitude": "13.405",
            "header_name": "Shop Mitte",
            "header_address": "",
            "client_token": uuid.uuid4(),
        },
    )
    assert sent.status_code == 200
    thread = client.get(reverse("inbox:thread", args=[customer.pk])).text
    assert "Location header: Shop Mitte (52.52, 13.405) Hi Sheena, your parcel is here." in visible(thread)


def test_a_template_paused_since_the_page_loaded_is_refused(client_as, agent):
    customer = wrote("16505551234", ago=timedelta(days=3))
    template = factories.template()
    type(template).objects.filter(pk=template.pk).update(status="PAUSED")
    response = client_as(agent).post(
        reverse("inbox:send-template", args=[customer.pk]),
        {"template": template.pk, "p_1": "Ann", "client_token": uuid.uuid4()},
    )
    assert response.status_code == 409 and "paused, not approved" in response.text


def test_only_approved_templates_are_offered(client_as, agent):
    customer = wrote("16505551234", ago=timedelta(days=3))
    factories.template(name="approved_one")
    factories.template(name="paused_one", status="PAUSED")
    html = client_as(agent).get(reverse("inbox:compose", args=[customer.pk])).text
    assert "approved_one" in html and "paused_one" not in html


def carousel_template(name="succulents_carousel"):
    """An approved carousel, as WhatsApp lists it (Meta's documented media-card carousel, two cards)."""
    template = factories.template(
        name=name, category="MARKETING", body="Rare succulents for {{1}}, shop now."
    )
    card = {
        "components": [
            {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::an..."]}},
            {"type": "BODY", "text": "Aloe 'Blue Elf', with deep blue-green leaves."},
            {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Send me more like this!"}]},
        ]
    }
    template.components = [*template.components, {"type": "CAROUSEL", "cards": [card, card]}]
    template.save()
    return template


def test_an_approved_template_the_inbox_cannot_fill_is_shown_greyed_out_with_why(client_as, agent):
    customer = wrote("16505551234", ago=timedelta(days=3))
    factories.template(name="approved_one")
    carousel = carousel_template()
    html = client_as(agent).get(reverse("inbox:compose", args=[customer.pk])).text
    option = re.search(r"<option disabled data-not-sendable[^>]*>([^<]*)</option>", html)
    assert option is not None and "succulents_carousel · Marketing · en_US — Not sendable from the inbox" in (
        option.group(1)
    )
    assert "it is a carousel of 2 cards, each with its own header and buttons" in option.group(0)
    assert f'value="{carousel.pk}"' not in html  # not choosable
    assert '<optgroup label="Approved, but not sendable from the inbox">' in html
    assert "1 approved template cannot be sent from the inbox" in html
    assert "approved_one" in html


def test_the_fields_of_a_template_the_inbox_cannot_fill_say_why(client_as, agent):
    customer = wrote("16505551234", ago=timedelta(days=3))
    carousel = carousel_template()
    html = (
        client_as(agent)
        .get(reverse("inbox:template-form", args=[customer.pk]), {"template": carousel.pk})
        .text
    )
    assert "“succulents_carousel” is approved, but cannot be sent from here." in html
    assert "Not sendable from the inbox: it is a carousel of 2 cards" in html
    assert "Send template" not in html and 'name="p_1"' not in html


def test_the_server_refuses_to_send_a_template_the_inbox_cannot_fill(client_as, agent):
    customer = wrote("16505551234", ago=timedelta(days=3))
    carousel = carousel_template()
    response = client_as(agent).post(
        reverse("inbox:send-template", args=[customer.pk]),
        {"template": carousel.pk, "p_1": "Ann", "client_token": uuid.uuid4()},
    )
    assert response.status_code == 409
    assert (
        "The template “succulents_carousel” (en_US) is approved, but cannot be sent from the inbox. "
        "Not sendable from the inbox: it is a carousel of 2 cards"
    ) in response.text
    assert not Message.objects.filter(direction="outbound").exists()


def test_the_service_refuses_it_with_its_own_error(agent):
    customer = wrote("16505551234", ago=timedelta(days=3))
    with pytest.raises(TemplateNotSendableFromInbox) as refused:
        services.send_template(customer=customer, template=carousel_template(), params=["Ann"], agent=agent)
    assert isinstance(refused.value, TemplateNotSendable)  # still a refusal to send, for callers
    assert refused.value.code == "template_not_sendable_from_inbox"
    assert "Choose another template." in refused.value.message
    assert not Message.objects.filter(direction="outbound").exists()


# --- Side panel and assignment -------------------------------------------------------------------------


def test_side_panel_lists_open_conversations_with_countdowns(client_as, agent):
    customer = wrote("16505551234", ago=timedelta(hours=1))
    services.send_text(customer=customer, body="hi", agent=agent)
    html = client_as(agent).get(reverse("inbox:side", args=[customer.pk])).text
    assert "Service</span>" in html
    ends = (NOW + timedelta(hours=24)).isoformat()
    assert f'datetime="{ends}" data-warn-within="0" data-event="conversation-expired"' in html


def test_assign_to_me_to_another_agent_and_back(client_as, agent):
    """An agent takes a thread nobody holds and gives back their own; a supervisor reassigns anyone's
    (issue 15: tests/inbox/test_teams.py has the rest)."""
    customer = wrote("16505551234", ago=timedelta(hours=1))
    sam = user("sam", "agents")
    supervisor = user("morgan", "supervisors")
    client, boss = Client(), Client()
    client.force_login(agent)
    boss.force_login(supervisor)
    url = reverse("inbox:assign", args=[customer.pk])
    assert client.post(url, {"agent": "me"}, headers={"HX-Request": "true"}).status_code == 200
    assert Customer.objects.get().assigned_to == agent
    assert client.post(url, {"agent": sam.pk}).status_code == 409  # a handover is a supervisor's
    assert Customer.objects.get().assigned_to == agent
    boss.post(url, {"agent": sam.pk})
    assert Customer.objects.get().assigned_to == sam
    assert client.post(url, {"agent": ""}).status_code == 409  # not the agent's to give back
    assert client.post(url, {"agent": "me"}).status_code == 409  # nor to take
    assert Customer.objects.get().assigned_to == sam
    boss.post(url, {"agent": ""})
    assert Customer.objects.get().assigned_to is None
    assert boss.post(url, {"agent": supervisor.pk}).status_code == 422  # only agents own customers


def test_times_follow_the_agents_time_zone_with_the_exact_time_on_hover(client_as, agent):
    customer = wrote("16505551234", ago=timedelta(hours=1))
    client = client_as(agent)
    client.cookies["tz"] = "America/Sao_Paulo"
    html = client.get(reverse("inbox:thread", args=[customer.pk])).text
    assert ">08:00</time>" in html  # 11:00 UTC in São Paulo
    assert 'title="Mon 2 Mar 2026, 08:00:00 -03"' in html
    client.cookies["tz"] = "Asia%2FTokyo"  # as the browser script writes it: percent-encoded
    assert ">20:00</time>" in client.get(reverse("inbox:thread", args=[customer.pk])).text
    client.cookies["tz"] = "Not/A_Zone"  # nonsense falls back to the business time zone (UTC here)
    assert ">11:00</time>" in client.get(reverse("inbox:thread", args=[customer.pk])).text
