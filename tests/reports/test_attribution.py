"""Whose window was it (issue 15 item 6): each lost window is the agent's who held the thread when the
customer's message opened it, each first response the agent's who held it when the reply was sent (the
one who replied when nobody held it), from the assignment history, whoever holds the thread now. The
same from the rollup as live."""

from datetime import date, timedelta

import pytest

from conversations import services
from reports import services as report_services
from reports.periods import Period
from reports.selectors import Scope, window_report
from tests.reports.conftest import BERLIN, NOW, person, text, utc, wrote

pytestmark = pytest.mark.django_db

WEEK = Period(date(2026, 1, 5), date(2026, 1, 11), BERLIN)


def hand(customer, to, when, by=None):
    services.assign(customer=customer, to=to, by=by, now=when, may_reassign=True)


def name(customer_label: str) -> str:
    return customer_label.split(" (")[0]


def per_agent(report) -> dict[str, list[str]]:
    # columns: answered in time, median, p90, lost, waiting, templates after the window closed
    return {row[0]: row[1:] for row in report.tables["agents"].body()}


@pytest.fixture
def handovers(db, business_time_zone):
    """Tue 6 Jan: Lena writes at 10:00 while alex holds her thread; at 15:00 a supervisor gives it to sam;
    nobody answers: lost at Wed 10:00 (alex's). Wed 7 Jan: Omar writes at 09:00 while alex holds him; he
    is given to sam at 09:20, who answers at 09:30 (sam's first response, 30 min).
    Thu 8 Jan: Pia writes at 12:00 unassigned; alex answers at 12:10 still unassigned (alex's); then she
    is handed to sam. Fri 9 Jan: Raj writes at 08:00:00 the very instant sam is given his thread
    (half-open: sam's); nobody answers."""
    alex, sam, boss = person("alex", "agents"), person("sam", "agents"), person("boss", "supervisors")
    lena = wrote("4915100000001", utc(6, "09:00") - timedelta(hours=25), name="Lena")  # an older window
    hand(lena, alex, utc(6, "09:00"))
    wrote("4915100000001", utc(6, "10:00"), name="Lena")
    hand(lena, sam, utc(6, "15:00"), by=boss)

    omar = wrote("4915100000002", utc(7, "09:00") - timedelta(days=3), name="Omar")
    hand(omar, alex, utc(7, "08:00"))
    wrote("4915100000002", utc(7, "09:00"), name="Omar")
    hand(omar, sam, utc(7, "09:20"), by=boss)
    text(omar, utc(7, "09:30"), sam)

    pia = wrote("4915100000003", utc(8, "12:00"), name="Pia")
    text(pia, utc(8, "12:10"), alex)
    hand(pia, sam, utc(8, "13:00"), by=boss)

    raj = wrote("4915100000004", utc(2, "08:00"), name="Raj")  # a window in the week before
    hand(raj, sam, utc(9, "08:00"))
    wrote("4915100000004", utc(9, "08:00"), name="Raj")
    hand(raj, alex, utc(9, "09:00"), by=boss)  # alex holds it now: the lost window stays sam's
    return {"alex": alex, "sam": sam}


def test_a_lost_window_is_the_agents_who_held_the_thread_when_it_opened(handovers):
    report = window_report(period=WEEK, scope=Scope(), now=NOW)
    lost = [(name(row[2]), row[0], row[4]) for row in report.tables["lost"].body()]
    assert lost == [
        ("Raj", "2026-01-09 09:00", "Sam (sam)"),  # given at the very instant he wrote: sam's
        ("Lena", "2026-01-06 11:00", "Alex (alex)"),  # handed to sam mid-window: still alex's
        ("Lena", "2026-01-05 09:00", "unassigned"),  # her earlier window: nobody held the thread
    ]
    figures = per_agent(report)
    assert figures["Alex (alex)"][3] == "1" and figures["Sam (sam)"][3] == "1"


def test_a_first_response_is_the_agents_who_held_the_thread_when_it_was_sent(handovers):
    report = window_report(period=WEEK, scope=Scope(), now=NOW)
    figures = per_agent(report)
    # Omar: sam held it at the reply (taken over at 09:20), 30 min; Pia: nobody held it, alex replied.
    assert figures["Sam (sam)"][:2] == ["1", "0:30:00"]
    assert figures["Alex (alex)"][:2] == ["1", "0:10:00"]


def test_each_agents_own_report_lists_the_windows_lost_while_they_held_the_thread(handovers):
    alex = window_report(period=WEEK, scope=Scope(handovers["alex"].pk), now=NOW)
    sam = window_report(period=WEEK, scope=Scope(handovers["sam"].pk), now=NOW)
    assert [name(row[2]) for row in alex.tables["lost"].body()] == ["Lena"]
    assert [name(row[2]) for row in sam.tables["lost"].body()] == ["Raj"]
    assert "held the thread at the time" in alex.tables["agents"].note


def test_the_rollup_attributes_as_live(handovers):
    live = window_report(period=WEEK, scope=Scope(), now=NOW)
    run = report_services.refresh_rollup(now=NOW, horizon=timedelta(0))
    assert run.rolled_up_through == date(2026, 1, 10)
    rolled = window_report(period=WEEK, scope=Scope(), now=NOW)
    assert rolled.rolled_up_through == date(2026, 1, 10)
    for slug in ("agents", "lost"):
        assert rolled.tables[slug].body() == live.tables[slug].body(), slug
