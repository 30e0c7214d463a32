"""Weeks of history for the demo, so the reports have something to show: customers in ten countries
writing in, two agents answering (or not, in time), marketing campaigns, order updates, login codes,
ad clicks that open free entry points, and a few sends the platform refused.

Every event is replayed in time order through the services at its own instant (`now=`), so each
window, conversation and cost follows the rules exactly as a live one would; nothing is handed to the
platform: each of our messages is recorded as sent elsewhere (`record_sent_elsewhere`), accepted under a
made-up id, and the platform's answers (delivered, read, or failed) are recorded as it would have sent
them. Deterministic: the same seed and the same `now` give the same history.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import phonenumbers
from django.db import transaction

from conversations import services
from conversations.exceptions import WindowClosed
from conversations.models import Customer, Message
from whatsapp import sandbox

SEED = 2026
COUNTRIES = ["US", "BR", "GB", "DE", "IN", "MX", "NG", "ID", "ES", "AE"]
FIRST_NAMES = [
    "Olivia",
    "Rafael",
    "Harriet",
    "Jonas",
    "Priya",
    "Diego",
    "Chinedu",
    "Putri",
    "Lucía",
    "Yusuf",
    "Ethan",
    "Camila",
    "Oliver",
    "Lena",
    "Arjun",
    "Valeria",
    "Amaka",
    "Budi",
    "Javier",
    "Layla",
    "Mason",
    "Beatriz",
    "George",
    "Felix",
    "Ananya",
    "Sofía",
    "Tunde",
    "Sari",
    "Marta",
    "Khalid",
]
LAST_INITIALS = "ABCDEFGHJKLMNPRSTVW"

INBOUND_TEXTS = [
    "Hi, where is my order?",
    "Can I change the delivery address?",
    "Do you have this in a larger size?",
    "The discount code doesn't work at checkout.",
    "I'd like to return an item, how does that work?",
    "Is the store open tomorrow?",
    "My payment went through twice, can you check?",
    "How long does shipping take to my city?",
]
FOLLOW_UPS = ["Thanks!", "Order number is 55{:04d}.", "Any update?", "Great, that works for me."]
REPLIES = [
    "Thanks for writing! Let me check that for you.",
    "I've looked into it: it's sorted now. Anything else?",
    "Yes, we can do that. I've updated it on our side.",
    "Sorry about that! I've passed it on and will get back to you today.",
]


@dataclass(order=True)
class Event:
    at: datetime
    order: int  # ties: the order they were planned in
    action: str = field(compare=False)  # "inbound" | "reply" | "template"
    customer: str = field(compare=False)  # wa_id
    detail: dict = field(compare=False, default_factory=dict)


def history_customers(count: int) -> list[tuple[str, str]]:
    """(wa_id, name) of `count` customers spread over COUNTRIES, valid mobile numbers."""
    customers, n = [], 0
    while len(customers) < count:
        region = COUNTRIES[n % len(COUNTRIES)]
        example = phonenumbers.format_number(
            phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE),
            phonenumbers.PhoneNumberFormat.E164,
        ).removeprefix("+")
        wa_id = example[:-4] + f"{7000 + n:04d}"
        if phonenumbers.is_valid_number(phonenumbers.parse("+" + wa_id)):
            name = f"{FIRST_NAMES[n % len(FIRST_NAMES)]} {LAST_INITIALS[n % len(LAST_INITIALS)]}."
            customers.append((wa_id, name))
        n += 1
    return customers


def first(name: str) -> str:
    return name.split()[0]


def _response_delay(rng: random.Random) -> timedelta:
    """How long an agent takes to answer: mostly minutes, sometimes hours."""
    band = rng.random()
    if band < 0.45:
        return timedelta(seconds=rng.randint(40, 5 * 60))
    if band < 0.75:
        return timedelta(seconds=rng.randint(5 * 60, 45 * 60))
    if band < 0.93:
        return timedelta(seconds=rng.randint(45 * 60, 4 * 3600))
    return timedelta(seconds=rng.randint(4 * 3600, 20 * 3600))


def plan(*, now: datetime, days: int, customers: list[tuple[str, str]], seed: int = SEED) -> list[Event]:
    """The history's events over the `days` before `now`, in time order."""
    rng = random.Random(seed)  # noqa: S311 — made-up demo data, not secrets
    events: list[Event] = []

    def add(at: datetime, action: str, wa_id: str, **detail) -> None:
        if at < now - timedelta(minutes=30):  # the recent past belongs to the demo's own customers
            events.append(Event(at, len(events), action, wa_id, detail))

    start = (now - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    for day in range(days + 1):
        midnight = start + timedelta(days=day)
        # Campaigns: a summer-sale blast every week, back-in-stock news every ten days.
        if day % 7 == 3:
            blast = midnight + timedelta(hours=10)
            for wa_id, name in rng.sample(customers, k=len(customers) * 2 // 5):
                at = blast + timedelta(seconds=rng.randint(0, 600))
                add(at, "template", wa_id, name="summer_sale", params=[first(name), "20%"], agent=None)
        if day % 10 == 6:
            news = midnight + timedelta(hours=16)
            for wa_id, name in rng.sample(customers, k=len(customers) // 5):
                params = {"first_name": first(name), "product": "the trail backpack"}
                at = news + timedelta(seconds=rng.randint(0, 600))
                add(at, "template", wa_id, name="back_in_stock", params=params, agent=None)
        for index, (wa_id, name) in enumerate(customers):
            owner = "agent" if index % 2 == 0 else "agent2"
            if rng.random() < 0.05:  # an order shipped
                at = midnight + timedelta(seconds=rng.randint(8 * 3600, 18 * 3600))
                params = {"first_name": first(name), "order_number": f"77{day:02d}{index:02d}", "days": "3"}
                add(at, "template", wa_id, name="order_update", params=params, agent=None)
            if rng.random() < 0.04:  # a login code
                at = midnight + timedelta(seconds=rng.randint(0, 86_399))
                code = f"{rng.randint(0, 999_999):06d}"
                add(at, "template", wa_id, name="login_code", params=[code], agent=None)
            if rng.random() >= 0.2:
                continue
            # The customer writes: one to three messages, some after clicking an ad.
            at = midnight + timedelta(seconds=rng.randint(6 * 3600, 21 * 3600))
            ad = rng.random() < 0.08
            add(at, "inbound", wa_id, name=name, body=rng.choice(INBOUND_TEXTS), referral=ad)
            last = at
            for _ in range(rng.choice([0, 0, 1, 2])):
                last += timedelta(seconds=rng.randint(30, 600))
                body = rng.choice(FOLLOW_UPS).format(rng.randint(0, 9999))
                add(last, "inbound", wa_id, name=name, body=body)
            outcome = rng.random()
            replier = owner if rng.random() < 0.8 else ("agent2" if owner == "agent" else "agent")
            if outcome < 0.72:  # answered in time, sometimes twice
                reply_at = last + _response_delay(rng)
                add(reply_at, "reply", wa_id, body=rng.choice(REPLIES), agent=replier)
                if rng.random() < 0.35:
                    again = reply_at + timedelta(minutes=rng.randint(2, 90))
                    add(again, "reply", wa_id, body=rng.choice(REPLIES), agent=replier)
            elif outcome < 0.86:  # lost: nobody answered in 24 h; a template follows up
                later = last + timedelta(hours=rng.randint(25, 40))
                add(later, "template", wa_id, name="follow_up", params=None, agent=owner)
            # else: lost, and nobody followed up
    return sorted(events)


@transaction.atomic
def seed_history(
    *, now: datetime, days: int, users: dict, templates: dict, referral: dict, customers: int = 30
) -> dict:
    """Replace the demo's history customers with `days` of fresh history before `now`."""
    people = history_customers(customers)
    Customer.objects.filter(wa_id__in=[wa_id for wa_id, _ in people]).delete()
    rng = random.Random(SEED + 1)  # noqa: S311 — made-up demo data, not secrets
    counts = {"inbound": 0, "sent": 0, "failed": 0}
    for event in plan(now=now, days=days, customers=people):
        detail = event.detail
        if event.action == "inbound":
            services.receive_message(
                wa_id=event.customer,
                name=detail["name"],
                body=detail["body"],
                wamid=f"wamid.demo-history.in.{event.order}",
                timestamp=event.at,
                referral=referral if detail.get("referral") else None,
            )
            counts["inbound"] += 1
            continue
        customer = Customer.objects.filter(wa_id=event.customer).first()
        if customer is None:  # a campaign reaches a customer who has not written yet
            customer = Customer.objects.create(
                wa_id=event.customer, name=dict(people)[event.customer], last_activity_at=event.at
            )
        agent = users.get(detail.get("agent"))
        if event.action == "reply":
            what = {"body": detail["body"]}
        else:
            what = {"template": templates[detail["name"]], "params": detail["params"]}
        try:
            message = services.record_sent_elsewhere(
                customer=customer,
                wamid=f"wamid.demo-history.out.{event.order}",
                now=event.at,
                agent=agent,
                **what,
            )
        except WindowClosed:
            continue  # a second reply planned after the window closed: the rules refuse it, as live
        _platform_answers(message, event.at, rng, counts)
    # The customers belong to the agents who answer them most, since the history began (the reports
    # attribute each window to who held the thread then: the assignment history).
    begun = now - timedelta(days=days)
    for index, (wa_id, _) in enumerate(people):
        if customer := Customer.objects.filter(wa_id=wa_id).first():
            holder = users["agent"] if index % 2 == 0 else users["agent2"]
            services.assign(customer=customer, to=holder, by=None, now=begun, may_reassign=True)
    services.expire_due_conversations(now=now)
    counts["customers"] = len(people)
    return counts


def _platform_answers(message: Message, at: datetime, rng: random.Random, counts: dict) -> None:
    """What the platform reports on a message it accepted: 3 % refused as undeliverable (R9 voids a
    conversation that such a message alone opened), the rest delivered and mostly read."""
    wamid = message.wamid
    if rng.random() < 0.03:
        services.record_status(
            wamid=wamid,
            status="failed",
            timestamp=at + timedelta(seconds=5),
            error_code=131026,
            error_text="Message undeliverable",
        )
        counts["failed"] += 1
        return
    counts["sent"] += 1
    delivered = at + timedelta(seconds=rng.randint(2, 40))
    # With the per-message pricing the platform would report (whatsapp.sandbox), so the cost page
    # has what the platform charged to show beside the estimates.
    services.record_status(
        wamid=wamid, status="delivered", timestamp=delivered, pricing=sandbox.platform_pricing(message)
    )
    if rng.random() < 0.75:
        services.record_status(
            wamid=wamid, status="read", timestamp=delivered + timedelta(seconds=rng.randint(30, 7200))
        )
