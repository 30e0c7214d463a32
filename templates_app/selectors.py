"""Reads of the template catalogue: the agents' read-only catalogue and a template's usage. Each runs a
fixed number of queries, whatever the number of templates or messages."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Case, Count, IntegerField, Q, Value, When

from conversations import policy
from conversations.models import Conversation, Message
from templates_app import components, statuses
from templates_app.models import MessageTemplate


@dataclass(frozen=True)
class CatalogueEntry:
    template: MessageTemplate
    status: statuses.StatusInfo
    preview: components.Preview  # with the platform's example values
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
            When(status=policy.SENDABLE_TEMPLATE_STATUS, then=Value(0)),
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
            preview=components.preview(t.components, t.parameter_format),
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


@dataclass(frozen=True)
class AgentUsage:
    agent_id: int | None  # None: sent without an agent (the demo, an API, a script)
    name: str
    count: int


@dataclass(frozen=True)
class TemplateUsage:
    sent: int
    failed: int
    by_agent: tuple[AgentUsage, ...]
    by_category: tuple[tuple[str, int], ...]  # the category each message was sent under
    conversations_opened: int


def usage(template: MessageTemplate) -> TemplateUsage:
    """How often `template` was sent, by whom, under which category, and how many conversations it
    opened (Conversation.opening_message is one of its messages). Three queries."""
    messages = Message.objects.filter(template=template)
    rows = list(
        messages.values("agent_id", "agent__username", "agent__first_name", "agent__last_name", "status")
        .annotate(count=Count("id"))
        .order_by()
    )
    agents: dict[int | None, AgentUsage] = {}
    for row in rows:
        name = " ".join(filter(None, [row["agent__first_name"], row["agent__last_name"]]))
        label = f"{name} ({row['agent__username']})" if name else (row["agent__username"] or "no agent")
        previous = agents.get(row["agent_id"])
        agents[row["agent_id"]] = AgentUsage(
            row["agent_id"], label, row["count"] + (previous.count if previous else 0)
        )
    categories = messages.order_by("template_category").values("template_category").annotate(n=Count("id"))
    by_category = tuple((row["template_category"] or "—", row["n"]) for row in categories)
    return TemplateUsage(
        sent=sum(row["count"] for row in rows),
        failed=sum(row["count"] for row in rows if row["status"] == Message.Status.FAILED),
        by_agent=tuple(sorted(agents.values(), key=lambda a: (-a.count, a.name))),
        by_category=by_category,
        conversations_opened=Conversation.objects.filter(opening_message__template=template).count(),
    )
