"""Reads of the template catalogue: the agents' read-only catalogue, in one query whatever the number of
templates. How often a template was sent is the domain's (conversations.selectors.template_usage)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Case, IntegerField, Q, Value, When

from templates_app import rendering, statuses
from templates_app.models import MessageTemplate


@dataclass(frozen=True)
class CatalogueEntry:
    template: MessageTemplate
    status: statuses.StatusInfo
    preview: rendering.Rendered  # with the platform's example values
    parameters: tuple[str, ...]
    not_sendable_here: str = ""  # why the inbox cannot fill it (a carousel, a product header…), or ""


@dataclass(frozen=True)
class Catalogue:
    sendable: tuple[CatalogueEntry, ...]
    not_sendable: tuple[CatalogueEntry, ...]
    search: str = ""
    # Approved by WhatsApp, but of a kind the compose view cannot fill: each says why.
    not_sendable_here: tuple[CatalogueEntry, ...] = ()


def catalogue(*, search: str = "") -> Catalogue:
    """Every template for the agents' read-only catalogue: the sendable ones, the approved ones the inbox
    cannot fill (with why), then the others with what their status means. One query."""
    templates = MessageTemplate.objects.annotate(
        not_sendable=Case(
            When(status=statuses.SENDABLE, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
    ).order_by("not_sendable", "category", "name", "language")
    if search:
        templates = templates.filter(Q(name__icontains=search) | Q(body_text__icontains=search))
    entries = [
        CatalogueEntry(
            template=t,
            status=t.status_info,
            preview=t.shown_with_examples,
            parameters=tuple(t.parameter_names),
            not_sendable_here=t.not_sendable_from_inbox,
        )
        for t in templates
    ]
    return Catalogue(
        sendable=tuple(e for e in entries if e.status.sendable and not e.not_sendable_here),
        not_sendable=tuple(e for e in entries if not e.status.sendable),
        search=search,
        not_sendable_here=tuple(e for e in entries if e.status.sendable and e.not_sendable_here),
    )
