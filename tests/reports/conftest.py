"""A small, hand-checked week for the reports, written through the services as production would.

Business time zone Europe/Berlin (UTC+1 in January). The week is Mon 5 – Sun 11 January 2026 there,
i.e. [Sun 4 Jan 23:00 UTC, Sun 11 Jan 23:00 UTC); the clock stands at Sun 11 Jan 20:00 UTC.
Times below are UTC unless they say Berlin.

| customer | country | what happens |
|---|---|---|
| A | DE | Mon 22:10 writes; Mon 22:30 alex replies: service S_A opens 23:30 Berlin *Monday* |
| B | BR | Mon 23:00 writes; Mon 23:30 sam replies: service S_B opens 00:30 Berlin *Tuesday* (UTC Monday); |
|   |    | Tue 08:00 sam sends a utility template inside the window: U_B opens |
| C | GB | Tue 10:00 writes, assigned to alex, nobody answers: window lost (closed Wed 10:00); |
|   |    | Thu 09:00 alex sends a marketing template: a template needed after the window closed, M_C opens |
| D | US | Wed 08:00 alex sends a utility template (never wrote): U_D opens; Wed 10:00 D writes via an ad; |
|   |    | Wed 10:15 sam replies: free-entry point F_D opens and closes U_D (21:45 before its expiry); |
|   |    | Wed 11:00 sam sends a utility template: joins F_D |
| E | DE | Thu 12:00 alex sends a marketing template that fails: M_E is voided |
| F | BR | previous week, Fri 2 Jan 09:00 writes; 09:05 alex replies: service S_F |
| G | US | Sun 15:00 writes, unassigned, not answered yet: window still open (waiting) |
| H | GB | Sun 18:00 sam sends an authentication template (never wrote): A_H, open right now |
"""

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Group, User

from conversations import services
from reports.models import Rate
from tests import factories

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 1, 11, 20, 0, tzinfo=UTC)


def utc(day: int, hhmm: str) -> datetime:
    """utc(5, "22:10") = 5 Jan 2026 22:10 UTC."""
    hours, minutes = (int(p) for p in hhmm.split(":"))
    return datetime(2026, 1, day, hours, minutes, tzinfo=UTC)


def person(username, role=None):
    account = User.objects.create_user(username, password="pw", first_name=username.title())
    if role:
        account.groups.set([Group.objects.get(name=role)])
    return account


def wrote(wa_id, when, *, name, referral=None):
    with time_machine.travel(when, tick=False):
        return services.receive_message(
            wa_id=wa_id,
            body="Hello?",
            wamid=f"w-{wa_id}-{when:%d%H%M}",
            timestamp=when,
            name=name,
            referral=referral,
        ).customer


def text(customer, when, agent):
    with time_machine.travel(when, tick=False):
        return services.send_text(customer=customer, body="Hi, how can we help?", agent=agent)


def template(customer, when, agent, tpl):
    with time_machine.travel(when, tick=False):
        return services.send_template(customer=customer, template=tpl, params=["there"], agent=agent)


AD = {"source_type": "ad", "source_id": "1", "source_url": "https://fb.me/x"}


@pytest.fixture
def business_time_zone(settings):
    settings.BUSINESS_TIME_ZONE = "Europe/Berlin"


@pytest.fixture
def week(db, business_time_zone):
    alex, sam = person("alex", "agents"), person("sam", "agents")
    marketing = factories.template("MARKETING")
    utility = factories.template("UTILITY")
    authentication = factories.template("AUTHENTICATION")

    a = wrote("4915112345678", utc(5, "22:10"), name="Anna")
    text(a, utc(5, "22:30"), alex)

    b = wrote("5511987654321", utc(5, "23:00"), name="Bruno")
    text(b, utc(5, "23:30"), sam)
    template(b, utc(6, "08:00"), sam, utility)

    c = wrote("447400123456", utc(6, "10:00"), name="Chloe")
    services.assign(customer=c, to=alex, by=None, now=utc(6, "10:00"), may_reassign=True)
    template(c, utc(8, "09:00"), alex, marketing)

    d = factories.customer(wa_id="14155550123", name="Dave")
    template(d, utc(7, "08:00"), alex, utility)
    wrote("14155550123", utc(7, "10:00"), name="Dave", referral=AD)
    text(d, utc(7, "10:15"), sam)
    template(d, utc(7, "11:00"), sam, utility)

    e = factories.customer(wa_id="4917612345678", name="Emma")
    failed = template(e, utc(8, "12:00"), alex, marketing)
    with time_machine.travel(utc(8, "12:01"), tick=False):
        services.mark_message_failed(message=failed, error_code=131026, error_text="undeliverable")

    f = wrote("5521987654321", utc(2, "09:00"), name="Fabio")
    text(f, utc(2, "09:05"), alex)

    wrote("15551234567", utc(11, "15:00"), name="Grace")

    h = factories.customer(wa_id="447700900123", name="Harry")
    template(h, utc(11, "18:00"), sam, authentication)

    return {"alex": alex, "sam": sam, "supervisor": person("morgan", "supervisors")}


@pytest.fixture
def rates(db):
    """Test rates (USD), simple enough to add up by hand."""
    rows = [
        ("conversation", "marketing", "", "0.05"),
        ("conversation", "marketing", "GB", "0.07"),
        ("conversation", "utility", "", "0.02"),
        ("conversation", "authentication", "", "0.03"),
        ("conversation", "service", "", "0.01"),
        ("message", "marketing", "", "0.04"),
        ("message", "marketing", "GB", "0.06"),
        ("message", "utility", "", "0.015"),
        ("message", "authentication", "", "0.025"),
    ]
    create_rates(rows)


def create_rates(rows, *, effective_from=date(2025, 1, 1)):
    """Rate card rows (pricing model, category, country or "", price) in USD."""
    for pricing_model, category, country, price in rows:
        Rate.objects.create(
            pricing_model=pricing_model,
            category=category,
            country=country,
            price=Decimal(price),
            currency="USD",
            effective_from=effective_from,
        )
