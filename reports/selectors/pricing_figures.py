"""The cost report's figures: the grouped conversations and messages of both periods priced with the rate
card and the rules of what is free, per category, country and day; and for each message group the
platform priced per message, our estimate against the platform's word."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

from conversations import policy
from reports import pricing
from reports.models import Rate
from reports.periods import Period
from reports.pricing import Amounts, FreeRules, RateCard
from reports.selectors.common import Category, as_date

# The platform's pricing categories that name a free-entry point rather than a category.
_PLATFORM_FREE_ENTRY_POINT = {"referral_conversion", "free_entry_point"}
CONVERSATION_BASED = "CBP (billable)"  # the pricing type column of conversation-based pricing's rows
GROUPINGS = (
    "conv-category",
    "conv-country",
    "conv-day",
    "msg-category",
    "msg-country",
    "msg-day",
    "platform",
    "platform-country",
    "platform-day",
)


@dataclass
class Priced:
    count: int = 0
    charged: int = 0
    unpriced: int = 0
    amounts: Amounts = field(default_factory=Amounts)

    def charge(self, n: int, rate: Rate | None) -> None:
        self.charged += n
        if rate is None:
            self.unpriced += n
        else:
            self.amounts.add(rate.currency, rate.price * n)

    def include(self, other: Priced) -> None:
        self.count += other.count
        self.charged += other.charged
        self.unpriced += other.unpriced
        add_amounts(self.amounts, other.amounts)


@dataclass
class Compared:
    """Messages of one category of ours that the platform priced per message, against our estimate."""

    messages: int = 0
    free_for_us: int = 0  # free in our estimate, charged by the platform
    free_for_platform: int = 0  # charged in our estimate, free on the platform
    other_category: int = 0
    estimate: Amounts = field(default_factory=Amounts)
    platform: Amounts = field(default_factory=Amounts)

    def include(self, other: Compared) -> None:
        self.messages += other.messages
        self.free_for_us += other.free_for_us
        self.free_for_platform += other.free_for_platform
        self.other_category += other.other_category
        add_amounts(self.estimate, other.estimate)
        add_amounts(self.platform, other.platform)

    @property
    def differences(self) -> int:
        return self.free_for_us + self.free_for_platform + self.other_category


class MessageGroup(NamedTuple):
    """A row of the grouped messages (reports.facts.MESSAGES) as the cost report reads it."""

    day: date
    category: str
    country: str
    in_free_entry_point: bool
    in_window: bool
    pricing_model: str
    pricing_category: str
    pricing_type: str
    charged_by_platform: bool
    n: int

    @classmethod
    def of(cls, row: tuple) -> MessageGroup:
        day, category, country, in_fep, in_window, model, platform_category, pricing_type, charged, n = row
        # _make skips the keyword handling of cls(...): a year's page reads tens of thousands of groups.
        return cls._make(
            (
                as_date(day),
                category,
                country,
                bool(in_fep),
                bool(in_window),
                model,
                platform_category,
                pricing_type,
                bool(charged),
                int(n),
            )
        )


def add_amounts(total: Amounts, part: Amounts) -> None:
    for currency, amount in part.by_currency.items():
        total.add(currency, amount)


def category_differs(ours: str, platform_category: str) -> bool:
    """The platform priced the message as another category than ours (a free-entry point is no category)."""
    if not platform_category or platform_category.lower() in _PLATFORM_FREE_ENTRY_POINT:
        return False
    return pricing.our_category(platform_category) != ours


@dataclass
class CostFigures:
    """Priced groups per grouping (GROUPINGS), period ("current", "previous") and key; this period's
    free messages per reason; messages without pricing from the platform yet, per period; this period's
    messages charged under conversation-based pricing; our estimate against the platform per category of
    ours, and the (category, free-entry point, window, platform category, type, charged) combinations
    where they differ and agree, with their days (this period)."""

    period: Period
    card: RateCard
    rules: FreeRules
    by: dict = field(init=False)
    free_messages: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    unreported: dict[str, int] = field(default_factory=lambda: {"current": 0, "previous": 0})
    platform_charged_cbp: int = 0
    compared: dict[str, Compared] = field(default_factory=lambda: defaultdict(Compared))
    differing: dict[tuple, set[date]] = field(default_factory=lambda: defaultdict(set))
    agreeing: dict[tuple, set[date]] = field(default_factory=lambda: defaultdict(set))
    differing_per_day: dict[date, int] = field(default_factory=lambda: defaultdict(int))

    def __post_init__(self):
        self.by = {
            name: {"current": defaultdict(Priced), "previous": defaultdict(Priced)} for name in GROUPINGS
        }

    def which(self, day: date) -> str:
        return "current" if day >= self.period.first else "previous"

    def summed(self, name: str, which: str) -> Priced:
        result = Priced()
        for priced in self.by[name][which].values():
            result.include(priced)
        return result

    def totals(self, which: str = "current") -> tuple[Priced, Priced, Priced]:
        """The period's conversations, messages (our estimate) and the platform's word, all summed."""
        return (
            self.summed("conv-category", which),
            self.summed("msg-category", which),
            self.summed("platform", which),
        )

    def now(self, name: str) -> dict:
        """This period's priced groups of one grouping, by key."""
        return self.by[name]["current"]

    def add_conversations(self, rows) -> None:
        """(day, category, country, n) rows: each conversation at its category's rate; free-entry points
        are free."""
        for day, category, country, n in rows:
            day, n = as_date(day), int(n)
            which = self.which(day)
            is_free = category == Category.FREE_ENTRY_POINT
            rate = None if is_free else self.card.rate(Rate.PricingModel.CONVERSATION, category, country, day)
            for name, key in (("conv-category", category), ("conv-country", country), ("conv-day", day)):
                priced = self.by[name][which][key]
                priced.count += n
                if not is_free:
                    priced.charge(n, rate)

    def add_messages(self, rows) -> None:
        for group in map(MessageGroup.of, rows):
            which = "current" if group.day >= self.period.first else "previous"
            free_by, estimate_rate = self._estimate(group, which)
            if not group.pricing_model:
                self.unreported[which] += group.n
                continue
            platform_rate = self._platform(group, which)
            if group.pricing_model == policy.PER_MESSAGE and which == "current":
                self._compare(group, free_by, estimate_rate, platform_rate)

    def _estimate(self, group: MessageGroup, which: str):
        """Our estimate: free by the rules in force that day, else its category's per-message rate."""
        day, category, country, in_free_entry_point, in_window, *_, n = group
        free_by = self.rules.free_by(
            day=day, category=category, in_free_entry_point=in_free_entry_point, in_window=in_window
        )
        rate = None if free_by else self.card.rate(Rate.PricingModel.MESSAGE, category, country, day)
        if free_by and which == "current":
            self.free_messages[pricing.free_reason(free_by)] += n
        by = self.by
        for priced in (
            by["msg-category"][which][category],
            by["msg-country"][which][country],
            by["msg-day"][which][day],
        ):
            priced.count += n
            if not free_by:
                priced.charge(n, rate)
        return free_by, rate

    def _platform(self, group: MessageGroup, which: str):
        """The platform's word: what it charged, at the rate card's per-message rate of its category."""
        day, _, country, _, _, model, platform_category, pricing_type, charged, n = group
        per_message, rate = model == policy.PER_MESSAGE, None
        if per_message and charged:
            priced_as = pricing.rate_category(platform_category)
            rate = priced_as and self.card.rate(Rate.PricingModel.MESSAGE, priced_as, country, day)
        row = (model, platform_category, pricing_type if per_message else CONVERSATION_BASED)
        by = self.by
        for priced in (
            by["platform"][which][row],
            by["platform-country"][which][country],
            by["platform-day"][which][day],
        ):
            priced.count += n
            if not charged:
                continue
            if per_message:
                priced.charge(n, rate)
            else:
                priced.charged += n  # charged per conversation: no per-message amount
        if not per_message and which == "current" and charged:
            self.platform_charged_cbp += n
        return rate

    def _compare(self, group: MessageGroup, free_by, estimate_rate, platform_rate) -> None:
        """Our estimate against the platform, message group by message group (this period)."""
        mine, n = self.compared[group.category], group.n
        mine.messages += n
        differs = False
        if free_by and group.charged_by_platform:
            mine.free_for_us += n
            differs = True
        elif not free_by and not group.charged_by_platform:
            mine.free_for_platform += n
            differs = True
        if category_differs(group.category, group.pricing_category):
            mine.other_category += n
            differs = True
        if estimate_rate is not None:
            mine.estimate.add(estimate_rate.currency, estimate_rate.price * n)
        if platform_rate:
            mine.platform.add(platform_rate.currency, platform_rate.price * n)
        combination = (
            group.category,
            group.in_free_entry_point,
            group.in_window,
            group.pricing_category,
            group.pricing_type,
            group.charged_by_platform,
        )
        (self.differing if differs else self.agreeing)[combination].add(group.day)
        if differs:
            self.differing_per_day[group.day] += n
