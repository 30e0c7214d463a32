"""A template in the platform's own JSON shape, read and written. Pure Python (no Django).

The listing `GET /{WABA_ID}/message_templates` gives items
`{id, name, language, status, category, parameter_format, components, rejected_reason?}`; the export
file is a list of the same objects without `id` (ids belong to one business account, and a file moves
between environments): `{name, language, category, status, parameter_format, components}`.

Reading is lenient (the first of two levels of rules, see templates_app.validation): whatever the platform
lists is a template it accepted, so only what is structurally not a template is refused here. Components
are kept exactly as they came (CAROUSEL, LIMITED_TIME_OFFER, PRODUCT headers, CATALOG / MPM / SPM / FLOW
buttons, lower-case types, odd `example` shapes…). Two things are normalised, because the catalogue
stores them in a fixed vocabulary:
- the category: templates made before Meta's category changes are still listed under their former
  category (the listing's `category` filter in the Graph API reference still names them: ACCOUNT_UPDATE,
  PAYMENT_UPDATE, … AUTO_REPLY, TRANSACTIONAL, OTP). WhatsApp itself re-filed TRANSACTIONAL as UTILITY and
  OTP as AUTHENTICATION in 2023, and the older "update" categories had been folded into TRANSACTIONAL
  before that; AUTO_REPLY is counted as UTILITY too (a reply, not a promotion). The category as listed is
  kept in `listed_category`.
- a missing `parameter_format` (templates made before named parameters existed, and creation examples
  that leave it out): NAMED when the text uses only named placeholders, POSITIONAL otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from templates_app.components import BODY, HEADER, kind, text_of
from templates_app.placeholders import NAMED, NAMED_TOKEN, POSITIONAL, POSITIONAL_TOKEN, tokens

EXPORT_FIELDS = ("name", "language", "category", "status", "parameter_format", "components")
PENDING = "PENDING"

LEGACY_CATEGORIES = {
    "TRANSACTIONAL": "UTILITY",
    "OTP": "AUTHENTICATION",
    **{
        legacy: "UTILITY"
        for legacy in (
            "ACCOUNT_UPDATE",
            "ALERT_UPDATE",
            "APPOINTMENT_UPDATE",
            "AUTO_REPLY",
            "ISSUE_RESOLUTION",
            "PAYMENT_UPDATE",
            "PERSONAL_FINANCE_UPDATE",
            "RESERVATION_UPDATE",
            "SHIPPING_UPDATE",
            "TICKET_UPDATE",
            "TRANSPORTATION_UPDATE",
        )
    },
}


class ShapeError(ValueError):
    """An item is not a template in the platform's shape; the message says what is missing."""


@dataclass(frozen=True)
class PlatformTemplate:
    name: str
    language: str
    category: str
    status: str
    parameter_format: str
    components: list
    platform_id: str = ""
    rejected_reason: str = ""
    listed_category: str = ""  # the category as listed, before a former category is mapped
    listed_status: str = ""  # the status as listed ("" when the item gives none)

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.language)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.language})"

    @property
    def seen_by_platform(self) -> bool:
        """The platform has taken this template: it has the platform's id, or a status only the platform
        gives (anything but PENDING, which is also what a local draft is). Its shape then passed the
        platform's own creation checks, whatever our stricter rules would say."""
        return bool(self.platform_id) or self.listed_status not in ("", PENDING)


def parse(item: object) -> PlatformTemplate:
    """One listing item or export entry; raises ShapeError naming what is missing or malformed."""
    if not isinstance(item, Mapping):
        raise ShapeError("not a template object")
    missing = [key for key in ("name", "language", "category", "components") if key not in item]
    if missing:
        raise ShapeError(f"missing {', '.join(missing)}")
    for key in ("name", "language", "category"):
        if not isinstance(item[key], str):
            raise ShapeError(f"{key} must be text")
    components = item["components"]
    if not isinstance(components, list):
        raise ShapeError("components must be a list")
    for position, component in enumerate(components, start=1):
        if not isinstance(component, Mapping):
            raise ShapeError(f"component {position} is not an object with a type")
    reason = item.get("rejected_reason")
    listed_category = item["category"].strip().upper()
    listed_status = str(item.get("status") or "").strip().upper()
    return PlatformTemplate(
        name=item["name"],
        language=item["language"],
        category=LEGACY_CATEGORIES.get(listed_category, listed_category),
        status=listed_status or PENDING,
        parameter_format=str(item.get("parameter_format") or infer_parameter_format(components)).upper(),
        components=components,
        platform_id=str(item.get("id") or ""),
        rejected_reason="" if not reason or str(reason).upper() == "NONE" else str(reason),
        listed_category=listed_category,
        listed_status=listed_status,
    )


def infer_parameter_format(components: list) -> str:
    """NAMED when the header and body use named placeholders and no numbered one, else POSITIONAL."""
    found = [t for c in components if kind(c) in (HEADER, BODY) for t in tokens(text_of(c))]
    named = any(NAMED_TOKEN.fullmatch(t) for t in found)
    numbered = any(POSITIONAL_TOKEN.fullmatch(t) for t in found)
    return NAMED if named and not numbered else POSITIONAL


def entries(document: object) -> list:
    """The templates of an import file: a list, or a listing page `{"data": [...]}` saved as is."""
    if isinstance(document, Mapping) and isinstance(document.get("data"), list):
        return document["data"]
    if isinstance(document, list):
        return document
    raise ShapeError('the file must hold a list of templates: [{"name": …, "language": …, …}, …]')


def export_entry(*, name, language, category, status, parameter_format, components) -> dict:
    return {
        "name": name,
        "language": language,
        "category": category,
        "status": status,
        "parameter_format": parameter_format,
        "components": components,
    }
