"""The one renderer of a template: header, body, footer and buttons, with a send's values in place of the
placeholders. Pure Python (no Django).

Everything that shows or sends a template draws it with `render`: the admin's card and the agents'
catalogue (with the platform's example values), the inbox's compose preview (with what the agent typed),
the thread's bubble (with what a message stores), and the send itself (`render_send`): the body text a
message stores is the rendered body, and the values the payload posts are those the rendering filled in.
So the preview is what is sent, and a value is never read again for placeholders ("{{2}}" given for {{1}}
is sent and shown as "{{2}}", as the platform fills it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from templates_app import placeholders, sending
from templates_app.components import (
    BODY,
    BUTTONS,
    CAROUSEL,
    FOOTER,
    HEADER,
    LIMITED_TIME_OFFER,
    body_text,
    button_example,
    example_values,
    find,
    kind,
    text_of,
)
from templates_app.exceptions import TemplateParamsInvalid
from templates_app.placeholders import TOKEN, Part, fill, joined

# What the platform shows on buttons that may come without a label of their own.
BUTTON_LABELS = {"CATALOG": "View catalog", "MPM": "View items", "SPM": "View", "VOICE_CALL": "Call"}


@dataclass(frozen=True)
class ButtonPreview:
    type: str
    text: str
    detail: str = ""  # the URL (filled in, or with its example), the phone number, the code…


@dataclass(frozen=True)
class Rendered:
    header: tuple[Part, ...] = ()
    header_format: str = ""  # TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION, PRODUCT… ("" without a header)
    header_detail: str = ""  # a media header's link, a location header's place, as given ("" until then)
    body: tuple[Part, ...] = ()
    footer: str = ""
    buttons: tuple[ButtonPreview, ...] = ()
    notes: tuple[str, ...] = ()  # what the card does not draw: "Carousel of 3 cards", "Limited-time offer…"

    @property
    def header_text(self) -> str:
        return joined(self.header)

    @property
    def body_text(self) -> str:
        return joined(self.body)

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


def render(
    components: object, parameter_format: str, *, examples: bool = True, given: Given | None = None
) -> Rendered:
    """What the customer will see: each text with the `given` values in place of its placeholders, the
    platform's example values where none is given (`examples=False`: the placeholders as written). A
    value is taken as a send posts it (templates_app.sending): a header's and a button's trimmed."""
    given = given or Given()
    header = find(components, HEADER)
    body = find(components, BODY)
    buttons = find(components, BUTTONS)
    header_format = str(header.get("format") or "TEXT").upper() if header else ""
    listed = buttons.get("buttons") if buttons else None
    body_values = _present(given.values)
    return Rendered(
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


@dataclass(frozen=True)
class Send:
    """A send's values, checked, and the message they make. `rendered` is what the compose preview shows
    and the thread draws; its body text is what the message stores. `extras` (the header's and the
    buttons' values, as templates_app.sending.prepare returns them) is stored beside the parameters, and
    the payload posts them: the same values the rendering filled in."""

    rendered: Rendered
    extras: dict | None

    @property
    def body(self) -> str:
        return self.rendered.body_text


def render_send(
    components: object, parameter_format: str, category: str, params, extras: Mapping | None = None
) -> Send:
    """Check a send's `params` (the body's) and `extras` ({"header": value, "buttons": {index: value}})
    against the template, and render the message they make. Raises TemplateParamsInvalid with every
    problem of both at once."""
    errors, values, prepared = [], {}, None
    try:
        values = placeholders.normalise_params(body_text(components), parameter_format, params)
    except TemplateParamsInvalid as error:
        errors += error.errors
    inputs = sending.send_inputs(components, parameter_format, category)
    try:
        prepared = sending.prepare(inputs, extras, values)
    except TemplateParamsInvalid as error:
        errors += error.errors
    if errors:
        raise TemplateParamsInvalid(errors)
    rendered = render(components, parameter_format, examples=False, given=given_from(values, prepared))
    return Send(rendered, prepared)


def _present(values: Mapping) -> dict[str, str]:
    return {str(k): str(v) for k, v in (values or {}).items() if v is not None and str(v).strip()}


def _button_value(values: Mapping, index: int) -> str:
    return str(values.get(index) or values.get(str(index)) or "").strip()


def _header_parts(header, parameter_format: str, examples: bool, value) -> tuple[Part, ...]:
    text = text_of(header)
    names = TOKEN.findall(text)
    filled = str(value).strip() if isinstance(value, str | int | float) else ""
    given = {names[0]: filled} if names and filled else {}
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
            detail = joined(fill(detail, {"1": value}))
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
