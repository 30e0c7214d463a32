"""The thread's status in the inbox (issue 15 items 1-2): the header's actions for every role, CSRF, the
resolve warning (409 until confirmed), snooze times in the agent's zone, the views by status and the
worklists (lost; closing soon by deadline), their counts in the one query, constant queries, the poll,
and the alert facts the browser notifies from."""

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conversations import services
from conversations.models import Customer
from inbox import selectors
from tests.factories import user
from tests.inbox import listing

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def agent():
    return user("alex", "agents")


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def wrote(wa_id, *, ago, name="Customer", body="Hello?"):
    return services.receive_message(
        wa_id=wa_id, body=body, wamid=f"w-{uuid.uuid4().hex[:10]}", timestamp=NOW - ago, name=name
    ).customer


def answered(customer, agent):
    services.send_text(customer=customer, body="Here you go", agent=agent)
    return customer


def listed(client, **query):
    html = client.get(reverse("inbox:list"), query).text
    return re.findall(r'<span class="name">([^<]+)</span>', html)


def change(client, customer, **data):
    return client.post(reverse("inbox:change-status", args=[customer.pk]), data, **HTMX)


# --- Who may do what -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "reads", "changes"),
    [("agents", 200, 200), ("supervisors", 200, 403), ("admins", 200, 403), (None, 403, 403)],
    ids=["agent", "supervisor", "admin", "no-role"],
)
def test_every_role_reads_the_status_and_only_agents_change_it(client, role, reads, changes):
    customer = wrote("16505551234", ago=timedelta(hours=30))  # window closed: a resolve asks nothing
    client.force_login(user("someone", role))
    assert client.get(reverse("inbox:thread-status", args=[customer.pk]), **HTMX).status_code == reads
    response = change(client, customer, action="resolve")
    assert response.status_code == changes
    assert Customer.objects.get().status == ("resolved" if changes == 200 else "open")
    if changes == 403:
        assert "resolve, snooze or reopen threads" in response.text or "see the inbox" in response.text


def test_signed_out_a_page_goes_to_sign_in_and_a_request_of_the_page_gets_401(client):
    customer = wrote("16505551234", ago=timedelta(hours=1))
    for name, method in (("inbox:thread-status", "get"), ("inbox:change-status", "post")):
        url = reverse(name, args=[customer.pk])
        page = getattr(client, method)(url)
        assert page.status_code == 302 and page["Location"].startswith("/login/")
        assert getattr(client, method)(url, **HTMX).status_code == 401
    assert Customer.objects.get().status == "open"


def test_a_change_without_the_csrf_token_is_refused(agent):
    customer = wrote("16505551234", ago=timedelta(hours=30))
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(agent)
    assert change(strict, customer, action="resolve").status_code == 403
    assert Customer.objects.get().status == "open"


def test_a_get_cannot_change_and_an_unknown_action_is_a_400(client, agent):
    customer = wrote("16505551234", ago=timedelta(hours=30))
    client.force_login(agent)
    assert client.get(reverse("inbox:change-status", args=[customer.pk])).status_code == 405
    assert change(client, customer, action="archive").status_code == 400


# --- Resolve, with the warning ---------------------------------------------------------------------------


def test_resolving_an_unanswered_customer_inside_the_window_answers_409_with_the_warning(client, agent):
    customer = wrote("16505551234", ago=timedelta(hours=23, minutes=59, seconds=59))
    client.force_login(agent)
    warned = change(client, customer, action="resolve")
    assert warned.status_code == 409
    assert "no reply yet and the window is still open" in warned.text
    assert 'name="confirm" value="1"' in warned.text and "Resolve anyway" in warned.text
    assert "HX-Trigger" not in warned
    assert Customer.objects.get().status == "open"
    done = change(client, customer, action="resolve", confirm="1")
    assert done.status_code == 200 and done["HX-Trigger"] == "status-changed"
    assert Customer.objects.get().status == "resolved"
    assert "Resolved" in done.text and "Reopen" in done.text


def test_at_24_00_00_or_after_our_reply_resolving_asks_nothing(client, agent):
    client.force_login(agent)
    closed = wrote("16505550001", ago=timedelta(hours=24))
    assert change(client, closed, action="resolve").status_code == 200
    replied = answered(wrote("16505550002", ago=timedelta(hours=1)), agent)
    assert change(client, replied, action="resolve").status_code == 200
    assert set(Customer.objects.values_list("status", flat=True)) == {"resolved"}


def test_the_header_shows_the_status_and_its_actions(client, agent):
    customer = wrote("16505551234", ago=timedelta(hours=1))
    client.force_login(agent)
    html = client.get(reverse("inbox:customer", args=[customer.pk])).text
    assert 'id="thread-status"' in html and 'data-thread-status="open"' in html
    for action in ('value="resolve"', 'value="pending"', 'value="hour"', 'value="tomorrow"', 'name="until"'):
        assert action in html
    supervisor = Client()
    supervisor.force_login(user("morgan", "supervisors"))
    html = supervisor.get(reverse("inbox:customer", args=[customer.pk])).text
    assert 'data-thread-status="open"' in html and 'value="resolve"' not in html


# --- Snooze --------------------------------------------------------------------------------------------


def test_snooze_for_an_hour_until_tomorrow_9_in_the_agents_zone_or_until_a_chosen_time(client, agent):
    customer = answered(wrote("16505551234", ago=timedelta(hours=1)), agent)
    client.force_login(agent)
    client.cookies["tz"] = "America/Sao_Paulo"  # 09:00 there on 2026-03-02 is 12:00 UTC
    assert change(client, customer, snooze="hour").status_code == 200
    assert Customer.objects.get().snoozed_until == NOW + timedelta(hours=1)
    assert change(client, customer, snooze="tomorrow").status_code == 200
    assert Customer.objects.get().snoozed_until == datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
    assert change(client, customer, snooze="chosen", until="2026-03-05T14:30").status_code == 200
    assert Customer.objects.get().snoozed_until == datetime(2026, 3, 5, 17, 30, tzinfo=UTC)
    assert Customer.objects.get().status == "snoozed"


@pytest.mark.parametrize(
    ("until", "says"),
    [
        ("", "a date and a time"),
        ("tomorrow-ish", "a date and a time"),
        ("2026-03-02T11:59", "in the future"),
        ("2026-12-31T09:00", "90 days at most"),
    ],
)
def test_a_bad_snooze_time_is_refused_in_plain_words_and_nothing_changes(client, agent, until, says):
    customer = wrote("16505551234", ago=timedelta(hours=1))
    client.force_login(agent)
    refused = change(client, customer, snooze="chosen", until=until)
    assert refused.status_code == 422 and says in refused.text
    assert Customer.objects.get().status == "open"


# --- Views by status and the worklists -------------------------------------------------------------------


def test_resolved_and_snoozed_threads_leave_the_working_views_and_have_their_own(client, agent):
    waiting = wrote("16505550001", ago=timedelta(hours=2), name="Waiting Wendy")
    resolved = answered(wrote("16505550002", ago=timedelta(hours=3), name="Resolved Rita"), agent)
    snoozed = wrote("16505550003", ago=timedelta(hours=4), name="Snoozed Sam")
    pending = answered(wrote("16505550004", ago=timedelta(hours=5), name="Pending Pia"), agent)
    services.resolve(customer=resolved, agent=agent, now=NOW)
    services.snooze(customer=snoozed, until=NOW + timedelta(hours=1), agent=agent, now=NOW)
    services.mark_pending(customer=pending, agent=agent, now=NOW)
    client.force_login(agent)
    assert listed(client, view="needs-reply") == ["Waiting Wendy"]
    assert listed(client, view="all") == ["Pending Pia", "Waiting Wendy"]  # our reply: latest activity
    assert listed(client, view="unassigned") == ["Pending Pia", "Waiting Wendy"]
    assert listed(client, view="open") == ["Waiting Wendy"]
    assert listed(client, view="pending") == ["Pending Pia"]
    assert listed(client, view="snoozed") == ["Snoozed Sam"]
    assert listed(client, view="resolved") == ["Resolved Rita"]
    assert listed(client, view="all", q="rita") == ["Resolved Rita"]  # a search looks everywhere
    counts = selectors.filter_counts(user=agent, now=NOW)
    assert (counts["all"], counts["open"], counts["pending"], counts["snoozed"], counts["resolved"]) == (
        2,
        1,
        1,
        1,
        1,
    )
    html = client.get(reverse("inbox:list"), {"view": "snoozed"}).text
    assert "Snoozed until" in html and f'datetime="{(NOW + timedelta(hours=1)).isoformat()}"' in html
    # The snooze ends at its instant: the thread is back, open, without any sweep.
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        assert "Snoozed Sam" in listed(client, view="needs-reply")
        assert listed(client, view="snoozed") == []
        assert "Snoozed Sam" in listed(client, view="open")
    assert waiting.status == "open"


def test_lost_lists_who_wrote_was_never_answered_and_whose_window_closed(client, agent):
    wrote("16505550001", ago=timedelta(hours=25), name="Lost Lena")
    lost_snoozed = wrote("16505550002", ago=timedelta(hours=26), name="Lost Snoozed Lou")
    services.snooze(customer=lost_snoozed, until=NOW + timedelta(days=1), agent=agent, now=NOW)
    resolved = wrote("16505550003", ago=timedelta(hours=27), name="Lost Resolved Rob")
    services.resolve(customer=resolved, agent=agent, now=NOW)
    answered(wrote("16505550004", ago=timedelta(hours=2), name="Answered Ann"), agent)
    wrote("16505550005", ago=timedelta(hours=23, minutes=59, seconds=59), name="Still Open Otto")
    client.force_login(agent)
    # Nobody drops out of sight: a snoozed thread is still lost; a resolved one was dealt with.
    assert listed(client, view="lost") == ["Lost Lena", "Lost Snoozed Lou"]
    html = client.get(reverse("inbox:list"), {"view": "lost"}).text
    assert html.count("Lost: needs a template") == 2
    assert selectors.filter_counts(user=agent, now=NOW)["lost"] == 2
    with time_machine.travel(NOW + timedelta(seconds=1), tick=False):  # Otto's window closes: lost now
        assert "Still Open Otto" in listed(client, view="lost")


def test_closing_soon_is_sorted_by_deadline_earliest_first_and_pages_by_keyset(client, agent):
    minutes = [50, 5, 30, 59, 1, 20]  # minutes left in each window
    for i, left in enumerate(minutes):
        wrote(f"1650555{i:04d}", ago=timedelta(hours=24) - timedelta(minutes=left), name=f"Left {left:02d}")
    wrote("16505559999", ago=timedelta(hours=2), name="Plenty of time")
    client.force_login(agent)
    expected = [f"Left {left:02d}" for left in sorted(minutes)]
    assert listed(client, view="closing-soon") == expected
    seen = listing.every_page(client, {"view": "closing-soon"}, most=4)
    assert seen == expected


def test_closing_soon_pages_of_two(client, agent, monkeypatch):
    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)
    for i, left in enumerate([40, 10, 30, 20, 50]):
        wrote(f"1650555{i:04d}", ago=timedelta(hours=24) - timedelta(minutes=left), name=f"Left {left:02d}")
    page = selectors.inbox_page(user=agent, view=selectors.Filter.CLOSING_SOON, now=NOW, limit=2)
    names, cursor = [r.customer.name for r in page.rows], page.next_cursor
    while cursor is not None:
        page = selectors.inbox_page(
            user=agent, view=selectors.Filter.CLOSING_SOON, now=NOW, cursor=cursor, limit=2
        )
        names += [r.customer.name for r in page.rows]
        cursor = page.next_cursor
    assert names == ["Left 10", "Left 20", "Left 30", "Left 40", "Left 50"]
    # A poll of what the page shows down to its last row covers them all, in the same order.
    through = selectors.inbox_page(
        user=agent, view=selectors.Filter.CLOSING_SOON, now=NOW, through=selectors.Cursor.END
    )
    assert [r.customer.name for r in through.rows] == names


# --- Queries and the poll ---------------------------------------------------------------------------------


def test_the_counts_of_every_view_are_one_query(agent):
    wrote("16505550001", ago=timedelta(hours=25))
    with CaptureQueriesContext(connection) as captured:
        counts = selectors.filter_counts(user=agent, now=NOW)
    assert len(captured) == 1
    assert set(counts) == {view.value for view in selectors.Filter}


@pytest.mark.parametrize("view", ["lost", "closing-soon", "resolved", "snoozed", "needs-reply", "all"])
def test_list_queries_are_constant_in_the_number_of_customers_for_each_view(client, agent, view):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("inbox:list"), {"view": view}).status_code == 200
        return len(captured)

    def add(start, stop):
        for i in range(start, stop):
            customer = wrote(f"1650555{i:04d}", ago=timedelta(hours=23, minutes=i % 59) * (1 + i % 2))
            if i % 3 == 0:
                services.resolve(customer=customer, agent=agent, confirm=True, now=NOW)
            elif i % 3 == 1:
                services.snooze(customer=customer, until=NOW + timedelta(hours=1), agent=agent, now=NOW)

    client.force_login(agent)
    add(0, 10)
    ten = queries()
    add(10, 200)
    assert queries() == ten


def test_a_status_change_reaches_the_poll_and_time_alone_does_not_until_a_snooze_ends(client, agent):
    customer = answered(wrote("16505550001", ago=timedelta(hours=1)), agent)
    client.force_login(agent)

    def version():
        page = client.get(reverse("inbox:list"), {"view": "all"})
        return re.search(r'data-version="([0-9a-f]+)"', page.text).group(1)

    before = version()
    services.snooze(customer=customer, until=NOW + timedelta(hours=2), agent=agent, now=NOW)
    snoozed = version()
    assert snoozed != before
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        assert client.get(reverse("inbox:list"), {"view": "all", "v": snoozed}).status_code == 204
    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        back = client.get(reverse("inbox:list"), {"view": "all", "v": snoozed})
        assert back.status_code == 200 and "Customer" in back.text  # back in "all" at its instant


# --- Alerts: the facts the browser notifies from ----------------------------------------------------------


def test_alert_facts_count_unread_threads_of_mine_or_nobodys_and_my_windows_closing_unanswered(client, agent):
    sam = user("sam", "agents")
    mine = wrote("16505550001", ago=timedelta(hours=23, minutes=40), name="Mine Closing")
    Customer.objects.filter(pk=mine.pk).update(assigned_to=agent)
    wrote("16505550002", ago=timedelta(minutes=5), name="Nobody's")
    theirs = wrote("16505550003", ago=timedelta(minutes=3), name="Sam's")
    Customer.objects.filter(pk=theirs.pk).update(assigned_to=sam)
    done = wrote("16505550004", ago=timedelta(minutes=2), name="Resolved")
    services.resolve(customer=done, agent=agent, confirm=True, now=NOW)
    facts = selectors.alerts(user=agent, now=NOW)
    assert facts.unread == 2
    assert [name for _, name, _ in facts.new] == ["Nobody's", "Mine Closing"]
    assert facts.closing == ((mine.pk, "Mine Closing", (NOW + timedelta(minutes=20)).isoformat()),)
    client.force_login(agent)
    client.get(reverse("inbox:customer", args=[mine.pk]))  # read: no longer unread
    html = client.get(reverse("inbox:list")).text
    data = json.loads(unescape(re.search(r'data-alerts="([^"]+)"', html).group(1)))
    assert data["unread"] == 1 and data["new"][0][1] == "Nobody's"
    assert data["closing"][0][0] == mine.pk  # still unanswered: the window alert stays
    services.send_text(customer=Customer.objects.get(pk=mine.pk), body="On it", agent=agent)
    assert selectors.alerts(user=agent, now=NOW).closing == ()


def test_alert_facts_are_two_queries_reading_only_what_they_show(agent):
    """Up to a hundred unread threads are read for the count: two queries, whatever their number, and a
    nameless customer is shown by their handle without a query more (the fields are read, not deferred)."""
    for number in range(12):
        wrote(f"165055501{number:02}", ago=timedelta(minutes=30 + number), name="")
    mine = wrote("16505550099", ago=timedelta(hours=23, minutes=40), name="")
    Customer.objects.filter(pk=mine.pk).update(assigned_to=agent)
    with CaptureQueriesContext(connection) as queries:
        facts = selectors.alerts(user=agent, now=NOW)
    assert len(queries.captured_queries) == 2
    assert all('"search_name"' not in query["sql"] for query in queries.captured_queries)  # not every column
    assert facts.unread == 13
    assert facts.new[0][1] == "+16505550100"  # no name: the phone number
    assert facts.closing == ((mine.pk, "+16505550099", (NOW + timedelta(minutes=20)).isoformat()),)


def test_a_row_carries_its_lost_label_hidden_until_the_window_closes_and_time_alone_replaces_nothing(
    client, agent
):
    wrote("16505550001", ago=timedelta(hours=23, minutes=59, seconds=59), name="Otto")
    client.force_login(agent)
    first = client.get(reverse("inbox:list"), {"view": "all"})
    # Shown by the browser at the countdown's zero (static/inbox/inbox.js), like "Needs reply" hidden.
    assert re.search(r'<span class="lost"[^>]*hidden>Lost: needs a template</span>', first.text)
    version = re.search(r'data-version="([0-9a-f]+)"', first.text).group(1)
    row_fp = re.search(r'data-fp="([0-9a-f]+)"', first.text).group(1)
    with time_machine.travel(NOW + timedelta(seconds=1), tick=False):
        polled = client.get(reverse("inbox:list"), {"view": "all", "v": version, "through": "end"}, **HTMX)
        assert polled.status_code == 200  # the counts changed: lost 1, needs reply 0
        assert re.search(r'id="count-lost"[^>]*>1<', polled.text)
        assert re.search(r'data-fp="([0-9a-f]+)"', polled.text).group(1) == row_fp  # the row: not replaced
        assert re.search(r'<span class="lost"[^>]*>Lost: needs a template</span>', polled.text)
        assert not re.search(r'<span class="lost"[^>]*hidden>', polled.text)
