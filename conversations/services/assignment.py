"""Who holds a customer's thread: assignment by hand, in turn (round-robin) when a customer writes to an
unassigned thread, the team a thread belongs to, agents' available/away switch, and labels on threads.

Every change of a thread's agent writes its history (models.Assignment: who held it from when to when,
who gave it, who took it away) in the same transaction as Customer.assigned_to, under the customer row
lock; the reports attribute each window to the agent who held the thread at the time from it.

Round-robin: the thread's team (else the default team) gives it to its available agent who was given a
thread least recently. The team row is locked for the choice, so two threads arriving at once are given
one after the other: never both to one agent while another is equally free.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q

from conversations import policy
from conversations.exceptions import AssignmentRefused, NotAnAgent
from conversations.models import (
    AgentAvailability,
    Assignment,
    Customer,
    CustomerLabel,
    Label,
    Team,
    TeamMembership,
)
from conversations.services._common import lock_customer

UNCHANGED = object()
# Who can be given customers: an active user whose role answers them (accounts.roles grants it).
ANSWERING_PERMISSION = ("conversations", "send_message")


def answering_users(queryset):
    """`queryset` of users narrowed to active users who may answer customers (their groups' permission or
    their own), without importing the roles (accounts is a higher layer)."""
    app_label, codename = ANSWERING_PERMISSION
    via_group = Q(
        groups__permissions__codename=codename, groups__permissions__content_type__app_label=app_label
    )
    direct = Q(user_permissions__codename=codename, user_permissions__content_type__app_label=app_label)
    model = queryset.model
    answering = model.objects.filter(via_group | direct, pk=OuterRef("pk"))
    return queryset.filter(Exists(answering), is_active=True)


def can_be_assigned(user) -> bool:
    return user is not None and answering_users(get_user_model().objects.filter(pk=user.pk)).exists()


def _permitted(*, holder_id: int | None, to, by, may_reassign: bool) -> bool:
    """Agents take a thread nobody holds (for themselves) and give back their own; supervisors
    (`may_reassign`) give any thread to anyone."""
    if may_reassign:
        return True
    to_id = to.pk if to is not None else None
    if by is None:
        return False
    if holder_id is None:
        return to_id in (by.pk, None)
    return holder_id == by.pk and to_id in (by.pk, None)


def assign(
    *, customer: Customer | int, to, by, now: datetime, may_reassign: bool, team=UNCHANGED
) -> Customer:
    """Give the thread to the agent `to` (None: nobody; UNCHANGED: whoever holds it when the lock is
    held) and, when given, to `team` (None: no team), as `by` at `now`. The history records the change;
    assigning the holder again changes nothing."""
    policy.require_aware(now, "now")
    if to is not UNCHANGED and to is not None and not can_be_assigned(to):
        raise NotAnAgent(f"{to.get_username()} is not an active agent, so they cannot be given customers.")
    with transaction.atomic():
        locked = lock_customer(customer)
        holder = locked.assigned_to_id
        if to is UNCHANGED:
            to = locked.assigned_to
        if not _permitted(holder_id=holder, to=to, by=by, may_reassign=may_reassign):
            raise AssignmentRefused()
        changed = set()
        if team is not UNCHANGED and locked.team_id != (team.pk if team else None):
            if not may_reassign and holder not in (None, getattr(by, "pk", None)):
                raise AssignmentRefused()
            locked.team = team
            changed.add("team")
        if holder != (to.pk if to is not None else None):
            _hand_over(locked, to=to, by=by, at=now, how=Assignment.How.MANUAL)
            changed.add("assigned_to")
        if changed:
            locked.save(update_fields=changed)
    return locked


def _hand_over(customer: Customer, *, to, by, at: datetime, how: str) -> None:
    """End the current holder's time (if any) at `at` and start `to`'s (if any): the history, and the
    customer's `assigned_to` (saved by the caller)."""
    current = Assignment.objects.filter(customer=customer, ended_at__isnull=True).first()
    start = at
    if current is not None:
        current.ended_at, current.ended_by = max(at, current.started_at), by
        current.save(update_fields=["ended_at", "ended_by"])
        start = current.ended_at
    if to is not None:
        Assignment.objects.create(customer=customer, agent=to, started_at=start, how=how, assigned_by=by)
    customer.assigned_to = to


def default_team() -> Team | None:
    return Team.objects.filter(is_default=True).first()


def assign_in_turn(customer: Customer, *, at: datetime, now: datetime) -> set[str]:
    """A customer wrote (at `at`) to a thread nobody holds: the thread's team, else the default team,
    gives it to its available agent given a thread least recently. Call with the customer row locked,
    in the transaction that records the message. Nobody available: it stays unassigned, in the team's
    queue. Returns the customer's fields changed, for the caller's `update_fields`."""
    if customer.assigned_to_id is not None:
        return set()
    changed = set()
    team = customer.team if customer.team_id is not None else default_team()
    if team is None:
        return changed
    if customer.team_id != team.pk:
        customer.team = team
        changed.add("team")
    # The team row is the turn's lock: a second thread arriving now waits here, then sees this turn taken.
    team = Team.objects.select_for_update().get(pk=team.pk)
    membership = _next_in_turn(team)
    if membership is None:
        return changed
    team.turns_given += 1
    team.save(update_fields=["turns_given"])
    membership.last_turn, membership.last_assigned_at = team.turns_given, now
    membership.save(update_fields=["last_turn", "last_assigned_at"])
    # The history starts at the customer's message (the reports ask "who held it when they wrote"), but
    # never before the previous holder's time ended (a late delivery stamped earlier).
    previous_end = Assignment.objects.filter(customer=customer).aggregate(end=Max("ended_at"))["end"]
    start = max(at, previous_end) if previous_end else at
    _hand_over(customer, to=membership.agent, by=None, at=start, how=Assignment.How.AUTO)
    changed.add("assigned_to")
    return changed


def _next_in_turn(team: Team) -> TeamMembership | None:
    away = AgentAvailability.objects.filter(agent=OuterRef("agent"), available=False)
    agents = answering_users(get_user_model().objects.all())
    return (
        TeamMembership.objects.filter(team=team, agent__in=agents.values("pk"))
        .exclude(Exists(away))
        .select_related("agent")
        .order_by("last_turn", "agent_id")
        .first()
    )


def set_availability(*, agent, available: bool, now: datetime) -> AgentAvailability:
    """The agent's switch: away agents are skipped by the round-robin (they keep what they hold)."""
    policy.require_aware(now, "now")
    switch, _ = AgentAvailability.objects.update_or_create(
        agent=agent, defaults={"available": available, "changed_at": now}
    )
    return switch


def is_available(agent) -> bool:
    return not AgentAvailability.objects.filter(agent=agent, available=False).exists()


def add_label(*, customer: Customer | int, label: Label, by, now: datetime) -> bool:
    """Put `label` on the thread (once: a second time changes nothing). True when it was added."""
    policy.require_aware(now, "now")
    pk = customer.pk if isinstance(customer, Customer) else customer
    _, created = CustomerLabel.objects.get_or_create(
        customer_id=pk, label=label, defaults={"added_at": now, "added_by": by}
    )
    return created


def remove_label(*, customer: Customer | int, label: Label) -> bool:
    pk = customer.pk if isinstance(customer, Customer) else customer
    deleted, _ = CustomerLabel.objects.filter(customer_id=pk, label=label).delete()
    return bool(deleted)
