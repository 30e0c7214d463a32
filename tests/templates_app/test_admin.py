"""The template admin, the product's template screen: for admins only; a list with coloured statuses,
usage counts and a constant number of queries; a detail page with the components, a preview with example
values, what the status means and the usage; validation errors next to the field that is wrong; local
edits that make an approved template PENDING; sync, import and export."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import roles
from config import demo
from conversations import services as conversation_services
from conversations.models import Conversation, Message
from templates_app.models import MessageTemplate, TemplateEvent
from tests import factories

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:templates_app_messagetemplate_changelist")
ADD = reverse("admin:templates_app_messagetemplate_add")
SYNC = reverse("admin:templates_app_messagetemplate_sync")
IMPORT = reverse("admin:templates_app_messagetemplate_import")

RICH = [
    {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}", "example": {"header_text": ["860198"]}},
    {"type": "BODY", "text": "Hi {{1}}, it ships {{2}}.", "example": {"body_text": [["Pablo", "today"]]}},
    {"type": "FOOTER", "text": "Reply STOP to opt out"},
    {
        "type": "BUTTONS",
        "buttons": [
            {"type": "QUICK_REPLY", "text": "Thanks"},
            {"type": "URL", "text": "Track", "url": "https://x.example/t"},
        ],
    },
]


def change_url(template) -> str:
    return reverse("admin:templates_app_messagetemplate_change", args=[template.pk])


def member(django_user_model, username, role, *, is_staff=False):
    user = django_user_model.objects.create_user(username, first_name=username.title(), is_staff=is_staff)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def admin_user(django_user_model):
    return member(django_user_model, "ada", roles.ADMINS, is_staff=True)


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def agent(django_user_model):
    return member(django_user_model, "alex", roles.AGENTS)


def form_data(**overrides) -> dict:
    data = {
        "name": "order_shipped",
        "language": "en_US",
        "category": "UTILITY",
        "parameter_format": "POSITIONAL",
        "components": json.dumps([{"type": "BODY", "text": "Order {{1}} shipped."}]),
        # The inline formset's management form (history; never added to).
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
    }
    return data | overrides


def errors(response) -> dict:
    assert response.status_code == 200, response.status_code
    return response.context["adminform"].form.errors


def sent(template, *, agent=None, times=1):
    return [
        conversation_services.send_template(
            customer=factories.customer(), template=template, params=["Ann"], agent=agent
        )
        for _ in range(times)
    ]


# --- The list -----------------------------------------------------------------------------------------------


def test_the_list_shows_status_badges_usage_and_the_tools(admin_client, agent):
    approved = factories.template("UTILITY", "APPROVED", name="order_update")
    factories.template("MARKETING", "PAUSED", name="winter_promo")
    factories.template("MARKETING", "REJECTED", name="free_gift", rejected_reason="PROMOTIONAL")
    sent(approved, agent=agent, times=2)

    response = admin_client.get(CHANGELIST)
    text = response.text
    assert response.status_code == 200
    assert (
        '<span class="tpl-status tpl-status--ok" title="Approved by WhatsApp: agents can send it.">'
        "Approved</span>" in text
    )
    assert 'tpl-status--stopped" title="Paused by WhatsApp' in text
    assert 'title="WhatsApp refused it: promotional content in a template that is not MARKETING.' in text
    assert f'<a href="/admin/conversations/message/?template__id__exact={approved.pk}">2</a>' in text
    assert "/static/admin_extra/templates.css" in text
    assert (
        'style="' not in text.split('id="result_list"')[1].split("</table>")[0]
    )  # CSP: classes, no inline styles
    # Sync is a POST with CSRF; import has its own page; the statuses are explained.
    assert f'<form method="post" action="{SYNC}" class="tpl-tool-form">' in text
    assert 'name="csrfmiddlewaretoken"' in text.split(SYNC)[1].split("</form>")[0]
    assert f'href="{IMPORT}"' in text
    assert "What the statuses mean" in text and "Waiting for WhatsApp" in text
    headers = ["name", "language", "category", "status_badge", "placeholders", "last_synced_at", "times_used"]
    for column in headers:
        assert f'class="sortable column-{column}' in text, column


def _queries(client, url, **params) -> int:
    client.get(url, params)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    "params",
    [{}, {"status": "APPROVED", "category": "MARKETING", "q": "news"}, {"o": "7"}],
    ids=["plain", "filtered-and-searched", "ordered-by-times-used"],
)
def test_the_list_runs_the_same_number_of_queries_for_3_and_30_templates(admin_client, agent, params):
    def add(first, last):
        for n in range(first, last):
            template = factories.template(
                "MARKETING", "APPROVED", name=f"promo_{n}", body="Hi {{1}}, we have news."
            )
            sent(template, agent=agent, times=2)

    add(0, 3)
    with_3 = _queries(admin_client, CHANGELIST, **params)
    add(3, 30)
    assert admin_client.get(CHANGELIST, params).context["cl"].result_count == 30
    assert _queries(admin_client, CHANGELIST, **params) == with_3


def listed(client, **params) -> set[str]:
    response = client.get(CHANGELIST, params)
    assert response.status_code == 200
    return {t.name for t in response.context["cl"].result_list}


def test_search_by_name_and_by_body_text_and_filters(admin_client):
    factories.template(
        "UTILITY", "APPROVED", name="order_update", body="Your parcel {{1}} left the warehouse."
    )
    factories.template("MARKETING", "PAUSED", name="winter_promo", body="Hi {{1}}, winter deals are here.")
    factories.template(
        "UTILITY", "PENDING", name="order_delay", language="pt_BR", body="O pedido {{1}} atrasou."
    )

    assert listed(admin_client, q="order") == {"order_update", "order_delay"}
    assert listed(admin_client, q="PARCEL") == {"order_update"}  # body text, any case
    assert listed(admin_client, q="winter deals") == {"winter_promo"}
    assert listed(admin_client, status="PAUSED") == {"winter_promo"}
    assert listed(admin_client, category="UTILITY", language="pt_BR") == {"order_delay"}


# --- The detail page ----------------------------------------------------------------------------------------


def test_the_page_shows_components_a_preview_with_examples_and_the_status_meaning(admin_client):
    template = factories.template(
        "UTILITY", "REJECTED", name="order_update", rejected_reason="INCORRECT_CATEGORY"
    )
    template.components = RICH
    template.save()

    text = admin_client.get(change_url(template)).text

    assert "WhatsApp refused it: the category does not match the content." in text
    assert "Reason given by WhatsApp: <code>INCORRECT_CATEGORY</code>" in text
    raw = text.split("tpl-card--raw")[1].split("tpl-card--preview")[0]
    assert '<span class="tpl-part tpl-part--placeholder">{{1}}</span>' in raw
    preview = text.split("tpl-card--preview")[1]
    assert '<span class="tpl-part tpl-part--example">Pablo</span>' in preview
    assert '<span class="tpl-part tpl-part--example">860198</span>' in preview
    assert "Reply STOP to opt out" in preview and '<span class="tpl-button">Thanks</span>' in preview
    assert "quick reply" in preview and "url: https://x.example/t" in preview
    # The JSON is editable, pretty-printed.
    assert "&quot;type&quot;: &quot;HEADER&quot;,\n    &quot;format&quot;" in text
    assert "Never sent." in text


def test_the_page_counts_usage_by_agent_and_links_messages_and_conversations(
    admin_client, agent, django_user_model
):
    template = factories.template("MARKETING", "APPROVED", name="summer_sale")
    other = member(django_user_model, "sam", roles.AGENTS)
    mine = sent(template, agent=agent, times=2)
    sent(template, agent=other)
    customer = mine[0].customer
    joined = conversation_services.send_template(
        customer=customer, template=template, params=["B"], agent=agent
    )
    sent(factories.template("MARKETING", "APPROVED", name="unrelated"), agent=agent)

    text = admin_client.get(change_url(template)).text

    messages_url = f"/admin/conversations/message/?template__id__exact={template.pk}"
    agent_url = f"{messages_url}&amp;agent__id__exact={agent.pk}"
    conversations_url = (
        f"/admin/conversations/conversation/?opening_message__template__id__exact={template.pk}"
    )
    assert f'<a href="{messages_url}">Sent 4 times</a>' in text
    assert f'<li><a href="{agent_url}">Alex (alex)</a>: 3</li>' in text
    assert "Sam (sam)</a>: 1</li>" in text
    assert "Sent under category: MARKETING: 4" in text
    assert f'<a href="{conversations_url}">Opened 3 conversations</a>' in text  # the 4th joined an open one

    def shown(url, model):
        response = admin_client.get(url.replace("&amp;", "&"))
        assert response.status_code == 200, url
        assert "?e=1" not in response.get("Location", "")
        return {obj.pk for obj in response.context["cl"].result_list}

    all_sent = set(Message.objects.filter(template=template).values_list("pk", flat=True))
    assert shown(messages_url, Message) == all_sent
    assert shown(agent_url, Message) == {*(m.pk for m in mine), joined.pk}
    assert shown(conversations_url, Conversation) == set(
        Conversation.objects.filter(opening_message__template=template).values_list("pk", flat=True)
    )
    assert joined.conversation_id == mine[0].conversation_id


def test_the_detail_page_runs_the_same_number_of_queries_however_often_the_template_was_sent(
    admin_client, agent
):
    template = factories.template("MARKETING", "APPROVED", name="summer_sale")
    sent(template, agent=agent, times=2)
    few = _queries(admin_client, change_url(template))
    sent(template, agent=agent, times=20)
    assert _queries(admin_client, change_url(template)) == few


# --- Adding and editing: errors next to the field -----------------------------------------------------------


def test_add_refuses_what_the_platform_would_refuse_with_each_error_on_its_field(admin_client):
    response = admin_client.post(
        ADD,
        form_data(
            name="Order Shipped",
            language="en-us",
            components=json.dumps(
                [{"type": "BODY", "text": "{{1}} shipped"}, {"type": "FOOTER", "text": "x" * 61}]
            ),
        ),
    )
    found = errors(response)
    assert set(found) == {"name", "language", "components"}
    assert found["name"] == [
        "use only lowercase letters, digits and _ (no spaces, capitals or dashes): try “order_shipped”"
    ]
    assert "write “en_US”" in found["language"][0]
    assert found["components"] == [
        "BODY: the body may not start or end with a placeholder",
        "FOOTER: at most 60 characters; this one has 61",
    ]
    assert not MessageTemplate.objects.exists()
    # Shown next to the fields on the page.
    assert 'class="errorlist" id="id_name_error"' in response.text


def test_invalid_json_says_where_it_breaks_and_keeps_what_was_typed(admin_client):
    typed = '[{"type": "BODY", "text": "Hi"},]'
    found = errors(admin_client.post(ADD, form_data(components=typed)))
    assert found == {
        "components": [
            "This is not valid JSON: expecting value at line 1, column 33. "
            "Check for a missing comma or quote, "
            "or a comma after the last item."
        ]
    }
    response = admin_client.post(ADD, form_data(components=typed))
    assert (
        "[{&quot;type&quot;: &quot;BODY&quot;, &quot;text&quot;: &quot;Hi&quot;},]</textarea>"
        in response.text
    )


def test_a_duplicate_name_and_language_is_refused_on_the_name(admin_client):
    factories.template("UTILITY", "APPROVED", name="order_shipped")
    found = errors(admin_client.post(ADD, form_data()))
    assert found == {
        "name": [
            "a template named “order_shipped” already exists in en_US: "
            "a name and language are one template at "
            "WhatsApp, so edit that one, or choose another name or language"
        ]
    }
    assert admin_client.post(ADD, form_data(language="pt_BR")).status_code == 302  # another language is fine


def test_a_new_template_is_pending_whatever_is_posted(admin_client):
    response = admin_client.post(ADD, form_data(status="APPROVED", platform_id="999"))
    assert response.status_code == 302
    template = MessageTemplate.objects.get()
    assert (template.status, template.platform_id, template.body_text) == (
        "PENDING",
        "",
        "Order {{1}} shipped.",
    )
    event = template.events.get()
    assert (event.kind, event.new, event.source, event.reason) == (
        "edit",
        "created",
        "local",
        "added in the admin by ada",
    )
    assert template in MessageTemplate.objects.filter(status="PENDING")
    add_page = admin_client.get(ADD).text
    assert "&quot;type&quot;: &quot;BODY&quot;" in add_page  # a starting point for the JSON


def test_editing_an_approved_template_makes_it_pending_and_is_recorded(admin_client, agent):
    template = factories.template("UTILITY", "APPROVED", name="order_shipped", body="Order {{1}} shipped.")
    message = sent(template, agent=agent)[0]
    changed = form_data(
        category="MARKETING", components=json.dumps([{"type": "BODY", "text": "Order {{1}} is on its way."}])
    )

    assert admin_client.post(change_url(template), changed).status_code == 302

    template.refresh_from_db()
    assert (template.status, template.category, template.body_text) == (
        "PENDING",
        "MARKETING",
        "Order {{1}} is on its way.",
    )
    events = list(template.events.order_by("id").values_list("kind", "old", "new", "source"))
    assert events == [
        ("category", "UTILITY", "MARKETING", "local"),
        ("edit", "", "category, components", "local"),
        ("status", "APPROVED", "PENDING", "local"),
    ]
    assert "WhatsApp must approve the new version" in template.events.get(kind="status").reason
    message.refresh_from_db()
    assert message.template_category == "UTILITY"  # sent under UTILITY, stays so
    assert template not in MessageTemplate.objects.filter(status="APPROVED")  # gone from the compose picker
    assert admin_client.get(CHANGELIST, {"q": "on its way"}).context["cl"].result_count == 1


def test_saving_without_a_change_keeps_the_status(admin_client):
    template = factories.template("UTILITY", "APPROVED", name="order_shipped", body="Order {{1}} shipped.")
    assert admin_client.post(change_url(template), form_data()).status_code == 302
    template.refresh_from_db()
    assert template.status == "APPROVED" and not template.events.exists()


def test_a_template_the_platform_knows_cannot_be_renamed(admin_client):
    template = factories.template(
        "UTILITY", "APPROVED", name="order_shipped", platform_id="101", body="Order {{1}} shipped."
    )
    renamed = errors(admin_client.post(change_url(template), form_data(name="order_sent")))
    assert (
        "does not allow renaming it or changing its language: add a new template instead"
        in renamed["name"][0]
    )
    relanguaged = errors(admin_client.post(change_url(template), form_data(language="en_GB")))
    assert set(relanguaged) == {"language"}


def test_export_action_downloads_the_selected_templates_as_json(admin_client):
    chosen = factories.template("UTILITY", "APPROVED", name="order_update")
    factories.template("UTILITY", "APPROVED", name="not_chosen")
    response = admin_client.post(CHANGELIST, {"action": "export_selected", "_selected_action": [chosen.pk]})
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="templates-')
    assert [t["name"] for t in json.loads(response.content)] == ["order_update"]


# --- Sync and import pages ----------------------------------------------------------------------------------


def test_sync_with_whatsapp_in_the_sandbox_brings_the_demo_catalogue(admin_client):
    assert admin_client.get(SYNC).status_code == 405
    response = admin_client.post(SYNC)
    assert response.status_code == 302 and response["Location"] == CHANGELIST
    notes = [str(m) for m in get_messages(response.wsgi_request)]
    created = len(demo.DEMO_TEMPLATES)
    assert notes == [
        f"Synced with WhatsApp: {created} created, 0 updated, 0 unchanged, 0 removed at the platform."
    ]
    approved = [t for t in demo.DEMO_TEMPLATES if t.status == "APPROVED"]
    assert MessageTemplate.objects.filter(status="APPROVED").count() == len(approved)


def test_sync_failure_says_what_the_platform_said(admin_client, graph_settings, fake_graph):
    factories.template("UTILITY", "APPROVED", name="gone_at_platform", platform_id="5")
    fake_graph.enqueue(status=401, body={"error": {"message": "Invalid OAuth access token.", "code": 190}})
    response = admin_client.post(SYNC)
    notes = [str(m) for m in get_messages(response.wsgi_request)]
    assert notes == [
        "Sync with WhatsApp failed, nothing was changed. "
        "WhatsApp said (error 190): Invalid OAuth access token."
    ]
    assert MessageTemplate.objects.get().status == "APPROVED"


def test_sync_reports_templates_removed_at_the_platform(admin_client, graph_settings, fake_graph):
    factories.template("UTILITY", "APPROVED", name="gone_at_platform", platform_id="5")
    fake_graph.templates([[]])
    notes = [str(m) for m in get_messages(admin_client.post(SYNC).wsgi_request)]
    assert notes == [
        "Synced with WhatsApp: 0 created, 0 updated, 0 unchanged, 1 removed at the platform.",
        "No longer at WhatsApp, now marked DELETED: gone_at_platform (en_US).",
    ]


def test_sync_needs_the_csrf_token(admin_user):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin_user)
    assert strict.post(SYNC).status_code == 403
    assert not MessageTemplate.objects.exists()


def upload(document, name="templates.json"):
    content = document if isinstance(document, bytes) else json.dumps(document).encode()
    return SimpleUploadedFile(name, content, content_type="application/json")


def test_import_page_imports_a_file(admin_client):
    page = admin_client.get(IMPORT)
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    assert "All or nothing" in page.text
    document = [
        {
            "name": "welcome",
            "language": "en",
            "category": "UTILITY",
            "status": "APPROVED",
            "components": [{"type": "BODY", "text": "Welcome {{1}}, glad you are here."}],
        }
    ]

    response = admin_client.post(IMPORT, {"file": upload(document)})

    assert response.status_code == 302 and response["Location"] == CHANGELIST
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Imported: 1 created, 0 updated, 0 unchanged."
    ]
    assert MessageTemplate.objects.get().status == "PENDING"


def test_import_page_lists_each_refusal_and_imports_nothing(admin_client):
    document = [
        {
            "name": "fine",
            "language": "en",
            "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Fine."}],
        },
        {
            "name": "Not Fine",
            "language": "en",
            "category": "UTILITY",
            "components": [{"type": "BODY", "text": "x"}],
        },
    ]
    response = admin_client.post(IMPORT, {"file": upload(document)})
    assert response.status_code == 200
    assert "Nothing imported" in response.text
    assert "<strong>item 2 (Not Fine (en))</strong>" in response.text
    assert "<code>name</code>: use only lowercase letters" in response.text
    assert not MessageTemplate.objects.exists()


def test_import_page_check_only_and_bad_files(admin_client):
    document = [
        {
            "name": "fine",
            "language": "en",
            "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Ok."}],
        }
    ]
    checked = admin_client.post(IMPORT, {"file": upload(document), "check_only": "on"})
    assert "Check only: nothing imported" in checked.text and "New: fine (en)" in checked.text
    assert not MessageTemplate.objects.exists()
    broken = admin_client.post(IMPORT, {"file": upload(b'[{"name": }]')})
    assert broken.context["form"].errors == {
        "file": ["The file is not valid JSON: expecting value at line 1, column 11."]
    }


# --- Who may ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [roles.AGENTS, roles.SUPERVISORS])
def test_agents_and_supervisors_never_reach_the_template_admin(client, django_user_model, role):
    user = member(django_user_model, "someone", role)
    template = factories.template("UTILITY", "APPROVED", name="order_update")
    client.force_login(user)
    for url in (CHANGELIST, ADD, change_url(template), IMPORT):
        response = client.get(url)
        assert response.status_code == 302, url
        location = urlsplit(response["Location"])
        assert (location.path, parse_qs(location.query)) == ("/admin/login/", {"next": [url]})
    assert client.post(SYNC).status_code == 302
    assert client.post(change_url(template), form_data(name="hacked")).status_code == 302
    assert MessageTemplate.objects.get().name == "order_update"
    assert not TemplateEvent.objects.exists()


def test_staff_without_the_change_permission_can_only_look(client, django_user_model):
    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(*Group.objects.get(name=roles.SUPERVISORS).permissions.all())
    template = factories.template("UTILITY", "APPROVED", name="order_update")
    client.force_login(viewer)
    page = client.get(change_url(template))
    assert page.status_code == 200 and 'name="_save"' not in page.text
    assert client.post(change_url(template), form_data(name="other")).status_code == 403
    assert client.get(IMPORT).status_code == 403
    assert client.post(SYNC).status_code == 403
    assert f'action="{SYNC}"' not in client.get(CHANGELIST).text
