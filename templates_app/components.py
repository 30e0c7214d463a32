"""Reading a template's components (the platform's JSON): find one, its text, the example values the
platform keeps for its placeholders, and a preview of what the customer will see. Pure Python (no Django).

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
from dataclasses import dataclass

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


# --- Preview --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """A piece of text: written text, an example value standing in for a placeholder, or a placeholder
    without an example (shown as written)."""

    text: str
    kind: str  # "text" | "example" | "placeholder"


@dataclass(frozen=True)
class ButtonPreview:
    type: str
    text: str
    detail: str = ""  # the URL (with its example), the phone number, the code…


@dataclass(frozen=True)
class Preview:
    header: tuple[Part, ...] = ()
    header_format: str = ""  # TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION, PRODUCT… ("" without a header)
    body: tuple[Part, ...] = ()
    footer: str = ""
    buttons: tuple[ButtonPreview, ...] = ()
    notes: tuple[str, ...] = ()  # what the card does not draw: "Carousel of 3 cards", "Limited-time offer…"


def fill(text: str, values: Mapping[str, str]) -> tuple[Part, ...]:
    """`text` cut into parts, each placeholder replaced by its value when there is one."""
    parts: list[Part] = []
    position = 0
    for match in TOKEN.finditer(text or ""):
        if match.start() > position:
            parts.append(Part(text[position : match.start()], "text"))
        token = match.group(1)
        if token in values:
            parts.append(Part(values[token], "example"))
        else:
            parts.append(Part(match.group(0), "placeholder"))
        position = match.end()
    if position < len(text or ""):
        parts.append(Part(text[position:], "text"))
    return tuple(parts)


def preview(components: object, parameter_format: str, *, examples: bool = True) -> Preview:
    """What the customer will see: each text with the platform's example values in place of its
    placeholders (`examples=False`: the placeholders as written)."""
    header = find(components, HEADER)
    body = find(components, BODY)
    buttons = find(components, BUTTONS)
    header_format = str(header.get("format") or "TEXT").upper() if header else ""
    listed = buttons.get("buttons") if buttons else None
    return Preview(
        header=_filled(header, parameter_format, examples) if header_format == "TEXT" else (),
        header_format=header_format,
        body=_filled(body, parameter_format, examples),
        footer=text_of(find(components, FOOTER)),
        buttons=tuple(_button(b, examples) for b in listed if isinstance(b, Mapping))
        if isinstance(listed, list)
        else (),
        notes=_notes(components),
    )


def _notes(components: object) -> tuple[str, ...]:
    """Parts of the platform's richer kinds, named in words (the card draws header, body, footer, buttons)."""
    notes = []
    for component in components if isinstance(components, list) else []:
        type_ = kind(component)
        if type_ == CAROUSEL:
            cards = component.get("cards")
            count = len(cards) if isinstance(cards, list) else 0
            notes.append(f"Carousel of {count} card{'' if count == 1 else 's'}")
        elif type_ == LIMITED_TIME_OFFER:
            offer = component.get("limited_time_offer")
            offer = offer if isinstance(offer, Mapping) else {}
            text = str(offer.get("text") or "").strip()
            expiry = ", with a countdown to its expiry" if offer.get("has_expiration") else ""
            notes.append(f"Limited-time offer{f': {text}' if text else ''}{expiry}")
        elif type_ not in (HEADER, BODY, FOOTER, BUTTONS):
            notes.append(f"{str(component.get('type') or 'Unnamed').replace('_', ' ').capitalize()} part")
    return tuple(notes)


def _filled(component, parameter_format: str, examples: bool) -> tuple[Part, ...]:
    values = example_values(component, parameter_format) if examples else {}
    return fill(text_of(component), values)


def _button(button: Mapping, examples: bool) -> ButtonPreview:
    kind_ = str(button.get("type", "")).upper()
    text = str(button.get("text") or "")
    detail = ""
    if kind_ == "URL":
        detail = str(button.get("url") or "")
        example = button.get("example")
        if examples and "{{" in detail and isinstance(example, list) and example:
            detail = str(example[0])
    elif kind_ == "PHONE_NUMBER":
        detail = str(button.get("phone_number") or "")
    elif kind_ == "COPY_CODE":
        example = button.get("example")
        example = example[0] if isinstance(example, list) and example else example
        detail = str(example or "") if examples else ""
        text = text or "Copy code"
    elif kind_ == "OTP":
        detail = str(button.get("otp_type") or "")
        text = text or "Copy code"
    elif kind_ not in ("QUICK_REPLY", "PHONE_NUMBER"):
        text = text or BUTTON_LABELS.get(kind_, kind_.replace("_", " ").capitalize())
    return ButtonPreview(kind_, text, detail)


# What the platform shows on buttons that may come without a label of their own.
BUTTON_LABELS = {"CATALOG": "View catalog", "MPM": "View items", "SPM": "View", "VOICE_CALL": "Call"}
