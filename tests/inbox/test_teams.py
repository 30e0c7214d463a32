"""Labels, teams and the available/away switch in the inbox (issue 15 item 5): every view per role,
signed out, without the CSRF token; the list shows and filters by labels and teams, its poll sees a label
change, and its queries stay constant."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conversations import services
from conversations.models import AgentAvailability, Assignment, Customer, CustomerLabel, Label, Team
from tests import factories
from tests.factories import user

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def signed_in(account) -> Client:
    client = Client()
    client.force_login(account)
    return client


def wrote(wa_id="16505550001", *, ago=timedelta(hours=1), name="Customer"):
    return services.receive_message(
        wa_id=wa_id, body="Hello?", wamid=f"w-{uuid.uuid4().hex[:8]}", timestamp=NOW - ago, name=name
    ).customer


@pytest.fixture
def refund():
    return Label.objects.create(name="refund", colour="#b42318")


@pytest.fixture
def billing():
    return Team.objects.create(name="Billing")


# --- Access: every view, every role ----------------------------------------------------------------------


def posts(customer, refund, billing):
    """(url, data) for each new action."""
    return {
        "add-label": (reverse("inbox:add-label", args=[customer.pk]), {"label": refund.pk}),
        "remove-label": (reverse("inbox:remove-label", args=[customer.pk, refund.pk]), {}),
        "set-team": (reverse("inbox:set-team", args=[customer.pk]), {"team": billing.pk}),
        "availability": (reverse("inbox:availability"), {"available": "no"}),
    }


# What each role gets: 200 allowed, 403 refused (the page says which permission is missing).
ALLOWED = {
    "agents": {"add-label": 200, "remove-label": 200, "set-team": 200, "availability": 200},
    "supervisors": {"add-label": 200, "remove-label": 200, "set-team": 200, "availability": 403},
    "admins": {"add-label": 403, "remove-label": 403, "set-team": 403, "availability": 403},
    None: {"add-label": 403, "remove-label": 403, "set-team": 403, "availability": 403},
}


@pytest.mark.parametrize("role", list(ALLOWED), ids=[str(r) for r in ALLOWED])
def test_each_action_per_role(role, refund, billing):
    customer = wrote()
    client = signed_in(user("someone", role))
    for action, (url, data) in posts(customer, refund, billing).items():
        response = client.post(url, data, headers=HTMX)
        assert response.status_code == ALLOWED[role][action], (role, action)
        if response.status_code == 403:
            assert "You can't do that with your account" in response.text
        assert client.get(url).status_code == (405 if response.status_code == 200 else 403)  # posts only


def test_signed_out_a_page_goes_to_sign_in_and_htmx_gets_401(client, refund, billing):
    customer = wrote()
    for url, data in posts(customer, refund, billing).values():
        page = client.post(url, data)
        assert page.status_code == 302 and page["Location"].startswith("/login/")
        assert client.post(url, data, headers=HTMX).status_code == 401
    assert not CustomerLabel.objects.exists() and not AgentAvailability.objects.exists()


def test_every_action_needs_the_csrf_token(refund, billing):
    customer = wrote()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user("alex", "agents"))
    for url, data in posts(customer, refund, billing).values():
        assert strict.post(url, data, headers=HTMX).status_code == 403
    assert not CustomerLabel.objects.exists() and Customer.objects.get().team is None
    strict.get(reverse("inbox:customer", args=[customer.pk]))  # sets the cookie
    token = strict.cookies["csrftoken"].value
    url, data = posts(customer, refund, billing)["add-label"]
    assert strict.post(url, data, headers={**HTMX, "X-CSRFToken": token}).status_code == 200


# --- Labels ----------------------------------------------------------------------------------------


def test_an_agent_adds_and_removes_a_label_from_the_side_panel(refund):
    customer = wrote()
    Label.objects.create(name="vip", colour="#0b6e4f")
    agent = signed_in(user("alex", "agents"))
    side = agent.get(reverse("inbox:side", args=[customer.pk])).text
    assert 'name="label"' in side and ">refund</option>" in side and ">vip</option>" in side
    added = agent.post(reverse("inbox:add-label", args=[customer.pk]), {"label": refund.pk}, headers=HTMX)
    assert added.status_code == 200 and added["HX-Trigger"] == "assignment-changed"
    assert '<span class="label-chip" data-label-colour="#b42318">refund</span>' in added.text
    assert ">refund</option>" not in added.text  # not offered twice
    assert list(customer.labels.values_list("name", flat=True)) == ["refund"]
    link = CustomerLabel.objects.get()
    assert link.added_at == NOW and link.added_by.username == "alex"
    removed = agent.post(reverse("inbox:remove-label", args=[customer.pk, refund.pk]), headers=HTMX)
    assert removed.status_code == 200 and not customer.labels.exists()


def test_a_missing_label_is_said_plainly(refund):
    customer = wrote()
    agent = signed_in(user("alex", "agents"))
    refused = agent.post(reverse("inbox:add-label", args=[customer.pk]), {"label": "999"}, headers=HTMX)
    assert refused.status_code == 422 and "Choose a label to add." in refused.text
    gone = agent.post(reverse("inbox:remove-label", args=[customer.pk, 999]), headers=HTMX)
    assert gone.status_code == 404


def test_the_list_shows_labels_and_teams_and_filters_by_them(refund, billing):
    alex = user("alex", "agents")
    labelled = wrote("16505550001", name="Labelled")
    teamed = wrote("16505550002", name="Teamed")
    wrote("16505550003", name="Plain")
    services.add_label(customer=labelled, label=refund, by=alex, now=NOW)
    Customer.objects.filter(pk=teamed.pk).update(team=billing)
    agent = signed_in(alex)
    everyone = agent.get(reverse("inbox:list"), {"view": "all"}).text
    assert re.findall(r'<span class="name">([^<]+)</span>', everyone) == ["Plain", "Teamed", "Labelled"]
    assert 'data-label-colour="#b42318">refund</span>' in everyone
    assert '<span class="team">Billing</span>' in everyone
    by_label = agent.get(reverse("inbox:list"), {"view": "all", "label": refund.pk}).text
    assert re.findall(r'<span class="name">([^<]+)</span>', by_label) == ["Labelled"]
    assert f"label={refund.pk}" in re.search(r'data-poll-url="([^"]+)"', by_label).group(1)
    by_team = agent.get(reverse("inbox:list"), {"view": "all", "team": billing.pk}).text
    assert re.findall(r'<span class="name">([^<]+)</span>', by_team) == ["Teamed"]
    page = agent.get(reverse("inbox:home")).text
    assert (
        '<select id="filter-label" name="label">' in page and '<select id="filter-team" name="team">' in page
    )


def test_a_customer_opened_from_a_filtered_list_keeps_the_filters_in_its_address(refund, billing):
    """Opening a thread pushes its link into the address bar: a reload, a bookmark or Back brings the same
    list back, its view, search, label and team filters included."""
    alex = user("alex", "agents")
    both = wrote("16505550001", name="Labelled Teamed")
    labelled_only = wrote("16505550002", name="Labelled Only")
    for customer in (both, labelled_only):
        services.add_label(customer=customer, label=refund, by=alex, now=NOW)
    Customer.objects.filter(pk=both.pk).update(team=billing)
    agent = signed_in(alex)
    filtered = agent.get(
        reverse("inbox:list"), {"view": "all", "q": "labelled", "label": refund.pk, "team": billing.pk}
    ).text
    links = re.findall(r'<a href="(/customers/\d+/\?[^"]+)"', filtered)
    query = f"view=all&amp;q=labelled&amp;label={refund.pk}&amp;team={billing.pk}"
    assert links == [f"/customers/{both.pk}/?{query}"]
    assert re.findall(r'hx-get="(/customers/\d+/\?[^"]+)"', filtered) == links

    reloaded = agent.get(links[0].replace("&amp;", "&")).text  # what the address bar holds, reloaded
    assert re.findall(r'<span class="name">([^<]+)</span>', reloaded) == ["Labelled Teamed"]
    assert re.search(r'<option value="(\d+)" selected>refund</option>', reloaded).group(1) == str(refund.pk)
    assert re.search(r'<option value="(\d+)" selected>Billing</option>', reloaded).group(1) == str(billing.pk)
    assert 'value="labelled"' in reloaded  # the search box
    unfiltered = agent.get(reverse("inbox:list"), {"view": "all"}).text  # no filter: nothing added
    assert f'href="/customers/{labelled_only.pk}/?view=all"' in unfiltered


def test_a_label_put_on_a_thread_changes_the_lists_version(refund):
    customer = wrote()
    alex = user("alex", "agents")
    agent = signed_in(alex)
    version = re.search(r'data-version="([0-9a-f]+)"', agent.get(reverse("inbox:list")).text).group(1)
    assert agent.get(reverse("inbox:list"), {"v": version}).status_code == 204
    services.add_label(customer=customer, label=refund, by=alex, now=NOW)
    assert agent.get(reverse("inbox:list"), {"v": version}).status_code == 200
    Label.objects.filter(pk=refund.pk).update(colour="#000000")  # the chip shows its colour too
    version = re.search(r'data-version="([0-9a-f]+)"', agent.get(reverse("inbox:list")).text).group(1)
    Label.objects.filter(pk=refund.pk).update(colour="#111111")
    assert agent.get(reverse("inbox:list"), {"v": version}).status_code == 200


def test_list_queries_stay_constant_with_labels_and_teams(refund, billing):
    alex = user("alex", "agents")
    vip = Label.objects.create(name="vip")

    def add(n):
        for i in range(n):
            customer = wrote(f"1650666{Customer.objects.count():04d}", ago=timedelta(minutes=i + 1))
            services.add_label(customer=customer, label=refund, by=alex, now=NOW)
            services.add_label(customer=customer, label=vip, by=alex, now=NOW)
            Customer.objects.filter(pk=customer.pk).update(team=billing)

    def queries(**params):
        client = signed_in(alex)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("inbox:list"), {"view": "all", **params}).status_code == 200
        return len(captured)

    add(5)
    few = [queries(), queries(label=refund.pk), queries(team=billing.pk)]
    add(40)
    assert [queries(), queries(label=refund.pk), queries(team=billing.pk)] == few


# --- Teams and assignment --------------------------------------------------------------------------


def test_an_agent_sets_the_team_of_a_thread_nobody_else_holds(billing):
    customer = wrote()
    alex, sam = user("alex", "agents"), user("sam", "agents")
    agent = signed_in(alex)
    url = reverse("inbox:set-team", args=[customer.pk])
    response = agent.post(url, {"team": billing.pk}, headers=HTMX)
    assert response.status_code == 200 and "team Billing" in response.text
    assert Customer.objects.get().team == billing
    services.assign(customer=customer, to=sam, by=None, now=NOW, may_reassign=True)
    refused = agent.post(url, {"team": ""}, headers=HTMX)  # sam's thread: the panel as it is now, and why
    assert refused.status_code == 409 and "only a supervisor can reassign" in refused.text
    assert "Sam · team Billing" in refused.text
    assert signed_in(user("boss", "supervisors")).post(url, {"team": ""}, headers=HTMX).status_code == 200
    assert Customer.objects.get().team is None and Customer.objects.get().assigned_to == sam
    assert agent.post(url, {"team": "999"}, headers=HTMX).status_code == 422


def test_the_side_panel_offers_each_role_what_it_may_do():
    customer = wrote()
    alex, sam = user("alex", "agents"), user("sam", "agents")
    side = reverse("inbox:side", args=[customer.pk])
    unassigned = signed_in(alex).get(side).text
    assert 'value="me" data-shortcut="a"' in unassigned and 'id="assign-agent"' not in unassigned
    services.assign(customer=customer, to=alex, by=alex, now=NOW, may_reassign=False)
    mine = signed_in(alex).get(side).text
    assert "Unassign me" in mine and "Assign to me" not in mine
    theirs = signed_in(sam).get(side).text
    assert "Assign to me" not in theirs and "Unassign me" not in theirs
    supervisor = signed_in(user("boss", "supervisors")).get(side).text
    assert 'id="assign-agent"' in supervisor and ">Alex</option>" in supervisor


def test_a_supervisor_hands_a_thread_over_and_the_history_says_who():
    customer = wrote()
    alex, sam, boss = user("alex", "agents"), user("sam", "agents"), user("boss", "supervisors")
    url = reverse("inbox:assign", args=[customer.pk])
    assert signed_in(alex).post(url, {"agent": "me"}, headers=HTMX).status_code == 200
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        assert signed_in(boss).post(url, {"agent": sam.pk}, headers=HTMX).status_code == 200
    rows = list(
        Assignment.objects.order_by("started_at").values_list(
            "agent__username", "started_at", "ended_at", "assigned_by__username", "ended_by__username"
        )
    )
    assert rows == [
        ("alex", NOW, NOW + timedelta(minutes=5), "alex", "boss"),
        ("sam", NOW + timedelta(minutes=5), None, "boss", None),
    ]


# --- Available / away ------------------------------------------------------------------------------


def test_an_agent_switches_to_away_and_back_in_the_header():
    alex = user("alex", "agents")
    agent = signed_in(alex)
    page = agent.get(reverse("inbox:home")).text
    assert 'data-availability="available"' in page and 'value="no"' in page
    away = agent.post(reverse("inbox:availability"), {"available": "no"}, headers=HTMX)
    assert away.status_code == 200 and 'data-availability="away"' in away.text
    switch = AgentAvailability.objects.get(agent=alex)
    assert switch.available is False and switch.changed_at == NOW
    assert 'data-availability="away"' in agent.get(reverse("inbox:home")).text
    assert agent.post(reverse("inbox:availability"), {"available": "maybe"}).status_code == 422
    back = agent.post(reverse("inbox:availability"), {"available": "yes"})
    assert back.status_code == 302 and AgentAvailability.objects.get().available is True


def test_supervisors_have_no_switch():
    page = signed_in(user("boss", "supervisors")).get(reverse("inbox:home")).text
    assert "data-availability" not in page


def test_an_away_agent_gets_no_new_thread_through_the_webhook_path():
    alex, sam = user("alex", "agents"), user("sam", "agents")
    team = Team.objects.create(name="Support", is_default=True)
    team.members.add(alex, sam)
    signed_in(alex).post(reverse("inbox:availability"), {"available": "no"}, headers=HTMX)
    assert {wrote(f"1650555000{n}").assigned_to for n in range(3)} == {sam}


def test_factories_customer_is_unassigned():
    assert factories.customer().assigned_to is None
