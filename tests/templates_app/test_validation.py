"""Table-driven tests of `templates_app/validation.py`: the platform's rules for a template, each refusal
in plain words on the field it belongs to. Pure: no database. Row ids name the rule."""

from __future__ import annotations

import pytest

from templates_app.placeholders import NAMED, POSITIONAL
from templates_app.validation import (
    Draft,
    duplicate_error,
    identity_change_error,
    suggest_name,
    template_errors,
)

BODY = {"type": "BODY", "text": "Hi {{1}}, your order {{2}} has shipped."}


def draft(*components, name="order_update", language="en_US", category="UTILITY", fmt=POSITIONAL):
    return Draft(name, language, category, fmt, list(components) if components else [BODY])


def body(text, **extra):
    return {"type": "BODY", "text": text, **extra}


def header(text=None, fmt="TEXT", **extra):
    component = {"type": "HEADER", "format": fmt, **extra}
    if text is not None:
        component["text"] = text
    return component


def buttons(*items):
    return {"type": "BUTTONS", "buttons": list(items)}


def qr(text="Yes"):
    return {"type": "QUICK_REPLY", "text": text}


def url(link="https://shop.example.com/orders/{{1}}", text="Track"):
    return {"type": "URL", "text": text, "url": link}


def phone(number="+15550783881", text="Call us"):
    return {"type": "PHONE_NUMBER", "text": text, "phone_number": number}


def copy_code():
    return {"type": "COPY_CODE", "example": "SUMMER20"}


def otp(otp_type="COPY_CODE"):
    return {"type": "OTP", "otp_type": otp_type, "text": "Copy code"}


VALID = [
    ("body-only", draft()),
    (
        "full-utility-template",
        draft(
            header("Order {{1}}", example={"header_text": ["860198"]}),
            body("Hi {{1}}, order {{2}} shipped.", example={"body_text": [["Pablo", "860198"]]}),
            {"type": "FOOTER", "text": "Reply STOP to opt out"},
            buttons(qr("Yes"), qr("No"), url(), phone()),
        ),
    ),
    (
        "named-with-examples",
        draft(
            body(
                "Hi {{first_name}}, order {{order_id}} shipped.",
                example={
                    "body_text_named_params": [
                        {"param_name": "first_name", "example": "Pablo"},
                        {"param_name": "order_id", "example": "860198"},
                    ]
                },
            ),
            fmt=NAMED,
        ),
    ),
    *[
        (f"header-format-{fmt.lower()}", draft(header(fmt=fmt), BODY))
        for fmt in ("IMAGE", "VIDEO", "DOCUMENT", "LOCATION")
    ],
    (
        "ten-buttons-within-each-limit",
        draft(BODY, buttons(*[qr(f"Q{n}") for n in range(7)], url(), url(), phone())),
    ),
    ("quick-replies-after-the-other-buttons", draft(BODY, buttons(url(), phone(), qr(), qr("No")))),
    ("one-copy-code-button", draft(BODY, buttons(copy_code()), category="MARKETING")),
    ("static-url-button", draft(BODY, buttons(url("https://shop.example.com/help")))),
    (
        "authentication-preset-starts-with-the-code",
        draft(body("{{1}} is your verification code."), buttons(otp()), category="AUTHENTICATION"),
    ),
    (
        "authentication-without-otp-button-legacy",
        draft(body("Your verification code is {{1}}. Do not share it."), category="AUTHENTICATION"),
    ),
    (
        "authentication-creation-preset-without-text",
        draft(
            {"type": "BODY", "add_security_recommendation": True},
            {"type": "FOOTER", "code_expiration_minutes": 10},
            buttons(otp("ONE_TAP")),
            category="AUTHENTICATION",
        ),
    ),
    (
        "body-ends-with-punctuation-after-its-last-placeholder",
        draft(
            body(
                "Thank you, {{first_name}}! Your order number is {{order_number}}.",
                example={
                    "body_text_named_params": [
                        {"param_name": "first_name", "example": "Pablo"},
                        {"param_name": "order_number", "example": "860198-230332"},
                    ]
                },
            ),
            fmt=NAMED,
        ),
    ),
    ("language-without-region", draft(language="en")),
    ("language-three-letters", draft(language="fil")),
    ("language-with-region", draft(language="pt_BR")),
    ("component-types-in-lower-case", draft({"type": "body", "text": "Thanks for writing to us."})),
    ("body-at-1024-characters", draft(body("x" * 1024))),
    ("name-at-512-characters", draft(name="a" * 512)),
    ("name-digits-and-underscores", draft(name="order_update_2")),
]


@pytest.mark.parametrize("template", [row[1] for row in VALID], ids=[row[0] for row in VALID])
def test_templates_the_platform_accepts_have_no_errors(template):
    assert template_errors(template) == {}


INVALID = [
    # --- name
    ("name-uppercase", draft(name="Order_Update"), "name", "use only lowercase letters, digits and _"),
    ("name-suggests-a-fix", draft(name="Order Update!"), "name", "try “order_update”"),
    ("name-dash", draft(name="order-update"), "name", "no spaces, capitals or dashes"),
    ("name-empty", draft(name=""), "name", "a template needs a name"),
    ("name-too-long", draft(name="a" * 513), "name", "at most 512 characters; this one has 513"),
    # --- language
    ("language-dash", draft(language="en-US"), "language", "write “en_US”"),
    ("language-lowercase-region", draft(language="en_us"), "language", "write “en_US”"),
    ("language-not-a-code", draft(language="english"), "language", "not a language code of the platform"),
    ("language-empty", draft(language=""), "language", "needs the platform's language code"),
    # --- category and format
    ("category-unknown", draft(category="TRANSACTIONAL"), "category", "“TRANSACTIONAL” is not one of"),
    (
        "parameter-format-unknown",
        draft(fmt="NUMBERED"),
        "parameter_format",
        "is not one of POSITIONAL, NAMED",
    ),
    # --- components
    (
        "components-not-a-list",
        Draft("a", "en", "UTILITY", POSITIONAL, {"type": "BODY"}),
        "components",
        "must be a list",
    ),
    ("component-not-an-object", draft("BODY"), "components", "component 1 is not an object"),
    ("component-type-unknown", draft(BODY, {"type": "CAROUSEL"}), "components", "“CAROUSEL” is not one of"),
    ("body-required", draft(header("Hello")), "components", "a template needs a BODY component with text"),
    ("body-without-text", draft(body("  ")), "components", "a template needs a BODY component with text"),
    ("body-only-one", draft(BODY, BODY), "components", "at most one BODY"),
    (
        "body-max-1024",
        draft(body("x" * 1025)),
        "components",
        "BODY: at most 1024 characters; this one has 1025",
    ),
    (
        "body-starts-with-placeholder",
        draft(body("{{1}}, your order shipped.")),
        "components",
        "may not start or end",
    ),
    (
        "body-ends-with-placeholder",
        draft(body("Your order shipped, {{1}}")),
        "components",
        "may not start or end",
    ),
    ("body-placeholders-side-by-side", draft(body("Hi {{1}} {{2}}, welcome.")), "components", "side by side"),
    (
        "positional-sequential-from-1",
        draft(body("Hi {{1}}, order {{3}} shipped.")),
        "components",
        "without gaps",
    ),
    (
        "positional-not-mixed-with-named",
        draft(body("Hi {{1}}, order {{id}} ok.")),
        "components",
        "mix numbers and names",
    ),
    (
        "named-lowercase",
        draft(body("Hi {{Name}}, welcome."), fmt=NAMED),
        "components",
        "{{Name}} is not a placeholder",
    ),
    ("named-unique", draft(body("Hi {{name}} and {{name}} ok."), fmt=NAMED), "components", "may appear once"),
    (
        "format-matches-placeholders",
        draft(body("Hi {{1}}, welcome."), fmt=NAMED),
        "components",
        "is NAMED but uses numbered",
    ),
    # --- header
    ("header-only-one", draft(header("A"), header("B"), BODY), "components", "at most one HEADER"),
    (
        "header-text-max-60",
        draft(header("x" * 61), BODY),
        "components",
        "HEADER: at most 60 characters; this one has 61",
    ),
    (
        "header-one-placeholder",
        draft(header("{{1}} and {{2}}"), BODY),
        "components",
        "at most one placeholder",
    ),
    (
        "header-format-known",
        draft(header(fmt="STICKER"), BODY),
        "components",
        "format must be one of TEXT, IMAGE",
    ),
    (
        "header-media-has-no-text",
        draft(header("Hi", fmt="IMAGE"), BODY),
        "components",
        "IMAGE header has no text",
    ),
    ("header-text-required", draft(header(), BODY), "components", "HEADER: needs text"),
    # --- footer
    (
        "footer-max-60",
        draft(BODY, {"type": "FOOTER", "text": "x" * 61}),
        "components",
        "FOOTER: at most 60 characters",
    ),
    (
        "footer-without-parameters",
        draft(BODY, {"type": "FOOTER", "text": "Bye {{1}}"}),
        "components",
        "a footer has no placeholders",
    ),
    # --- buttons
    (
        "buttons-need-a-list",
        draft(BODY, {"type": "BUTTONS", "buttons": []}),
        "components",
        "needs a list of buttons",
    ),
    (
        "buttons-at-most-10",
        draft(BODY, buttons(*[qr(f"Q{n}") for n in range(11)])),
        "components",
        "at most 10 buttons; this template has 11",
    ),
    (
        "buttons-at-most-2-url",
        draft(BODY, buttons(url(), url(), url())),
        "components",
        "at most 2 URL buttons",
    ),
    (
        "buttons-at-most-1-phone",
        draft(BODY, buttons(phone(), phone())),
        "components",
        "at most 1 PHONE_NUMBER button",
    ),
    (
        "buttons-at-most-1-copy-code",
        draft(BODY, buttons(copy_code(), copy_code())),
        "components",
        "at most 1 COPY_CODE button",
    ),
    (
        "buttons-known-types",
        draft(BODY, buttons({"type": "FLOW", "text": "Go"})),
        "components",
        "the type must be one of QUICK_REPLY",
    ),
    (
        "buttons-quick-replies-grouped",
        draft(BODY, buttons(qr(), url(), qr("No"))),
        "components",
        "group the quick replies together",
    ),
    (
        "button-label-max-25",
        draft(BODY, buttons(qr("x" * 26))),
        "components",
        "a label has at most 25 characters",
    ),
    ("button-label-required", draft(BODY, buttons({"type": "QUICK_REPLY"})), "components", "needs a label"),
    (
        "url-variable-at-the-end",
        draft(BODY, buttons(url("https://x.example/{{1}}/track"))),
        "components",
        "comes at the very end",
    ),
    (
        "url-at-most-one-variable",
        draft(BODY, buttons(url("https://x.example/{{1}}?a={{2}}"))),
        "components",
        "at most one variable",
    ),
    (
        "url-variable-is-positional",
        draft(BODY, buttons(url("https://x.example/{{code}}"))),
        "components",
        "written {{1}}",
    ),
    (
        "url-is-web-address",
        draft(BODY, buttons(url("ftp://x.example/a"))),
        "components",
        "must start with https://",
    ),
    ("url-required", draft(BODY, buttons({"type": "URL", "text": "Go"})), "components", "needs a url"),
    (
        "phone-international-format",
        draft(BODY, buttons(phone("call me"))),
        "components",
        "international format",
    ),
    (
        "otp-only-in-authentication",
        draft(BODY, buttons(otp()), category="MARKETING"),
        "components",
        "AUTHENTICATION templates only",
    ),
    (
        "otp-type-known",
        draft(body("{{1}} is your code."), buttons(otp("TWO_TAP")), category="AUTHENTICATION"),
        "components",
        "otp_type must be one of",
    ),
    # --- authentication preset
    (
        "authentication-no-header",
        draft(header("Code"), body("{{1}} is your code."), category="AUTHENTICATION"),
        "components",
        "authentication templates have no header",
    ),
    (
        "authentication-only-otp-buttons",
        draft(body("{{1}} is your code."), buttons(qr()), category="AUTHENTICATION"),
        "components",
        "only a one-time-password (OTP) button",
    ),
    (
        "authentication-still-one-body-placeholder-format",
        draft(body("{{2}} is your code."), category="AUTHENTICATION"),
        "components",
        "without gaps",
    ),
    (
        "preset-text-only-for-authentication",
        draft({"type": "BODY", "add_security_recommendation": True}),
        "components",
        "only authentication templates use the platform's preset text",
    ),
    (
        "preset-expiry-1-to-90-minutes",
        draft(BODY, {"type": "FOOTER", "code_expiration_minutes": 120}, category="AUTHENTICATION"),
        "components",
        "code_expiration_minutes is a whole number of minutes from 1 to 90",
    ),
    # --- examples (optional, but when given they must fit)
    (
        "example-count-fits",
        draft(body("Hi {{1}}, order {{2}}.", example={"body_text": [["Pablo"]]})),
        "components",
        "gives 1 value(s) for 2 placeholder(s)",
    ),
    (
        "example-shape",
        draft(body("Hi {{1}}, ok.", example=["Pablo"])),
        "components",
        "example must be an object",
    ),
    (
        "example-named-fits",
        draft(
            body(
                "Hi {{first_name}}, ok.",
                example={"body_text_named_params": [{"param_name": "name", "example": "P"}]},
            ),
            fmt=NAMED,
        ),
        "components",
        "the example names {{name}} but the text uses {{first_name}}",
    ),
]


@pytest.mark.parametrize(
    ("template", "field", "expected"), [row[1:] for row in INVALID], ids=[row[0] for row in INVALID]
)
def test_each_refusal_says_why_on_the_right_field(template, field, expected):
    errors = template_errors(template)
    assert set(errors) == {field}, errors
    assert any(expected in message for message in errors[field]), errors[field]


def test_every_problem_is_reported_at_once_on_its_own_field():
    errors = template_errors(
        Draft(
            "Bad Name",
            "en-us",
            "PROMO",
            POSITIONAL,
            [body("{{1}} starts"), {"type": "FOOTER", "text": "{{1}}"}],
        )
    )
    assert set(errors) == {"name", "language", "category", "components"}
    assert errors["components"] == [
        "BODY: the body may not start or end with a placeholder",
        "FOOTER: a footer has no placeholders",
    ]


def test_errors_name_the_component_and_the_button():
    errors = template_errors(draft(BODY, buttons(qr(), url("https://x.example/{{1}}/a"))))
    assert errors["components"] == [
        "BUTTONS, button 2 (URL): the url's one variable is written {{1}} and comes at the very end"
    ]


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("Order Update", "order_update"), ("order-update-2", "order_update_2"), ("  Hi!! ", "hi"), ("é", "")],
    ids=["spaces-and-capitals", "dashes", "trimmed", "nothing-usable"],
)
def test_suggest_name(name, suggestion):
    assert suggest_name(name) == suggestion


def test_a_template_the_platform_knows_keeps_its_name_and_language():
    assert identity_change_error(known_to_platform=True, old=("a", "en"), new=("a", "en")) is None
    assert identity_change_error(known_to_platform=False, old=("a", "en"), new=("b", "en")) is None
    message = identity_change_error(known_to_platform=True, old=("a", "en"), new=("b", "en"))
    assert message is not None and "does not allow renaming" in message


def test_duplicate_message_says_what_to_do():
    assert duplicate_error("order_update", "en_US") == (
        "a template named “order_update” already exists in en_US: a name and language are one template at "
        "WhatsApp, so edit that one, or choose another name or language"
    )
