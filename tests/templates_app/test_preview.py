"""The one renderer of a template as the customer sees it (`rendering.render` with `Given` values): the
admin's card, the inbox's compose preview, the thread's bubble and the send all draw what it returns.
Pure Python."""

from __future__ import annotations

import pytest

from templates_app import components, rendering
from templates_app.placeholders import NAMED, POSITIONAL, Part
from templates_app.rendering import ButtonPreview, Given

EVERYTHING = [
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
            {"type": "URL", "text": "Shop", "url": "https://x.example/shop"},
            {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+15550783881"},
            {"type": "COPY_CODE", "example": "SUMMER20"},
        ],
    },
]


def text(parts) -> str:
    return "".join(part.text for part in parts)


def test_given_values_fill_every_part_and_are_marked_as_given():
    shown = rendering.render(
        EVERYTHING,
        POSITIONAL,
        examples=False,
        given=Given(values={"1": "Ann", "2": "tomorrow"}, header="A-7", buttons={1: "A-7", 4: "AUTUMN5"}),
    )
    assert shown.header == (Part("Order ", "text"), Part("A-7", "value"))
    assert shown.body == (
        Part("Hi ", "text"),
        Part("Ann", "value"),
        Part(", it ships ", "text"),
        Part("tomorrow", "value"),
        Part(".", "text"),
    )
    assert shown.body_text == "Hi Ann, it ships tomorrow."
    assert shown.footer == "Reply STOP to opt out"
    assert shown.buttons == (
        ButtonPreview("QUICK_REPLY", "Thanks"),
        ButtonPreview("URL", "Track", "https://x.example/t/A-7"),
        ButtonPreview("URL", "Shop", "https://x.example/shop"),
        ButtonPreview("PHONE_NUMBER", "Call", "+15550783881"),
        ButtonPreview("COPY_CODE", "Copy code", "AUTUMN5"),
    )


def test_what_is_not_given_shows_its_example_or_stays_as_written():
    given = Given(values={"1": "Ann", "2": "  "}, buttons={"1": ""})  # blank counts as not given
    with_examples = rendering.render(EVERYTHING, POSITIONAL, given=given)
    assert with_examples.body[1:4] == (
        Part("Ann", "value"),
        Part(", it ships ", "text"),
        Part("today", "example"),
    )
    assert with_examples.header[1] == Part("860198", "example")
    assert with_examples.buttons[1].detail == "https://x.example/t/860198"
    assert with_examples.buttons[4].detail == "SUMMER20"
    as_written = rendering.render(EVERYTHING, POSITIONAL, examples=False, given=given)
    assert as_written.body[3] == Part("{{2}}", "placeholder")
    assert as_written.header[1] == Part("{{1}}", "placeholder")
    assert as_written.buttons[1].detail == "https://x.example/t/{{1}}"
    assert as_written.buttons[4].detail == ""


def test_placeholders_are_filled_in_one_pass_as_the_platform_does():
    shown = rendering.render(
        EVERYTHING,
        POSITIONAL,
        examples=False,
        given=Given(values={"1": "{{2}}", "2": "{{1}}"}, header="{{1}}", buttons={1: "{{1}}"}),
    )
    assert shown.body_text == "Hi {{2}}, it ships {{1}}."
    assert [p.kind for p in shown.body] == ["text", "value", "text", "value", "text"]
    assert text(shown.header) == "Order {{1}}" and shown.header[1].kind == "value"
    assert shown.buttons[1].detail == "https://x.example/t/{{1}}"


def test_named_placeholders():
    body = {
        "type": "BODY",
        "text": "Hi {{first_name}}, order {{order_id}} is {{first_name_2}}.",
        "example": {"body_text_named_params": [{"param_name": "order_id", "example": "860198"}]},
    }
    shown = rendering.render([body], NAMED, given=Given(values={"first_name": "Ann"}))
    assert [(p.text, p.kind) for p in shown.body if p.kind != "text"] == [
        ("Ann", "value"),
        ("860198", "example"),
        ("{{first_name_2}}", "placeholder"),
    ]


@pytest.mark.parametrize("media", ["IMAGE", "VIDEO", "DOCUMENT"])
def test_a_media_header_shows_the_link_given(media):
    template = [{"type": "HEADER", "format": media}, {"type": "BODY", "text": "Look"}]
    waiting = rendering.render(template, POSITIONAL, examples=False)
    assert (waiting.header_format, waiting.header_is_media, waiting.header_detail, waiting.header) == (
        media,
        True,
        "",
        (),
    )
    given = Given(header=" https://cdn.example.com/file.pdf ")
    assert (
        rendering.render(template, POSITIONAL, given=given).header_detail
        == "https://cdn.example.com/file.pdf"
    )


def test_a_location_header_shows_the_place_as_typed_or_as_stored():
    template = [{"type": "HEADER", "format": "LOCATION"}, {"type": "BODY", "text": "Here"}]
    typed = Given(header={"latitude": "52.52", "longitude": "13.405", "name": "Shop Mitte", "address": ""})
    shown = rendering.render(template, POSITIONAL, given=typed)
    assert (shown.header_format, shown.header_is_media, shown.header_detail) == (
        "LOCATION",
        False,
        "Shop Mitte (52.52, 13.405)",
    )
    stored = {
        "format": "LOCATION",
        "name": "",
        "value": {"latitude": 1.5, "longitude": 2.0, "address": "Main 1"},
    }
    assert rendering.render(
        template, POSITIONAL, given=rendering.given_from([], {"header": stored})
    ).header_detail == ("Main 1 (1.5, 2.0)")
    half = Given(header={"latitude": "52.52", "longitude": ""})
    assert rendering.render(template, POSITIONAL, given=half).header_detail == ""


def test_a_one_time_password_button_shows_the_bodys_code():
    template = [
        {"type": "BODY", "add_security_recommendation": True},
        {"type": "FOOTER", "code_expiration_minutes": 10},
        {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy code"}]},
    ]
    shown = rendering.render(template, POSITIONAL, examples=False, given=Given(values={"1": "482913"}))
    assert shown.body_text == "482913 is your verification code. For your security, do not share this code."
    assert shown.footer == "This code expires in 10 minutes."
    assert shown.buttons == (ButtonPreview("OTP", "Copy code", "482913"),)
    assert rendering.render(template, POSITIONAL, examples=False).buttons[0].detail == ""
    assert rendering.render(template, POSITIONAL).buttons[0].detail == "COPY_CODE"  # the admin's card


def test_what_the_card_does_not_draw_is_named():
    template = [
        {"type": "BODY", "text": "Pick one"},
        {"type": "CAROUSEL", "cards": [{"components": []}, {"components": []}]},
    ]
    assert rendering.render(template, POSITIONAL).notes == ("Carousel of 2 cards",)


@pytest.mark.parametrize(
    ("params", "extras", "expected"),
    [
        # As the compose form gives them.
        (
            ["Ann", "42"],
            {"header": "A-7", "buttons": {"0": "7"}},
            Given({"1": "Ann", "2": "42"}, "A-7", {"0": "7"}),
        ),
        # As a message stores them (templates_app.sending.prepare).
        (
            {"first_name": "Ann"},
            {
                "header": {"format": "TEXT", "name": "ticket_id", "value": "T-7"},
                "buttons": [
                    {"index": 0, "value": "7"},
                    {"index": 2, "value": "CODE", "sub_type": "copy_code"},
                ],
            },
            Given({"first_name": "Ann"}, "T-7", {0: "7", 2: "CODE"}),
        ),
        (None, None, Given()),
        ("not params", ["not extras"], Given()),
    ],
)
def test_given_from_a_send_or_a_stored_message(params, extras, expected):
    assert rendering.given_from(params, extras) == expected


@pytest.mark.parametrize(
    ("button", "hint"),
    [
        (
            {"type": "URL", "url": "https://x.example/t/{{1}}", "example": ["https://x.example/t/860198"]},
            "860198",
        ),
        (
            {
                "type": "URL",
                "url": "https://x.example/{{1}}?from=wa",
                "example": ["https://x.example/42?from=wa"],
            },
            "42",
        ),
        (
            {"type": "URL", "url": "https://x.example/t/{{1}}", "example": ["https://other.example/9"]},
            "https://other.example/9",
        ),
        ({"type": "URL", "url": "https://x.example/t/{{1}}"}, ""),
        ({"type": "URL", "url": "https://x.example/shop", "example": ["https://x.example/shop"]}, ""),
        ({"type": "COPY_CODE", "example": "SUMMER20"}, "SUMMER20"),
        ({"type": "COPY_CODE", "example": ["SUMMER20"]}, "SUMMER20"),
        ({"type": "QUICK_REPLY", "text": "Yes"}, ""),
        ("not a button", ""),
    ],
)
def test_a_buttons_example_is_what_a_send_fills_in(button, hint):
    assert components.button_example(button) == hint
