"""Reads: what the rules say about a customer at an instant. Every function takes an optional aware
`now`; without it, the clock is read once through django.utils.timezone.now() (tests travel in time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from conversations import policy
from conversations.models import ContactAttribute, ContactAttributeValue, Conversation, Customer, Message
from conversations.prepared import Prepared
from templates_app.models import MessageTemplate


def resolve_now(now: datetime | None) -> datetime:
    return timezone.now() if now is None else policy.require_aware(now)


def open_at(now: datetime) -> Q:
    """R8 as a query: open at `now` is computed from timestamps, never from `status`."""
    return Q(opened_at__lte=now, expires_at__gt=now) & (Q(closed_at__isnull=True) | Q(closed_at__gt=now))


def window_open_at(now: datetime) -> Q:
    """R1 as a query on customers (policy.service_window): the latest customer message is less than
    24 h old at `now`, and the platform has not closed that window since (131047, R9). The inbox's
    filters and counts and the admin's filter all ask this."""
    return Q(last_inbound_at__gt=now - policy.SERVICE_WINDOW, last_inbound_at__lte=now) & (
        Q(platform_window_closed_at__isnull=True)
        | Q(platform_window_closed_at__lt=F("last_inbound_at"))
        | Q(platform_window_closed_at__gt=now)
    )


def closing_soon_at(now: datetime) -> Q:
    """Open at `now` with policy.CLOSING_SOON or less left (ServiceWindow.closing_soon as a query)."""
    return window_open_at(now) & Q(last_inbound_at__lte=now - policy.SERVICE_WINDOW + policy.CLOSING_SOON)


def due_to_expire(now: datetime) -> QuerySet[Conversation]:
    """What the expiry sweep has yet to tidy at `now`: conversations still marked open whose expires_at
    has passed (R8: one that expires at `now` is no longer open at `now`), earliest first. The sweep
    marks these and its dry run lists them: one query, so the two cannot disagree."""
    return Conversation.objects.filter(status=Conversation.Status.OPEN, expires_at__lte=now).order_by(
        "expires_at", "pk"
    )


def open_conversations(customer: Customer, *, now: datetime | None = None) -> QuerySet[Conversation]:
    """R8: the customer's conversations open at `now`, earliest opened first."""
    now = resolve_now(now)
    return Conversation.objects.filter(open_at(now), customer=customer).order_by("opened_at", "pk")


def latest_inbound_at(customer: Customer, now: datetime) -> datetime | None:
    """The platform timestamp of the latest customer message at or before `now` (R1)."""
    if customer.last_inbound_at is None or customer.last_inbound_at <= now:
        return customer.last_inbound_at
    # A question about an earlier instant than the latest message: ask the messages themselves.
    return (
        Message.objects.filter(customer=customer, direction=Message.Direction.INBOUND, occurred_at__lte=now)
        .exclude(wa_type__in=policy.NOT_FROM_THE_CUSTOMER)
        .order_by("-occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )


def latest_referral_at(customer: Customer, now: datetime) -> datetime | None:
    """The latest referral that made the customer free-entry-point eligible, at or before `now` (R6)."""
    if customer.fep_referral_at is None or customer.fep_referral_at <= now:
        return customer.fep_referral_at
    return (
        Message.objects.filter(
            customer=customer,
            direction=Message.Direction.INBOUND,
            referral__isnull=False,
            occurred_at__lte=now,
        )
        .order_by("-occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )


def service_window(customer: Customer, *, now: datetime | None = None) -> policy.ServiceWindow:
    """R1: `.is_open`, `.closes_at`, `.opened_at` (the customer's latest message) at `now`."""
    now = resolve_now(now)
    return policy.service_window(
        last_inbound_at=latest_inbound_at(customer, now),
        now=now,
        platform_closed_at=customer.platform_window_closed_at,
    )


def customer_conversations(
    customer: Customer, now: datetime, referral_at: datetime | None
) -> list[Conversation]:
    """The conversations the rules need at `now`: every open one, and every free-entry-point one opened
    since the referral (they decide whether the eligibility is used up)."""
    return _CUSTOMER_CONVERSATIONS.rows(customer=customer.pk, now=now, referral_at=referral_at)


def _customer_conversations(*, customer: int, now: datetime, referral_at: datetime | None):
    relevant = open_at(now)
    if referral_at is not None:
        relevant |= Q(
            category=Conversation.Category.FREE_ENTRY_POINT, opened_at__gte=referral_at, opened_at__lte=now
        )
    return Conversation.objects.filter(relevant, customer=customer).order_by("opened_at", "pk")


# Asked by every send under the customer's lock: compiled once (the ORM's own query), run with each call's
# values.
_CUSTOMER_CONVERSATIONS = Prepared(_customer_conversations)


def customer_state(customer: Customer, now: datetime) -> tuple[policy.CustomerState, dict[int, Conversation]]:
    """Everything the policy needs about `customer` at `now`, and the conversation rows by key."""
    referral_at = latest_referral_at(customer, now)
    conversations = customer_conversations(customer, now, referral_at)
    state = policy.CustomerState(
        last_inbound_at=latest_inbound_at(customer, now),
        referral_at=referral_at,
        conversations=tuple(c.as_policy() for c in conversations),
        platform_closed_at=customer.platform_window_closed_at,
    )
    return state, {c.pk: c for c in conversations}


def fep_eligibility(customer: Customer, *, now: datetime | None = None) -> policy.FepEligibility:
    """R6: whether the next outbound message would open a free-entry-point conversation, and until when."""
    now = resolve_now(now)
    state, _ = customer_state(customer, now)
    return state.fep(now)


def preview_send(customer: Customer, *, template=None, now: datetime | None = None) -> policy.SendDecision:
    """What a send would do right now (the inbox shows `.describe()` before the agent sends). The same
    policy decides the real send; this is its answer without writing anything."""
    now = resolve_now(now)
    state, _ = customer_state(customer, now)
    outbound = (
        policy.Outbound.template(template.category, template.status)
        if template
        else policy.Outbound.free_form()
    )
    return policy.decide_send(state, outbound, now)


def template_refusal(customer: Customer, template, *, now: datetime | None = None) -> str | None:
    """Why this customer cannot be sent this template now, beyond R2 (the template's own status): the
    platform would refuse it to them. None when nothing stands in the way. The compose area shows it and
    the server refuses the send with it, before it costs anything."""
    now = resolve_now(now)
    stopped = customer.marketing_stopped_at
    if template.category == "MARKETING" and stopped is not None and stopped <= now:
        when = timezone.localtime(stopped)
        return (
            f"The customer stopped marketing messages from us on {when:%Y-%m-%d}: WhatsApp refuses marketing "
            "templates to them (error 131050) until they resume. Utility templates, and replies while the "
            "window is open, still reach them."
        )
    if not customer.wa_id and template.needs_phone_number:
        return (
            "This customer is known only by their WhatsApp username or user id, not a phone number, and "
            "WhatsApp delivers a template with a code button only to a phone number (error 131062). "
            "Send a template without a code button, or reply in the window."
        )
    return None


# --- A template's usage (the template admin's) ---------------------------------------------------


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


def template_usage(template: MessageTemplate) -> TemplateUsage:
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


@dataclass(frozen=True)
class AttributeShown:
    """A contact field as the side panel shows it for one customer: its definition and value (or None)."""

    attribute: ContactAttribute
    value: ContactAttributeValue | None  # with changed_by joined


def attributes_of(customer: Customer) -> list[AttributeShown]:
    """Every contact field admins defined, in their order, with this customer's value: two queries."""
    values = {
        v.attribute_id: v
        for v in ContactAttributeValue.objects.filter(customer=customer).select_related("changed_by")
    }
    return [
        AttributeShown(a, values.get(a.pk)) for a in ContactAttribute.objects.order_by("position", "label")
    ]


def attribute_values(customer: Customer) -> dict[str, str]:
    """This customer's attribute values by key (canned replies' variables, templates' named parameters):
    one query."""
    return dict(
        ContactAttributeValue.objects.filter(customer=customer).values_list("attribute__key", "value")
    )


def attribute_keys() -> list[str]:
    return list(ContactAttribute.objects.values_list("key", flat=True))
