"""What the platform charged, message by message, beside our per-message estimate, and where they differ;
what is free as dated rules (a period across 2026-10-01 is priced day by day). Hand-computed below, on
the page, in the CSV and from the rollup alike, on PostgreSQL and SQLite.

Business time zone Europe/Berlin (UTC+2 until 25 October 2026). The week is Mon 28 September – Sun 4
October 2026 there; the clock stands at Sun 4 Oct 20:00 UTC. Times are UTC unless they say Berlin.
Rules (the platform's schedule, fixtures/free_message_rules.json): every message inside a free-entry
point is free; until Wed 30 Sep free-form messages and utility templates inside the window are free,
from Thu 1 Oct they are charged. Per-message rates (USD): marketing 0.05 (GB 0.06), utility 0.02,
authentication 0.03, service 0.01.

Per customer (country): what happens; our estimate; the platform's pricing (all PMP).
- Paula (DE): Wed 30 08:00 writes; 08:10 alex replies: free (service in the window); service,
  free_customer_service. 08:20 alex sends a utility template: free (utility in the window); utility,
  free_customer_service.
- Vera (DE): Tue 29 07:00 writes; Wed 30 07:30 alex sends a utility template, the window closed at 07:00:
  charged 0.02; utility, free_customer_service (*free on the platform*).
- Walt (DE): Wed 30 09:00 writes; 09:30 alex sends a utility template: free (utility in the window);
  utility, regular 0.02 (*charged by the platform*).
- Mia (GB): Wed 30 10:00 alex sends a marketing template: charged 0.06; marketing, regular 0.06.
- Rosa (DE): Wed 30 21:50 writes; 22:05 (00:05 Berlin *Thursday*) sam replies: charged 0.01; service,
  regular 0.01.
- Quinn (DE): Thu 1 08:00 writes; 08:10 sam replies: charged 0.01; service, regular 0.01. 08:20 sam sends
  a utility template inside the window: charged 0.02; utility, regular 0.02.
- Uma (US): Thu 1 09:00 alex sends a utility template: charged 0.02; *marketing*, regular 0.05.
- Fabio (BR): Thu 1 10:00 writes via an ad; 10:15 sam replies (a free-entry point opens): free;
  referral_conversion, free_entry_point. 11:00 sam sends a utility template (joins it): free; utility,
  free_entry_point.
- Nora (GB): Thu 1 12:00 sam sends an authentication template, no status yet: charged 0.03; no pricing.
"""

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conversations import services as conversation_services
from conversations.models import Customer, Message
from reports import services
from reports.models import FreeMessageRule, Rate
from reports.periods import Period
from reports.pricing import FreeRules
from reports.selectors import Scope, cost_report
from tests import factories
from tests.reports.conftest import AD, create_rates, person, template, text, wrote
from tests.reports.test_rollup import assert_same_pages, counted_live

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 10, 4, 20, 0, tzinfo=UTC)
WEEK = Period(date(2026, 9, 28), date(2026, 10, 4), BERLIN)
WEEK_PARAMS = {"range": "custom", "start": "2026-09-28", "end": "2026-10-04"}


def utc(month: int, day: int, hhmm: str) -> datetime:
    hours, minutes = (int(p) for p in hhmm.split(":"))
    return datetime(2026, month, day, hours, minutes, tzinfo=UTC)


def priced(message, category: str, pricing_type: str, *, at: datetime | None = None, status: str = "sent"):
    """The platform's status for `message`, with its per-message pricing, as the webhook brings it."""
    at = at or message.occurred_at + timedelta(seconds=5)
    with time_machine.travel(at, tick=False):
        conversation_services.record_status(
            wamid=f"wamid.{message.pk}",
            callback=f"msg-{message.pk}",
            status=status,
            timestamp=at,
            pricing={
                "billable": pricing_type == "regular",
                "pricing_model": "PMP",
                "category": category,
                "type": pricing_type,
            },
        )
    return message


def rows(report, slug):
    return {row[0]: row[1:] for row in report.tables[slug].body()}


@pytest.fixture
def free_rules(db):
    """The platform's schedule of what is free, as shipped (and as migration 0006 starts with)."""
    FreeMessageRule.objects.all().delete()
    call_command("loaddata", "free_message_rules", verbosity=0)


@pytest.fixture
def message_rates(db):
    rows = [
        ("conversation", "marketing", "", "0.05"),
        ("conversation", "marketing", "GB", "0.07"),
        ("conversation", "utility", "", "0.02"),
        ("conversation", "authentication", "", "0.03"),
        ("conversation", "service", "", "0.01"),
        ("message", "marketing", "", "0.05"),
        ("message", "marketing", "GB", "0.06"),
        ("message", "utility", "", "0.02"),
        ("message", "authentication", "", "0.03"),
        ("message", "service", "", "0.01"),
    ]
    create_rates(rows)


@pytest.fixture
def boundary(settings, free_rules, message_rates):
    settings.BUSINESS_TIME_ZONE = "Europe/Berlin"
    alex, sam = person("alex", "agents"), person("sam", "agents")
    marketing, utility = factories.template("MARKETING"), factories.template("UTILITY")
    authentication = factories.template("AUTHENTICATION")
    messages = {}

    paula = wrote("4915100000002", utc(9, 30, "08:00"), name="Paula")
    messages["paula reply"] = priced(
        text(paula, utc(9, 30, "08:10"), alex), "service", "free_customer_service"
    )
    messages["paula utility"] = priced(
        template(paula, utc(9, 30, "08:20"), alex, utility), "utility", "free_customer_service"
    )
    vera = wrote("4915100000001", utc(9, 29, "07:00"), name="Vera")
    messages["vera utility"] = priced(
        template(vera, utc(9, 30, "07:30"), alex, utility), "utility", "free_customer_service"
    )
    walt = wrote("4915100000008", utc(9, 30, "09:00"), name="Walt")
    messages["walt utility"] = priced(
        template(walt, utc(9, 30, "09:30"), alex, utility), "utility", "regular"
    )
    mia = factories.customer(wa_id="447400000005", name="Mia")
    messages["mia marketing"] = priced(
        template(mia, utc(9, 30, "10:00"), alex, marketing), "marketing", "regular"
    )
    rosa = wrote("4915100000004", utc(9, 30, "21:50"), name="Rosa")
    messages["rosa reply"] = priced(text(rosa, utc(9, 30, "22:05"), sam), "service", "regular")
    quinn = wrote("4915100000003", utc(10, 1, "08:00"), name="Quinn")
    messages["quinn reply"] = priced(text(quinn, utc(10, 1, "08:10"), sam), "service", "regular")
    messages["quinn utility"] = priced(
        template(quinn, utc(10, 1, "08:20"), sam, utility), "utility", "regular"
    )
    uma = factories.customer(wa_id="14155550006", name="Uma")
    messages["uma utility"] = priced(
        template(uma, utc(10, 1, "09:00"), alex, utility), "marketing", "regular"
    )
    fabio = wrote("5511900000007", utc(10, 1, "10:00"), name="Fabio", referral=AD)
    messages["fabio reply"] = priced(
        text(fabio, utc(10, 1, "10:15"), sam), "referral_conversion", "free_entry_point"
    )
    messages["fabio utility"] = priced(
        template(fabio, utc(10, 1, "11:00"), sam, utility), "utility", "free_entry_point"
    )
    nora = factories.customer(wa_id="447400000009", name="Nora")
    messages["nora authentication"] = template(nora, utc(10, 1, "12:00"), sam, authentication)
    return {"alex": alex, "sam": sam, "supervisor": person("morgan", "supervisors"), "messages": messages}


# --- The figures ------------------------------------------------------------------------------------


def test_a_period_across_2026_10_01_is_priced_day_by_day_by_the_rules_then_in_force(boundary):
    report = cost_report(period=WEEK, scope=Scope(), now=NOW)
    # conversations, cost per conversation, messages, charged, cost per message, difference
    assert rows(report, "categories") == {
        "Marketing": ["1", "0.07 USD", "1", "1", "0.06 USD", "-0.01 USD"],  # Mia (GB)
        # Paula's and Walt's (in the window, Wednesday) and Fabio's (free-entry point) are free; Vera's
        # (window closed), Quinn's (Thursday: charged in the window too) and Uma's are charged.
        "Utility": ["5", "0.10 USD", "6", "3", "0.06 USD", "-0.04 USD"],
        "Authentication": ["1", "0.03 USD", "1", "1", "0.03 USD", "0.00 USD"],  # Nora
        # Paula's reply free (Wednesday), Rosa's (00:05 Berlin Thursday) and Quinn's charged, Fabio's free.
        "Service": ["3", "0.03 USD", "4", "2", "0.02 USD", "-0.01 USD"],
        "Free-entry point": ["1", "0.00", "0", "0", "0.00", "0.00"],
    }
    assert report.tables["categories"].footer() == [
        "total",
        "11",
        "0.23 USD",
        "12",
        "7",
        "0.17 USD",
        "-0.06 USD",
    ]
    per_day = rows(report, "per-day")
    # conversations, cost, charged messages, cost per message, charged by the platform, its amount
    assert per_day["2026-09-30"] == [
        "5",
        "0.14 USD",
        "2",
        "0.08 USD",
        "2",
        "0.08 USD",
    ]  # Mia, Vera | Mia, Walt
    # Rosa, Quinn x2, Uma, Nora | Rosa, Quinn x2, Uma as marketing (0.05)
    assert per_day["2026-10-01"] == ["6", "0.09 USD", "5", "0.09 USD", "4", "0.09 USD"]
    assert rows(report, "free-messages") == {
        "Every message inside a free-entry point": ["2"],  # Fabio's reply and template
        "Free-form (service) messages inside the customer service window": ["1"],  # Paula's reply
        "Utility templates inside the customer service window": ["2"],  # Paula's, Walt's
    }
    assert [row[:4] for row in report.tables["free-rules"].body()] == [
        ["Every message", "Inside a free-entry point (72 h)", "2024-01-01", "open"],
        [
            "Free-form (service) messages",
            "Inside an open customer service window",
            "2024-01-01",
            "2026-10-01",
        ],
        ["Utility templates", "Inside an open customer service window", "2024-01-01", "2026-10-01"],
    ]


def test_what_the_platform_charged_per_category_and_type(boundary):
    report = cost_report(period=WEEK, scope=Scope(), now=NOW)
    # messages, charged, amount at the rate card
    assert report.tables["platform"].body() == [
        ["marketing", "regular", "2", "2", "0.11 USD"],  # Mia (GB 0.06), Uma (0.05)
        ["referral_conversion", "free_entry_point", "1", "0", "0.00"],  # Fabio's reply
        ["service", "regular", "2", "2", "0.02 USD"],  # Rosa, Quinn
        ["service", "free_customer_service", "1", "0", "0.00"],  # Paula
        ["utility", "regular", "2", "2", "0.04 USD"],  # Walt, Quinn
        ["utility", "free_customer_service", "2", "0", "0.00"],  # Paula, Vera
        ["utility", "free_entry_point", "1", "0", "0.00"],  # Fabio
        ["no pricing reported yet", "", "1", "n/a", "n/a"],  # Nora
    ]
    assert report.tables["platform"].footer() == ["total", "", "12", "6", "0.17 USD"]
    assert "1 message(s) have no pricing from the platform yet" in report.tables["platform"].note
    countries = rows(report, "countries")
    # ... charged by the platform, its amount
    assert countries["US"][-2:] == ["1", "0.05 USD"]  # Uma, as marketing
    assert countries["GB"][-2:] == ["1", "0.06 USD"]  # Mia (Nora: no pricing yet)
    cards = {card.label: card for card in report.cards}
    assert str(cards["Charged by the platform"].value) == "0.17 USD"
    assert cards["Charged by the platform"].hint == "6 messages charged per message; 1 without pricing yet"
    assert str(cards["Per message"].value) == "0.17 USD"


def test_where_our_estimate_and_the_platform_differ(boundary):
    report = cost_report(period=WEEK, scope=Scope(), now=NOW)
    # priced by the platform, free for us/charged by it, charged by us/free on it, another category,
    # our estimate, the platform, platform - estimate
    assert rows(report, "differences") == {
        "Marketing": ["1", "0", "0", "0", "0.06 USD", "0.06 USD", "0.00 USD"],
        # Walt: free for us, charged; Vera: charged by us, free; Uma: charged as marketing. Ours: Vera,
        # Quinn, Uma 0.02 each; the platform's: Walt, Quinn 0.02, Uma 0.05.
        "Utility": ["6", "1", "1", "1", "0.06 USD", "0.09 USD", "0.03 USD"],
        "Authentication": ["0", "0", "0", "0", "0.00", "0.00", "0.00"],  # Nora: not priced yet
        "Service (free-form)": ["4", "0", "0", "0", "0.02 USD", "0.02 USD", "0.00 USD"],
    }
    assert report.tables["differences"].footer() == [
        "total",
        "11",
        "1",
        "1",
        "1",
        "0.14 USD",
        "0.17 USD",
        "0.03 USD",
    ]
    messages = boundary["messages"]
    listed = report.tables["difference-messages"]
    assert listed.body() == [
        [
            "2026-10-01 11:00",
            f"#{messages['uma utility'].pk}",
            "Uma (14155550006)",
            "Alex (alex)",
            "Utility",
            "charged",
            "charged: marketing, regular",
            "charged as marketing",
        ],
        [
            "2026-09-30 11:30",
            f"#{messages['walt utility'].pk}",
            "Walt (4915100000008)",
            "Alex (alex)",
            "Utility",
            "free: utility templates inside the customer service window",
            "charged: utility, regular",
            "free for us, charged by the platform",
        ],
        [
            "2026-09-30 09:30",
            f"#{messages['vera utility'].pk}",
            "Vera (4915100000001)",
            "Alex (alex)",
            "Utility",
            "charged",
            "free: utility, free_customer_service",
            "charged by us, free on the platform",
        ],
    ]
    assert listed.rows[0][1].url == f"/admin/conversations/message/{messages['uma utility'].pk}/change/"
    card = {card.label: card for card in report.cards}["Platform - our estimate"]
    assert str(card.value) == "0.03 USD"
    assert card.hint == "over the 11 messages the platform priced per message: 3 difference(s), listed below"


def test_the_list_of_differences_is_limited_to_the_newest(boundary, monkeypatch):
    from reports.selectors import common

    monkeypatch.setattr(common, "LIST_LIMIT", 2)
    report = cost_report(period=WEEK, scope=Scope(), now=NOW)
    listed = report.tables["difference-messages"]
    assert [row[2] for row in listed.body()] == ["Uma (14155550006)", "Walt (4915100000008)"]
    assert listed.note.startswith("Newest first, at most 2.")
    assert rows(report, "differences")["Utility"][1:4] == ["1", "1", "1"]  # the counts are all of them


def test_an_agent_sees_the_differences_of_the_messages_they_sent(boundary):
    sam = cost_report(period=WEEK, scope=Scope(boundary["sam"].pk), now=NOW)
    assert sam.tables["difference-messages"].rows == []
    assert sam.tables["platform"].footer() == ["total", "", "6", "3", "0.04 USD"]  # Rosa, Quinn x2
    alex = cost_report(period=WEEK, scope=Scope(boundary["alex"].pk), now=NOW)
    assert len(alex.tables["difference-messages"].rows) == 3


def test_the_rules_are_read_when_the_page_is(boundary):
    """An admin who ends the utility rule a day earlier reprices Wednesday, rolled up or not."""
    services.refresh_rollup(now=NOW, horizon=timedelta(0))
    utility = FreeMessageRule.objects.get(category="utility")
    utility.effective_until = date(2026, 9, 30)
    utility.full_clean()
    utility.save()
    report = cost_report(period=WEEK, scope=Scope(), now=NOW)
    assert report.rolled_up_through == date(2026, 10, 3)
    assert rows(report, "categories")["Utility"][2:5] == ["6", "5", "0.10 USD"]  # Paula's and Walt's too
    # Walt's now agrees with the platform; Paula's is charged by us and free on the platform.
    assert rows(report, "differences")["Utility"][:4] == ["6", "0", "2", "1"]
    listed = {row[2]: row[5] for row in report.tables["difference-messages"].body()}
    assert listed == {
        "Uma (14155550006)": "charged",
        "Paula (4915100000002)": "charged",
        "Vera (4915100000001)": "charged",
    }


# --- The rollup and the CSV ----------------------------------------------------------------------------


def test_the_rollup_gives_the_same_cost_page_as_counting_live(boundary):
    scopes = [Scope(), Scope(boundary["alex"].pk), Scope(boundary["sam"].pk)]
    periods = [WEEK, Period(date(2026, 10, 1), date(2026, 10, 1), BERLIN)]
    live = counted_live(periods, scopes, NOW)
    run = services.refresh_rollup(now=NOW, horizon=timedelta(0))
    assert run.computed == (date(2026, 9, 29), date(2026, 10, 3))
    assert_same_pages(live, NOW, rolled_up_through=date(2026, 10, 3))


def test_pricing_a_status_brings_days_later_is_rolled_up_again(boundary):
    services.refresh_rollup(now=NOW, horizon=timedelta(0))
    nora = boundary["messages"]["nora authentication"]
    priced(nora, "authentication", "regular", at=NOW + timedelta(minutes=1))  # queued -> sent, with pricing
    live = counted_live([WEEK], [Scope()], NOW + timedelta(minutes=2))
    report = live[("costs", WEEK, Scope())]
    assert report["tables"]["platform"][2] == ["total", "", "12", "7", "0.20 USD"]  # + 0.03 (GB default)
    run = services.refresh_rollup(now=NOW + timedelta(minutes=5), horizon=timedelta(0))
    assert run.changed == ((date(2026, 9, 30), date(2026, 10, 1)),)  # Thursday and the day before
    assert_same_pages(live, NOW + timedelta(minutes=2), rolled_up_through=date(2026, 10, 3))


def test_pricing_brought_by_a_status_that_moves_nothing_is_rolled_up_again(boundary):
    """A `delivered` with the pricing after a `read` without: the message does not move, its pricing does."""
    nora = boundary["messages"]["nora authentication"]
    with time_machine.travel(NOW - timedelta(minutes=30), tick=False):
        conversation_services.record_status(
            wamid="wamid.nora",
            callback=f"msg-{nora.pk}",
            status="read",
            timestamp=NOW - timedelta(minutes=30),
        )
    services.refresh_rollup(now=NOW, horizon=timedelta(0))
    priced(nora, "authentication", "regular", at=NOW + timedelta(minutes=1), status="delivered")
    nora.refresh_from_db()
    assert (nora.status, nora.pricing_type, nora.pricing_changed_at) == (
        "read",
        "regular",
        NOW + timedelta(minutes=1),
    )
    live = counted_live([WEEK], [Scope()], NOW + timedelta(minutes=2))
    run = services.refresh_rollup(now=NOW + timedelta(minutes=5), horizon=timedelta(0))
    assert run.changed == ((date(2026, 9, 30), date(2026, 10, 1)),)
    assert_same_pages(live, NOW + timedelta(minutes=2), rolled_up_through=date(2026, 10, 3))


def test_a_receipt_without_pricing_recomputes_nothing(boundary):
    services.refresh_rollup(now=NOW, horizon=timedelta(0))
    nora = Message.objects.get(pk=boundary["messages"]["nora authentication"].pk)
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        conversation_services.record_status(
            wamid="wamid.nora", callback=f"msg-{nora.pk}", status="delivered", timestamp=NOW
        )
    assert services.refresh_rollup(now=NOW + timedelta(minutes=5), horizon=timedelta(0)).changed == ()


def test_the_new_tables_download_as_the_csv_on_the_page(client, boundary):
    services.refresh_rollup(now=NOW, horizon=timedelta(0))
    client.force_login(boundary["supervisor"])
    with time_machine.travel(NOW, tick=False):
        page = client.get(reverse("reports:costs"), WEEK_PARAMS)
        assert page.status_code == 200
        for slug in ("platform", "differences", "difference-messages", "free-messages", "free-rules"):
            download = client.get(reverse("reports:costs"), {**WEEK_PARAMS, "format": "csv", "table": slug})
            assert download.status_code == 200
            on_page = re.search(rf'id="table-{slug}".*?</table>', page.text, re.S).group(0)
            on_page_rows = [
                [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
                for row in re.findall(r"<tr>(.*?)</tr>", on_page, re.S)
            ]
            assert list(csv.reader(io.StringIO(download.content.decode()))) == on_page_rows, slug
    assert "days up to 2026-10-03 from the daily rollup" in " ".join(page.text.split())
    # A message links to its admin page for those who may use the admin (not a supervisor).
    uma = boundary["messages"]["uma utility"]
    link = f'<a href="/admin/conversations/message/{uma.pk}/change/">#{uma.pk}</a>'
    assert link not in page.text and f">#{uma.pk}<" in page.text
    admin = person("robin", "admins")
    admin.is_staff = True
    admin.save()
    client.force_login(admin)
    with time_machine.travel(NOW, tick=False):
        assert link in client.get(reverse("reports:costs"), WEEK_PARAMS).text


def test_the_cost_page_runs_the_same_queries_with_or_without_differences(client, boundary):
    client.force_login(boundary["supervisor"])
    earlier = {"range": "custom", "start": "2026-09-21", "end": "2026-09-27"}  # nothing differs
    with time_machine.travel(NOW, tick=False):
        client.get(reverse("reports:costs"), earlier)  # warm up: session, permissions cache
        with CaptureQueriesContext(connection) as without:
            assert client.get(reverse("reports:costs"), earlier).status_code == 200
        with CaptureQueriesContext(connection) as differing:
            page = client.get(reverse("reports:costs"), WEEK_PARAMS)
            assert len(page.context["report"].tables["difference-messages"].rows) == 3
    assert len(differing) == len(without) <= 12, [q["sql"][:120] for q in differing]


# --- Under conversation-based pricing ----------------------------------------------------------------------


def test_a_message_priced_per_conversation_is_counted_but_not_priced_per_message(settings, free_rules):
    """Before July 2025: the platform's pricing says CBP and billable, charged per conversation."""
    settings.BUSINESS_TIME_ZONE = "Europe/Berlin"
    customer = factories.customer(wa_id="447400000010", name="Olga")
    sent = template(customer, datetime(2025, 6, 2, 9, 0, tzinfo=UTC), None, factories.template("MARKETING"))
    with time_machine.travel(datetime(2025, 6, 2, 9, 1, tzinfo=UTC), tick=False):
        conversation_services.record_status(
            wamid="wamid.cbp",
            callback=f"msg-{sent.pk}",
            status="sent",
            timestamp=datetime(2025, 6, 2, 9, 1, tzinfo=UTC),
            pricing={"billable": True, "pricing_model": "CBP", "category": "marketing"},
        )
    june = Period(date(2025, 6, 2), date(2025, 6, 2), BERLIN)
    report = cost_report(period=june, scope=Scope(), now=datetime(2025, 6, 3, tzinfo=UTC))
    assert report.tables["platform"].body() == [["marketing", "CBP (billable)", "1", "1", "n/a"]]
    assert rows(report, "differences")["Marketing"][0] == "0"  # compared only under per-message pricing
    hint = {card.label: card.hint for card in report.cards}["Charged by the platform"]
    assert hint == (
        "0 messages charged per message; 1 billable under conversation-based pricing; 0 without pricing yet"
    )


# --- The rules as data ----------------------------------------------------------------------------------


def rule(**fields):
    defaults = {
        "inside": "customer_service_window",
        "category": "utility",
        "effective_from": date(2026, 10, 1),
    }
    return FreeMessageRule(**(defaults | fields))


def test_overlapping_rules_for_the_same_messages_are_refused(free_rules):
    with pytest.raises(ValidationError, match="covers some of these days"):
        rule(effective_from=date(2026, 9, 1)).full_clean()  # the shipped utility rule runs until 1 Oct
    rule().full_clean()  # starts the day the shipped one stops
    with pytest.raises(ValidationError, match="covers some of these days"):
        rule(category="", effective_from=date(2026, 9, 1)).full_clean()  # every message: covers service's
    rule(category="").full_clean()  # every message in the window, from the day the shipped rules end
    with pytest.raises(ValidationError, match="covers some of these days"):
        rule(inside="free_entry_point", category="marketing").full_clean()  # every message is free there
    rule(category="marketing", effective_from=date(2024, 1, 1)).full_clean()  # another category


def test_what_is_free_on_a_day(free_rules):
    rules = FreeRules.load()

    def free(day, category, *, fep=False, window=True):
        found = rules.free_by(day=day, category=category, in_free_entry_point=fep, in_window=window)
        return found and found.what

    wednesday, thursday = date(2026, 9, 30), date(2026, 10, 1)
    assert free(wednesday, "service") == "Free-form (service) messages"
    assert free(thursday, "service") is None
    assert free(wednesday, "utility") == "Utility templates"
    assert free(wednesday, "utility", window=False) is None
    assert free(thursday, "utility") is None
    assert free(wednesday, "marketing") is None
    assert free(thursday, "marketing", fep=True, window=False) == "Every message"


def test_the_schedule_ships_as_a_fixture_loaded_in_place_and_by_the_demo(free_rules):
    from reports.demo import load_sample_rates

    shipped = FreeMessageRule.objects.get(category="service")
    shipped.note = "changed by an admin"
    shipped.save()
    call_command("loaddata", "free_message_rules", verbosity=0)  # by natural key: updates, never duplicates
    assert FreeMessageRule.objects.count() == 3
    FreeMessageRule.objects.all().delete()
    load_sample_rates()  # what seed_demo calls: an empty rule book gets the schedule
    assert FreeMessageRule.objects.count() == 3
    assert Rate.objects.filter(pricing_model="message", category="service").exists()


def test_admins_manage_the_rules_in_the_admin(client, free_rules):
    from django.contrib.auth.models import User

    admin = User.objects.create_user("robin", password="pw", is_staff=True, is_superuser=True)
    client.force_login(admin)
    listing = client.get("/admin/reports/freemessagerule/")
    assert listing.status_code == 200 and "Utility templates" in listing.text
    response = client.post(
        "/admin/reports/freemessagerule/add/",
        {"inside": "customer_service_window", "category": "utility", "effective_from": "2026-09-01"},
    )
    assert response.status_code == 200 and "covers some of these days" in response.text
    response = client.post(
        "/admin/reports/freemessagerule/add/",
        {
            "inside": "customer_service_window",
            "category": "authentication",
            "effective_from": "2027-01-01",
            "note": "a contract",
        },
    )
    assert response.status_code == 302
    assert FreeMessageRule.objects.filter(category="authentication").exists()


def test_the_differing_messages_download_guards_the_customers_names(client, boundary):
    # A customer's name is theirs to choose; in the CSV it must stay text (tests/reports/test_csv_injection).
    Customer.objects.filter(name="Uma").update(name='=HYPERLINK("https://evil.example","Uma")')
    client.force_login(boundary["supervisor"])
    with time_machine.travel(NOW, tick=False):
        download = client.get(
            reverse("reports:costs"), {**WEEK_PARAMS, "format": "csv", "table": "difference-messages"}
        )
    header, *listed = csv.reader(io.StringIO(download.content.decode()))
    customers = [row[header.index("customer")] for row in listed]
    assert """'=HYPERLINK("https://evil.example","Uma") (14155550006)""" in customers
