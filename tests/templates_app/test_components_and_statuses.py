"""Pure helpers: reading components (`components.py`) and drawing them with example values
(`rendering.py`), what each status means and what a local edit does to it (`statuses.py`), the
platform's JSON shape (`platform.py`)."""

from __future__ import annotations

import pytest

from templates_app import components, platform, rendering, statuses
from templates_app.placeholders import NAMED, POSITIONAL, Part
from templates_app.rendering import ButtonPreview

FULL = [
    {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}", "example": {"header_text": ["860198"]}},
    {"type": "BODY", "text": "Hi {{1}}, it ships {{2}}.", "example": {"body_text": [["Pablo", "today"]]}},
    {"type": "FOOTER", "text": "Reply STOP to opt out"},
    {
        "type": "BUTTONS",
        "buttons": [
            {"type": "QUICK_REPLY", "text": "Thanks"},
            {
                "type": "URL",
                "text": "Track",
                "url": "https://x.example/t/{{1}}",
                "example": ["https://x.example/t/860198"],
            },
            {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+15550783881"},
        ],
    },
]


def test_the_preview_fills_the_platforms_example_values():
    shown = rendering.render(FULL, POSITIONAL)
    assert shown.header == (Part("Order ", "text"), Part("860198", "example"))
    assert shown.body == (
        Part("Hi ", "text"),
        Part("Pablo", "example"),
        Part(", it ships ", "text"),
        Part("today", "example"),
        Part(".", "text"),
    )
    assert shown.footer == "Reply STOP to opt out"
    assert shown.buttons == (
        ButtonPreview("QUICK_REPLY", "Thanks"),
        ButtonPreview("URL", "Track", "https://x.example/t/860198"),
        ButtonPreview("PHONE_NUMBER", "Call", "+15550783881"),
    )


def test_without_examples_the_placeholders_show_as_written():
    shown = rendering.render(FULL, POSITIONAL, examples=False)
    assert "".join(p.text for p in shown.body) == "Hi {{1}}, it ships {{2}}."
    assert {p.kind for p in shown.body} == {"text", "placeholder"}
    assert shown.buttons[1].detail == "https://x.example/t/{{1}}"


def test_named_examples_and_a_missing_one():
    body = {
        "type": "BODY",
        "text": "Hi {{first_name}}, order {{order_id}}.",
        "example": {"body_text_named_params": [{"param_name": "first_name", "example": "Pablo"}]},
    }
    assert components.example_values(body, NAMED) == {"first_name": "Pablo"}
    shown = rendering.render([body], NAMED)
    assert [p for p in shown.body if p.kind != "text"] == [
        Part("Pablo", "example"),
        Part("{{order_id}}", "placeholder"),
    ]


def test_an_authentication_preset_reads_as_the_text_the_platform_writes():
    preset = [
        {"type": "BODY", "add_security_recommendation": True},
        {"type": "FOOTER", "code_expiration_minutes": 10},
    ]
    assert (
        components.body_text(preset)
        == "{{1}} is your verification code. For your security, do not share this code."
    )
    assert rendering.render(preset, POSITIONAL).footer == "This code expires in 10 minutes."
    assert components.body_text([{"type": "BODY", "add_security_recommendation": False}]) == (
        "{{1}} is your verification code."
    )


def test_media_header_and_body_text():
    template = [{"type": "HEADER", "format": "IMAGE"}, {"type": "body", "text": "Look"}]
    assert rendering.render(template, POSITIONAL).header_format == "IMAGE"
    assert components.body_text(template) == "Look"
    assert components.body_text([{"type": "HEADER"}]) == ""
    assert components.body_text("not a list") == ""


@pytest.mark.parametrize(
    ("status", "reason", "label", "tone", "sendable", "says"),
    [
        ("APPROVED", "", "Approved", "ok", True, "agents can send it"),
        ("PENDING", "", "Pending review", "waiting", False, "cannot be sent yet"),
        (
            "REJECTED",
            "INCORRECT_CATEGORY",
            "Rejected",
            "stopped",
            False,
            "the category does not match the content",
        ),
        ("REJECTED", "SOMETHING_NEW", "Rejected", "stopped", False, "WhatsApp refused it: SOMETHING_NEW"),
        ("REJECTED", "NONE", "Rejected", "stopped", False, "An admin can fix it"),
        ("PAUSED", "", "Paused", "stopped", False, "until the pause ends"),
        ("DISABLED", "", "Disabled", "stopped", False, "can no longer be sent"),
        ("IN_APPEAL", "", "In appeal", "waiting", False, "appeal"),
        ("DELETED", "", "Deleted", "gone", False, "Deleted at WhatsApp"),
        ("NEW_STATUS", "", "New_Status", "stopped", False, "cannot be sent"),
    ],
    ids=lambda value: value if isinstance(value, str) and value.isupper() else None,
)
def test_what_each_status_means_for_agents(status, reason, label, tone, sendable, says):
    info = statuses.describe(status, reason)
    assert (info.label, info.tone, info.sendable) == (label, tone, sendable)
    assert says in info.meaning


@pytest.mark.parametrize(
    ("status", "changed", "after"),
    [
        ("APPROVED", ["components"], "PENDING"),
        ("APPROVED", ["category"], "PENDING"),
        ("REJECTED", ["name"], "PENDING"),
        ("PAUSED", ["language"], "PENDING"),
        ("PENDING", ["components"], None),
        ("APPROVED", [], None),
    ],
    ids=[
        "approved-edited-goes-pending",
        "category-change-needs-approval",
        "rejected-fixed-goes-pending",
        "paused-edited-goes-pending",
        "pending-stays-pending",
        "nothing-changed-keeps-status",
    ],
)
def test_a_local_edit_makes_the_template_pending_again(status, changed, after):
    assert statuses.status_after_local_edit(status, changed) == after


def test_changed_fields_are_the_reviewed_ones():
    old = {
        "name": "a",
        "language": "en",
        "category": "UTILITY",
        "parameter_format": "POSITIONAL",
        "components": [1],
    }
    assert statuses.changed_fields(old, dict(old)) == []
    assert statuses.changed_fields(old, {**old, "components": [2], "category": "MARKETING"}) == [
        "category",
        "components",
    ]


def test_platform_items_are_read_with_the_platforms_defaults():
    item = {
        "id": 42,
        "name": "a",
        "language": "en",
        "category": "utility",
        "components": [],
        "rejected_reason": "NONE",
    }
    parsed = platform.parse(item)
    assert (parsed.platform_id, parsed.category, parsed.status, parsed.parameter_format) == (
        "42",
        "UTILITY",
        "PENDING",
        "POSITIONAL",
    )
    assert parsed.rejected_reason == ""
    with pytest.raises(platform.ShapeError, match="missing language, components"):
        platform.parse({"name": "a", "category": "UTILITY"})
    with pytest.raises(platform.ShapeError, match="components must be a list"):
        platform.parse({"name": "a", "language": "en", "category": "UTILITY", "components": {}})
    assert platform.entries({"data": [item], "paging": {}}) == [item]
    with pytest.raises(platform.ShapeError, match="must hold a list"):
        platform.entries({"name": "a"})
