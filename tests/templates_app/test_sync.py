"""Sync with the platform: `templates_app.services.sync_templates` against a real loopback HTTP server
serving `GET /{WABA_ID}/message_templates` in the platform's paged shape (paging.next), the sandbox's demo
catalogue, and `manage.py sync_templates` with its progress bar."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from config import demo
from conversations import services as conversation_services
from templates_app.models import MessageTemplate, TemplateEvent
from templates_app.services import sync_templates
from tests import factories
from tests.whatsapp.fake_graph import Reply
from whatsapp.client import GraphClient, PlatformError
from whatsapp.sandbox import SandboxClient, template_listing_page
from whatsapp.services import sync_template_catalogue

pytestmark = pytest.mark.django_db

WABA = "102290129340398"


def body(text):
    return [{"type": "BODY", "text": text}]


def item(platform_id, name, *, status="APPROVED", category="UTILITY", text="Hello {{1}}, thanks.", **extra):
    return {
        "id": platform_id,
        "name": name,
        "language": extra.pop("language", "en_US"),
        "status": status,
        "category": category,
        "parameter_format": "POSITIONAL",
        "components": body(text),
        **extra,
    }


@pytest.fixture
def catalogue():
    """What we hold before the sync, one template per case."""
    return {
        "approved_since": factories.template(
            "UTILITY", "PENDING", name="order_update", platform_id="101", body="Hello {{1}}, thanks."
        ),
        "unchanged": factories.template(
            "UTILITY", "APPROVED", name="summer_note", platform_id="102", body="Hello {{1}}, thanks."
        ),
        "gone": factories.template("MARKETING", "APPROVED", name="old_promo", platform_id="103"),
        "local_draft": factories.template("UTILITY", "PENDING", name="draft_only"),
        "linked_by_name": factories.template(
            "UTILITY", "APPROVED", name="follow_up", language="pt_BR", body="Hello {{1}}, thanks."
        ),
        "recategorised": factories.template(
            "UTILITY", "APPROVED", name="renewal", platform_id="105", body="Hello {{1}}, thanks."
        ),
    }


PAGES = [
    [item("101", "order_update"), item("102", "summer_note")],
    [
        item("104", "follow_up", language="pt_BR"),
        item("105", "renewal", category="MARKETING"),
        item("106", "welcome", text="Welcome {{1}}, glad you are here."),
    ],
    [
        item("107", "free_gift", status="REJECTED", category="MARKETING", rejected_reason="PROMOTIONAL"),
        item("108", "newsletter_thing", category="NEWSLETTER"),
    ],
]


def graph(fake_graph) -> GraphClient:
    return GraphClient(
        base_url=fake_graph.url, version="v23.0", phone_number_id="1", access_token="test-token"
    )


def test_a_sync_reads_every_page_and_reports_what_it_did(fake_graph, catalogue):
    fake_graph.templates(PAGES)
    recategorised = catalogue["recategorised"]
    sent = conversation_services.send_template(
        customer=factories.customer(), template=recategorised, params=["Ann"]
    )
    before = timezone.now()

    with graph(fake_graph) as client:
        report = sync_templates(client=client, waba_id=WABA)

    requests = fake_graph.requests
    assert [(r.method, r.path) for r in requests] == [("GET", f"/v23.0/{WABA}/message_templates")] * 3
    assert [r.query.get("after") for r in requests] == [None, "page-1", "page-2"]
    assert all(r.headers["authorization"] == "Bearer test-token" for r in requests)
    assert all("access_token" not in r.query for r in requests)  # the token in paging.next is not resent

    assert report.created == ("welcome (en_US)", "free_gift (en_US)")
    assert report.updated == ("order_update (en_US)", "follow_up (pt_BR)", "renewal (en_US)")
    assert report.unchanged == ("summer_note (en_US)",)
    assert report.removed_at_platform == ("old_promo (en_US)",)
    assert report.skipped == (
        "newsletter_thing (en_US): the category “NEWSLETTER” is not one of MARKETING, UTILITY, "
        "AUTHENTICATION, so this inbox cannot file it",
    )
    assert report.summary == "2 created, 3 updated, 1 unchanged, 1 removed at the platform, 1 skipped"

    templates = {t.name: t for t in MessageTemplate.objects.all()}
    assert templates["order_update"].status == "APPROVED"
    assert (templates["follow_up"].platform_id, templates["follow_up"].status) == ("104", "APPROVED")
    assert templates["renewal"].category == "MARKETING"
    assert templates["old_promo"].status == "DELETED"
    assert (templates["free_gift"].status, templates["free_gift"].rejected_reason) == (
        "REJECTED",
        "PROMOTIONAL",
    )
    assert templates["welcome"].body_text == "Welcome {{1}}, glad you are here."
    assert templates["draft_only"].status == "PENDING" and templates["draft_only"].last_synced_at is None
    synced = {name for name, t in templates.items() if t.last_synced_at and t.last_synced_at >= before}
    assert synced == {"order_update", "summer_note", "follow_up", "renewal", "welcome", "free_gift"}

    events = {
        (e.template.name, e.kind, e.old, e.new, e.source)
        for e in TemplateEvent.objects.select_related("template")
    }
    assert events == {
        ("order_update", "status", "PENDING", "APPROVED", "sync"),
        ("follow_up", "edit", "", "platform id", "sync"),
        ("renewal", "category", "UTILITY", "MARKETING", "sync"),
        ("old_promo", "status", "APPROVED", "DELETED", "sync"),
        ("welcome", "edit", "", "created", "sync"),
        ("free_gift", "edit", "", "created", "sync"),
    }
    # A message already sent keeps the category it was sent under.
    sent.refresh_from_db()
    assert sent.template_category == "UTILITY"


def test_a_second_sync_changes_nothing(fake_graph, catalogue):
    fake_graph.templates(PAGES)
    with graph(fake_graph) as client:
        sync_templates(client=client, waba_id=WABA)
        events = TemplateEvent.objects.count()
        again = sync_templates(client=client, waba_id=WABA)

    assert (again.created, again.updated) == ((), ())
    assert len(again.unchanged) == 6
    assert again.removed_at_platform == ("old_promo (en_US)",)  # still reported, recorded once
    assert TemplateEvent.objects.count() == events


def test_the_platforms_version_replaces_a_local_edit_and_says_so(fake_graph):
    template = factories.template(
        "UTILITY", "PENDING", name="order_update", platform_id="101", body="Edited {{1}} here."
    )
    fake_graph.templates([[item("101", "order_update", text="Hello {{1}}, thanks.")]])
    with graph(fake_graph) as client:
        report = sync_templates(client=client, waba_id=WABA)

    template.refresh_from_db()
    assert report.updated == ("order_update (en_US)",)
    assert (template.body_text, template.status) == ("Hello {{1}}, thanks.", "APPROVED")
    edit = template.events.get(kind="edit")
    assert (edit.new, edit.reason, edit.source) == (
        "components",
        "replaced by the platform's version",
        "sync",
    )


def test_a_failed_page_changes_nothing(fake_graph, catalogue):
    """Every page is fetched before anything is written: removals are decided on a complete list only."""
    fake_graph.templates(PAGES)
    fake_graph.reply_with(
        lambda request: Reply(status=500, body="oops") if request.query.get("after") == "page-1" else None
    )

    with graph(fake_graph) as client, pytest.raises(PlatformError) as raised:
        sync_templates(client=client, waba_id=WABA)

    assert raised.value.retryable
    assert MessageTemplate.objects.get(name="old_promo").status == "APPROVED"
    assert MessageTemplate.objects.get(name="order_update").status == "PENDING"
    assert not MessageTemplate.objects.filter(name="welcome").exists()
    assert not TemplateEvent.objects.exists()


def test_progress_is_reported_while_fetching_and_applying(fake_graph):
    fake_graph.templates(PAGES)
    seen = []
    with graph(fake_graph) as client:
        sync_templates(client=client, waba_id=WABA, progress=lambda *args: seen.append(args))
    assert seen[:7] == [("fetch", n, None) for n in range(1, 8)]
    assert seen[7:] == [("apply", n, 7) for n in range(1, 8)]


# --- The command -------------------------------------------------------------------------------------------


def test_the_command_syncs_with_the_configured_account_and_draws_a_progress_bar(
    graph_settings, fake_graph, catalogue
):
    fake_graph.templates(PAGES)
    out, err = io.StringIO(), io.StringIO()
    call_command("sync_templates", "--progress", stdout=out, stderr=err)

    assert fake_graph.requests[0].path == f"/v23.0/{WABA}/message_templates"
    assert (
        "Synced: 2 created, 3 updated, 1 unchanged, 1 removed at the platform, 1 skipped." in out.getvalue()
    )
    assert "Removed at the platform (now DELETED):\n  old_promo (en_US)" in out.getvalue()
    lines = err.getvalue().splitlines()  # not a terminal: a few plain lines
    assert lines == [
        "fetch  1 template received",
        "apply  [####..........................] 1/7 (14%)",
        "apply  [########......................] 2/7 (28%)",
        "apply  [#################.............] 4/7 (57%)",
        "apply  [#########################.....] 6/7 (85%)",
        "apply  [##############################] 7/7 (100%)",
    ]


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_the_bar_redraws_one_line(graph_settings, fake_graph):
    fake_graph.templates(PAGES)
    err = Terminal()
    call_command("sync_templates", stdout=io.StringIO(), stderr=err)
    drawn = err.getvalue()
    assert drawn.count("\r") == 14  # 7 fetched, 7 applied
    assert "\rfetch  7 templates received\x1b[K" in drawn
    assert drawn.endswith("\rapply  [##############################] 7/7 (100%)\x1b[K\n")


def test_the_command_explains_a_refusal_and_changes_nothing(graph_settings, fake_graph, catalogue):
    fake_graph.enqueue(
        status=401,
        body={"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}},
    )
    with pytest.raises(CommandError, match="Sync failed, nothing was changed: WhatsApp error 190"):
        call_command("sync_templates", stdout=io.StringIO(), stderr=io.StringIO())
    assert MessageTemplate.objects.get(name="old_promo").status == "APPROVED"


def test_the_command_needs_a_business_account_with_real_credentials(graph_settings):
    graph_settings.WHATSAPP_BUSINESS_ACCOUNT_ID = ""
    with pytest.raises(CommandError, match="WHATSAPP_BUSINESS_ACCOUNT_ID is not set"):
        call_command("sync_templates", stdout=io.StringIO(), stderr=io.StringIO())


# --- The sandbox ------------------------------------------------------------------------------------------


def test_the_sandbox_lists_the_demo_catalogue_in_pages():
    first = template_listing_page(limit=100)
    assert len(first["data"]) == 4 and first["paging"]["next"]
    assert set(first["data"][0]) >= {
        "id",
        "name",
        "language",
        "status",
        "category",
        "parameter_format",
        "components",
    }
    listed = list(SandboxClient().list_templates("sandbox-waba"))
    assert [t["name"] for t in listed] == [t.name for t in demo.DEMO_TEMPLATES]
    assert len({t["id"] for t in listed}) == len(listed)


def test_sync_without_credentials_serves_the_demo_catalogue(settings):
    assert settings.WHATSAPP_SANDBOX
    out = io.StringIO()
    call_command("sync_templates", stdout=out, stderr=io.StringIO())

    created = len(demo.DEMO_TEMPLATES)
    assert f"Synced: {created} created, 0 updated, 0 unchanged, 0 removed at the platform." in out.getvalue()
    statuses = dict(MessageTemplate.objects.values_list("name", "status"))
    assert statuses == {t.name: t.status for t in demo.DEMO_TEMPLATES}
    gift = MessageTemplate.objects.get(name="free_gift")
    assert gift.rejected_reason == "PROMOTIONAL" and gift.last_synced_at is not None
    for template in MessageTemplate.objects.all():
        template.full_clean()  # the demo catalogue passes the platform's rules


def test_the_sandbox_sync_links_the_seeded_demo_templates():
    demo._seed_templates()
    first = sync_template_catalogue()
    assert (len(first.created), len(first.updated)) == (
        0,
        len(demo.DEMO_TEMPLATES),
    )  # linked to the sandbox's platform ids
    assert len(sync_template_catalogue().unchanged) == len(demo.DEMO_TEMPLATES)


def test_a_listed_template_we_cannot_take_is_skipped_not_marked_deleted(fake_graph):
    ours = factories.template("UTILITY", "APPROVED", name="odd_one", platform_id="108")
    fake_graph.templates([[item("108", "odd_one", category="NEWSLETTER")]])
    with graph(fake_graph) as client:
        report = sync_templates(client=client, waba_id=WABA)
    assert report.skipped == (
        "odd_one (en_US): the category “NEWSLETTER” is not one of MARKETING, UTILITY, AUTHENTICATION, "
        "so this inbox cannot file it",
    )
    assert report.removed_at_platform == ()
    ours.refresh_from_db()
    assert ours.status == "APPROVED"
