"""The rate card, loaded once per report: which price applies to a category in a country on a day.

Prices are applied to *aggregated* counts (conversations or messages per day, category and country,
counted in SQL), never to rows one by one: a month of a busy account is a few thousand groups.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from reports.models import Rate


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
