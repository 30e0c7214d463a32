"""Every figure of the three reports against the week in conftest.py, computed by hand there.

The same assertions run on PostgreSQL and on SQLite (the demo's database): the SQL is shared."""

from datetime import date, timedelta

import pytest
import time_machine

from conversations import services
from reports.periods import Period
from reports.selectors import Scope, conversation_report, cost_report, window_report
from tests import factories
from tests.reports.conftest import BERLIN, NOW, person, template, text, utc, wrote

pytestmark = pytest.mark.django_db

WEEK = Period(date(2026, 1, 5), date(2026, 1, 11), BERLIN)


def rows(report, slug):
    """A table as the page shows it: {first cell: the other cells}."""
    return {row[0]: row[1:] for row in report.tables[slug].body()}


def footer(report, slug):
    return report.tables[slug].footer()


# --- Conversations ----------------------------------------------------------------------------------


def test_conversations_per_business_day_split_at_local_midnight(week):
    report = conversation_report(period=WEEK, scope=Scope(), now=NOW)
    per_day = rows(report, "per-day")
    # columns: marketing, utility, authentication, service, free-entry-point, total
    assert per_day["2026-01-05"] == ["0", "0", "0", "1", "0", "1"]  # S_A at 23:30 Berlin on Monday
    assert per_day["2026-01-06"] == ["0", "1", "0", "1", "0", "2"]  # S_B at 00:30 Berlin (UTC Monday), U_B
    assert per_day["2026-01-07"] == ["0", "1", "0", "0", "1", "2"]  # U_D, F_D
    assert per_day["2026-01-08"] == ["1", "0", "0", "0", "0", "1"]  # M_C; the voided M_E is not counted
    assert per_day["2026-01-09"] == per_day["2026-01-10"] == ["0", "0", "0", "0", "0", "0"]
    assert per_day["2026-01-11"] == ["0", "0", "1", "0", "0", "1"]  # A_H
    assert footer(report, "per-day") == ["total", "1", "2", "1", "2", "1", "7"]


def test_conversation_totals_compare_with_the_previous_week_and_know_what_is_open_now(week):
    report = conversation_report(period=WEEK, scope=Scope(), now=NOW)
    categories = rows(report, "categories")
    # opened, previous, change, open now, average length, median length
    assert categories["Marketing"] == ["1", "0", "+1 (new)", "0", "24:00:00", "24:00:00"]
    assert categories["Utility"] == [
        "2",
        "0",
        "+2 (new)",
        "0",
        "13:07:30",
        "13:07:30",
    ]  # 2:15 (closed) and 24 h
    assert categories["Authentication"] == ["1", "0", "+1 (new)", "1", "n/a", "n/a"]  # still open: no length
    assert categories["Service"] == ["2", "1", "+1 (+100.0%)", "0", "24:00:00", "24:00:00"]
    assert categories["Free-entry point"] == ["1", "0", "+1 (new)", "0", "72:00:00", "72:00:00"]
    # Ended: 2:15, 24, 24, 24, 24, 72 hours -> average 28:22:30, median 24:00:00.
    assert footer(report, "categories") == ["total", "7", "1", "+6 (+600.0%)", "1", "28:22:30", "24:00:00"]
    cards = {card.label: card for card in report.cards}
    assert cards["Conversations opened"].value == 7 and cards["Conversations opened"].previous == 1
    assert cards["Open right now"].value == 1
    assert cards["Voided"].value == 1


def test_conversations_by_opening_agent_and_by_country(week):
    report = conversation_report(period=WEEK, scope=Scope(), now=NOW)
    assert rows(report, "agents") == {
        "Sam (sam)": ["0", "1", "1", "1", "1", "4"],
        "Alex (alex)": ["1", "1", "0", "1", "0", "3"],
    }
    assert rows(report, "countries") == {
        "BR": ["0", "1", "0", "1", "0", "2"],
        "GB": ["1", "0", "1", "0", "0", "2"],
        "US": ["0", "1", "0", "0", "1", "2"],
        "DE": ["0", "0", "0", "1", "0", "1"],
    }


def test_free_entry_points_and_what_they_closed_early(week):
    report = conversation_report(period=WEEK, scope=Scope(), now=NOW)
    # U_D opened Wed 08:00, would have expired Thu 08:00; F_D closed it at Wed 10:15.
    assert rows(report, "closed-early") == {"Utility": ["1", "21:45:00"]}
    assert "1 free-entry-point conversation(s) opened" in report.tables["closed-early"].note


def test_voided_conversations_are_listed_apart(week):
    report = conversation_report(period=WEEK, scope=Scope(), now=NOW)
    assert report.tables["voided"].body() == [
        ["2026-01-08 13:00", "Emma (4917612345678)", "DE", "Marketing", "Alex (alex)", "2026-01-08 13:01"]
    ]


def test_an_agent_sees_only_the_conversations_they_opened(week):
    report = conversation_report(period=WEEK, scope=Scope(week["alex"].pk), now=NOW)
    assert rows(report, "agents") == {"Alex (alex)": ["1", "1", "0", "1", "0", "3"]}
    assert footer(report, "per-day")[-1] == "3"
    assert footer(report, "categories")[1:3] == ["3", "1"]  # S_F last week was alex's too
    assert rows(report, "closed-early") == {}  # sam's free-entry point closed alex's utility conversation
    assert len(report.tables["voided"].rows) == 1


def test_a_previous_period_has_the_same_length_and_ends_where_the_period_starts():
    previous = WEEK.previous()
    assert (previous.first, previous.last, previous.days) == (date(2025, 12, 29), date(2026, 1, 4), 7)
    assert previous.end == WEEK.start


# --- Windows ----------------------------------------------------------------------------------------


def test_windows_opened_answered_lost_and_waiting_per_day(week):
    report = window_report(period=WEEK, scope=Scope(), now=NOW)
    per_day = rows(report, "per-day")
    # opened, answered, lost, waiting
    assert per_day["2026-01-05"] == ["1", "1", "0", "0"]  # A wrote 23:10 Berlin Monday
    assert per_day["2026-01-06"] == ["2", "1", "1", "0"]  # B wrote 00:00 Berlin Tuesday; C lost
    assert per_day["2026-01-07"] == ["1", "1", "0", "0"]  # D (via the ad)
    assert per_day["2026-01-11"] == ["1", "0", "0", "1"]  # G: open until Mon 15:00, not answered yet
    assert footer(report, "per-day") == ["total", "5", "3", "1", "1"]
    cards = {card.label: card for card in report.cards}
    assert (cards["Windows opened"].value, cards["Windows opened"].previous) == (5, 1)
    assert cards["Lost"].value == 1 and cards["Lost"].hint == "20.0% of opened"


def test_first_response_times_and_what_each_agent_did(week):
    report = window_report(period=WEEK, scope=Scope(), now=NOW)
    # answered, median, p90, lost, waiting, templates after the window closed
    assert rows(report, "agents") == {
        "Alex (alex)": ["1", "0:20:00", "0:20:00", "1", "0", "1"],  # A in 20 min; C lost and re-engaged
        "Sam (sam)": ["2", "0:22:30", "0:28:30", "0", "0", "0"],  # B in 30 min, D in 15 min
        "unassigned": ["0", "n/a", "n/a", "0", "1", "0"],  # G
    }
    # 15, 20, 30 minutes: median 20, 90th percentile 20 + 0.8 x 10 = 28 minutes.
    assert footer(report, "agents") == ["total", "3", "0:20:00", "0:28:00", "1", "1", "1"]
    cards = {card.label: card for card in report.cards}
    assert cards["Median first response"].previous == timedelta(minutes=5)  # F last week
    assert cards["Templates after the window closed"].value == 1


def test_a_template_counts_as_a_reply_after_the_window_closed_only_when_it_answered_the_customer(
    business_time_zone,
):
    """R2: the customer's last message was not answered by anything that reached them, and the window
    had closed: a template an agent sent was the only way to reply. Campaigns to answered customers,
    and sends without an agent, are not such replies."""
    alex, sam = person("alex", "agents"), person("sam", "agents")
    marketing, utility = factories.template("MARKETING"), factories.template("UTILITY")
    # P: answered in 5 minutes, then a campaign two days later: not a reply.
    p = wrote("4915112345678", utc(5, "10:00"), name="Paula")
    text(p, utc(5, "10:05"), alex)
    template(p, utc(7, "12:00"), alex, marketing)
    # Q: nobody answered; Sam follows up after the window closed (a reply), then again (not one).
    q = wrote("5511987654321", utc(5, "10:00"), name="Quinn")
    template(q, utc(6, "09:59"), sam, utility)  # 23:59 after: the window is still open
    assert q.messages.count() == 2
    q2 = wrote("447400123456", utc(5, "11:00"), name="Quentin")
    template(q2, utc(6, "11:00"), sam, utility)  # 24:00:00 after: closed (R1), a reply by template
    template(q2, utc(6, "12:00"), sam, utility)  # ours already reached them
    # R: Alex's reply failed, so it never reached the customer; his later template is a reply.
    r = wrote("14155550123", utc(5, "10:00"), name="Rita")
    failed = text(r, utc(5, "10:05"), alex)
    with time_machine.travel(utc(5, "10:06"), tick=False):
        services.mark_message_failed(message=failed, error_code=131026, error_text="undeliverable")
    template(r, utc(8, "09:00"), alex, utility)
    # S: nobody answered; a template the system sent (no agent) afterwards is no reply.
    s = wrote("5215512345678", utc(5, "10:00"), name="Sara")
    template(s, utc(7, "10:00"), None, marketing)

    report = window_report(period=WEEK, scope=Scope(), now=NOW)
    assert {card.label: card.value for card in report.cards}["Templates after the window closed"] == 2
    templates_after_closed = {name: cells[-1] for name, cells in rows(report, "agents").items()}
    assert templates_after_closed["Alex (alex)"] == "1" and templates_after_closed["Sam (sam)"] == "1"


def test_lost_windows_say_whose_they_were(week):
    report = window_report(period=WEEK, scope=Scope(), now=NOW)
    assert report.tables["lost"].body() == [
        ["2026-01-06 11:00", "2026-01-07 11:00", "Chloe (447400123456)", "GB", "Alex (alex)"]
    ]


def test_an_agent_sees_the_windows_they_answered_or_lost(week):
    alex = window_report(period=WEEK, scope=Scope(week["alex"].pk), now=NOW)
    assert footer(alex, "per-day") == ["total", "2", "1", "1", "0"]
    assert set(rows(alex, "agents")) == {"Alex (alex)"}
    sam = window_report(period=WEEK, scope=Scope(week["sam"].pk), now=NOW)
    assert footer(sam, "per-day") == ["total", "2", "2", "0", "0"]
    assert sam.tables["lost"].rows == []


def test_a_window_the_platform_closed_early_ends_then(week):
    """R9/131047: the platform said the window was closed; the report follows the platform."""
    from conversations.models import Customer

    grace = Customer.objects.get(wa_id="15551234567")
    Customer.objects.filter(pk=grace.pk).update(platform_window_closed_at=NOW - timedelta(hours=1))
    report = window_report(period=WEEK, scope=Scope(), now=NOW)
    assert rows(report, "per-day")["2026-01-11"] == ["1", "0", "1", "0"]  # lost, not waiting


# --- Cost ---------------------------------------------------------------------------------------------


def test_cost_per_category_under_both_pricing_models(week, rates):
    report = cost_report(period=WEEK, scope=Scope(), now=NOW)
    # conversations, cost per conversation, messages, charged, cost per message, difference
    assert rows(report, "categories") == {
        "Marketing": ["1", "0.07 USD", "1", "1", "0.06 USD", "-0.01 USD"],  # GB rates; M_E failed: free
        "Utility": ["2", "0.04 USD", "3", "1", "0.02 USD", "-0.03 USD"],  # U_B in window, D's 11:00 in F_D
        # 0.025 shows as 0.03 (half up); the difference 0.025 - 0.03 = -0.005 as -0.01
        "Authentication": ["1", "0.03 USD", "1", "1", "0.03 USD", "-0.01 USD"],
        # A's, B's and D's replies: free-form, free in January 2026 (in the window; D's in F_D)
        "Service": ["2", "0.02 USD", "3", "0", "0.00", "-0.02 USD"],
        "Free-entry point": ["1", "0.00", "0", "0", "0.00", "0.00"],  # its messages count in their own
    }
    # 0.01 + 0.01 + 0.02 + 0.02 + 0.07 + 0.03 = 0.16; per message 0.06 + 0.015 + 0.025 = 0.10.
    assert footer(report, "categories") == ["total", "7", "0.16 USD", "8", "3", "0.10 USD", "-0.06 USD"]
    # By the rules in force in January 2026 (migration 0006: the platform's schedule).
    assert rows(report, "free-messages") == {
        "Every message inside a free-entry point": ["2"],  # D's reply and template in F_D
        "Free-form (service) messages inside the customer service window": ["2"],  # A's, B's replies
        "Utility templates inside the customer service window": ["1"],  # U_B
    }
    cards = {card.label: card for card in report.cards}
    assert str(cards["Per conversation"].previous) == "0.01 USD"  # S_F last week


def test_cost_per_country_and_per_day(week, rates):
    report = cost_report(period=WEEK, scope=Scope(), now=NOW)
    countries = rows(report, "countries")
    # conversations, cost, messages, charged, cost per message, charged by the platform, its amount
    assert countries["GB"] == ["2", "0.10 USD", "2", "2", "0.09 USD", "0", "0.00"]  # M_C, A_H
    assert countries["US"] == ["2", "0.02 USD", "3", "1", "0.02 USD", "0", "0.00"]  # U_D (F_D free); 0.015
    per_day = rows(report, "per-day")
    assert per_day["2026-01-06"] == ["2", "0.03 USD", "0", "0.00", "0", "0.00"]  # S_B + U_B: U_B was free
    assert per_day["2026-01-07"] == ["2", "0.02 USD", "1", "0.02 USD", "0", "0.00"]
    # The week's statuses carried no pricing: every message is counted apart.
    assert rows(report, "platform") == {"no pricing reported yet": ["", "8", "n/a", "n/a"]}


def test_without_a_rate_the_estimate_says_what_it_left_out(week):
    report = cost_report(period=WEEK, scope=Scope(), now=NOW)
    assert report.notes and "6 conversation(s) and 3 message(s) have no rate" in report.notes[0]
