"""Inbox writes that are not about the platform's rules: who owns a customer, what the team has read."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from conversations.models import Customer
from inbox import roles
from whatsapp import reading


class NotAnAgent(ValueError):
    code = "not_an_agent"


def assign(*, customer: Customer, to, by) -> Customer:
    """Give `customer` to the agent `to` (None: unassign). Only active agents can own customers."""
    if to is not None and not (to.is_active and to.groups.filter(name=roles.AGENTS).exists()):
        raise NotAnAgent(f"{to.get_username()} is not an active agent, so they cannot be assigned customers.")
    with transaction.atomic():
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        locked.assigned_to = to
        locked.save(update_fields=["assigned_to"])
    return locked


def mark_seen(*, customer: Customer, now=None) -> None:
    """An agent opened the thread: the customer's messages so far are read (shared by the team), and
    WhatsApp is told so, after commit, when a customer message came in since it last was."""
    now = now or timezone.now()
    Customer.objects.filter(pk=customer.pk).exclude(agent_last_seen_at__gte=now).update(
        agent_last_seen_at=now
    )
    reading.request_read_mark(customer, now=now)


def agent_by_id(pk) -> object | None:
    return get_user_model().objects.filter(pk=pk, is_active=True, groups__name=roles.AGENTS).first()
