"""Two agents answering one customer (issue 15, collision): a send is refused with 409 when colleagues
replied to this customer since the sending agent's compose area was drawn, unless the agent confirms
("Send anyway"). The compose forms carry the instant they were drawn (`loaded_at`); the check is the
server's, the page only shows it."""

from __future__ import annotations

from datetime import datetime

from conversations.models import Customer, Message
from conversations.policy import NOT_A_TURN

SHOWN = 3  # the latest replies the warning quotes


def replies_since_loaded(request, customer: Customer) -> list[Message]:
    """Colleagues' replies to `customer` after the posted form's `loaded_at` (none when the agent
    confirmed, or when the form does not say when it was drawn)."""
    if request.POST.get("confirm_collision") == "1":
        return []
    since = _instant(request.POST.get("loaded_at", ""))
    if since is None:
        return []
    return replies_since(customer, since, agent=request.user)


def replies_since(customer: Customer, since: datetime, *, agent) -> list[Message]:
    """What others sent `customer` after `since` and the platform has not refused: texts, files and
    templates (a reaction or a notice answers nothing), oldest first, at most SHOWN."""
    latest = (
        Message.objects.filter(customer=customer, direction=Message.Direction.OUTBOUND, occurred_at__gt=since)
        .exclude(agent=agent)
        .exclude(wa_type__in=NOT_A_TURN)
        .exclude(status=Message.Status.FAILED)
        .select_related("agent")
        .order_by("-occurred_at", "-pk")[:SHOWN]
    )
    return list(reversed(latest))


def _instant(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
