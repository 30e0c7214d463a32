"""A template in the platform's own JSON shape, read and written. Pure Python (no Django).

The listing `GET /{WABA_ID}/message_templates` gives items
`{id, name, language, status, category, parameter_format, components, rejected_reason?}`; the export
file is a list of the same objects without `id` (ids belong to one business account, and a file moves
between environments): `{name, language, category, status, parameter_format, components}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from templates_app.placeholders import POSITIONAL

EXPORT_FIELDS = ("name", "language", "category", "status", "parameter_format", "components")


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

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.language)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.language})"


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
    if not isinstance(item["components"], list):
        raise ShapeError("components must be a list")
    reason = item.get("rejected_reason")
    return PlatformTemplate(
        name=item["name"],
        language=item["language"],
        category=item["category"].upper(),
        status=str(item.get("status") or "PENDING").upper(),
        # Templates created before named parameters existed come without parameter_format.
        parameter_format=str(item.get("parameter_format") or POSITIONAL).upper(),
        components=item["components"],
        platform_id=str(item.get("id") or ""),
        rejected_reason="" if not reason or str(reason).upper() == "NONE" else str(reason),
    )


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
