"""What a send must supply beyond the body's parameters, and the checks on it. Pure Python (no Django).

The platform takes, besides the body's parameters (templates_app.placeholders):
- a HEADER's one parameter: the value of a TEXT header's placeholder, the link of the IMAGE, VIDEO or
  DOCUMENT it shows, or the place a LOCATION header shows (latitude and longitude, a name and an
  address);
- each URL button's variable: the end of its link (`https://shop.example.com/orders/{{1}}`);
- a marketing template's copy-code button: the offer code it copies (up to 15 characters);
- an authentication template's one-time-password button: the code, the same as the body's {{1}}, filled
  in here, never asked for.

`prepare` checks what the agent gave and returns it ready for the platform and for storage on the message
(`Message.template_extras`): {"header": {"format", "name", "value"}, "buttons": [{"index", "value"}]}
(a copy-code button's entry also says `"sub_type": "copy_code"`).

Anything else a template may hold (carousel cards, a limited-time offer's expiry, a product header, the
catalogue, multi- and single-product and Flow buttons, kinds the platform adds later) the compose view
cannot fill: `SendInputs.unsupported` says so in plain words, the template is shown to agents as not
sendable from the inbox, and the send is refused before it reaches the platform.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from templates_app import placeholders
from templates_app.components import BODY, BUTTONS, FOOTER, HEADER, find, kind, text_of
from templates_app.exceptions import TemplateParamsInvalid

MEDIA_FORMATS = ("IMAGE", "VIDEO", "DOCUMENT")
HEADER_TEXT_MAX = 60
URL_MAX = 2000
COUPON_CODE_MAX = 15
LINK = re.compile(r"https://[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?")


@dataclass(frozen=True)
class HeaderInput:
    format: str  # TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION
    name: str = ""  # TEXT: its placeholder ("1" or a name)
    text: str = ""  # TEXT: the header as written, placeholder included

    @property
    def label(self) -> str:
        if self.format == "TEXT":
            return f"Header {{{{{self.name}}}}}"
        if self.format == "LOCATION":
            return "Header location"
        return f"Header {self.format.lower()}: link (https://…)"

    def errors(self, value) -> list[str]:
        if self.format == "LOCATION":
            return _location_errors(value)
        value = str(value or "")
        if not value.strip():
            return [f"{self.label.lower()} is empty" if self.format == "TEXT" else self._media_missing()]
        if self.format == "TEXT":
            if placeholders.BAD_VALUE.search(value):
                return ["the header's parameter may not contain new lines, tabs or more than four spaces"]
            length = len(placeholders.joined(placeholders.fill(self.text, {self.name: value})))
            if length > HEADER_TEXT_MAX:
                return [f"the header would be {length} characters long; WhatsApp allows {HEADER_TEXT_MAX}"]
            return []
        if len(value) > URL_MAX or not LINK.fullmatch(value.strip()):
            return [f"the header {self.format.lower()} needs a link starting with https:// to a public file"]
        return []

    def _media_missing(self) -> str:
        return f"the header {self.format.lower()} needs a link (https://…): the template shows one"

    def cleaned(self, value):
        """The value as stored and posted: text stripped; a location's coordinates as numbers."""
        if self.format == "LOCATION":
            place = value if isinstance(value, Mapping) else {}
            return {
                "latitude": float(place["latitude"]),
                "longitude": float(place["longitude"]),
                "name": str(place.get("name") or "").strip(),
                "address": str(place.get("address") or "").strip(),
            }
        return str(value or "").strip()


LOCATION_FIELDS = ("latitude", "longitude", "name", "address")


def _location_errors(value) -> list[str]:
    place = value if isinstance(value, Mapping) else {}
    errors = []
    for field, low, high in (("latitude", -90, 90), ("longitude", -180, 180)):
        raw = str(place.get(field) or "").strip()
        try:
            number = float(raw)
        except ValueError:
            errors.append(f"the header location needs its {field} (a number from {low} to {high})")
            continue
        if not low <= number <= high:
            errors.append(f"the {field} {raw} is not between {low} and {high}")
    return errors


@dataclass(frozen=True)
class ButtonInput:
    index: int  # the button's position in BUTTONS: the platform's `index`
    text: str  # its label
    url: str  # its link, ending in {{1}}
    is_code: bool = False  # a one-time-password button: filled with the body's code
    sub_type: str = "url"  # or "copy_code": an offer code the customer copies

    @property
    def label(self) -> str:
        if self.sub_type == "copy_code":
            return f"Button “{self.text}”: the offer code"
        return f"Button “{self.text}”: end of its link"

    def errors(self, value: str) -> list[str]:
        if self.sub_type == "copy_code":
            if not value.strip():
                return [f"the button “{self.text}” needs the offer code it copies"]
            if len(value.strip()) > COUPON_CODE_MAX or re.search(r"\s", value.strip()):
                return [f"the offer code has at most {COUPON_CODE_MAX} characters and no spaces"]
            return []
        if not value.strip():
            return [f"the button “{self.text}” needs the end of its link ({self.url})"]
        if re.search(r"\s", value):
            return [f"the end of the button “{self.text}” link may not contain spaces"]
        if len(self.url) - len("{{1}}") + len(value) > URL_MAX:
            return [f"the button “{self.text}” link would be longer than {URL_MAX} characters"]
        return []


@dataclass(frozen=True)
class SendInputs:
    header: HeaderInput | None
    buttons: tuple[ButtonInput, ...]
    unsupported: tuple[str, ...] = ()  # what the compose view cannot fill, each in plain words

    @property
    def asked(self) -> tuple[ButtonInput, ...]:
        """The buttons the agent fills in (not the one-time-password one)."""
        return tuple(button for button in self.buttons if not button.is_code)

    @property
    def fillable(self) -> bool:
        """The compose view can fill everything this template needs."""
        return not self.unsupported

    @property
    def not_fillable_reason(self) -> str:
        """Why the inbox cannot send it, as one sentence for agents ("" when it can)."""
        if not self.unsupported:
            return ""
        return f"Not sendable from the inbox: {'; '.join(self.unsupported)}."


MEDIA_AND_PLACE = (*MEDIA_FORMATS, "LOCATION")
# Buttons that need nothing at send time, or that the compose view fills (URL, COPY_CODE, OTP).
FILLED_BUTTONS = ("QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE", "OTP")
# The platform's kinds the compose view cannot fill, in plain words.
UNFILLABLE_BUTTONS = {
    "CATALOG": "opens your catalogue, which the inbox cannot attach",
    "MPM": "shows products from your catalogue, which the inbox cannot choose",
    "SPM": "shows a product from your catalogue, which the inbox cannot choose",
    "FLOW": "opens a WhatsApp Flow, which the inbox cannot start",
}
UNFILLABLE_HEADERS = {
    "PRODUCT": "its header shows a product from your catalogue, which the inbox cannot choose",
    "GIF": "its header is a GIF, which the inbox cannot attach",
}


def send_inputs(components: object, parameter_format: str, category: str) -> SendInputs:
    """What a send of a template with these components needs beyond its body's parameters."""
    unsupported = _unfillable_parts(components, parameter_format)
    header = None
    component = find(components, HEADER)
    if component is not None:
        header_format = str(component.get("format") or "TEXT").upper()
        if header_format == "TEXT":
            names = placeholders.parameter_names(text_of(component), parameter_format)
            if len(names) > 1:
                unsupported.append("its header has more than one placeholder")
            elif names:
                header = HeaderInput("TEXT", names[0], text_of(component))
        elif header_format in MEDIA_AND_PLACE:
            header = HeaderInput(header_format)
        else:
            unsupported.append(
                UNFILLABLE_HEADERS.get(
                    header_format, f"its header is of a kind the inbox does not know ({header_format})"
                )
            )
    buttons = []
    component = find(components, BUTTONS)
    listed = component.get("buttons") if component is not None else None
    for index, button in enumerate(listed if isinstance(listed, list) else []):
        if not isinstance(button, Mapping):
            continue
        type_ = str(button.get("type", "")).upper()
        url = str(button.get("url") or "")
        label = str(button.get("text") or "")
        if type_ == "OTP" or (type_ == "URL" and str(category).upper() == "AUTHENTICATION"):
            # The platform turns an OTP button into a URL one; either way it takes the code.
            buttons.append(ButtonInput(index, label or "Copy code", url, is_code=True))
        elif type_ == "URL" and placeholders.tokens(url):
            buttons.append(ButtonInput(index, label, url))
        elif type_ == "COPY_CODE":
            buttons.append(ButtonInput(index, label or "Copy offer code", "", sub_type="copy_code"))
        elif type_ not in FILLED_BUTTONS:
            what = f"its “{label}” button" if label else "one of its buttons"
            unsupported.append(
                f"{what} {UNFILLABLE_BUTTONS.get(type_, f'is of a kind the inbox does not know ({type_})')}"
            )
    return SendInputs(header, tuple(buttons), tuple(unsupported))


def _unfillable_parts(components: object, parameter_format: str) -> list[str]:
    """Components the compose view cannot fill, and a body whose placeholders it cannot fill."""
    found = []
    for component in components if isinstance(components, list) else []:
        type_ = kind(component)
        if type_ == "CAROUSEL":
            cards = component.get("cards")
            count = len(cards) if isinstance(cards, list) else 0
            found.append(
                f"it is a carousel of {count} card{'' if count == 1 else 's'}, each with its own header and "
                "buttons, which the inbox cannot fill"
            )
        elif type_ == "LIMITED_TIME_OFFER":
            found.append("it is a limited-time offer, whose expiry the inbox cannot set")
        elif type_ not in (HEADER, BODY, FOOTER, BUTTONS):
            found.append(f"it has a part the inbox does not know ({type_ or 'without a type'})")
    pattern = (
        placeholders.POSITIONAL_TOKEN
        if parameter_format == placeholders.POSITIONAL
        else placeholders.NAMED_TOKEN
    )
    strangers = [t for t in placeholders.tokens(text_of(find(components, BODY))) if not pattern.fullmatch(t)]
    if strangers:
        written = ", ".join(f"{{{{{t}}}}}" for t in dict.fromkeys(strangers))
        found.append(f"its text has placeholders the inbox cannot fill ({written})")
    return found


def prepare(inputs: SendInputs, extras: Mapping | None, body_values: Mapping[str, str]) -> dict | None:
    """Check `extras` ({"header": value, "buttons": {index: value}}) against `inputs`; return what the
    message stores and the platform receives (None when the template needs nothing beyond its body).
    Raises TemplateParamsInvalid with every problem at once."""
    extras = extras or {}
    given_buttons = {str(k): str(v) for k, v in (extras.get("buttons") or {}).items()}
    errors, prepared = [], {}
    if inputs.header is not None:
        value = extras.get("header")
        header_errors = inputs.header.errors(value)
        errors += header_errors
        if not header_errors:
            prepared["header"] = {
                "format": inputs.header.format,
                "name": inputs.header.name,
                "value": inputs.header.cleaned(value),
            }
    elif extras.get("header"):
        errors.append("this template's header takes no parameter")
    buttons = []
    for button in inputs.buttons:
        if button.is_code:
            code = next(iter(body_values.values()), "")
            buttons.append({"index": button.index, "value": code})
            continue
        value = given_buttons.pop(str(button.index), "")
        errors += button.errors(value)
        entry = {"index": button.index, "value": value.strip()}
        if button.sub_type != "url":
            entry["sub_type"] = button.sub_type
        buttons.append(entry)
    if given_buttons:
        errors.append(f"no button with a variable at position {', '.join(sorted(given_buttons))}")
    if errors:
        raise TemplateParamsInvalid(errors)
    if buttons:
        prepared["buttons"] = buttons
    return prepared or None
