"""Reading a template's components (the platform's JSON): find one, its text, the example values the
platform keeps for its placeholders and buttons. Pure Python (no Django). Drawing a template with values
is templates_app.rendering's.

The shapes are the platform's (whatsapp-cloud-api.md, "Templates"):

    [{"type": "HEADER", "format": "TEXT", "text": "Order {{1}}", "example": {"header_text": ["860198"]}},
     {"type": "BODY", "text": "Hi {{1}}, ...", "example": {"body_text": [["Pablo", ...]]}},
     {"type": "FOOTER", "text": "Reply STOP to opt out"},
     {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Track", "url": "https://x.test/{{1}}",
                                      "example": ["https://x.test/860198"]}]}]

NAMED templates keep their examples as `body_text_named_params` / `header_text_named_params`:
`[{"param_name": "first_name", "example": "Pablo"}]`.
"""

from __future__ import annotations

from collections.abc import Mapping

from templates_app.placeholders import NAMED, TOKEN

HEADER = "HEADER"
BODY = "BODY"
FOOTER = "FOOTER"
BUTTONS = "BUTTONS"
CAROUSEL = "CAROUSEL"
LIMITED_TIME_OFFER = "LIMITED_TIME_OFFER"


def kind(component: object) -> str:
    """A component's type, upper case ("" when it is not a component object)."""
    return str(component.get("type", "")).upper() if isinstance(component, Mapping) else ""


def find(components: object, wanted: str) -> dict | None:
    """The first component of type `wanted`, or None."""
    if not isinstance(components, list):
        return None
    for component in components:
        if kind(component) == wanted:
            return component
    return None


# Authentication templates are created without text: the platform writes it ("Authentication
# templates", Meta): the BODY says `add_security_recommendation`, the FOOTER `code_expiration_minutes`.
AUTHENTICATION_CODE = "{{1}} is your verification code."
AUTHENTICATION_SECURITY = "For your security, do not share this code."


def is_preset(component: object) -> bool:
    """A BODY or FOOTER whose text the platform writes (an authentication template's preset)."""
    if not isinstance(component, Mapping) or component.get("text"):
        return False
    return (kind(component) == BODY and "add_security_recommendation" in component) or (
        kind(component) == FOOTER and "code_expiration_minutes" in component
    )


def text_of(component: object) -> str:
    """A component's text; for an authentication preset, the text the platform writes."""
    if is_preset(component):
        if kind(component) == BODY:
            security = component.get("add_security_recommendation") is True
            return f"{AUTHENTICATION_CODE} {AUTHENTICATION_SECURITY}" if security else AUTHENTICATION_CODE
        return f"This code expires in {component.get('code_expiration_minutes')} minutes."
    text = component.get("text") if isinstance(component, Mapping) else None
    return text if isinstance(text, str) else ""


def body_text(components: object) -> str:
    """The BODY's text ("" when there is none): what is sent, and what the admin searches."""
    return text_of(find(components, BODY))


def example_values(component: object, parameter_format: str) -> dict[str, str]:
    """The platform's example values for a text component's placeholders, by placeholder ("1", "name")."""
    if not isinstance(component, Mapping) or not isinstance(component.get("example"), Mapping):
        return {}
    example = component["example"]
    key = "header_text" if kind(component) == HEADER else "body_text"
    if parameter_format == NAMED:
        named = example.get(f"{key}_named_params")
        if not isinstance(named, list):
            return {}
        return {
            str(item["param_name"]): str(item["example"])
            for item in named
            if isinstance(item, Mapping) and "param_name" in item and "example" in item
        }
    values = example.get(key)
    if kind(component) == BODY and isinstance(values, list) and values and isinstance(values[0], list):
        values = values[0]  # the body's examples are one list per sample message
    if not isinstance(values, list):
        return {}
    return {str(number): str(value) for number, value in enumerate(values, start=1)}


def button_example(button: object) -> str:
    """The platform's example of what a send fills in a button: a URL button's link end (from the
    example link), a copy-code button's code ("" when there is none)."""
    if not isinstance(button, Mapping):
        return ""
    example = button.get("example")
    example = str(example[0]) if isinstance(example, list) and example else str(example or "")
    if str(button.get("type", "")).upper() == "URL":
        url = str(button.get("url") or "")
        match = TOKEN.search(url)
        if not match or not example:
            return ""
        before, after = url[: match.start()], url[match.end() :]
        if example.startswith(before) and example.endswith(after) and len(example) > len(before) + len(after):
            return example[len(before) : len(example) - len(after)]
        return example
    return example
