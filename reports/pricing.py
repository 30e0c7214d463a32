"""The rate card and the rules of what is free, loaded once per report: which price applies to a category
in a country on a day, and whether a message sent on a day, somewhere, was free.

Prices and rules are applied to *aggregated* counts (conversations or messages per day, category,
country and where they were sent, counted in SQL), never to rows one by one: a month of a busy account
is a few thousand groups. Because they are applied when a page is read, an admin's change to the rate
card or to the rules shows at once, on rolled-up days too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from conversations import policy
from conversations.models import Conversation
from reports.models import FreeMessageRule, Rate


@dataclass
class RateCard:
    rates: dict[tuple[str, str, str], list[Rate]]
    used: dict[int, Rate] = field(default_factory=dict)

    @classmethod
    def load(cls) -> RateCard:
        rates: dict[tuple[str, str, str], list[Rate]] = defaultdict(list)
        for rate in Rate.objects.order_by("-effective_from"):
            rates[(rate.pricing_model, rate.category, rate.country)].append(rate)
        return cls(dict(rates))

    def rate(self, pricing_model: str, category: str, country: str, day: date) -> Rate | None:
        """The customer's country's own rate, else the rate for every other country (blank)."""
        for where in (country, ""):
            for rate in self.rates.get((pricing_model, category, where), ()):
                if rate.effective_from <= day and (
                    rate.effective_until is None or day < rate.effective_until
                ):
                    self.used[rate.pk] = rate
                    return rate
        return None


CENT = Decimal("0.01")


class Amounts:
    """Money per currency: amounts in different currencies are never added together."""

    def __init__(self):
        self.by_currency: dict[str, Decimal] = defaultdict(Decimal)

    def add(self, currency: str, amount: Decimal) -> None:
        self.by_currency[currency] += amount

    def total(self, currency: str) -> Decimal:
        return self.by_currency.get(currency, Decimal(0))

    def __str__(self):
        parts = [
            f"{amount.quantize(CENT, rounding=ROUND_HALF_UP)} {currency}"
            for currency, amount in sorted(self.by_currency.items())
        ]
        return " + ".join(parts) if parts else "0.00"

    def __bool__(self):
        return any(self.by_currency.values())


@dataclass
class FreeRules:
    """What is free under per-message pricing, by date (FreeMessageRule): a message that no rule in force
    on its day makes free is charged at its category's per-message rate."""

    rules: list[FreeMessageRule]
    used: dict[int, FreeMessageRule] = field(default_factory=dict)

    @classmethod
    def load(cls) -> FreeRules:
        # Free-entry points first (they are free whatever the window), one category before every message.
        rules = sorted(
            FreeMessageRule.objects.all(),
            key=lambda r: (r.inside != FreeMessageRule.Inside.FREE_ENTRY_POINT, r.category == "", r.pk),
        )
        return cls(rules)

    def free_by(
        self, *, day: date, category: str, in_free_entry_point: bool, in_window: bool
    ) -> FreeMessageRule | None:
        """The rule in force on `day` that makes such a message free, or None: it is charged."""
        for rule in self.rules:
            if not (
                rule.effective_from <= day and (rule.effective_until is None or day < rule.effective_until)
            ):
                continue
            if rule.category and rule.category != category:
                continue
            sent_inside = (
                in_free_entry_point if rule.inside == FreeMessageRule.Inside.FREE_ENTRY_POINT else in_window
            )
            if sent_inside:
                self.used[rule.pk] = rule
                return rule
        return None

    def in_force(self, first: date, last: date) -> list[FreeMessageRule]:
        """The rules in force on some day of [first, last]."""
        return [
            rule
            for rule in self.rules
            if rule.effective_from <= last and (rule.effective_until is None or first < rule.effective_until)
        ]


def free_reason(rule: FreeMessageRule) -> str:
    """Why a message was free, in a few words (a row of the cost page's free messages)."""
    if rule.inside == FreeMessageRule.Inside.FREE_ENTRY_POINT:
        where = "inside a free-entry point"
    else:
        where = "inside the customer service window"
    return f"{rule.what} {where}"


# --- The platform's pricing of a message (conversations.models.Message.pricing_*) -----------------------


def our_category(platform_category: str) -> str | None:
    """The category of ours the platform's pricing category stands for (policy.PLATFORM_CATEGORIES):
    marketing_lite is marketing, authentication-international authentication; None when it names no
    category (referral_conversion: the free-entry point, which is a type, not a category) or one we do
    not know (the platform's word is then shown as it is)."""
    category = policy.PLATFORM_CATEGORIES.get(platform_category.lower().replace("-", "_"))
    if category is None or category == Conversation.Category.FREE_ENTRY_POINT:
        return None
    return category.value


def rate_category(platform_category: str) -> str | None:
    """The rate card category that prices a message the platform charged as `platform_category`, or None
    when the rate card has none: authentication-international has rates of its own (outside the rate
    card, rules.md), and a category we do not know is not guessed at."""
    name = platform_category.lower().replace("-", "_")
    if name == "authentication_international":
        return None
    return our_category(name)
