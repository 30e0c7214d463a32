"""Templates the platform accepted are never refused (issue 10, item 9): template definitions written in
the platform's exact shapes (tests/templates_app/fixtures/, each file says what it shows) go through the
sync and the import whatever their kind (carousels, limited-time offers, catalogue, multi- and single-
product, Flow and voice-call buttons, product headers, legacy categories, legacy bodies that end with a
placeholder, authentication templates in their listing shape, lower-case types, odd examples). The
creation rules still judge what is made or changed here, and what goes to WhatsApp for review."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.urls import reverse

from accounts import roles
from templates_app import platform, rendering, sending
from templates_app.models import MessageTemplate, TemplateEvent
from templates_app.services import export_templates, import_templates, sync_templates
from templates_app.validation import Draft, listing_errors, template_errors
from whatsapp.client import GraphClient

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
WABA = "102290129340398"


def fixture(name: str) -> list[dict]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))["data"]


def as_listed(definition: dict, platform_id: str) -> dict:
    """A documented creation example as the platform lists it once approved: the same object, with the
    id and status the listing adds."""
    return {**copy.deepcopy(definition), "id": platform_id, "status": "APPROVED"}


SAVED = fixture("saved_listing")
LEGACY = fixture("legacy_listing")
DOCUMENTED = fixture("documented_kinds")
DOCUMENTED_LISTED = [as_listed(d, str(900000 + n)) for n, d in enumerate(DOCUMENTED)]
LISTING = [*SAVED, *LEGACY, *DOCUMENTED_LISTED]


def label(item: dict) -> str:
    return f"{item['name']} ({item['language']})"


def graph(fake_graph) -> GraphClient:
    return GraphClient(
        base_url=fake_graph.url, version="v23.0", phone_number_id="1", access_token="test-token"
    )


def by_name() -> dict[str, MessageTemplate]:
    return {t.name: t for t in MessageTemplate.objects.all()}


# --- The fixtures hold what the issue names -----------------------------------------------------------


def kinds(items) -> set[str]:
    found = set()
    for item in items:
        for component in item["components"]:
            found.add(f"component:{component['type'].upper()}")
            if component.get("format"):
                found.add(f"header:{component['format'].upper()}")
            for button in component.get("buttons", []):
                found.add(f"button:{button['type'].upper()}")
        found.add(f"category:{item['category']}")
    return found


def test_the_fixtures_cover_every_kind_the_issue_names():
    assert kinds(LISTING) >= {
        "component:CAROUSEL",
        "component:LIMITED_TIME_OFFER",
        "header:PRODUCT",
        "button:CATALOG",
        "button:MPM",
        "button:SPM",
        "button:FLOW",
        "button:VOICE_CALL",
        "category:ALERT_UPDATE",
        "category:TICKET_UPDATE",
    }
    assert any(c["type"] == "body" for item in LISTING for c in item["components"])  # lower case
    assert any("parameter_format" not in item for item in LISTING)
    welcome = next(i for i in SAVED if i["name"] == "rider_welcome")
    assert welcome["components"][1]["text"].endswith("{{2}}")  # approved, ends with a placeholder


# --- Sync ----------------------------------------------------------------------------------------------


def test_a_sync_takes_every_template_the_platform_lists_as_it_came(fake_graph):
    fake_graph.templates([SAVED, LEGACY, DOCUMENTED_LISTED])
    with graph(fake_graph) as client:
        report = sync_templates(client=client, waba_id=WABA)

    assert report.skipped == ()
    assert report.created == tuple(label(item) for item in LISTING)
    stored = by_name()
    for item in LISTING:
        template = stored[item["name"]]
        assert template.components == item["components"]  # stored exactly as listed
        assert (template.platform_id, template.status) == (item["id"], item["status"])
    # Former categories are filed under today's, and the history says so.
    assert stored["shop_news_update"].category == "UTILITY"
    assert stored["service_slot_confirmation"].category == "UTILITY"
    created = TemplateEvent.objects.get(template=stored["shop_news_update"])
    assert created.reason == "found at the platform, APPROVED, listed under its former category ALERT_UPDATE"
    # No parameter_format: numbered placeholders are POSITIONAL.
    assert stored["shop_news_update"].parameter_format == "POSITIONAL"
    assert stored["fit_check_signup"].body_text == "Find your frame size with our quick fit check"

    with graph(fake_graph) as client:
        again = sync_templates(client=client, waba_id=WABA)
    assert (again.created, again.updated, again.skipped) == ((), (), ())
    assert len(again.unchanged) == len(LISTING)


def test_a_named_template_without_parameter_format_is_named(fake_graph):
    item = {
        "id": "77",
        "name": "order_named",
        "language": "en_US",
        "status": "APPROVED",
        "category": "utility",
        "components": [
            {"type": "body", "text": "Thank you, {{first_name}}! Your order number is {{order_number}}."}
        ],
    }
    fake_graph.templates([[item]])
    with graph(fake_graph) as client:
        assert sync_templates(client=client, waba_id=WABA).created == ("order_named (en_US)",)
    template = MessageTemplate.objects.get(name="order_named")
    assert (template.category, template.parameter_format) == ("UTILITY", "NAMED")
    assert template.parameter_names == ["first_name", "order_number"]


def test_a_former_category_is_synced_under_todays(fake_graph):
    fake_graph.templates(
        [
            [
                {**LEGACY[0], "id": "1", "name": "was_transactional", "category": "TRANSACTIONAL"},
                {**LEGACY[0], "id": "2", "name": "was_otp", "category": "OTP"},
            ]
        ]
    )
    with graph(fake_graph) as client:
        assert sync_templates(client=client, waba_id=WABA).skipped == ()
    assert dict(MessageTemplate.objects.values_list("name", "category")) == {
        "was_transactional": "UTILITY",
        "was_otp": "AUTHENTICATION",
    }


def test_only_what_is_not_a_template_is_skipped(fake_graph):
    good = {**LEGACY[1], "id": "5", "name": "good"}
    fake_graph.templates(
        [
            [
                good,
                {**good, "id": "6", "name": "no_components", "components": None},
                {**good, "id": "7", "name": "strings", "components": ["BODY"]},
                {**good, "id": "8", "name": "", "language": "en"},
                {**good, "id": "9", "name": "odd_category", "category": "NEWSLETTER"},
            ]
        ]
    )
    with graph(fake_graph) as client:
        report = sync_templates(client=client, waba_id=WABA)
    assert report.created == ("good (id)",)
    assert report.skipped == (
        "item 2: components must be a list",
        "item 3: component 1 is not an object with a type",
        " (en): a template needs a name",
        "odd_category (id): the category “NEWSLETTER” is not one of MARKETING, UTILITY, AUTHENTICATION, "
        "so this inbox cannot file it",
    )


# --- Import --------------------------------------------------------------------------------------------


def test_importing_the_listing_refuses_nothing_and_a_second_import_changes_nothing():
    report = import_templates({"data": LISTING, "paging": {}})
    assert report.refused == () and report.applied
    assert report.created == tuple(label(item) for item in LISTING)
    stored = by_name()
    assert {t.status for t in stored.values()} == {"PENDING"}  # an import is a local edit
    assert stored["carousel_trail_bikes_v1"].components == DOCUMENTED[7]["components"]
    note = TemplateEvent.objects.get(template=stored["rider_welcome"]).reason
    assert note.endswith("; the file has it APPROVED at WhatsApp: sync to bring WhatsApp's status")

    again = import_templates(export_templates())
    assert (again.created, again.updated, again.refused) == ((), (), ())
    assert len(again.unchanged) == len(LISTING)


def test_importing_the_documented_definitions_as_written_refuses_nothing():
    """Creation examples carry no status: they are drafts, checked with the creation rules, which let
    through the kinds they cannot check (a carousel, a product header, catalogue buttons…)."""
    report = import_templates(DOCUMENTED)
    assert report.refused == () and report.applied
    assert report.created == tuple(label(item) for item in DOCUMENTED)


@pytest.mark.parametrize("name", ["saved_listing", "legacy_listing", "documented_kinds"])
def test_the_import_command_takes_each_fixture_file_as_it_is(name):
    out = io.StringIO()
    call_command("import_templates", str(FIXTURES / f"{name}.json"), stdout=out, stderr=io.StringIO())
    count = len(fixture(name))
    assert f"{count} created, 0 updated, 0 unchanged." in out.getvalue()
    assert MessageTemplate.objects.count() == count


def test_a_draft_is_still_judged_by_the_creation_rules_and_the_platforms_version_is_not():
    ends_with_placeholder = {
        "name": "welcome_back",
        "language": "en",
        "category": "MARKETING",
        "components": [{"type": "BODY", "text": "Welcome back {{1}}"}],
    }
    draft = import_templates([ends_with_placeholder])
    assert not draft.applied
    assert dict(draft.refused) == {
        "item 1 (welcome_back (en))": {
            "components": ["BODY: the body may not start or end with a placeholder"]
        }
    }
    assert not MessageTemplate.objects.exists()

    approved = import_templates([{**ends_with_placeholder, "status": "APPROVED"}])
    assert approved.created == ("welcome_back (en)",) and approved.applied
    # Unchanged, a second draft of the same content is not judged again: it changes nothing.
    unchanged = import_templates([ends_with_placeholder])
    assert unchanged.unchanged == ("welcome_back (en)",) and unchanged.applied
    # A change is a draft again: the creation rules apply.
    changed = import_templates(
        [{**ends_with_placeholder, "components": [{"type": "BODY", "text": "Welcome back, {{1}}"}]}]
    )
    assert not changed.applied and changed.refused


def test_a_carousel_draft_is_imported_but_its_body_is_still_checked():
    carousel = copy.deepcopy(DOCUMENTED[7])
    carousel["components"][0]["text"] = "{{1}}, trail bikes in stock: {{2}} off with {{3}}!"
    report = import_templates([carousel])
    assert dict(report.refused) == {
        "item 1 (carousel_trail_bikes_v1 (en_US))": {
            "components": ["BODY: the body may not start or end with a placeholder"]
        }
    }


# --- The two levels, directly ----------------------------------------------------------------------------


def draft_of(item: dict) -> Draft:
    parsed = platform.parse(item)
    return Draft(parsed.name, parsed.language, parsed.category, parsed.parameter_format, parsed.components)


@pytest.mark.parametrize("item", LISTING, ids=[i["name"] for i in LISTING])
def test_every_listed_template_passes_the_lenient_rules(item):
    assert listing_errors(draft_of(item)) == {}


@pytest.mark.parametrize(
    ("name", "refusal"),
    [
        ("carousel_trail_bikes_v1", "“CAROUSEL” is not one of HEADER, BODY, FOOTER, BUTTONS"),
        ("limited_time_offer_ebike_rental_2025", "“LIMITED_TIME_OFFER” is not one of"),
        ("saddle_offer", "format must be one of TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION"),
        ("catalog_first_order", "the type must be one of QUICK_REPLY"),
        ("left_in_basket", "the type must be one of QUICK_REPLY"),
        ("fit_check_signup", "the type must be one of QUICK_REPLY"),
        ("call_the_workshop", "the type must be one of QUICK_REPLY"),
    ],
)
def test_the_creation_rules_still_refuse_the_kinds_they_cannot_check_and_say_where_to_make_them(
    name, refusal
):
    item = next(i for i in DOCUMENTED if i["name"] == name)
    errors = template_errors(draft_of(item))
    assert set(errors) == {"components"}
    message = " ".join(errors["components"])
    assert refusal in message
    assert "this inbox cannot check them: make it in WhatsApp Manager, then sync" in message
    assert template_errors(draft_of(item), allow_unchecked_kinds=True) == {}


# --- The admin and submission: creation rules for what is made or changed here --------------------------


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_user("ada", is_staff=True)
    user.groups.add(Group.objects.get(name=roles.ADMINS))
    client.force_login(user)
    return client


def admin_form(template: MessageTemplate, **overrides) -> dict:
    return {
        "name": template.name,
        "language": template.language,
        "category": template.category,
        "parameter_format": template.parameter_format,
        "components": json.dumps(template.components),
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
    } | overrides


@pytest.fixture
def synced(fake_graph):
    fake_graph.templates([LISTING])
    with graph(fake_graph) as client:
        sync_templates(client=client, waba_id=WABA)
    return by_name()


def test_the_admin_saves_a_synced_template_as_it_is_but_judges_a_change(admin_client, synced):
    for name in ("carousel_trail_bikes_v1", "rider_welcome", "velo_login_code"):
        template = synced[name]
        url = reverse("admin:templates_app_messagetemplate_change", args=[template.pk])
        page = admin_client.get(url)
        assert page.status_code == 200
        assert admin_client.post(url, admin_form(template)).status_code == 302, name
        template.refresh_from_db()
        assert template.status == "APPROVED"  # nothing changed, nothing to review

    carousel = synced["carousel_trail_bikes_v1"]
    url = reverse("admin:templates_app_messagetemplate_change", args=[carousel.pk])
    changed = copy.deepcopy(carousel.components)
    changed[0]["text"] = changed[0]["text"].replace("Trail bikes", "Used trail bikes")
    refused = admin_client.post(url, admin_form(carousel, components=json.dumps(changed)))
    assert refused.status_code == 200
    assert "make it in WhatsApp Manager, then sync" in " ".join(
        refused.context["adminform"].form.errors["components"]
    )

    welcome = synced["rider_welcome"]
    url = reverse("admin:templates_app_messagetemplate_change", args=[welcome.pk])
    edited = admin_client.post(url, admin_form(welcome, category="UTILITY"))
    assert edited.status_code == 200
    assert edited.context["adminform"].form.errors["components"] == [
        "BODY: the body may not start or end with a placeholder"
    ]


def test_the_admin_page_of_a_carousel_shows_what_it_is_and_why_agents_cannot_send_it(admin_client, synced):
    carousel = synced["carousel_trail_bikes_v1"]
    page = admin_client.get(reverse("admin:templates_app_messagetemplate_change", args=[carousel.pk])).text
    assert "Carousel of 3 cards" in page
    assert "Not sendable from the inbox: it is a carousel of 3 cards" in page


@pytest.mark.parametrize(
    ("name", "refusal"),
    [
        ("rider_welcome", "BODY: the body may not start or end with a placeholder"),
        ("carousel_trail_bikes_v1", "make it in WhatsApp Manager, then sync"),
    ],
)
def test_submitting_applies_the_creation_rules_before_any_request(
    admin_client, graph_settings, fake_graph, synced, name, refusal
):
    template = synced[name]
    requests_before = len(fake_graph.requests)
    response = admin_client.post(
        reverse("admin:templates_app_messagetemplate_changelist"),
        {"action": "submit_selected", "_selected_action": [template.pk]},
    )
    assert response.status_code == 302
    notes = [str(m) for m in get_messages(response.wsgi_request)]
    assert len(notes) == 1 and f"“{template}” breaks the platform's rules" in notes[0] and refusal in notes[0]
    assert len(fake_graph.requests) == requests_before


# --- What the inbox can send, and previews -----------------------------------------------------------------

NOT_SENDABLE = {
    "carousel_trail_bikes_v1": "it is a carousel of 3 cards, each with its own header and buttons",
    "carousel_city_bikes_v1": "it is a carousel of 2 cards",
    "limited_time_offer_ebike_rental_2025": "it is a limited-time offer, whose expiry the inbox cannot set",
    "saddle_offer": "its header shows a product from your catalogue",
    "catalog_first_order": "its “Browse our bikes” button opens your catalogue",
    "left_in_basket": "its “See your parts” button shows products from your catalogue",
    "fit_check_signup": "its “Start fit check” button opens a WhatsApp Flow",
    "service_booking_form": "its “Book a Service” button opens a WhatsApp Flow",
    "call_the_workshop": "its “Call the workshop” button is of a kind the inbox does not know (VOICE_CALL)",
}


@pytest.mark.parametrize("item", LISTING, ids=[i["name"] for i in LISTING])
def test_the_compose_view_says_which_templates_it_cannot_fill_and_why(item):
    parsed = platform.parse(item)
    inputs = sending.send_inputs(parsed.components, parsed.parameter_format, parsed.category)
    expected = NOT_SENDABLE.get(item["name"])
    if expected is None:
        assert inputs.unsupported == (), inputs.unsupported
        assert inputs.not_fillable_reason == ""
    else:
        assert inputs.not_fillable_reason.startswith("Not sendable from the inbox: ")
        assert expected in inputs.not_fillable_reason


def test_a_product_carousel_names_both_what_it_cannot_fill():
    parsed = platform.parse(DOCUMENTED_LISTED[8])
    assert sending.send_inputs(parsed.components, parsed.parameter_format, parsed.category).unsupported == (
        "it is a carousel of 2 cards, each with its own header and buttons, which the inbox cannot fill",
    )


@pytest.mark.parametrize("item", LISTING, ids=[i["name"] for i in LISTING])
def test_previews_show_every_listed_template_without_failing(item):
    parsed = platform.parse(item)
    for examples in (True, False):
        shown = rendering.render(parsed.components, parsed.parameter_format, examples=examples)
        assert isinstance(shown, rendering.Rendered)


def test_previews_name_what_the_card_does_not_draw():
    carousel = rendering.render(DOCUMENTED[7]["components"], "POSITIONAL")
    assert carousel.notes == ("Carousel of 3 cards",)
    assert [part.text for part in carousel.body][:2] == ["Trail bikes in stock! ", "Marta"]
    offer = rendering.render(DOCUMENTED[9]["components"], "POSITIONAL")
    assert offer.notes == ("Limited-time offer: Ends soon!, with a countdown to its expiry",)
    assert [(b.type, b.text, b.detail) for b in offer.buttons] == [
        ("COPY_CODE", "Copy code", "EBIKE25"),
        ("URL", "Rent now!", "https://shop.example/rentals?ref=k7pwzd"),
    ]
    product = rendering.render(DOCUMENTED[3]["components"], "POSITIONAL")
    assert product.header_format == "PRODUCT" and [b.text for b in product.buttons] == ["See it"]
    catalog = rendering.render(DOCUMENTED[4]["components"], "POSITIONAL")
    assert [(b.type, b.text) for b in catalog.buttons] == [("CATALOG", "Browse our bikes")]


@pytest.mark.parametrize(
    "example",
    [
        "Marta",
        ["Marta"],
        {"body_text": "Marta"},
        {"body_text": []},
        {"body_text": [[]]},
        {"body_text": [["Marta", "x", "extra"], ["second"]]},
        {"body_text_named_params": "first_name"},
        {"body_text_named_params": [{"param_name": "first_name"}, "x"]},
        {"header_handle": ["4::dmVs..."]},
        None,
    ],
    ids=repr,
)
def test_examples_in_odd_shapes_are_kept_and_previewed(fake_graph, example):
    item = {
        "id": "31",
        "name": "odd_example",
        "language": "en",
        "status": "APPROVED",
        "category": "UTILITY",
        "components": [{"type": "BODY", "text": "Hi {{1}}, thanks.", "example": example}],
    }
    fake_graph.templates([[item]])
    with graph(fake_graph) as client:
        assert sync_templates(client=client, waba_id=WABA).created == ("odd_example (en)",)
    template = MessageTemplate.objects.get()
    assert template.components == item["components"]
    shown = rendering.render(template.components, template.parameter_format)
    assert "".join(part.text for part in shown.body).startswith("Hi ")
    assert template.not_sendable_from_inbox == ""


def test_a_legacy_authentication_template_with_a_text_header_is_taken_and_sendable(fake_graph):
    """Authentication templates made before the platform wrote their text had a header and text of their
    own. No saved listing of one was found, so this item is written here in the listing's shape (the
    body as in saved_listing.json's velo_login_code, a TEXT header in front)."""
    item = {
        "id": "41",
        "name": "login_code_legacy",
        "language": "en",
        "status": "APPROVED",
        "category": "OTP",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Your login code"},
            {
                "type": "BODY",
                "text": "*{{1}}* is your verification code. For your security, do not share this code.",
            },
        ],
    }
    assert set(template_errors(draft_of(item))) == {"components"}  # today's creation rules refuse it
    fake_graph.templates([[item]])
    with graph(fake_graph) as client:
        assert sync_templates(client=client, waba_id=WABA).created == ("login_code_legacy (en)",)
    template = MessageTemplate.objects.get()
    assert (template.category, template.status) == ("AUTHENTICATION", "APPROVED")
    assert template.not_sendable_from_inbox == ""
    assert template.prepare_send(["482913"])[0].startswith("*482913* is your verification code.")
    assert import_templates([{**item, "name": "login_code_copy"}]).created == ("login_code_copy (en)",)
