# ruff: noqa: S608 — only our own SQL fragments are interpolated; values are parameters
"""The cost report: the period priced per conversation and per message, side by side, per category,
country and day; what the platform said it charged; where our estimate and the platform differ; and the
rules and rates it applied."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from django.urls import reverse

from conversations import policy
from reports import facts, pricing
from reports.models import MESSAGE_CATEGORIES
from reports.periods import Period
from reports.pricing import Amounts, FreeRules, RateCard
from reports.selectors import common
from reports.selectors.common import (
    CATEGORIES,
    NO_AGENT,
    Bars,
    Card,
    Category,
    Report,
    Scope,
    Sources,
    category_label,
    customer_label,
    fetch,
    only,
    per_day_table_and_chart,
    person,
    start_report,
)
from reports.selectors.differing_messages import (
    differing_messages,
    estimate_words,
    platform_words,
    what_differs,
)
from reports.selectors.pricing_figures import Compared, CostFigures, Priced
from reports.tables import Link, Table

PRICING_TYPE_ORDER = {"regular": 0, "free_customer_service": 1, "free_entry_point": 2}
NOTES = {
    "categories": "Per conversation: every conversation opened, at its category's rate; free-entry points "
    "are free. Per message: each message that did not fail, at its category's rate (a template's "
    "category; Service for free-form messages), unless the rules of what is free in force on the "
    "day it was sent make it free (below: inside a free-entry point; until 2026-09-30 also free-form "
    "messages and utility templates inside an open customer service window). Messages inside a "
    "free-entry point count in their own category. Difference = per message - per conversation.",
    "platform": "The platform's own pricing of each message that did not fail, from its status webhooks. "
    "Per-message pricing (PMP): type regular is charged, free_customer_service and "
    "free_entry_point are free. Conversation-based pricing (CBP, until June 2025): billable "
    "messages were charged per conversation, so they have no amount here (see per conversation). "
    "Amount: the charged messages at the rate card's per-message rate for the platform's "
    "category (marketing_lite as marketing), the customer's country and the day. "
    "{unreported} message(s) have no pricing from the platform yet (queued, sent "
    "recently, or sent before statuses carried pricing): counted apart, in no other figure "
    "of this table.",
    "differences": "Only the messages the platform priced per message are compared, each in the category we "
    "sent it as (the template's category when it was sent; free-form messages are Service). Our "
    "estimate applies the rules of what is free in force on the day it was sent to what we know: "
    "was the customer service window open (the customer wrote in the 24 hours before), did the "
    "message join a free-entry point. The platform decides with what it knows. A message free "
    "for one and charged by the other means the platform saw the window or the free-entry point "
    "otherwise than we did (a customer message that reached the platform but not us, an ad click "
    "it did not count), or that the rules of what is free in the admin are out of date. Charged "
    "as another category: the platform priced a template as another category than the one it "
    "had when we sent it (say, a utility template it now counts as marketing). Both amounts at "
    "the rate card; the platform's is what to expect on its invoice.",
}


def cost_report(*, period: Period, scope: Scope, now: datetime) -> Report:
    card, rules = RateCard.load(), FreeRules.load()
    report, sources = start_report(period, scope, now)
    figures = CostFigures(period, card, rules)
    figures.add_conversations(_conversation_groups(sources, scope))
    figures.add_messages(_message_groups(sources, scope))
    _per_category(report, figures)
    _platform_charges(report, figures)
    compared = _differences(report, figures)
    _difference_messages(report, figures)
    _per_country(report, figures)
    _per_day(report, figures)
    _free_messages(report, figures)
    _rates_applied(report, figures.card)
    _unpriced_notes(report, figures)
    report.cards = _cards(figures, compared)
    return report


def _conversation_groups(sources: Sources, scope: Scope) -> list[tuple]:
    """Conversations per day, category and country (conversation-based pricing)."""
    rows_sql, rows_params = sources.rows(facts.CONVERSATIONS)
    agent, agent_params = only(scope)
    return fetch(
        f"""SELECT day, category, country, SUM(opened) FROM ({rows_sql}) AS f{agent}
            GROUP BY day, category, country HAVING SUM(opened) > 0""",
        [*rows_params, *agent_params],
    )


def _message_groups(sources: Sources, scope: Scope) -> list[tuple]:
    """Messages per day, category, country, where they were sent (what the rules of what is free ask) and
    what the platform's pricing said: our per-message estimate and the platform's word side by side."""
    rows_sql, rows_params = sources.rows(facts.MESSAGES)
    agent, agent_params = only(scope)
    return fetch(
        f"""SELECT day, category, country, in_free_entry_point, in_window, pricing_model, pricing_category,
                   pricing_type, charged_by_platform, SUM(messages)
              FROM ({rows_sql}) AS m{agent}
             GROUP BY day, category, country, in_free_entry_point, in_window, pricing_model,
                      pricing_category, pricing_type, charged_by_platform""",
        [*rows_params, *agent_params],
    )


def difference(a: Amounts, b: Amounts) -> Amounts:
    result = Amounts()
    for currency in set(a.by_currency) | set(b.by_currency):
        result.add(currency, a.total(currency) - b.total(currency))
    return result


def _main_currency(figures: CostFigures) -> str:
    """The currency most of this period's amounts are in; else the rate card's most common one."""
    totals = defaultdict(Decimal)
    for priced in figures.totals():
        for currency, amount in priced.amounts.by_currency.items():
            totals[currency] += abs(amount)
    if totals:
        return max(totals, key=totals.get)
    currencies = [rate.currency for rates in figures.card.rates.values() for rate in rates]
    return max(set(currencies), key=currencies.count) if currencies else "USD"


def _per_category(report: Report, figures: CostFigures) -> None:
    conv, msg = figures.now("conv-category"), figures.now("msg-category")
    conv_now, msg_now, _ = figures.totals()

    def cells(label, conv: Priced, msg: Priced) -> list:
        return [
            label,
            conv.count,
            conv.amounts,
            msg.count,
            msg.charged,
            msg.amounts,
            difference(msg.amounts, conv.amounts),
        ]

    report.add(
        Table(
            "categories",
            "Estimated cost per category, both pricing models",
            [
                "category",
                "conversations",
                "cost per conversation",
                "messages",
                "charged messages",
                "cost per message",
                "difference",
            ],
            rows=[cells(c.label, conv[c.value], msg[c.value]) for c in CATEGORIES],
            totals=cells("total", conv_now, msg_now),
            note=NOTES["categories"],
        )
    )


def _platform_charges(report: Report, figures: CostFigures) -> None:
    """What the platform said it charged, per its category and pricing type."""
    platform_rows = sorted(
        figures.now("platform").items(),
        key=lambda item: (
            item[0][0] != policy.PER_MESSAGE,
            item[0][1],
            PRICING_TYPE_ORDER.get(item[0][2], 9),
            item[0][2],
        ),
    )
    unreported = figures.unreported["current"]
    *_, platform_now = figures.totals()
    rows = [
        [
            pricing_category or "(none)",
            pricing_type or "(none)",
            priced.count,
            priced.charged,
            priced.amounts if pricing_model == policy.PER_MESSAGE else None,
        ]
        for (pricing_model, pricing_category, pricing_type), priced in platform_rows
    ]
    if unreported:
        rows.append(["no pricing reported yet", "", unreported, None, None])
    report.add(
        Table(
            "platform",
            "What the platform charged, per its category and pricing type",
            ["platform category", "pricing type", "messages", "charged", "amount at the rate card"],
            rows=rows,
            totals=["total", "", platform_now.count + unreported, platform_now.charged, platform_now.amounts],
            note=NOTES["platform"].format(unreported=unreported),
            numeric_from=2,
        )
    )


def _differences(report: Report, figures: CostFigures) -> Compared:
    """Where our estimate and the platform differ, per category of ours."""
    total = Compared()
    for mine in figures.compared.values():
        total.include(mine)

    def cells(label, mine: Compared) -> list:
        return [
            label,
            mine.messages,
            mine.free_for_us,
            mine.free_for_platform,
            mine.other_category,
            mine.estimate,
            mine.platform,
            difference(mine.platform, mine.estimate),
        ]

    report.add(
        Table(
            "differences",
            "Where our per-message estimate and the platform differ",
            [
                "category (ours)",
                "priced by the platform",
                "free for us, charged by the platform",
                "charged by us, free on the platform",
                "charged as another category",
                "our estimate",
                "the platform",
                "platform - estimate",
            ],
            rows=[
                cells(_message_category_label(c.value), figures.compared[c.value]) for c in MESSAGE_CATEGORIES
            ],
            totals=cells("total", total),
            note=NOTES["differences"],
        )
    )
    return total


def _message_category_label(value: str) -> str:
    return "Service (free-form)" if value == Category.SERVICE else category_label(value)


def _difference_messages(report: Report, figures: CostFigures) -> None:
    """Then message by message: each links to its page in the admin."""
    listed = differing_messages(report, figures)
    rules, tz = figures.rules, report.period.tz
    report.add(
        Table(
            "difference-messages",
            "Messages where our estimate and the platform differ",
            [
                "sent",
                "message",
                "customer",
                "sent by",
                "category (ours)",
                "our estimate",
                "the platform",
                "what differs",
            ],
            rows=[
                [
                    row["occurred_at"].astimezone(tz),
                    Link(
                        f"#{row['id']}",
                        reverse("admin:conversations_message_change", args=[row["id"]]),
                        admin=True,
                    ),
                    customer_label(
                        row["customer__name"],
                        row["customer__phone_e164"],
                        row["customer__wa_id"],
                        row["customer__username"],
                        row["customer__user_id"],
                    ),
                    person(row["agent__username"], row["agent__first_name"], row["agent__last_name"])
                    or NO_AGENT,
                    _message_category_label(row["category"]),
                    estimate_words(rules, row),
                    platform_words(row),
                    what_differs(rules, row),
                ]
                for row in listed[: common.LIST_LIMIT]
            ],
            note=(
                f"Newest first, at most {common.LIST_LIMIT}. "
                if len(listed) > common.LIST_LIMIT
                else "Newest first. "
            )
            + "Each message links to its page in the admin (its statuses, pricing and conversation) for "
            "those who may use the admin.",
            numeric_from=99,
        )
    )


def _per_country(report: Report, figures: CostFigures) -> None:
    conv, msg, platform = (
        figures.now("conv-country"),
        figures.now("msg-country"),
        figures.now("platform-country"),
    )
    countries = sorted(set(conv) | set(msg), key=lambda c: (-conv[c].count, c))

    def cells(label, conv: Priced, msg: Priced, platform: Priced) -> list:
        return [
            label,
            conv.count,
            conv.amounts,
            msg.count,
            msg.charged,
            msg.amounts,
            platform.charged,
            platform.amounts,
        ]

    report.add(
        Table(
            "countries",
            "Estimated cost per country",
            [
                "country",
                "conversations",
                "cost per conversation",
                "messages",
                "charged messages",
                "cost per message",
                "charged by the platform",
                "the platform, at the rate card",
            ],
            rows=[
                cells(country or "unknown", conv[country], msg[country], platform[country])
                for country in countries
            ],
            totals=cells("total", *figures.totals()),
        )
    )


def _per_day(report: Report, figures: CostFigures) -> None:
    period, currency = report.period, _main_currency(figures)
    conv, msg, platform = figures.now("conv-day"), figures.now("msg-day"), figures.now("platform-day")

    def cells(conv: Priced, msg: Priced, platform: Priced) -> list:
        return [conv.count, conv.amounts, msg.charged, msg.amounts, platform.charged, platform.amounts]

    def amount(by_day):
        return lambda d: float(by_day[d].amounts.total(currency))

    per_day_table_and_chart(
        report,
        title="Estimated cost per day",
        columns=[
            "conversations",
            "cost per conversation",
            "charged messages",
            "cost per message",
            "charged by the platform",
            "the platform, at the rate card",
        ],
        cells=lambda d: cells(conv[d], msg[d], platform[d]),
        totals=cells(*figures.totals()),
        note="Each day is priced by the rates and the rules of what is free in force on it.",
        bars=Bars(
            slug="cost-per-day",
            title=f"Estimated cost per day ({currency}), both pricing models",
            description=f"Three bars per day from {period.label()} ({period.tz.key}): priced per "
            "conversation, per message, and what the platform charged at the rate card; the table below "
            "has the same numbers.",
            series=[
                ("per conversation", "#1f4fa3", amount(conv)),
                ("per message", "#b07000", amount(msg)),
                ("charged by the platform", "#6b3fa0", amount(platform)),
            ],
            x_label=f"Day ({period.tz.key})",
            y_label=f"Estimated cost ({currency})",
            stacked=False,
        ),
    )


def _free_messages(report: Report, figures: CostFigures) -> None:
    """The messages free under per-message pricing, why, and the rules that made them free."""
    in_force = figures.rules.in_force(report.period.first, report.period.last)
    free = figures.free_messages
    reasons = list(dict.fromkeys(pricing.free_reason(rule) for rule in in_force))
    reasons += [reason for reason in free if reason not in reasons]
    report.add(
        Table(
            "free-messages",
            "Messages free under per-message pricing",
            ["why free", "messages"],
            rows=[[reason, free[reason]] for reason in reasons],
            totals=["total", sum(free.values())],
            note="By the rules of what is free in force on the day each message was sent (next table).",
        )
    )
    report.add(
        Table(
            "free-rules",
            "What is free under per-message pricing (rules an admin manages)",
            ["messages", "inside", "from", "until", "note"],
            rows=[
                [
                    rule.what,
                    rule.get_inside_display(),
                    rule.effective_from,
                    rule.effective_until or "open",
                    rule.note,
                ]
                for rule in in_force
            ],
            note="In force on some day of this period; until is the first day a rule no longer applies. "
            "Every other message that did not fail is charged at its category's per-message rate.",
            numeric_from=99,
        )
    )


def _rates_applied(report: Report, card: RateCard) -> None:
    used = sorted(
        card.used.values(), key=lambda r: (r.pricing_model, r.category, r.country, r.effective_from)
    )
    report.add(
        Table(
            "rates",
            "Rates applied (from the rate card an admin manages)",
            ["pricing model", "category", "country", "price", "currency", "from", "until", "note"],
            rows=[
                [
                    r.get_pricing_model_display(),
                    category_label(r.category),
                    r.country or "every other country",
                    f"{r.price.normalize():f}",
                    r.currency,
                    r.effective_from,
                    r.effective_until or "open",
                    r.note,
                ]
                for r in used
            ],
            numeric_from=99,
        )
    )


def _unpriced_notes(report: Report, figures: CostFigures) -> None:
    conv_unpriced, msg_unpriced, platform_unpriced = (priced.unpriced for priced in figures.totals())
    if conv_unpriced + msg_unpriced:
        report.notes.append(
            f"{conv_unpriced} conversation(s) and {msg_unpriced} message(s) have no rate for their "
            "category, country and day in the rate card: they are not in the estimate. "
            "An admin can add rates."
        )
    if platform_unpriced:
        report.notes.append(
            f"{platform_unpriced} message(s) the platform charged have no per-message rate in the rate "
            "card for the platform's category, their country and day: they are not in the platform's "
            "amount."
        )


def _cards(figures: CostFigures, compared: Compared) -> list[Card]:
    conv_now, msg_now, platform_now = figures.totals()
    conv_before, msg_before, platform_before = figures.totals("previous")
    cbp = figures.platform_charged_cbp
    per_conversation_pricing = f"; {cbp} billable under conversation-based pricing" if cbp else ""

    def changed(label, now: Priced, before: Priced, hint: str) -> Card:
        return Card(label, now.amounts, before.amounts, difference(now.amounts, before.amounts), hint)

    return [
        changed("Per conversation", conv_now, conv_before, f"{conv_now.count} conversations"),
        changed("Per message", msg_now, msg_before, f"{msg_now.charged} charged messages (our estimate)"),
        Card(
            "Per message - per conversation",
            difference(msg_now.amounts, conv_now.amounts),
            hint="what the newer model changes",
        ),
        changed(
            "Charged by the platform",
            platform_now,
            platform_before,
            f"{platform_now.charged - cbp} messages charged per message{per_conversation_pricing}; "
            f"{figures.unreported['current']} without pricing yet",
        ),
        Card(
            "Platform - our estimate",
            difference(compared.platform, compared.estimate),
            hint=f"over the {compared.messages} messages the platform priced per message: "
            f"{compared.differences} difference(s), listed below",
        ),
    ]
