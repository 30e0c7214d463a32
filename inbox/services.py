"""Inbox writes that are not about the platform's rules: who owns a customer, what each agent has read."""

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from accounts import roles
from conversations import services
from conversations.exceptions import NotAnAgent
from conversations.models import Customer
from inbox.models import CustomerSeen
from whatsapp import reading

REASSIGN = "conversations.reassign_customer"

__all__ = ["NotAnAgent", "agent_by_id", "assign", "mark_seen"]


def assign(*, customer: Customer, to, by, team=services.assignment.UNCHANGED) -> Customer:
    """Give `customer` to the agent `to` (None: unassign) and, when given, to `team`, as `by` now. Only
    active agents can own customers (NotAnAgent); an agent takes a thread nobody holds and gives back
    their own, a supervisor reassigns anyone's (AssignmentRefused). The history is kept by the domain."""
    if to is not None and not to.groups.filter(name=roles.AGENTS).exists():
        raise NotAnAgent(f"{to.get_username()} is not an active agent, so they cannot be given customers.")
    return services.assign(
        customer=customer, to=to, by=by, now=timezone.now(), may_reassign=by.has_perm(REASSIGN), team=team
    )


def mark_seen(*, customer: Customer, agent, now) -> None:
    """`agent` opened the customer's thread at `now`: the customer's messages so far are read, for that
    agent only (one upsert; never moves what the agent has seen back in time), and WhatsApp is told so,
    after commit, when a customer message came in since it last was."""
    table = CustomerSeen._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (agent_id, customer_id, seen_at) VALUES (%s, %s, %s) "  # noqa: S608
            f"ON CONFLICT (agent_id, customer_id) DO UPDATE SET seen_at = excluded.seen_at "
            f"WHERE {table}.seen_at < excluded.seen_at",
            [agent.pk, customer.pk, connection.ops.adapt_datetimefield_value(now)],
        )
    reading.request_read_mark(customer, now=now)


def agent_by_id(pk) -> object | None:
    return get_user_model().objects.filter(pk=pk, is_active=True, groups__name=roles.AGENTS).first()
