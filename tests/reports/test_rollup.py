"""The daily rollup (reports.services.refresh_rollup): pages read past days from it and count later days
live, and every figure is the same as counted live, on the hand-checked week of conftest.py and on random
histories written through the services. What goes stale, and how a recompute brings it back.

The same tests run on PostgreSQL and on SQLite (the demo's database)."""

import contextlib
import random
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conversations import services as conversation_services
from conversations.exceptions import WindowClosed
from conversations.models import Conversation, Customer, Message
from reports import services
from reports.models import ROLLUP_TABLES, RollupDay, UnansweredWindow
from reports.periods import Period
from reports.selectors import REPORTS, Scope
from tests import factories
from tests.reports.conftest import AD, BERLIN, NOW, person, template, text, utc, wrote

pytestmark = pytest.mark.django_db

WEEK = Period(date(2026, 1, 5), date(2026, 1, 11), BERLIN)
PERIODS = [
    WEEK,
    Period(date(2026, 1, 11), date(2026, 1, 11), BERLIN),  # today: all live, yesterday rolled up
    Period(date(2025, 12, 13), date(2026, 1, 11), BERLIN),  # last 30 days
    Period(date(2026, 1, 2), date(2026, 1, 6), BERLIN),  # in the past: nothing live
]


def snapshot(report) -> dict:
    """Everything a page shows: cards, every table (header, cells, footer, note) and the charts."""
    return {
        "cards": [(c.label, str(c.value), str(c.previous), str(c.change), c.hint) for c in report.cards],
        "tables": {slug: (t.header(), t.body(), t.footer(), t.note) for slug, t in report.tables.items()},
        "charts": report.charts,
        "notes": report.notes,
    }


def all_pages(periods, scopes, now) -> dict:
    return {
        (name, period, scope): snapshot(REPORTS[name](period=period, scope=scope, now=now))
        for name in REPORTS
        for period in periods
        for scope in scopes
    }


def counted_live(periods, scopes, now) -> dict:
    """The pages with every day counted live, whatever the rollup holds (it is set aside, then back)."""
    with transaction.atomic():
        RollupDay.objects.all().delete()
        pages = all_pages(periods, scopes, now)
        transaction.set_rollback(True)
    return pages


def assert_same_pages(expected: dict, now, *, rolled_up_through: date) -> None:
    for (name, period, scope), figures in expected.items():
        report = REPORTS[name](period=period, scope=scope, now=now)
        if period.first <= rolled_up_through:
            assert report.rolled_up_through == min(period.last, rolled_up_through), (name, period)
        assert snapshot(report) == figures, (name, period, scope)


def rollup_rows() -> dict:
    return {
        model.__name__: sorted(
            tuple(str(v) for k, v in row.items() if k != "id") for row in model.objects.values()
        )
        for model in ROLLUP_TABLES
    }


# --- The same figures --------------------------------------------------------------------------------


def test_every_page_is_the_same_with_every_past_day_read_from_the_rollup(week, rates):
    scopes = [Scope(), Scope(week["alex"].pk), Scope(week["sam"].pk)]
    live = all_pages(PERIODS, scopes, NOW)
    run = services.refresh_rollup(now=NOW, horizon=timedelta(0))
    # Fri 2 Jan (the first day with data) to yesterday; today is never rolled up.
    assert run.computed == (date(2026, 1, 2), date(2026, 1, 10))
    assert run.rolled_up_through == date(2026, 1, 10)
    assert_same_pages(live, NOW, rolled_up_through=date(2026, 1, 10))


def test_days_inside_the_horizon_are_counted_live_and_the_pages_are_the_same(week, rates):
    scopes = [Scope(), Scope(week["alex"].pk)]
    live = all_pages(PERIODS, scopes, NOW)
    run = services.refresh_rollup(now=NOW)
    # Wed 7 Jan ended Wed 23:00 UTC, three days before NOW; Thu 8 Jan ends three days after 23:00 Sunday.
    assert run.rolled_up_through == date(2026, 1, 7)
    assert_same_pages(live, NOW, rolled_up_through=date(2026, 1, 7))


def test_the_rollup_holds_the_weeks_figures(week):
    services.refresh_rollup(now=NOW, horizon=timedelta(0))
    # C's window (Tue 6 Jan, Berlin) was lost, one row kept with the customer (the assignee is read live).
    lost = UnansweredWindow.objects.get()
    assert (lost.day, lost.customer.name, lost.outcome) == (date(2026, 1, 6), "Chloe", "lost")
    assert lost.closed_at == utc(7, "10:00")
    assert list(RollupDay.objects.values_list("day", flat=True)) == [
        date(2026, 1, 2) + timedelta(days=n) for n in range(9)
    ]


def test_a_handover_after_the_fact_leaves_a_lost_window_with_who_held_the_thread(week):
    """Chloe's window was lost while alex held her thread; giving her to sam later changes nothing about
    it, from the rollup as live (issue 15: the assignment history)."""
    services.refresh_rollup(now=NOW, horizon=timedelta(0))
    chloe = Customer.objects.get(name="Chloe")
    conversation_services.assign(customer=chloe, to=week["sam"], by=None, now=NOW, may_reassign=True)
    sam = REPORTS["windows"](period=WEEK, scope=Scope(week["sam"].pk), now=NOW)
    alex = REPORTS["windows"](period=WEEK, scope=Scope(week["alex"].pk), now=NOW)
    assert sam.rolled_up_through == alex.rolled_up_through == date(2026, 1, 10)
    assert sam.tables["lost"].rows == []
    assert alex.tables["agents"].body()[0][0] == "Alex (alex)"
    assert alex.tables["agents"].body()[0][4] == "1"  # lost (held when the window opened)
    assert len(alex.tables["lost"].rows) == 1


# --- Random histories ----------------------------------------------------------------------------------


def random_history(rng: random.Random, *, start: datetime, days: int, customers: int) -> list:
    """Episodes per customer, replayed in time order through the services: chats answered or not (some
    answered by a template), ad clicks answered while a template's conversation is open (a free-entry
    point that closes it), messages delivered late with an old timestamp, templates from agents and from
    the system, failures (some 131047, some voiding a conversation) and reassignments."""
    agents = [person(f"agent{n}", "agents") for n in range(3)]
    templates = [factories.template(category) for category in ("MARKETING", "UTILITY", "AUTHENTICATION")]
    prefixes = ["49151", "5511", "44740", "1415"]
    minutes = timedelta(minutes=1)
    events = []  # (when, wa_id, action, extra)
    for n in range(customers):
        wa_id = f"{rng.choice(prefixes)}{n:07d}"
        for _ in range(rng.randint(1, 6)):
            at = start + rng.randrange(days * 24 * 60) * minutes
            episode = rng.choices(["chat", "ad", "late", "template", "fail", "assign"], [8, 2, 1, 3, 2, 1])[0]
            if episode == "chat":
                events.append((at, wa_id, "write", at))
                if rng.random() < 0.7:
                    events.append(
                        (at + rng.randint(1, 600) * minutes, wa_id, rng.choice(["text", "template"]), None)
                    )
                if rng.random() < 0.4:
                    again = at + rng.randint(60, 30 * 60) * minutes
                    events.append((again, wa_id, "write", again))
            elif episode == "ad":
                events.append((at - rng.randint(60, 600) * minutes, wa_id, "template", None))
                events.append((at, wa_id, "ad", at))
                events.append((at + rng.randint(1, 90) * minutes, wa_id, "text", None))
            elif episode == "late":
                events.append((at, wa_id, "write", at - rng.randint(30, 36 * 60) * minutes))
            else:
                events.append((at, wa_id, episode, None))
    events.sort(key=lambda event: event[:3])
    for n, (at, wa_id, action, timestamp) in enumerate(events):
        with time_machine.travel(at, tick=False):
            if action in ("write", "ad"):
                conversation_services.receive_message(
                    wa_id=wa_id,
                    body="Hi",
                    wamid=f"in-{n}",
                    timestamp=timestamp,
                    name=f"Customer {wa_id}",
                    referral=AD if action == "ad" else None,
                )
                continue
            customer = Customer.objects.filter(wa_id=wa_id).first() or factories.customer(wa_id=wa_id)
            agent = rng.choice([*agents, None]) if action == "template" else rng.choice(agents)
            if action == "text":
                with contextlib.suppress(WindowClosed):
                    conversation_services.send_text(customer=customer, body="Hello", agent=agent)
            elif action == "template":
                conversation_services.send_template(
                    customer=customer, template=rng.choice(templates), params=["x"], agent=agent
                )
            elif action == "fail":
                sent = list(
                    Message.objects.filter(customer=customer, direction="outbound").exclude(status="failed")
                )
                if sent:
                    conversation_services.mark_message_failed(
                        message=rng.choice(sent), error_code=131047, closes_window=rng.random() < 0.4
                    )
            else:  # a handover, recorded in the assignment history at this instant
                conversation_services.assign(
                    customer=customer, to=rng.choice([*agents, None]), by=None, now=at, may_reassign=True
                )
    return agents


@pytest.mark.parametrize(
    ("seed", "zone", "start"),
    [
        (1, "Europe/Berlin", datetime(2026, 3, 16, tzinfo=UTC)),  # across the change to summer time
        (2, "America/Sao_Paulo", datetime(2026, 1, 5, tzinfo=UTC)),
        (3, "Asia/Kolkata", datetime(2026, 5, 25, tzinfo=UTC)),
    ],
)
def test_random_histories_give_the_same_pages_from_the_rollup_as_live(settings, rates, seed, zone, start):
    settings.BUSINESS_TIME_ZONE = zone
    tz = ZoneInfo(zone)
    rng = random.Random(seed)
    agents = random_history(rng, start=start, days=24, customers=30)
    now = start + timedelta(days=24, hours=rng.randint(0, 23))
    today = now.astimezone(tz).date()
    periods = [
        Period(today - timedelta(days=29), today, tz),
        Period(today - timedelta(days=6), today, tz),
        Period(today, today, tz),
        Period(today - timedelta(days=20), today - timedelta(days=10), tz),
    ]
    scopes = [Scope(), *[Scope(agent.pk) for agent in agents]]
    assert Conversation.objects.filter(status="voided").exists()
    assert Conversation.objects.filter(closed_by__isnull=False).exists()
    live = all_pages(periods, scopes, now)
    for horizon in (timedelta(days=3), timedelta(0)):
        run = services.refresh_rollup(now=now, horizon=horizon)
        assert run.rolled_up_through is not None
        assert_same_pages(live, now, rolled_up_through=run.rolled_up_through)
    # Handovers after the rollup change no window's owner (who held the thread then), in both.
    for customer in Customer.objects.all():
        conversation_services.assign(
            customer=customer, to=rng.choice([*agents, None]), by=None, now=now, may_reassign=True
        )
    assert_same_pages(live, now, rolled_up_through=run.rolled_up_through)


# --- What changes after the fact -------------------------------------------------------------------------


def marketing_on_thursday(report):
    return report.tables["per-day"].body()[3][1]  # Thu 8 Jan, Marketing


def test_a_conversation_voided_late_is_counted_live_until_its_day_is_rolled_up_with_the_void(week):
    assert services.refresh_rollup(now=NOW).rolled_up_through == date(2026, 1, 7)
    # M_C (Thu 8 Jan, inside the horizon) turns out to have failed, hours later.
    m_c = Conversation.objects.exclude(status="voided").get(category="marketing")
    later = NOW + timedelta(hours=2)
    conversation_services.mark_message_failed(
        message=m_c.opening_message, error_code=131026, failed_at=later, now=later
    )
    report = REPORTS["conversations"](period=WEEK, scope=Scope(), now=later)
    assert marketing_on_thursday(report) == "0"
    assert {card.label: card.value for card in report.cards}["Voided"] == 2

    # Three days after Thursday ended (Thu 23:00 UTC), a run rolls it up, void included.
    three_days_on = utc(12, "12:00")
    live = snapshot(REPORTS["conversations"](period=WEEK, scope=Scope(), now=three_days_on))
    assert services.refresh_rollup(now=three_days_on).rolled_up_through == date(2026, 1, 8)
    rolled = REPORTS["conversations"](period=WEEK, scope=Scope(), now=three_days_on)
    assert marketing_on_thursday(rolled) == "0"
    assert snapshot(rolled) == live


def test_a_late_failure_on_a_rolled_up_day_is_computed_again_by_the_next_run(week):
    services.refresh_rollup(now=NOW)
    # A status webhook delivered days late fails S_A (Mon 5 Jan, rolled up): voided now.
    s_a = Conversation.objects.get(customer__name="Anna")
    conversation_services.mark_message_failed(message=s_a.opening_message, error_code=131026, now=NOW)
    live = counted_live([WEEK], [Scope()], NOW)
    assert live[("conversations", WEEK, Scope())]["tables"]["per-day"][1][0][4] == "0"  # Service, Monday
    stale = REPORTS["conversations"](period=WEEK, scope=Scope(), now=NOW)
    assert stale.tables["per-day"].body()[0][4] == "1"  # the rollup's Monday, until the next run

    run = services.refresh_rollup(now=NOW + timedelta(minutes=5))
    # Monday, and Sunday: a window opened the day before may have ended on Monday.
    assert run.changed == ((date(2026, 1, 4), date(2026, 1, 5)),) and run.computed is None
    assert "changed since rolled up, computed again: 2026-01-04 to 2026-01-05" in str(run)
    assert_same_pages(live, NOW, rolled_up_through=date(2026, 1, 7))
    # The next run looks back a margin before the previous one, then the change is behind it.
    services.refresh_rollup(now=NOW + timedelta(minutes=20))
    assert services.refresh_rollup(now=NOW + timedelta(minutes=30)).changed == ()


def test_a_customer_message_delivered_days_late_is_computed_again_by_the_next_run(week):
    services.refresh_rollup(now=NOW)
    # Fabio's message of Tue 6 Jan 10:00 (platform timestamp) arrives only now.
    with time_machine.travel(NOW, tick=False):
        conversation_services.receive_message(
            wa_id="5521987654321", body="Hello?", wamid="w-late", timestamp=utc(6, "10:00"), name="Fabio"
        )
    live = counted_live([WEEK], [Scope()], NOW)
    assert services.refresh_rollup(now=NOW + timedelta(minutes=5)).changed == (
        (date(2026, 1, 5), date(2026, 1, 6)),
    )
    assert_same_pages(live, NOW, rolled_up_through=date(2026, 1, 7))


def test_an_edit_by_hand_that_leaves_no_trace_needs_a_recompute_of_its_day(week):
    services.refresh_rollup(now=NOW)
    s_a = Conversation.objects.get(customer__name="Anna")
    Conversation.objects.filter(pk=s_a.pk).update(category="utility")  # no timestamp moves
    live = counted_live([WEEK], [Scope()], NOW)
    assert services.refresh_rollup(now=NOW + timedelta(minutes=5)).changed == ()
    with time_machine.travel(NOW, tick=False):
        call_command("rollup_reports", "--from", "2026-01-05", "--to", "2026-01-05", stdout=StringIO())
    assert_same_pages(live, NOW, rolled_up_through=date(2026, 1, 7))


def test_a_day_with_a_window_still_open_and_unanswered_waits(week, rates):
    """Ivy writes every 20 hours from Thursday on, nobody answers: her window never closes, so Thursday
    stays live until PENDING_LIMIT after it, then is rolled up as things stand."""

    def ivy_writes(times):
        for n in times:
            wrote("4915199999999", utc(8, "09:00") + timedelta(hours=20 * n), name="Ivy")

    ivy_writes(range(8))  # the last on Wed 14 Jan 05:00 UTC
    later = utc(14, "12:00")
    run = services.refresh_rollup(now=later)
    assert run.rolled_up_through == date(2026, 1, 7)  # Thursday 8 Jan is undecided
    scopes = [Scope(), Scope(week["alex"].pk)]
    live = all_pages([WEEK], scopes, later)
    assert_same_pages(live, later, rolled_up_through=date(2026, 1, 7))

    ivy_writes(range(8, 10))  # the last on Thu 15 Jan 21:00 UTC
    much_later = utc(16, "00:00")  # Thursday ended more than 7 days ago
    live = all_pages([WEEK], scopes, much_later)
    run = services.refresh_rollup(now=much_later)
    assert run.rolled_up_through == date(2026, 1, 12)
    assert UnansweredWindow.objects.filter(outcome="waiting", customer__name="Ivy").exists()
    assert_same_pages(live, much_later, rolled_up_through=run.rolled_up_through)


def test_a_day_with_a_conversation_still_open_waits(week):
    template(factories.customer(), utc(10, "21:30"), week["sam"], factories.template("UTILITY"))
    # Sat 10 Jan 22:30 Berlin: open until Sun 21:30 UTC, after NOW.
    assert services.refresh_rollup(now=NOW, horizon=timedelta(0)).rolled_up_through == date(2026, 1, 9)
    later = NOW + timedelta(hours=2)
    assert services.refresh_rollup(now=later, horizon=timedelta(0)).rolled_up_through == date(2026, 1, 10)


# --- Runs ---------------------------------------------------------------------------------------------


def test_running_twice_changes_nothing_and_a_recompute_writes_the_same_rows(week):
    first = services.refresh_rollup(now=NOW, horizon=timedelta(0))
    rows = rollup_rows()
    again = services.refresh_rollup(now=NOW, horizon=timedelta(0))
    assert again.computed is None and again.rolled_up_through == first.rolled_up_through
    assert rollup_rows() == rows
    recomputed = services.refresh_rollup(
        now=NOW, horizon=timedelta(0), recompute=(date(2020, 1, 1), date(2026, 1, 10))
    )
    assert recomputed.computed == (date(2026, 1, 2), date(2026, 1, 10))  # nothing before the data
    assert rollup_rows() == rows
    assert RollupDay.objects.count() == 9


def test_the_task_rolls_up_and_says_what_it_did(week):
    from reports.tasks import refresh_rollup

    with time_machine.travel(NOW, tick=False):
        assert refresh_rollup() == "computed 2026-01-02 to 2026-01-07; rolled up through 2026-01-07"
        assert refresh_rollup() == "nothing to compute; rolled up through 2026-01-07"


def test_the_beat_schedule_runs_the_task_every_few_minutes(settings):
    from reports.tasks import refresh_rollup

    entry = settings.CELERY_BEAT_SCHEDULE["refresh-report-rollup"]
    assert entry["task"] == refresh_rollup.name == "reports.refresh_rollup"
    assert entry["schedule"] <= 600


def test_nothing_to_roll_up_without_data():
    run = services.refresh_rollup(now=NOW)
    assert (run.computed, run.rolled_up_through) == (None, None)


def test_data_older_than_the_first_rolled_up_day_is_rolled_up_too(week):
    services.refresh_rollup(now=NOW)
    wrote("4915188888888", utc(1, "12:00"), name="Old news")  # an import of older history
    run = services.refresh_rollup(now=NOW)
    assert run.computed == (date(2026, 1, 1), date(2026, 1, 1))
    assert RollupDay.objects.order_by("day").first().day == date(2026, 1, 1)


def test_a_new_business_time_zone_starts_the_rollup_again(week, settings):
    services.refresh_rollup(now=NOW)
    settings.BUSINESS_TIME_ZONE = "America/New_York"
    new_york = Period(date(2026, 1, 5), date(2026, 1, 11), ZoneInfo("America/New_York"))
    live = REPORTS["conversations"](period=new_york, scope=Scope(), now=NOW)
    assert live.rolled_up_through is None  # Berlin's days are not New York's
    run = services.refresh_rollup(now=NOW)
    assert set(RollupDay.objects.values_list("time_zone", flat=True)) == {"America/New_York"}
    rolled = REPORTS["conversations"](period=new_york, scope=Scope(), now=NOW)
    assert rolled.rolled_up_through == run.rolled_up_through
    assert snapshot(rolled) == snapshot(live)


def test_the_command_backfills_and_checks_its_days(week):
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("rollup_reports", stdout=out)
        assert "computed 2026-01-02 to 2026-01-07; rolled up through 2026-01-07" in out.getvalue()
        with pytest.raises(CommandError, match="go together"):
            call_command("rollup_reports", "--from", "2026-01-05")
        with pytest.raises(CommandError, match="before"):
            call_command("rollup_reports", "--from", "2026-01-05", "--to", "2026-01-04")
        # Days inside the horizon are never rolled up, even when asked for.
        call_command("rollup_reports", "--from", "2026-01-05", "--to", "2026-01-11", stdout=out)
    assert RollupDay.objects.order_by("day").last().day == date(2026, 1, 7)


# --- Pages ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["reports:conversations", "reports:windows", "reports:costs"])
def test_with_the_rollup_each_page_runs_the_same_few_queries_and_says_where_its_days_come_from(
    client, week, rates, name
):
    services.refresh_rollup(now=NOW, horizon=timedelta(0))
    client.force_login(week["supervisor"])
    params = {"range": "custom", "start": "2026-01-05", "end": "2026-01-11"}
    with time_machine.travel(NOW, tick=False):
        client.get(reverse(name), params)  # warm up: session, permissions cache
        with CaptureQueriesContext(connection) as small:
            page = client.get(reverse(name), params)
        assert "days up to 2026-01-10 from the daily rollup, later days counted live" in " ".join(
            page.text.split()
        )
        for n in range(8):
            customer = wrote(f"4915177{n:06d}", utc(11, "09:00") + timedelta(minutes=n), name=f"More {n}")
            text(customer, utc(11, "09:30") + timedelta(minutes=n), week["alex"])
        services.refresh_rollup(
            now=NOW, horizon=timedelta(0), recompute=(date(2026, 1, 5), date(2026, 1, 10))
        )
        with CaptureQueriesContext(connection) as larger:
            assert client.get(reverse(name), params).status_code == 200
    assert len(larger) == len(small) <= 16, [q["sql"][:120] for q in larger]
