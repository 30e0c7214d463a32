"""The admin: read-mostly pages to inspect what the rules did, for admins only, whose "open now" is R8
(timestamps, never the status column) and whose changelists cost the same number of queries whatever
the row count. Data comes from the services, with the clock controlled by time-machine."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import roles
from conversations import services
from conversations.models import Conversation, Customer, Message
from templates_app.models import MessageTemplate
from tests import factories
from tests.factories import at, h

pytestmark = pytest.mark.django_db

AD = {"source_type": "ad", "source_id": "1202263", "source_url": "https://fb.me/x", "ctwa_clid": "A"}
LOGIN_URL = "/admin/login/"
MODELS = [
    "conversations_customer",
    "conversations_conversation",
    "conversations_message",
    "conversations_messagemedia",
]


def changelist(model: str) -> str:
    return reverse(f"admin:{model}_changelist")


def change(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


class AdminBrowser:
    """A logged-in admin client whose requests all happen at one instant (`when`)."""

    def __init__(self, client, user, when):
        self.client, self.when = client, when
        with time_machine.travel(when, tick=False):
            client.force_login(user)

    def get(self, url, **params):
        with time_machine.travel(self.when, tick=False):
            return self.client.get(url, params)

    def post(self, url, data=None):
        with time_machine.travel(self.when, tick=False):
            return self.client.post(url, data or {})

    def listed(self, model, **params) -> set[int]:
        response = self.get(changelist(model), **params)
        assert response.status_code == 200
        return {obj.pk for obj in response.context["cl"].result_list}


@pytest.fixture
def group_admin(django_user_model):
    """What a real admin is: staff, in the `admins` group created by migration inbox 0001."""
    user = django_user_model.objects.create_user("ada", is_staff=True)
    user.groups.add(Group.objects.get(name=roles.ADMINS))
    return user


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", None)


@pytest.fixture(params=["group_admin", "superuser"])
def staff_user(request):
    return request.getfixturevalue(request.param)


@pytest.fixture
def agent(django_user_model):
    user = django_user_model.objects.create_user("agnes", is_staff=False)
    user.groups.add(Group.objects.get(name=roles.AGENTS))
    return user


def customer_with_history(when, *, agent=None, name=None, template=None) -> Customer:
    """A customer writes at `when`; an agent answers in free-form (opens a service conversation, R4) and
    sends a marketing template (opens a marketing conversation, R3): 3 messages, 2 conversations."""
    wa_id = factories.new_wa_id()
    template = template or factories.template("MARKETING", body="Hello {{1}}, news for you.")
    with time_machine.travel(when, tick=False):
        inbound = services.receive_message(
            wa_id=wa_id,
            body=f"Question from {wa_id}",
            wamid=f"wamid.{wa_id}",
            timestamp=when,
            name=name or f"Customer {wa_id}",
        )
        services.send_text(customer=inbound.customer, body=f"Answer to {wa_id}", agent=agent)
        services.send_template(customer=inbound.customer, template=template, params=["Ann"], agent=agent)
    return inbound.customer


# --- Who may see what ------------------------------------------------------------------------------


def test_the_site_is_called_support_inbox_administration(group_admin, client):
    response = AdminBrowser(client, group_admin, at(0, "12:00")).get(reverse("admin:index"))
    assert response.status_code == 200
    assert "Support Inbox administration" in response.text
    assert "<title>Site administration | Support Inbox administration</title>" in response.text


def test_every_changelist_and_change_page_renders_read_only_for_an_admin(staff_user, client):
    customer = customer_with_history(at(0, "09:00"))
    conversation = customer.conversations.first()
    message = customer.messages.filter(direction=Message.Direction.OUTBOUND).first()
    browser = AdminBrowser(client, staff_user, at(0, "12:00"))

    for model in MODELS:
        response = browser.get(changelist(model))
        assert response.status_code == 200, model
        assert response.context["has_add_permission"] is False
        assert 'value="delete_selected"' not in response.text
    drill_down = {"opened_at__year": 2026, "opened_at__month": 1, "opened_at__day": 5}
    all_conversations = set(customer.conversations.values_list("pk", flat=True))
    assert browser.listed("conversations_conversation", **drill_down) == all_conversations
    assert browser.listed("conversations_message", occurred_at__year=2026, occurred_at__month=2) == set()
    for obj in (customer, conversation, message):
        response = browser.get(change(obj))
        assert response.status_code == 200, obj
        assert response.context["has_change_permission"] is False
        assert response.context["has_delete_permission"] is False
        assert 'name="_save"' not in response.text
        assert response.context["title"].startswith("View ")


def test_nothing_can_be_added_changed_or_deleted_through_the_admin(staff_user, client):
    customer = customer_with_history(at(0, "09:00"))
    conversation = customer.conversations.first()
    message = customer.messages.first()
    browser = AdminBrowser(client, staff_user, at(0, "12:00"))

    for model in MODELS:
        add = reverse(f"admin:{model}_add")
        assert browser.get(add).status_code == 403
        assert browser.post(add, {"name": "x", "wa_id": "1555"}).status_code == 403
    for obj in (customer, conversation, message):
        delete = reverse(f"admin:conversations_{obj._meta.model_name}_delete", args=[obj.pk])
        assert browser.get(delete).status_code == 403
        assert browser.post(delete, {"post": "yes"}).status_code == 403
    assert browser.post(change(customer), {"name": "Changed", "wa_id": customer.wa_id}).status_code == 403
    # The bulk delete action does not exist either.
    browser.post(
        changelist("conversations_customer"), {"action": "delete_selected", "_selected_action": [customer.pk]}
    )

    customer.refresh_from_db()
    assert customer.name == f"Customer {customer.wa_id}"
    assert (Customer.objects.count(), Conversation.objects.count(), Message.objects.count()) == (1, 2, 3)


def test_an_agent_is_sent_to_the_admin_login_for_every_admin_page(agent, client):
    customer = customer_with_history(at(0, "09:00"))
    template = MessageTemplate.objects.get()
    objects = [customer, customer.conversations.first(), customer.messages.first(), template]
    urls = [reverse("admin:index"), reverse("admin:templates_app_messagetemplate_add")]
    for obj in objects:
        prefix = f"admin:{obj._meta.app_label}_{obj._meta.model_name}"
        urls += [reverse(f"{prefix}_changelist"), change(obj), reverse(f"{prefix}_history", args=[obj.pk])]
        urls += [reverse(f"{prefix}_delete", args=[obj.pk])]
    urls += [reverse(f"admin:{model}_add") for model in MODELS]
    browser = AdminBrowser(client, agent, at(0, "12:00"))

    for url in urls:
        response = browser.get(url)
        assert response.status_code == 302, url
        location = urlsplit(response["Location"])
        assert (location.path, parse_qs(location.query)) == (LOGIN_URL, {"next": [url]}), url


# --- R8: "open now" is computed from timestamps ---------------------------------------------------------


@pytest.fixture
def r8_conversations():
    """Conversations in every state at Tue 10:00:00, as the services wrote them. No sweep has run, so
    the ones that ended still say "open"; two more statuses are made stale on purpose."""
    marketing = factories.template("MARKETING", body="Hello {{1}}, news.")
    utility = factories.template("UTILITY", body="Your order {{1}} shipped.")

    def template(customer, when, tpl):
        with time_machine.travel(when, tick=False):
            return services.send_template(customer=customer, template=tpl, params=["1"]).conversation

    # Service and marketing conversations from Mon 09:00 → Tue 09:00: ended, but their status says open.
    expired = customer_with_history(at(0, "09:00"), template=marketing).conversations.all()
    # Marketing Mon 10:00 → Tue 10:00: at exactly expires_at it is over (half-open interval).
    at_boundary = template(factories.customer(), at(0, "10:00"), marketing)
    # Utility Mon 12:00 → Tue 12:00: open, though a (stale) status says expired.
    open_but_marked_expired = template(factories.customer(), at(0, "12:00"), utility)
    Conversation.objects.filter(pk=open_but_marked_expired.pk).update(status=Conversation.Status.EXPIRED)
    # E8: U1 opens Mon 08:00; an ad referral at 10:00; the 10:20 text opens F1 (72 h) and closes U1.
    fep_customer = factories.customer()
    closed = template(fep_customer, at(0, "08:00"), utility)
    with time_machine.travel(at(0, "10:00"), tick=False):
        services.receive_message(
            wa_id=fep_customer.wa_id, body="Hi", wamid="wamid.ad", timestamp=at(0, "10:00"), referral=AD
        )
    with time_machine.travel(at(0, "10:20"), tick=False):
        fep = services.send_text(customer=fep_customer, body="Welcome").conversation
    # ... and a stale status that still says U1 is open.
    Conversation.objects.filter(pk=closed.pk).update(status=Conversation.Status.OPEN)
    # R9: a utility template that failed voids the conversation it opened.
    with time_machine.travel(at(0, "13:00"), tick=False):
        failed = services.send_template(customer=factories.customer(), template=utility, params=["2"])
        services.mark_message_failed(message=failed, error_code=131026)
    voided = failed.conversation
    # A future one: the sweep never touched it, it simply has not opened yet at Tue 10:00.
    not_yet = template(factories.customer(), at(1, "10:30"), marketing)
    return {
        "open": {open_but_marked_expired.pk, fep.pk},
        "not open": {*(c.pk for c in expired), at_boundary.pk, closed.pk, voided.pk, not_yet.pk},
    }


def test_open_now_lists_exactly_the_conversations_open_at_that_instant(group_admin, client, r8_conversations):
    browser = AdminBrowser(client, group_admin, at(1, "10:00"))
    model = "conversations_conversation"
    said_open = set(Conversation.objects.filter(status=Conversation.Status.OPEN).values_list("pk", flat=True))
    assert r8_conversations["open"] - said_open and said_open - r8_conversations["open"]  # stale statuses
    everything = set(Conversation.objects.values_list("pk", flat=True))
    assert r8_conversations["open"] | r8_conversations["not open"] == everything

    assert browser.listed(model, open_now="yes") == r8_conversations["open"]
    assert browser.listed(model, open_now="no") == r8_conversations["not open"]
    assert browser.listed(model, open_now="yes", category="utility") == {
        pk for pk in r8_conversations["open"] if Conversation.objects.get(pk=pk).category == "utility"
    }


def test_the_open_now_column_agrees_with_the_filter(group_admin, client, r8_conversations):
    response = AdminBrowser(client, group_admin, at(1, "10:00")).get(changelist("conversations_conversation"))
    cl = response.context["cl"]
    [column] = [c for c in cl.list_display if callable(c) and c.short_description == "open now"]
    shown_open = {c.pk for c in cl.result_list if column(c)}
    assert shown_open == r8_conversations["open"]


def test_a_conversation_page_says_whether_it_is_open_now(group_admin, client, r8_conversations):
    browser = AdminBrowser(client, group_admin, at(1, "10:00"))
    for pk in r8_conversations["open"] | r8_conversations["not open"]:
        page = browser.get(change(Conversation.objects.get(pk=pk))).text
        open_now_field = page[page.index("field-open_now") :]
        shown = open_now_field[open_now_field.index('alt="') :].split('"')[1]
        assert shown == ("True" if pk in r8_conversations["open"] else "False"), pk


# --- R1: the customer service window ------------------------------------------------------------------


def test_window_open_filter_and_column_follow_r1(group_admin, client):
    """At Tue 09:00:00: written Mon 09:00:01 → open; Mon 09:00:00 → closed at exactly 24 h; never → closed."""
    open_window = customer_with_history(at(0, "09:00:01"))
    just_closed = customer_with_history(at(0, "09:00:00"))
    never_wrote = factories.customer()
    browser = AdminBrowser(client, group_admin, at(1, "09:00"))
    model = "conversations_customer"

    assert browser.listed(model, window_open="yes") == {open_window.pk}
    assert browser.listed(model, window_open="no") == {just_closed.pk, never_wrote.pk}
    cl = browser.get(changelist(model)).context["cl"]
    [column] = [c for c in cl.list_display if callable(c) and c.short_description == "window open now"]
    assert {c.pk for c in cl.result_list if column(c)} == {open_window.pk}


def test_the_window_filter_agrees_with_the_inbox_when_the_platform_closed_the_window(group_admin, client):
    """R1 with R9: written Mon 09:00, but the platform refused a free-form reply as outside the window
    (131047) at Mon 15:00. At Mon 16:00 the window is closed for the admin's filter and column, the inbox's
    compose area and the send decision alike."""
    from django.contrib.auth.models import User
    from django.urls import reverse

    from accounts import roles as account_roles
    from conversations import selectors

    closed_by_platform = customer_with_history(at(0, "09:00"))
    Customer.objects.filter(pk=closed_by_platform.pk).update(platform_window_closed_at=at(0, "15:00"))
    still_open = customer_with_history(at(0, "10:00"))
    now = at(0, "16:00")
    browser = AdminBrowser(client, group_admin, now)
    model = "conversations_customer"
    assert browser.listed(model, window_open="yes") == {still_open.pk}
    assert set(Customer.objects.filter(selectors.window_open_at(now)).values_list("pk", flat=True)) == {
        still_open.pk
    }
    assert not selectors.service_window(Customer.objects.get(pk=closed_by_platform.pk), now=now).is_open
    agent = User.objects.create_user("window-agent")
    agent.groups.add(Group.objects.get(name=account_roles.AGENTS))
    client.force_login(agent)
    with time_machine.travel(now, tick=False):
        modes = {
            customer.pk: client.get(reverse("inbox:compose", args=[customer.pk])).text
            for customer in (still_open, closed_by_platform)
        }
    assert 'data-compose-mode="free-form"' in modes[still_open.pk]
    assert 'data-compose-mode="template-only"' in modes[closed_by_platform.pk]


def test_a_customer_message_stamped_after_now_does_not_break_the_customer_list(group_admin, client):
    """The platform's clock can run a little ahead of ours: the column must not refuse the row."""
    earlier = customer_with_history(at(0, "08:00"))
    with time_machine.travel(at(0, "09:00"), tick=False):
        services.receive_message(
            wa_id=earlier.wa_id, body="From the future", wamid="wamid.skew", timestamp=at(0, "09:00:05")
        )
    response = AdminBrowser(client, group_admin, at(0, "09:00")).get(changelist("conversations_customer"))
    assert response.status_code == 200
    cl = response.context["cl"]
    [column] = [c for c in cl.list_display if callable(c) and c.short_description == "window open now"]
    assert column(cl.result_list[0]) is True  # the 08:00 message, at or before now, keeps it open


def test_the_customer_page_shows_what_the_rules_see_now(group_admin, client):
    customer = customer_with_history(at(0, "09:00"))
    response = AdminBrowser(client, group_admin, at(0, "12:00")).get(change(customer))
    assert "Service window: open until 2026-01-06 09:00:00 UTC" in response.text
    assert "Free-entry point: not eligible" in response.text
    for conversation in customer.conversations.all():
        assert f"{conversation.get_category_display()} #{conversation.pk}</a> (until " in response.text


# --- Constant query counts --------------------------------------------------------------------------


def _queries(browser, url, **params) -> int:
    browser.get(url, **params)  # warm up: the first request may fill per-process caches
    with CaptureQueriesContext(connection) as queries:
        response = browser.get(url, **params)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    ("model", "params"),
    [
        ("conversations_customer", {}),
        ("conversations_customer", {"window_open": "yes", "country": "US", "q": "Customer"}),
        ("conversations_conversation", {}),
        ("conversations_conversation", {"open_now": "yes", "category": "service", "q": "Customer"}),
        ("conversations_message", {}),
        ("conversations_message", {"direction": "outbound", "kind": "template", "q": "Customer"}),
        ("templates_app_messagetemplate", {}),
    ],
)
def test_changelists_run_the_same_number_of_queries_for_3_and_30_rows(staff_user, client, model, params):
    agent = type(staff_user).objects.create_user("agent", is_staff=False)
    browser = AdminBrowser(client, staff_user, at(0, "12:00"))
    for i in range(3):
        customer_with_history(at(0, "09:00") + h(minutes=i), agent=agent)
    with_3 = _queries(browser, changelist(model), **params)
    for i in range(3, 30):
        customer_with_history(at(0, "09:00") + h(minutes=i), agent=agent)
    shown = browser.get(changelist(model), **params).context["cl"].result_count
    with_30 = _queries(browser, changelist(model), **params)

    assert shown >= 30
    assert with_30 == with_3


def test_change_pages_run_the_same_number_of_queries_however_long_the_history(group_admin, client):
    """A customer who writes every morning gets a service conversation a day; one day's conversation
    collects every answer. The inlines list a bounded number of rows without a query per row."""
    customer = factories.customer()
    agent = type(group_admin).objects.create_user("agent", is_staff=False)

    def days(first, last):
        for day in range(first, last):
            with time_machine.travel(at(day, "09:00"), tick=False):
                services.receive_message(
                    wa_id=customer.wa_id, body="Morning", wamid=f"wamid.{day}", timestamp=at(day, "09:00")
                )
            with time_machine.travel(at(day, "09:05"), tick=False):
                services.send_text(customer=customer, body="Good morning", agent=agent)

    def answers(conversation_day, first, last):
        for minute in range(first, last):
            with time_machine.travel(at(conversation_day, "10:00") + h(minutes=minute), tick=False):
                services.send_text(customer=customer, body=f"Answer {minute}", agent=agent)

    days(0, 3)
    answers(0, 0, 2)
    browser = AdminBrowser(client, group_admin, at(40, "12:00"))
    first_conversation = customer.conversations.order_by("opened_at").first()
    counts_3 = [_queries(browser, change(customer)), _queries(browser, change(first_conversation))]
    assert first_conversation.messages.count() == 3

    days(3, 30)
    answers(0, 2, 29)
    counts_30 = [_queries(browser, change(customer)), _queries(browser, change(first_conversation))]
    assert first_conversation.messages.count() == 30
    assert counts_30 == counts_3

    conversations_inline, _previous_identifiers = browser.get(change(customer)).context[
        "inline_admin_formsets"
    ]
    shown = [form.instance.pk for form in conversations_inline.formset.forms]
    assert shown == list(customer.conversations.order_by("-opened_at").values_list("pk", flat=True)[:20])
    messages_inline, _discrepancies = browser.get(change(first_conversation)).context["inline_admin_formsets"]
    assert len(messages_inline.formset.forms) == 30


# --- Search and links --------------------------------------------------------------------------------


def test_search_by_whatsapp_id_and_by_name(group_admin, client):
    sheena = customer_with_history(at(0, "09:00"), name="Sheena Nelson")
    other = customer_with_history(at(0, "09:30"), name="Bob Marley")
    browser = AdminBrowser(client, group_admin, at(0, "12:00"))

    assert browser.listed("conversations_customer", q=sheena.wa_id) == {sheena.pk}
    assert browser.listed("conversations_customer", q="sheena") == {sheena.pk}
    assert browser.listed("conversations_customer", q=sheena.phone_e164) == {sheena.pk}
    sheenas_messages = set(sheena.messages.values_list("pk", flat=True))
    assert browser.listed("conversations_message", q=sheena.wa_id) == sheenas_messages
    assert browser.listed("conversations_message", q="Nelson") == sheenas_messages
    assert browser.listed("conversations_message", q=f"Answer to {other.wa_id}") == set(
        other.messages.filter(kind="free_form", direction="outbound").values_list("pk", flat=True)
    )
    sheenas_conversations = set(sheena.conversations.values_list("pk", flat=True))
    assert browser.listed("conversations_conversation", q=sheena.wa_id) == sheenas_conversations
    assert browser.listed("conversations_conversation", q="Sheena Nelson") == sheenas_conversations


def test_pages_link_customer_conversations_and_messages(group_admin, client):
    sheena = customer_with_history(at(0, "09:00"))
    customer_with_history(at(0, "09:30"))
    browser = AdminBrowser(client, group_admin, at(0, "12:00"))
    conversation = sheena.conversations.get(category="marketing")
    message = conversation.opening_message

    customer_page = browser.get(change(sheena)).text
    messages_url = f"{changelist('conversations_message')}?customer__id__exact={sheena.pk}"
    conversations_url = f"{changelist('conversations_conversation')}?customer__id__exact={sheena.pk}"
    assert f'href="{messages_url}"' in customer_page
    assert f'href="{conversations_url}"' in customer_page
    assert browser.listed("conversations_message", customer__id__exact=sheena.pk) == set(
        sheena.messages.values_list("pk", flat=True)
    )
    assert browser.listed("conversations_conversation", customer__id__exact=sheena.pk) == set(
        sheena.conversations.values_list("pk", flat=True)
    )

    assert f'href="{change(sheena)}"' in browser.get(change(conversation)).text
    assert f'href="{change(message)}"' in browser.get(change(conversation)).text
    assert f'href="{change(conversation)}"' in browser.get(change(message)).text
    assert f'href="{change(conversation)}"' in browser.get(changelist("conversations_message")).text
    assert f'href="{change(sheena)}"' in browser.get(changelist("conversations_conversation")).text
    assert browser.listed("conversations_message", conversation__id__exact=conversation.pk) == {message.pk}


# --- Message templates --------------------------------------------------------------------------------


def _components(body: str, kind: str = "BODY") -> str:
    return json.dumps([{"type": kind, "text": body}])


def _template_form(**overrides):
    data = {
        "name": "order_shipped",
        "language": "en_US",
        "category": "UTILITY",
        "status": "PENDING",
        "parameter_format": "POSITIONAL",
        "components": _components("Order {{1}} shipped."),
        "platform_id": "",
        "rejected_reason": "",
    }
    return data | overrides


def test_an_admin_manages_templates_and_the_form_runs_the_model_clean(staff_user, client):
    browser = AdminBrowser(client, staff_user, at(0, "12:00"))
    add = reverse("admin:templates_app_messagetemplate_add")
    assert browser.get(add).status_code == 200

    no_body = browser.post(add, _template_form(components=_components("Hi", kind="HEADER")))
    gap = browser.post(add, _template_form(components=_components("A {{1}} b {{3}} c")))
    assert no_body.status_code == gap.status_code == 200
    no_body_errors = no_body.context["adminform"].form.errors["components"]
    assert "a template needs a BODY component with text" in no_body_errors
    assert any("without gaps" in e for e in gap.context["adminform"].form.errors["components"])
    assert not MessageTemplate.objects.exists()

    assert browser.post(add, _template_form()).status_code == 302
    template = MessageTemplate.objects.get()
    assert (template.name, template.category, template.status) == ("order_shipped", "UTILITY", "PENDING")
    duplicate = browser.post(add, _template_form())
    assert duplicate.status_code == 200 and MessageTemplate.objects.count() == 1

    for url in [
        changelist("templates_app_messagetemplate"),
        change(template),
        reverse("admin:templates_app_messagetemplate_delete", args=[template.pk]),
    ]:
        assert browser.get(url).status_code == 200, url
    assert browser.listed("templates_app_messagetemplate", q="order_ship") == {template.pk}
    model = "templates_app_messagetemplate"
    assert browser.listed(model, status="PENDING", category="UTILITY") == {template.pk}
    assert browser.listed(model, language="pt_BR") == set()


def test_an_admin_reads_what_a_delivery_kept_and_why(group_admin, client, settings):
    """Issue 10: an item of a delivery that was not applied is visible to an admin, with the reason and
    the item as received, from the list of kept items and from the delivery's page."""
    from tests.whatsapp import deliveries as d
    from whatsapp.models import KeptItem, WebhookDelivery

    group = d.message("16505551234", "text", {"body": "hi all"}, timestamp=at(0, "09:00"), group_id="G-1")
    body, header = d.signed(
        d.delivery(
            d.messages_change(group, d.text_message("16505551234", "hello", timestamp=at(0, "09:01")))
        ),
        settings.WHATSAPP_APP_SECRET,
    )
    client.post(
        "/webhooks/whatsapp/",
        data=body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": header},
    )
    item, delivery = KeptItem.objects.get(), WebhookDelivery.objects.get()
    browser = AdminBrowser(client, group_admin, at(0, "10:00"))
    listing = browser.get(changelist("whatsapp_keptitem"))
    assert listing.status_code == 200 and "group conversations are kept apart" in listing.text
    detail = browser.get(change(item)).text
    assert "hi all" in detail and f"#{delivery.pk}" in detail
    assert "group conversations are kept apart" in browser.get(change(delivery)).text


# --- Customers' files (issue 14) -------------------------------------------------------------------


def media_message(n: int, when, kind="image", mime_type="image/png"):
    return services.receive_message(
        wa_id=f"1650555{n:04d}",
        body=f"[{kind.title()}]",
        wamid=f"wamid.media.{n}",
        timestamp=when,
        name=f"Customer {n}",
        wa_type=kind,
        details={"media": {"id": f"88{n}", "mime_type": mime_type, "filename": f"file-{n}"}},
    )


def test_an_admin_sees_each_file_and_why_one_is_missing(group_admin, client):
    from django.core.files.base import ContentFile

    from conversations.services import media as media_services
    from whatsapp import sandbox_media

    when = at(0, "09:00")
    with time_machine.travel(when, tick=False):
        photo, refused = media_message(1, when), media_message(2, when, "document", "application/pdf")
        media_services.store_media(
            photo.media, content=ContentFile(sandbox_media.png()), content_type="image/png", size=99, now=when
        )
        media_services.refuse_media(refused.media, reason="The file is not what it says it is.", now=when)
    browser = AdminBrowser(client, group_admin, at(0, "12:00"))

    assert browser.listed("conversations_messagemedia", status__exact="stored") == {photo.media.pk}
    assert browser.listed("conversations_messagemedia", status__exact="failed") == {refused.media.pk}
    page = browser.get(changelist("conversations_messagemedia")).text
    assert f'href="{reverse("inbox:media", args=[photo.customer_id, photo.pk])}"' in page
    assert reverse("inbox:media", args=[refused.customer_id, refused.pk]) not in page
    # The message's page shows its file, with the reason in the words the agent sees.
    assert "The file is not what it says it is." in browser.get(change(refused)).text
    assert "image/png" in browser.get(change(photo)).text


def test_the_files_changelist_runs_the_same_number_of_queries_for_3_and_30_files(group_admin, client):
    browser = AdminBrowser(client, group_admin, at(0, "12:00"))
    with time_machine.travel(at(0, "09:00"), tick=False):
        for n in range(3):
            media_message(n, at(0, "09:00"))
    with_3 = _queries(browser, changelist("conversations_messagemedia"))
    with time_machine.travel(at(0, "09:00"), tick=False):
        for n in range(3, 30):
            media_message(n, at(0, "09:00"))
    assert browser.get(changelist("conversations_messagemedia")).context["cl"].result_count == 30
    assert _queries(browser, changelist("conversations_messagemedia")) == with_3
