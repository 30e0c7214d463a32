"""Submitting templates to WhatsApp for review from the admin: a real HTTP server on loopback stands in
for the Graph API (tests/whatsapp/fake_graph.py); without credentials, the sandbox reviews them."""

import json

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts import roles
from templates_app.models import MessageTemplate, TemplateEvent
from tests import factories
from tests.whatsapp.fake_graph import Reply, graph_error, template_refusal
from whatsapp import sandbox
from whatsapp import services as channel

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:templates_app_messagetemplate_changelist")
COMPONENTS = [
    {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}"},
    {"type": "BODY", "text": "Hi {{1}}, your order has shipped."},
    {
        "type": "BUTTONS",
        "buttons": [{"type": "URL", "text": "Track", "url": "https://shop.example.com/o/{{1}}"}],
    },
]


@pytest.fixture
def admin_client(client, django_user_model):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user("ada", password="pw", is_staff=True)
    user.groups.set([Group.objects.get(name=roles.ADMINS)])
    client.force_login(user)
    return client


def new_template(**fields) -> MessageTemplate:
    fields.setdefault("name", "order_shipped")
    status = fields.pop("status", "PENDING")
    template = factories.template("UTILITY", status, **fields)
    template.components = COMPONENTS
    template.save()
    return template


def submit(client, *templates):
    response = client.post(
        CHANGELIST, {"action": "submit_selected", "_selected_action": [t.pk for t in templates]}
    )
    assert response.status_code == 302
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_a_new_template_is_created_at_whatsapp_in_the_documented_shape(
    admin_client, graph_settings, fake_graph
):
    template = new_template()

    def created(request):
        if request.method == "POST" and request.path.endswith("/message_templates"):
            return Reply(body={"id": "594425479261596", "status": "PENDING", "category": "UTILITY"})
        return None

    fake_graph.reply_with(created)
    notes = submit(admin_client, template)

    [request] = fake_graph.requests
    version = graph_settings.WHATSAPP_API_VERSION
    assert (request.method, request.path) == ("POST", f"/{version}/102290129340398/message_templates")
    assert request.headers["authorization"] == "Bearer test-token"
    assert request.json == {
        "name": "order_shipped",
        "language": "en_US",
        "category": "UTILITY",
        "parameter_format": "POSITIONAL",
        "components": COMPONENTS,
    }
    template.refresh_from_db()
    assert (template.platform_id, template.status) == ("594425479261596", "PENDING")
    assert notes[0].startswith("Submitted to WhatsApp for review: order_shipped (en_US).")
    event = template.events.get(kind=TemplateEvent.Kind.EDIT)
    assert (event.new, event.reason, event.source) == (
        "submitted to WhatsApp",
        "submitted to WhatsApp by ada",
        "local",
    )


def test_a_template_whatsapp_knows_is_sent_as_a_new_version_and_a_recategorisation_is_recorded(
    admin_client, graph_settings, fake_graph
):
    edited = new_template(name="edited", platform_id="777")
    path = f"/{graph_settings.WHATSAPP_API_VERSION}/777"
    fake_graph.reply_with(lambda request: Reply(body={"success": True}) if request.path == path else None)
    submit(admin_client, edited)
    [request] = fake_graph.requests
    assert request.json == {"category": "UTILITY", "components": COMPONENTS}
    assert MessageTemplate.objects.get(pk=edited.pk).status == "PENDING"

    fresh = new_template(name="promo_as_utility")
    fake_graph.reply_with(
        lambda request: (
            Reply(body={"id": "888", "status": "PENDING", "category": "MARKETING"})
            if request.path.endswith("/message_templates")
            else None
        )
    )
    submit(admin_client, fresh)
    fresh.refresh_from_db()
    assert fresh.category == "MARKETING"  # the platform filed it elsewhere: its word, recorded
    assert fresh.events.filter(kind=TemplateEvent.Kind.CATEGORY, old="UTILITY", new="MARKETING").exists()


def test_a_refusal_says_what_whatsapp_said_and_changes_nothing(admin_client, graph_settings, fake_graph):
    template = new_template()
    fake_graph.enqueue(
        status=400,
        body=graph_error(2388024, "Content in this language already exists", details="order_shipped en_US"),
    )
    notes = submit(admin_client, template)
    assert notes == [
        "Submitting “order_shipped (en_US)” failed, nothing was changed. WhatsApp said (error 2388024): "
        "Content in this language already exists"
    ]
    template.refresh_from_db()
    assert (template.platform_id, template.status) == ("", "PENDING")
    assert not template.events.exists()


def test_a_refusal_with_words_for_the_admin_shows_them_as_whatsapp_wrote_them(
    admin_client, graph_settings, fake_graph
):
    # The documented shape of a creation refusal: code 100, subcode 2388xxx, and error_user_title /
    # error_user_msg meant for the person (Graph API "Handling Errors"). Graph's own message says little.
    template = new_template(name="fresh", platform_id="")
    fake_graph.enqueue(
        status=400,
        body=template_refusal(
            2388299,
            "Template body has variables at the start or end",
            "Variables can't be at the start or end of the template body. Add text before or after them.",
        ),
    )
    notes = submit(admin_client, template)
    assert notes == [
        "Submitting “fresh (en_US)” failed, nothing was changed. WhatsApp said (error 100/2388299): "
        "Template body has variables at the start or end — Variables can't be at the start or end of the "
        "template body. Add text before or after them."
    ]
    assert "Invalid parameter" not in notes[0]
    template.refresh_from_db()
    assert (template.platform_id, template.status) == ("", "PENDING")
    assert not template.events.exists()


def test_a_refusal_of_a_new_version_shows_the_words_too(admin_client, graph_settings, fake_graph):
    edited = new_template(name="edited", platform_id="777")
    fake_graph.enqueue(
        status=400,
        body=template_refusal(
            2388040, "Character limit exceeded", "The body is longer than 1024 characters."
        ),
    )
    [note] = submit(admin_client, edited)
    assert note.endswith(
        "WhatsApp said (error 100/2388040): Character limit exceeded — The body is longer than 1024 "
        "characters."
    )
    assert MessageTemplate.objects.get(pk=edited.pk).status == "PENDING"
    assert not edited.events.exists()


def test_a_deleted_or_broken_template_is_refused_before_any_request(admin_client, graph_settings, fake_graph):
    deleted = new_template(name="gone", status="DELETED", platform_id="5")
    broken = new_template(name="broken")
    MessageTemplate.objects.filter(pk=broken.pk).update(components=[{"type": "BODY", "text": "{{1}}"}])
    notes = submit(admin_client, deleted, broken)
    assert fake_graph.requests == []
    assert notes == [
        "“broken (en_US)” breaks the platform's rules: components: BODY: the body may not start or end with "
        "a placeholder",
        "“gone (en_US)” was deleted at WhatsApp (DELETED): it cannot be submitted again. Create a new "
        "template (a new name) instead.",
    ]


def test_an_agent_cannot_submit(client, django_user_model):
    from django.contrib.auth.models import Group

    agent = django_user_model.objects.create_user("alex", password="pw", is_staff=True)
    agent.groups.set([Group.objects.get(name=roles.AGENTS)])
    client.force_login(agent)
    template = new_template()
    response = client.post(CHANGELIST, {"action": "submit_selected", "_selected_action": [template.pk]})
    assert response.status_code in (302, 403)
    template.refresh_from_db()
    assert template.platform_id == ""


def test_in_the_sandbox_a_submitted_template_is_approved_by_webhook_and_a_sync_keeps_it(
    admin_client, settings
):
    settings.WHATSAPP_SANDBOX = True
    template = new_template()
    notes = submit(admin_client, template)
    assert notes[0].startswith("Submitted to WhatsApp for review")
    template.refresh_from_db()
    assert (
        template.platform_id.startswith(sandbox.SANDBOX_TEMPLATE_ID_PREFIX) and template.status == "PENDING"
    )

    # What the scheduled review task runs: a message_template_status_update through the webhook path.
    sandbox.review_template(template_id=template.platform_id, name=template.name, language=template.language)
    template.refresh_from_db()
    assert template.status == "APPROVED" and template.is_sendable
    assert template.events.filter(kind=TemplateEvent.Kind.STATUS, new="APPROVED", source="platform").exists()

    report = channel.sync_template_catalogue()
    assert "order_shipped (en_US)" in report.unchanged and not report.removed_at_platform
    listed = json.loads(json.dumps(sandbox.submitted_templates()))
    assert [t["id"] for t in listed] == [template.platform_id]
