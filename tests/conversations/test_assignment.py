"""Who holds a thread (issue 15 items 5 and 6): round-robin among the default team's available agents when
a customer writes to an unassigned thread, fair and safe under concurrency; away agents skipped; the
history of every change; agents take and give back, supervisors reassign."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.db import IntegrityError, transaction

from conversations import services
from conversations.exceptions import AssignmentRefused, NotAnAgent
from conversations.models import Assignment, Customer, Label, Team, TeamMembership
from tests import factories
from tests.conversations.test_invariants import run_concurrently
from tests.factories import at

pytestmark = pytest.mark.django_db


def person(username, role="agents"):
    account = User.objects.create_user(username, password="pw", first_name=username.title())
    if role:
        account.groups.set([Group.objects.get(name=role)])
    return account


def team_of(*agents, name="Support", default=True) -> Team:
    team = Team.objects.create(name=name, is_default=default)
    for agent in agents:
        TeamMembership.objects.create(team=team, agent=agent)
    return team


def writes(wa_id, when, *, wamid=None, wa_type="text"):
    with time_machine.travel(when, tick=False):
        return services.receive_message(
            wa_id=wa_id,
            body="Hi",
            wamid=wamid or f"w-{wa_id}-{when:%d%H%M%S}",
            timestamp=when,
            wa_type=wa_type,
        ).customer


def history(customer) -> list[tuple]:
    return list(
        Assignment.objects.filter(customer=customer)
        .order_by("started_at", "id")
        .values_list(
            "agent__username", "started_at", "ended_at", "how", "assigned_by__username", "ended_by__username"
        )
    )


# --- Round-robin -----------------------------------------------------------------------------------


def test_new_threads_go_round_robin_among_the_default_teams_agents():
    alex, sam, kim = person("alex"), person("sam"), person("kim")
    team = team_of(alex, sam, kim)
    owners = [writes(f"1555000000{n}", at(0, f"09:0{n}")).assigned_to.username for n in range(7)]
    assert owners == ["alex", "sam", "kim", "alex", "sam", "kim", "alex"]
    assert set(Customer.objects.values_list("team", flat=True)) == {team.pk}
    assert Team.objects.get().turns_given == 7
    alex_turn = TeamMembership.objects.get(agent=alex)
    assert alex_turn.last_turn == 7 and alex_turn.last_assigned_at == at(0, "09:06")


def test_the_auto_assignment_starts_at_the_customers_message_and_names_nobody_as_giver():
    alex = person("alex")
    team_of(alex)
    customer = writes("15550000001", at(0, "09:00"))
    assert history(customer) == [("alex", at(0, "09:00"), None, "auto", None, None)]


def test_an_away_agent_is_skipped_and_keeps_the_threads_they_hold():
    alex, sam = person("alex"), person("sam")
    team_of(alex, sam)
    first = writes("15550000001", at(0, "09:00"))
    assert first.assigned_to == alex
    services.set_availability(agent=alex, available=False, now=at(0, "09:01"))
    assert [writes(f"1555000001{n}", at(0, f"09:1{n}")).assigned_to for n in range(3)] == [sam, sam, sam]
    assert Customer.objects.get(pk=first.pk).assigned_to == alex
    services.set_availability(agent=alex, available=True, now=at(0, "09:20"))
    # Back: alex was given a thread least recently, so the next one is theirs.
    assert writes("15550000020", at(0, "09:21")).assigned_to == alex


def test_nobody_available_leaves_the_thread_unassigned_in_the_teams_queue():
    alex = person("alex")
    team = team_of(alex)
    services.set_availability(agent=alex, available=False, now=at(0, "08:00"))
    customer = writes("15550000001", at(0, "09:00"))
    assert customer.assigned_to is None and customer.team == team
    assert history(customer) == []
    # Alex comes back: the customer's next message gives the thread out.
    services.set_availability(agent=alex, available=True, now=at(0, "09:30"))
    assert writes("15550000001", at(0, "09:40")).assigned_to == alex


def test_inactive_members_and_members_who_are_not_agents_get_nothing():
    alex, gone, boss = person("alex"), person("gone"), person("boss", role="supervisors")
    gone.is_active = False
    gone.save()
    team_of(boss, gone, alex)
    assert {writes(f"155500000{n}", at(0, f"09:0{n}")).assigned_to for n in range(3)} == {alex}


def test_without_a_default_team_nothing_is_assigned():
    team_of(person("alex"), default=False)
    assert writes("15550000001", at(0, "09:00")).assigned_to is None


def test_the_threads_own_team_gives_it_out_before_the_default_team():
    alex, sam = person("alex"), person("sam")
    team_of(alex)
    billing = team_of(sam, name="Billing", default=False)
    customer = factories.customer(team=billing)
    assert writes(customer.wa_id, at(0, "09:00")).assigned_to == sam


def test_a_held_thread_is_not_given_again_and_reactions_give_nothing():
    alex, sam = person("alex"), person("sam")
    team_of(alex, sam)
    customer = writes("15550000001", at(0, "09:00"))
    writes("15550000001", at(0, "09:05"))
    assert Customer.objects.get(pk=customer.pk).assigned_to == alex
    assert Assignment.objects.count() == 1
    services.assign(customer=customer, to=None, by=alex, now=at(0, "09:10"), may_reassign=False)
    writes("15550000001", at(0, "09:11"), wa_type="reaction")  # a reaction opens no window: no turn
    assert Customer.objects.get(pk=customer.pk).assigned_to is None


def test_a_late_delivery_never_starts_a_holders_time_before_the_previous_one_ended():
    alex, sam = person("alex"), person("sam")
    team_of(alex, sam)
    customer = writes("15550000001", at(0, "09:00"))
    services.assign(customer=customer, to=None, by=alex, now=at(0, "10:00"), may_reassign=False)
    with time_machine.travel(at(0, "10:30"), tick=False):
        services.receive_message(wa_id=customer.wa_id, body="old", wamid="late", timestamp=at(0, "09:30"))
    assert history(customer)[-1][:3] == ("sam", at(0, "10:00"), None)


def test_one_default_team_only():
    Team.objects.create(name="A", is_default=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        Team.objects.create(name="B", is_default=True)


# --- History of every change -------------------------------------------------------------------------


def test_every_change_of_holder_is_recorded_with_who_made_it():
    alex, sam, boss = person("alex"), person("sam"), person("boss", role="supervisors")
    customer = factories.customer()
    services.assign(customer=customer, to=alex, by=alex, now=at(0, "09:00"), may_reassign=False)
    services.assign(customer=customer, to=alex, by=alex, now=at(0, "09:30"), may_reassign=False)  # no change
    services.assign(customer=customer, to=sam, by=boss, now=at(0, "10:00"), may_reassign=True)
    services.assign(customer=customer, to=None, by=sam, now=at(0, "11:00"), may_reassign=False)
    services.assign(customer=customer, to=alex, by=boss, now=at(0, "12:00"), may_reassign=True)
    assert history(customer) == [
        ("alex", at(0, "09:00"), at(0, "10:00"), "manual", "alex", "boss"),
        ("sam", at(0, "10:00"), at(0, "11:00"), "manual", "boss", "sam"),
        ("alex", at(0, "12:00"), None, "manual", "boss", None),
    ]
    assert Customer.objects.get(pk=customer.pk).assigned_to == alex


def test_one_current_holder_per_thread_in_the_database():
    alex = person("alex")
    customer = factories.customer()
    Assignment.objects.create(customer=customer, agent=alex, started_at=at(0, "09:00"), how="manual")
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(customer=customer, agent=alex, started_at=at(0, "10:00"), how="manual")
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(
            customer=customer, agent=alex, started_at=at(0, "10:00"), ended_at=at(0, "09:00"), how="manual"
        )


# --- Who may change it ---------------------------------------------------------------------------------


def test_agents_take_unassigned_threads_and_give_back_their_own_only():
    alex, sam = person("alex"), person("sam")
    customer = factories.customer()
    with pytest.raises(AssignmentRefused):  # not to a colleague
        services.assign(customer=customer, to=sam, by=alex, now=at(0, "09:00"), may_reassign=False)
    services.assign(customer=customer, to=alex, by=alex, now=at(0, "09:00"), may_reassign=False)
    for to in (sam, None):  # a colleague's thread is not theirs to take or to give back
        with pytest.raises(AssignmentRefused):
            services.assign(customer=customer, to=to, by=sam, now=at(0, "09:05"), may_reassign=False)
    with pytest.raises(NotAnAgent):
        services.assign(
            customer=customer,
            to=person("boss", "supervisors"),
            by=alex,
            now=at(0, "09:05"),
            may_reassign=True,
        )
    assert history(customer) == [("alex", at(0, "09:00"), None, "manual", "alex", None)]


def test_the_team_of_a_colleagues_thread_is_a_supervisors_to_change():
    alex, sam = person("alex"), person("sam")
    billing = Team.objects.create(name="Billing")
    customer = factories.customer()
    services.assign(customer=customer, to=alex, by=alex, now=at(0, "09:00"), may_reassign=False, team=billing)
    with pytest.raises(AssignmentRefused):
        services.assign(customer=customer, to=alex, by=sam, now=at(0, "09:05"), may_reassign=False, team=None)
    services.assign(customer=customer, to=alex, by=sam, now=at(0, "09:05"), may_reassign=True, team=None)
    assert Customer.objects.get(pk=customer.pk).team is None


def test_labels_are_put_on_once_and_taken_off():
    alex = person("alex")
    refund = Label.objects.create(name="refund", colour="#b42318")
    customer = factories.customer()
    assert services.add_label(customer=customer, label=refund, by=alex, now=at(0, "09:00")) is True
    assert services.add_label(customer=customer, label=refund, by=alex, now=at(0, "09:01")) is False
    assert list(customer.labels.values_list("name", flat=True)) == ["refund"]
    assert services.remove_label(customer=customer, label=refund) is True
    assert services.remove_label(customer=customer, label=refund) is False


def test_times_must_be_aware():
    from datetime import datetime

    with pytest.raises(ValueError):
        services.set_availability(agent=person("alex"), available=False, now=datetime(2026, 1, 5, 9))


# --- Concurrency (PostgreSQL: real row locks, two connections) ---------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_threads_arriving_at_once_go_to_two_equally_free_agents():
    """Two customers write at the same instant, each recorded on its own connection: the team row's lock
    makes the second choice wait for the first, so they never both go to one agent."""
    for attempt in range(5):
        Customer.objects.all().delete()
        Assignment.objects.all().delete()
        Team.objects.all().delete()
        agents = [person(f"a{attempt}x"), person(f"a{attempt}y")]
        team_of(*agents)
        with time_machine.travel(at(0, "09:00"), tick=False):
            results, errors = run_concurrently(
                2,
                lambda i, attempt=attempt: services.receive_message(
                    wa_id=f"155500{attempt}000{i}",
                    body="Hi",
                    wamid=f"c-{attempt}-{i}",
                    timestamp=at(0, "09:00"),
                ),
            )
        assert errors == []
        owners = [Customer.objects.get(pk=m.customer_id).assigned_to for m in results]
        assert sorted(o.username for o in owners) == sorted(a.username for a in agents), attempt
        assert Team.objects.get().turns_given == 2
        assert sorted(TeamMembership.objects.values_list("last_turn", flat=True)) == [1, 2]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_many_threads_at_once_are_shared_evenly():
    agents = [person("x1"), person("x2"), person("x3")]
    team_of(*agents)
    with time_machine.travel(at(0, "09:00") + timedelta(seconds=1), tick=True):
        _, errors = run_concurrently(
            9,
            lambda i: services.receive_message(
                wa_id=f"15550009{i:03d}", body="Hi", wamid=f"m-{i}", timestamp=at(0, "09:00")
            ),
        )
    assert errors == []
    per_agent = sorted(Customer.objects.filter(assigned_to=a).count() for a in agents)
    assert per_agent == [3, 3, 3]
    assert Assignment.objects.filter(how="auto").count() == 9


def test_a_team_change_keeps_whoever_holds_the_thread_when_it_is_made():
    """The side panel's team change does not name the holder it saw: one who took the thread since the
    page loaded keeps it."""
    alex = person("alex")
    billing = Team.objects.create(name="Billing")
    customer = factories.customer()
    services.assign(customer=customer, to=alex, by=alex, now=at(0, "09:00"), may_reassign=False)
    services.assign(
        customer=customer.pk,
        to=services.assignment.UNCHANGED,
        by=person("boss", "supervisors"),
        now=at(0, "09:05"),
        may_reassign=True,
        team=billing,
    )
    customer.refresh_from_db()
    assert (customer.assigned_to, customer.team) == (alex, billing)
    assert len(history(customer)) == 1
