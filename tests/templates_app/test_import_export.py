"""Import and export of the catalogue as JSON in the platform's own shape: `manage.py export_templates`,
`manage.py import_templates`, and the services behind them. An import is checked with the platform's
rules, all or nothing, and is a local edit: new and changed templates are PENDING."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from templates_app.models import MessageTemplate, TemplateEvent
from templates_app.services import export_templates, import_templates
from tests import factories

pytestmark = pytest.mark.django_db

RICH = [
    {"type": "HEADER", "format": "TEXT", "text": "Your order"},
    {"type": "BODY", "text": "Hi {{1}}, order {{2}} shipped.", "example": {"body_text": [["Ann", "7"]]}},
    {"type": "FOOTER", "text": "Reply STOP to opt out"},
    {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Thanks"}]},
]


@pytest.fixture
def catalogue():
    rich = factories.template("UTILITY", "APPROVED", name="order_update", platform_id="101")
    rich.components = RICH
    rich.save()
    factories.template("MARKETING", "PAUSED", name="winter_promo")
    named = factories.template(
        "UTILITY", "REJECTED", name="appointment", language="pt_BR", parameter_format="NAMED"
    )
    named.components = [{"type": "BODY", "text": "Olá {{first_name}}, até amanhã."}]
    named.save()
    return MessageTemplate.objects.all()


def export(*args) -> list[dict]:
    out = io.StringIO()
    call_command("export_templates", *args, stdout=out)
    return json.loads(out.getvalue())


def test_export_writes_the_platforms_shape_sorted_for_review(catalogue):
    exported = export()
    assert [(t["name"], t["language"]) for t in exported] == [
        ("appointment", "pt_BR"),
        ("order_update", "en_US"),
        ("winter_promo", "en_US"),
    ]
    assert all(
        list(t) == ["name", "language", "category", "status", "parameter_format", "components"]
        for t in exported
    )
    assert exported[1] == {
        "name": "order_update",
        "language": "en_US",
        "category": "UTILITY",
        "status": "APPROVED",
        "parameter_format": "POSITIONAL",
        "components": RICH,
    }
    assert [t["name"] for t in export("--status", "paused")] == ["winter_promo"]


def test_export_to_a_file_keeps_unicode_readable(catalogue, tmp_path):
    path = tmp_path / "templates.json"
    err = io.StringIO()
    call_command("export_templates", str(path), stdout=io.StringIO(), stderr=err)
    text = path.read_text(encoding="utf-8")
    assert "Olá {{first_name}}, até amanhã." in text and text.endswith("\n")
    assert err.getvalue().strip() == f"Exported 3 templates to {path}."


def test_round_trip_into_an_empty_environment(catalogue, tmp_path):
    path = tmp_path / "templates.json"
    call_command("export_templates", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    before = json.loads(path.read_text())
    MessageTemplate.objects.all().delete()

    out = io.StringIO()
    call_command("import_templates", str(path), stdout=out, stderr=io.StringIO())

    assert "3 created, 0 updated, 0 unchanged." in out.getvalue()
    after = export_templates()
    # Everything but the status came across; an import cannot approve: WhatsApp does (then sync).
    assert [{**t, "status": None} for t in after] == [{**t, "status": None} for t in before]
    assert {t["status"] for t in after} == {"PENDING"}
    assert set(TemplateEvent.objects.values_list("kind", "new", "source")) == {("edit", "created", "import")}


def test_re_importing_the_same_catalogue_changes_nothing(catalogue):
    report = import_templates(export_templates())
    assert (report.created, report.updated, len(report.unchanged), report.applied) == ((), (), 3, True)
    assert dict(MessageTemplate.objects.values_list("name", "status")) == {
        "order_update": "APPROVED",
        "winter_promo": "PAUSED",
        "appointment": "REJECTED",
    }
    assert not TemplateEvent.objects.exists()


def test_a_changed_template_goes_back_to_pending_and_the_change_is_recorded(catalogue):
    document = export_templates()
    document[1]["components"][1]["text"] = "Hello {{1}}, order {{2}} is on its way."
    document[1]["category"] = "MARKETING"
    report = import_templates(document)

    assert report.updated == ("order_update (en_US)",)
    template = MessageTemplate.objects.get(name="order_update")
    assert (template.status, template.category, template.body_text) == (
        "PENDING",
        "MARKETING",
        "Hello {{1}}, order {{2}} is on its way.",
    )
    events = list(template.events.order_by("id").values_list("kind", "old", "new", "source"))
    assert events == [
        ("category", "UTILITY", "MARKETING", "import"),
        ("edit", "", "category, components", "import"),
        ("status", "APPROVED", "PENDING", "import"),
    ]


def test_a_file_cannot_approve_a_template():
    report = import_templates(
        [
            {
                "name": "brand_new",
                "language": "en",
                "category": "UTILITY",
                "status": "APPROVED",
                "components": [{"type": "BODY", "text": "Thanks for your order."}],
            }
        ]
    )
    assert report.created == ("brand_new (en)",)
    assert MessageTemplate.objects.get(name="brand_new").status == "PENDING"


def test_a_listing_page_saved_from_the_api_can_be_imported():
    page = {
        "data": [
            {
                "id": "9",
                "name": "from_api",
                "language": "en_US",
                "category": "UTILITY",
                "status": "APPROVED",
                "components": [{"type": "BODY", "text": "Thanks {{1}} for writing."}],
            }
        ],
        "paging": {},
    }
    assert import_templates(page).created == ("from_api (en_US)",)
    assert MessageTemplate.objects.get(name="from_api").parameter_format == "POSITIONAL"


BAD_FILE = [
    {
        "name": "good_one",
        "language": "en_US",
        "category": "UTILITY",
        "components": [{"type": "BODY", "text": "Fine."}],
    },
    {
        "name": "Bad Name",
        "language": "en-US",
        "category": "UTILITY",
        "components": [{"type": "BODY", "text": "{{1}} hi"}],
    },
    {
        "name": "good_one",
        "language": "en_US",
        "category": "UTILITY",
        "components": [{"type": "BODY", "text": "Again."}],
    },
    {"name": "no_components", "language": "en_US", "category": "UTILITY"},
]


def test_all_or_nothing_each_refusal_says_why():
    report = import_templates(BAD_FILE)

    assert not report.applied and not MessageTemplate.objects.exists()
    refused = dict(report.refused)
    assert set(refused) == {"item 2 (Bad Name (en-US))", "item 3 (good_one (en_US))", "item 4"}
    assert set(refused["item 2 (Bad Name (en-US))"]) == {"name", "language", "components"}
    assert refused["item 3 (good_one (en_US))"] == {"name": ["also in the file as item 1: keep one"]}
    assert refused["item 4"] == {"file": ["missing components"]}
    assert report.created == ("good_one (en_US)",)  # what would have been created
    assert report.summary == "nothing imported: 3 refused (would have been 1 created, 0 updated, 0 unchanged)"


def test_the_import_command_lists_refusals_and_fails(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(BAD_FILE))
    err = io.StringIO()
    with pytest.raises(CommandError, match="Nothing imported: 3 refused"):
        call_command("import_templates", str(path), stdout=io.StringIO(), stderr=err)
    assert "Refused item 2 (Bad Name (en-US)):\n  name: use only lowercase letters" in err.getvalue()
    assert "  language: not a language code of the platform" in err.getvalue()
    assert not MessageTemplate.objects.exists()


def test_dry_run_reports_and_writes_nothing(catalogue, tmp_path):
    document = export_templates()
    document.append(
        {
            "name": "new_one",
            "language": "en",
            "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Hi."}],
        }
    )
    path = tmp_path / "t.json"
    path.write_text(json.dumps(document))
    out = io.StringIO()
    call_command("import_templates", str(path), "--dry-run", stdout=out, stderr=io.StringIO())
    assert "Check only, nothing imported: would be 1 created, 0 updated, 3 unchanged." in out.getvalue()
    assert not MessageTemplate.objects.filter(name="new_one").exists()


def test_the_import_command_says_where_the_json_breaks(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[{"name": "a",\n "language": "en" "category": "UTILITY"}]')
    with pytest.raises(CommandError, match=r"not valid JSON: expecting ',' delimiter at line 2, column 19"):
        call_command("import_templates", str(path), stdout=io.StringIO(), stderr=io.StringIO())
