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
from dataclasses import dataclass, field

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
#
# One function draws a template as the customer sees it (header, body, footer, buttons): the admin's card
# with the platform's example values, the inbox's compose preview with what the agent typed, and the
# thread's bubble with what was sent.


@dataclass(frozen=True)
class Part:
    """A piece of text: written text, a value given for a placeholder, an example value standing in for
    one, or a placeholder with neither (shown as written)."""

    text: str
    kind: str  # "text" | "value" | "example" | "placeholder"


@dataclass(frozen=True)
class ButtonPreview:
    type: str
    text: str
    detail: str = ""  # the URL (filled in, or with its example), the phone number, the code…


@dataclass(frozen=True)
class Preview:
    header: tuple[Part, ...] = ()
    header_format: str = ""  # TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION, PRODUCT… ("" without a header)
    header_detail: str = ""  # a media header's link, a location header's place, as given ("" until then)
    body: tuple[Part, ...] = ()
    footer: str = ""
    buttons: tuple[ButtonPreview, ...] = ()
    notes: tuple[str, ...] = ()  # what the card does not draw: "Carousel of 3 cards", "Limited-time offer…"

    @property
    def body_text(self) -> str:
        return "".join(part.text for part in self.body)

    @property
    def header_is_media(self) -> bool:
        return self.header_format in ("IMAGE", "VIDEO", "DOCUMENT")


@dataclass(frozen=True)
class Given:
    """What a send fills in: the body's placeholder values ({"1": "Ann"} or {"first_name": "Ann"}), the
    header's value (a TEXT header's placeholder value, a media header's link, a location header's
    {latitude, longitude, name, address}) and the buttons' values by position (a URL button's link end,
    a copy-code button's code). Empty values count as not given."""

    values: Mapping[str, str] = field(default_factory=dict)
    header: object = None
    buttons: Mapping[int, str] = field(default_factory=dict)


def given_from(params: object, extras: object) -> Given:
    """`Given` from a send's parameters (a list for {{1}}, {{2}}…, a dict by name) and its extras, either
    as the compose form gives them ({"header": value, "buttons": {index: value}}) or as a message stores
    them (templates_app.sending.prepare: {"header": {"format", "name", "value"}, "buttons": [{"index",
    "value"}]})."""
    if isinstance(params, Mapping):
        values = {str(name): value for name, value in params.items()}
    elif isinstance(params, list | tuple):
        values = {str(number): value for number, value in enumerate(params, start=1)}
    else:
        values = {}
    extras = extras if isinstance(extras, Mapping) else {}
    header = extras.get("header")
    if isinstance(header, Mapping) and "format" in header:
        header = header.get("value")
    buttons = extras.get("buttons")
    if isinstance(buttons, list):
        buttons = {entry.get("index"): entry.get("value") for entry in buttons if isinstance(entry, Mapping)}
    return Given(
        values={k: str(v) for k, v in values.items() if v is not None},
        header=header,
        buttons=buttons if isinstance(buttons, Mapping) else {},
    )


def fill(
    text: str, values: Mapping[str, str] | None = None, examples: Mapping[str, str] | None = None
) -> tuple[Part, ...]:
    """`text` cut into parts, in one pass: each placeholder replaced by its given value, else by its
    example, else kept as written. A value is never read again for placeholders: "{{2}}" given for
    {{1}} shows as "{{2}}", as the platform sends it."""
    values, examples = values or {}, examples or {}
    parts: list[Part] = []
    position = 0
    for match in TOKEN.finditer(text or ""):
        if match.start() > position:
            parts.append(Part(text[position : match.start()], "text"))
        token = match.group(1)
        if token in values:
            parts.append(Part(values[token], "value"))
        elif token in examples:
            parts.append(Part(examples[token], "example"))
        else:
            parts.append(Part(match.group(0), "placeholder"))
        position = match.end()
    if position < len(text or ""):
        parts.append(Part(text[position:], "text"))
    return tuple(parts)


def preview(
    components: object, parameter_format: str, *, examples: bool = True, given: Given | None = None
) -> Preview:
    """What the customer will see: each text with the `given` values in place of its placeholders, the
    platform's example values where none is given (`examples=False`: the placeholders as written)."""
    given = given or Given()
    header = find(components, HEADER)
    body = find(components, BODY)
    buttons = find(components, BUTTONS)
    header_format = str(header.get("format") or "TEXT").upper() if header else ""
    listed = buttons.get("buttons") if buttons else None
    body_values = _present(given.values)
    return Preview(
        header=_header_parts(header, parameter_format, examples, given.header)
        if header_format == "TEXT"
        else (),
        header_format=header_format,
        header_detail=_header_detail(header_format, given.header),
        body=fill(text_of(body), body_values, example_values(body, parameter_format) if examples else {}),
        footer=text_of(find(components, FOOTER)),
        buttons=tuple(
            _button(button, examples, _button_value(given.buttons, index), body_values)
            for index, button in enumerate(listed)
            if isinstance(button, Mapping)
        )
        if isinstance(listed, list)
        else (),
        notes=_notes(components),
    )


def _present(values: Mapping) -> dict[str, str]:
    return {str(k): str(v) for k, v in (values or {}).items() if v is not None and str(v).strip()}


def _button_value(values: Mapping, index: int) -> str:
    return str(values.get(index) or values.get(str(index)) or "").strip()


def _header_parts(header, parameter_format: str, examples: bool, value) -> tuple[Part, ...]:
    text = text_of(header)
    names = TOKEN.findall(text)
    filled = isinstance(value, str | int | float) and str(value).strip()
    given = {names[0]: str(value)} if names and filled else {}
    return fill(text, given, example_values(header, parameter_format) if examples else {})


def _header_detail(header_format: str, value) -> str:
    """A media header's link, or a location header's place ("Shop Mitte, Main St 1 (52.52, 13.405)")."""
    if header_format == "LOCATION":
        place = value if isinstance(value, Mapping) else {}
        words = ", ".join(
            str(place[k]).strip() for k in ("name", "address") if str(place.get(k) or "").strip()
        )
        latitude, longitude = (str(place.get(k) or "").strip() for k in ("latitude", "longitude"))
        where = f"({latitude}, {longitude})" if latitude and longitude else ""
        return " ".join(part for part in (words, where) if part)
    if header_format in ("IMAGE", "VIDEO", "DOCUMENT") and isinstance(value, str):
        return value.strip()
    return ""


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


def _button(button: Mapping, examples: bool, value: str, body_values: Mapping[str, str]) -> ButtonPreview:
    kind_ = str(button.get("type", "")).upper()
    text = str(button.get("text") or "")
    detail = ""
    if kind_ == "URL":
        detail = str(button.get("url") or "")
        example = button.get("example")
        if value and TOKEN.search(detail):
            detail = "".join(part.text for part in fill(detail, {"1": value}))
        elif examples and "{{" in detail and isinstance(example, list) and example:
            detail = str(example[0])
    elif kind_ == "PHONE_NUMBER":
        detail = str(button.get("phone_number") or "")
    elif kind_ == "COPY_CODE":
        detail = value or (button_example(button) if examples else "")
        text = text or "Copy code"
    elif kind_ == "OTP":
        # The code the customer copies is the body's {{1}} (templates_app.sending fills it in).
        code = body_values.get("1") or next(iter(body_values.values()), "")
        detail = code or (str(button.get("otp_type") or "") if examples else "")
        text = text or "Copy code"
    elif kind_ not in ("QUICK_REPLY", "PHONE_NUMBER"):
        text = text or BUTTON_LABELS.get(kind_, kind_.replace("_", " ").capitalize())
    return ButtonPreview(kind_, text, detail)


# What the platform shows on buttons that may come without a label of their own.
BUTTON_LABELS = {"CATALOG": "View catalog", "MPM": "View items", "SPM": "View", "VOICE_CALL": "Call"}
