"""What WhatsApp would refuse in a message template, said in plain words and keyed by the field it belongs
next to ("name", "language", "category", "parameter_format", "components"). Pure Python (no Django).

Two levels of rules:
- `listing_errors`, lenient: what the platform *lists* is a template it accepted, whatever its age or
  kind (carousels, limited-time offers, catalogue and product buttons, legacy bodies that start or end
  with a placeholder, legacy authentication templates with a header…). Only what cannot be stored as a
  template is refused: no name or language, a category or placeholder format outside the platform's
  vocabulary, components that are not a list of objects. Sync, the import of what the platform approved,
  and an admin saving a template without changing it use these.
- `template_errors`, the creation rules below: for a template made or changed here (the admin's add and
  change, an imported draft the platform has never seen) and for every submission to WhatsApp.

Sources, checked against Meta's WhatsApp Business Management API documentation:
- "Template components" (developers.facebook.com/docs/whatsapp/business-management-api/message-templates/
  components): one BODY (required, 1024 characters); at most one HEADER (TEXT of 60 characters with one
  parameter, or IMAGE / VIDEO / DOCUMENT / LOCATION); FOOTER of 60 characters without parameters; at most
  10 buttons, of which at most 2 URL, 1 PHONE_NUMBER and 1 COPY_CODE; a URL button has at most one
  variable, appended to the end of the URL (2000 characters); button labels of 25 characters; quick
  replies grouped together, not interleaved with the other buttons.
- "Templates" (…/message-templates): names of lowercase letters, digits and underscores (512 characters);
  parameters positional `{{1}}`… or named `{{first_name}}`; a body may not start or end with a
  parameter, nor put two parameters side by side.
- "Authentication templates" (…/authentication-templates): the platform's preset text
  "{{1}} is your verification code." (plus an optional security line and expiry footer) and a one-time
  password button (OTP: COPY_CODE, ONE_TAP or ZERO_TAP); no header, no URLs or media.

Decision: AUTHENTICATION bodies are exempt from "may not start with a parameter": the platform writes
that text itself and it starts with the code. Such a template may give its BODY and FOOTER as the
platform's creation preset (`add_security_recommendation`, `code_expiration_minutes`, no text). An OTP
button is checked when present but not required: authentication templates created before OTP buttons
existed are still listed (and sent) by the platform.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass

from templates_app import placeholders
from templates_app.components import BODY, BUTTONS, FOOTER, HEADER, is_preset, kind, text_of
from templates_app.placeholders import NAMED, POSITIONAL

NAME_MAX = 512
LANGUAGE_MAX = 15  # the longest code the catalogue stores
NAME = re.compile(r"[a-z0-9_]+")
# The platform's language codes: `en`, `fil`, `en_US`, `pt_BR`, `zh_HK`…
LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")
CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
PARAMETER_FORMATS = (POSITIONAL, NAMED)

COMPONENT_TYPES = (HEADER, BODY, FOOTER, BUTTONS)
# Kinds the platform has but these rules cannot check (nor the inbox send): a template using them is made
# in WhatsApp Manager and brought here by a sync, which takes it with the lenient rules.
PLATFORM_COMPONENTS = {
    "CAROUSEL": "carousel",
    "LIMITED_TIME_OFFER": "limited-time offer",
    "CALL_PERMISSION_REQUEST": "call permission request",
}
PLATFORM_HEADER_FORMATS = {"PRODUCT": "product", "GIF": "GIF"}
PLATFORM_BUTTONS = {
    "CATALOG": "catalogue",
    "MPM": "multi-product",
    "SPM": "single-product",
    "FLOW": "Flow",
    "VOICE_CALL": "voice call",
    "ORDER_DETAILS": "order details",
}
UNCHECKED = "templates, but this inbox cannot check them: make it in WhatsApp Manager, then sync"
BODY_MAX = 1024
HEADER_TEXT_MAX = 60
FOOTER_MAX = 60
HEADER_FORMATS = ("TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION")

BUTTON_TYPES = ("QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE", "OTP")
BUTTONS_MAX = 10
BUTTON_LIMITS = {"URL": 2, "PHONE_NUMBER": 1, "COPY_CODE": 1, "OTP": 1}
BUTTON_TEXT_MAX = 25
URL_MAX = 2000
PHONE_NUMBER = re.compile(r"\+?[1-9][0-9]{6,19}")
OTP_TYPES = ("COPY_CODE", "ONE_TAP", "ZERO_TAP")
AUTHENTICATION = "AUTHENTICATION"

ADJACENT = re.compile(r"\{\{[^{}]*\}\}\s*\{\{[^{}]*\}\}")


@dataclass(frozen=True)
class Draft:
    """A template as an author wrote it (admin form, import file), before it is saved."""

    name: str
    language: str
    category: str
    parameter_format: str
    components: object


def listing_errors(draft: Draft) -> dict[str, list[str]]:
    """The lenient rules: what keeps `draft` from being stored as a template at all ({} when it can be).
    Components are not judged: the platform accepted them, and they are kept as they came."""
    errors: dict[str, list[str]] = {}
    if not isinstance(draft.name, str) or not draft.name.strip():
        errors["name"] = ["a template needs a name"]
    elif len(draft.name) > NAME_MAX:
        errors["name"] = [f"a name has at most {NAME_MAX} characters; this one has {len(draft.name)}"]
    if not isinstance(draft.language, str) or not draft.language.strip():
        errors["language"] = ["a template needs the platform's language code, e.g. en_US"]
    elif len(draft.language) > LANGUAGE_MAX:
        errors["language"] = [f"a language code has at most {LANGUAGE_MAX} characters"]
    if draft.category not in CATEGORIES:
        errors["category"] = [
            f"{_choice('category', draft.category, CATEGORIES)}, so this inbox cannot file it"
        ]
    if draft.parameter_format not in PARAMETER_FORMATS:
        errors["parameter_format"] = [_choice("parameter format", draft.parameter_format, PARAMETER_FORMATS)]
    components = draft.components
    if not isinstance(components, list) or not all(isinstance(c, Mapping) for c in components):
        errors["components"] = ["components must be a list of the platform's component objects"]
    return errors


def template_errors(draft: Draft, *, allow_unchecked_kinds: bool = False) -> dict[str, list[str]]:
    """Every rule `draft` breaks, by field; {} when WhatsApp would accept its shape.

    The platform's kinds these rules cannot check (PLATFORM_COMPONENTS, PLATFORM_HEADER_FORMATS,
    PLATFORM_BUTTONS) are refused, with a hint, unless `allow_unchecked_kinds`: then they pass unjudged
    (an import, whose file may describe a carousel made in WhatsApp Manager: refusing it would refuse a
    template the platform accepts; the rest of the template is still checked)."""
    errors = {
        "name": name_errors(draft.name),
        "language": language_errors(draft.language),
        "category": [] if draft.category in CATEGORIES else [_choice("category", draft.category, CATEGORIES)],
        "parameter_format": (
            []
            if draft.parameter_format in PARAMETER_FORMATS
            else [_choice("parameter format", draft.parameter_format, PARAMETER_FORMATS)]
        ),
        "components": component_errors(
            draft.components,
            draft.category,
            draft.parameter_format,
            allow_unchecked_kinds=allow_unchecked_kinds,
        ),
    }
    return {field: messages for field, messages in errors.items() if messages}


# --- Name and language -------------------------------------------------------------------------------


def name_errors(name: object) -> list[str]:
    if not isinstance(name, str) or not name:
        return ["a template needs a name"]
    errors = []
    if len(name) > NAME_MAX:
        errors.append(f"a name has at most {NAME_MAX} characters; this one has {len(name)}")
    if not NAME.fullmatch(name):
        suggestion = suggest_name(name)
        hint = f": try “{suggestion}”" if suggestion else ""
        errors.append(f"use only lowercase letters, digits and _ (no spaces, capitals or dashes){hint}")
    return errors


def suggest_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:NAME_MAX]


def language_errors(language: object) -> list[str]:
    if not isinstance(language, str) or not language:
        return ["a template needs the platform's language code, e.g. en_US"]
    if LANGUAGE.fullmatch(language):
        return []
    parts = [p for p in re.split(r"[-_\s]+", language.strip()) if p]
    suggestion = ""
    if len(parts) in (1, 2) and re.fullmatch(r"[A-Za-z]{2,3}", parts[0]):
        suggestion = parts[0].lower() + (f"_{parts[1].upper()}" if len(parts) == 2 else "")
    hint = f": write “{suggestion}”" if suggestion and LANGUAGE.fullmatch(suggestion) else ""
    return [
        "not a language code of the platform (a lowercase language, optionally _ and an upper-case "
        f"region: en, en_US, pt_BR){hint}"
    ]


def identity_change_error(
    *, known_to_platform: bool, old: tuple[str, str], new: tuple[str, str]
) -> str | None:
    """The platform never renames a template nor changes its language: that is another template."""
    if known_to_platform and old != new:
        return (
            f"WhatsApp knows this template as “{old[0]}” ({old[1]}) and does not allow renaming it or "
            "changing its language: add a new template instead"
        )
    return None


def duplicate_error(name: str, language: str) -> str:
    return (
        f"a template named “{name}” already exists in {language}: a name and language are one template at "
        "WhatsApp, so edit that one, or choose another name or language"
    )


# --- Components ----------------------------------------------------------------------------------------


def component_errors(
    components: object, category: str, parameter_format: str, *, allow_unchecked_kinds: bool = False
) -> list[str]:
    if not isinstance(components, list):
        return [
            "components must be a list of the platform's component objects, e.g. "
            '[{"type": "BODY", "text": "Hello {{1}}"}]'
        ]
    errors: list[str] = []
    seen: dict[str, int] = {}
    for position, component in enumerate(components, start=1):
        if not isinstance(component, Mapping):
            errors.append(f"component {position} is not an object with a type")
            continue
        type_ = kind(component)
        if type_ in PLATFORM_COMPONENTS and allow_unchecked_kinds:
            continue
        if type_ not in COMPONENT_TYPES:
            hint = (
                f" (WhatsApp has {PLATFORM_COMPONENTS[type_]} {UNCHECKED})"
                if type_ in PLATFORM_COMPONENTS
                else ""
            )
            errors.append(
                f"component {position}: type “{component.get('type', '')}” is not one of "
                f"{', '.join(COMPONENT_TYPES)}{hint}"
            )
            continue
        seen[type_] = seen.get(type_, 0) + 1
        if seen[type_] == 2:
            errors.append(f"{type_}: a template has at most one {type_} component")
        if seen[type_] > 1:
            continue
        if is_preset(component):
            errors += _preset_errors(component, type_, category)
            continue
        if type_ == HEADER:
            errors += _header_errors(component, category, parameter_format, allow_unchecked_kinds)
        elif type_ == BUTTONS:
            errors += _buttons_errors(component, category, parameter_format, allow_unchecked_kinds)
        else:
            check = {BODY: _body_errors, FOOTER: _footer_errors}
            errors += check[type_](component, category, parameter_format)
    if BODY not in seen:
        errors.append("a template needs a BODY component with text")
    if category == AUTHENTICATION and HEADER in seen:
        errors.append(
            "HEADER: authentication templates have no header (the platform's preset is a body, "
            "an optional expiry footer and a one-time-password button)"
        )
    return errors


def _text(component: Mapping, label: str, limit: int) -> tuple[str, list[str]]:
    text = text_of(component)
    if not text.strip():
        return "", [f"{label}: needs text"]
    if len(text) > limit:
        return text, [f"{label}: at most {limit} characters; this one has {len(text)}"]
    return text, []


def _preset_errors(component: Mapping, type_: str, category: str) -> list[str]:
    """An authentication template's BODY / FOOTER written by the platform (no text of ours)."""
    if category != AUTHENTICATION:
        return [f"{type_}: needs text (only authentication templates use the platform's preset text)"]
    if type_ == BODY and not isinstance(component.get("add_security_recommendation"), bool):
        return ["BODY: add_security_recommendation is true or false"]
    minutes = component.get("code_expiration_minutes")
    if type_ == FOOTER and (
        isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 90
    ):
        return ["FOOTER: code_expiration_minutes is a whole number of minutes from 1 to 90"]
    return []


def _placeholders(text: str, label: str, parameter_format: str) -> list[str]:
    return [f"{label}: {e}" for e in placeholders.placeholder_errors(text, parameter_format)]


def _body_errors(component: Mapping, category: str, parameter_format: str) -> list[str]:
    text, errors = _text(component, BODY, BODY_MAX)
    if not text:
        return ["a template needs a BODY component with text"]
    errors += _placeholders(text, BODY, parameter_format)
    edge = placeholders.edge_placeholder_error(text)
    if edge and category != AUTHENTICATION:  # the platform's own preset starts with the code
        errors.append(f"BODY: {edge}")
    adjacent = ADJACENT.search(text)
    if adjacent:
        errors.append(f"BODY: two placeholders side by side ({adjacent.group(0)}): put words between them")
    errors += _example_errors(component, text, BODY, parameter_format)
    return errors


def _header_errors(
    component: Mapping, category: str, parameter_format: str, allow_unchecked_kinds: bool = False
) -> list[str]:
    header_format = str(component.get("format") or "").upper()
    if header_format in PLATFORM_HEADER_FORMATS and allow_unchecked_kinds:
        return []
    if header_format not in HEADER_FORMATS:
        known = PLATFORM_HEADER_FORMATS.get(header_format)
        hint = f" (WhatsApp has {known} headers in some {UNCHECKED})" if known else ""
        return [f"HEADER: format must be one of {', '.join(HEADER_FORMATS)}{hint}"]
    if header_format != "TEXT":
        if component.get("text"):
            return [f"HEADER: a {header_format} header has no text (the media is chosen when sending)"]
        return []
    text, errors = _text(component, HEADER, HEADER_TEXT_MAX)
    if not text:
        return errors
    errors += _placeholders(text, HEADER, parameter_format)
    if len(placeholders.tokens(text)) > 1:
        errors.append("HEADER: a text header has at most one placeholder")
    errors += _example_errors(component, text, HEADER, parameter_format)
    return errors


def _footer_errors(component: Mapping, category: str, parameter_format: str) -> list[str]:
    text, errors = _text(component, FOOTER, FOOTER_MAX)
    if text and placeholders.tokens(text):
        errors.append("FOOTER: a footer has no placeholders")
    return errors


def _example_errors(component: Mapping, text: str, label: str, parameter_format: str) -> list[str]:
    """Examples are optional here (the platform asks for them on submission), but when given they must
    fit the placeholders, or the preview and the reviewers see something else."""
    example = component.get("example")
    if example is None:
        return []
    if not isinstance(example, Mapping):
        return [f"{label}: example must be an object like {_example_shape(label, parameter_format)}"]
    names = placeholders.parameter_names(text, parameter_format)
    key = "header_text" if label == HEADER else "body_text"
    if parameter_format == NAMED:
        named = example.get(f"{key}_named_params")
        if named is None:
            return []
        given = (
            [item.get("param_name") for item in named if isinstance(item, Mapping)]
            if isinstance(named, list)
            else None
        )
        if given is None or sorted(map(str, given)) != sorted(names):
            return [f"{label}: the example names {_list(given)} but the text uses {_list(names)}"]
        return []
    values = example.get(key)
    if values is None:
        return []
    if label == BODY:
        values = values[0] if isinstance(values, list) and values and isinstance(values[0], list) else None
    if not isinstance(values, list):
        return [f"{label}: example must look like {_example_shape(label, parameter_format)}"]
    if len(values) != len(names):
        return [f"{label}: the example gives {len(values)} value(s) for {len(names)} placeholder(s)"]
    return []


def _example_shape(label: str, parameter_format: str) -> str:
    if parameter_format == NAMED:
        key = "header_text_named_params" if label == HEADER else "body_text_named_params"
        return f'{{"{key}": [{{"param_name": "first_name", "example": "Pablo"}}]}}'
    return '{"header_text": ["Summer"]}' if label == HEADER else '{"body_text": [["Pablo", "860198"]]}'


# --- Buttons -----------------------------------------------------------------------------------------------


def _buttons_errors(
    component: Mapping, category: str, parameter_format: str, allow_unchecked_kinds: bool = False
) -> list[str]:
    buttons = component.get("buttons")
    if not isinstance(buttons, list) or not buttons:
        return [
            "BUTTONS: needs a list of buttons, e.g. "
            '{"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Yes"}]}'
        ]
    errors = []
    if len(buttons) > BUTTONS_MAX:
        errors.append(f"BUTTONS: at most {BUTTONS_MAX} buttons; this template has {len(buttons)}")
    types = []
    for position, button in enumerate(buttons, start=1):
        if not isinstance(button, Mapping):
            errors.append(f"BUTTONS, button {position}: not an object with a type")
            continue
        type_ = str(button.get("type", "")).upper()
        label = f"BUTTONS, button {position} ({type_ or 'no type'})"
        if type_ in PLATFORM_BUTTONS and allow_unchecked_kinds:
            types.append(type_)
            continue
        if type_ not in BUTTON_TYPES:
            known = PLATFORM_BUTTONS.get(type_)
            hint = f" (WhatsApp has {known} buttons in some {UNCHECKED})" if known else ""
            errors.append(f"{label}: the type must be one of {', '.join(BUTTON_TYPES)}{hint}")
            continue
        types.append(type_)
        errors += [f"{label}: {e}" for e in _button_errors(button, type_, category)]
    for type_, limit in BUTTON_LIMITS.items():
        if types.count(type_) > limit:
            errors.append(
                f"BUTTONS: at most {limit} {type_} button{'s' if limit > 1 else ''}; "
                f"this template has {types.count(type_)}"
            )
    quick = [t == "QUICK_REPLY" for t in types]
    if sum(1 for a, b in itertools.pairwise(quick) if a != b) > 1:
        errors.append("BUTTONS: group the quick replies together, before or after the other buttons")
    if category == AUTHENTICATION and any(t != "OTP" for t in types):
        errors.append("BUTTONS: an authentication template has only a one-time-password (OTP) button")
    return errors


def _button_errors(button: Mapping, type_: str, category: str) -> list[str]:
    errors = []
    text = button.get("text")
    needs_text = type_ in ("QUICK_REPLY", "URL", "PHONE_NUMBER")
    if needs_text and (not isinstance(text, str) or not text.strip()):
        errors.append("needs a label (text)")
    elif isinstance(text, str) and len(text) > BUTTON_TEXT_MAX:
        errors.append(f"a label has at most {BUTTON_TEXT_MAX} characters; this one has {len(text)}")
    if type_ == "URL":
        errors += _url_errors(button.get("url"))
    elif type_ == "PHONE_NUMBER":
        phone = button.get("phone_number")
        if not isinstance(phone, str) or not PHONE_NUMBER.fullmatch(phone.replace(" ", "")):
            errors.append("needs phone_number in international format, e.g. +15550783881")
    elif type_ == "OTP":
        if category != AUTHENTICATION:
            errors.append("one-time-password buttons belong to AUTHENTICATION templates only")
        if str(button.get("otp_type", "")).upper() not in OTP_TYPES:
            errors.append(f"otp_type must be one of {', '.join(OTP_TYPES)}")
    return errors


def _url_errors(url: object) -> list[str]:
    if not isinstance(url, str) or not url:
        return ["needs a url"]
    errors = []
    if not re.match(r"https?://[^\s/]+", url):
        errors.append("the url must start with https:// (or http://) and a host")
    if len(url) > URL_MAX:
        errors.append(f"a url has at most {URL_MAX} characters")
    found = placeholders.tokens(url)
    if len(found) > 1:
        errors.append("a url has at most one variable")
    elif found and not (found[0] == "1" and url.endswith("{{1}}")):
        errors.append("the url's one variable is written {{1}} and comes at the very end")
    return errors


# --- Wording -----------------------------------------------------------------------------------------------


def _choice(label: str, value: object, choices: tuple[str, ...]) -> str:
    return f"the {label} “{value}” is not one of {', '.join(choices)}"


def _list(names) -> str:
    return ", ".join(f"{{{{{n}}}}}" for n in names or []) or "none"
