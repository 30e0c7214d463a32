"""The rate card the cost estimate prices conversations and messages with. Admins manage it in the admin;
the sample rows in fixtures/sample_rates.json are examples, never the platform's prices.

Reports themselves store nothing: every figure is an aggregate over conversations and messages, computed
when the page is asked for (reports/selectors.py).
"""

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q

from conversations.models import Conversation

TEMPLATE_CATEGORIES = [
    Conversation.Category.MARKETING,
    Conversation.Category.UTILITY,
    Conversation.Category.AUTHENTICATION,
]


class RateManager(models.Manager):
    def get_by_natural_key(self, pricing_model, category, country, effective_from):
        return self.get(
            pricing_model=pricing_model, category=category, country=country, effective_from=effective_from
        )


class Rate(models.Model):
    """One price: a category in a country (blank = every country without a rate of its own), under one
    of the platform's two pricing models, for the days [effective_from, effective_until)."""

    class PricingModel(models.TextChoices):
        CONVERSATION = "conversation", "Per conversation (24 h billing buckets, until June 2025)"
        MESSAGE = "message", "Per template message (since July 2025)"

    pricing_model = models.CharField(max_length=16, choices=PricingModel.choices)
    category = models.CharField(max_length=24, choices=Conversation.Category.choices)
    country = models.CharField(
        max_length=2,
        blank=True,
        validators=[RegexValidator(r"^[A-Z]{2}$", "Two capital letters (ISO 3166), or blank.")],
        help_text="The customer's country (from their phone number), e.g. US, DE, BR. "
        "Blank: every country that has no rate of its own.",
    )
    currency = models.CharField(
        max_length=3, default="USD", validators=[RegexValidator(r"^[A-Z]{3}$", "An ISO 4217 code.")]
    )
    price = models.DecimalField(max_digits=12, decimal_places=6, help_text="Per conversation or per message.")
    effective_from = models.DateField(help_text="The first day (business time zone) this price applies.")
    effective_until = models.DateField(
        null=True, blank=True, help_text="The first day it no longer applies. Blank: until further notice."
    )
    note = models.CharField(max_length=200, blank=True, help_text="Where the price comes from.")

    # Fixtures name rates by what they price, not by id: loading the sample rates updates them in place
    # and never overwrites a rate an admin added.
    objects = RateManager()

    class Meta:
        ordering = ["pricing_model", "category", "country", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["pricing_model", "category", "country", "effective_from"], name="rate_unique_start"
            ),
            models.CheckConstraint(
                condition=Q(effective_until__isnull=True) | Q(effective_until__gt=F("effective_from")),
                name="rate_until_after_from",
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="rate_price_not_negative"),
        ]
        indexes = [models.Index(fields=["pricing_model", "category", "country"], name="rate_lookup_idx")]
        # Reports have no table of their own; their permissions live here, next to the prices.
        permissions = [
            ("view_reports", "Can see reports (their own figures)"),
            ("view_team_reports", "Can see every agent's figures in reports"),
        ]

    def __str__(self):
        where = self.country or "every other country"
        return f"{self.get_pricing_model_display()}: {self.get_category_display()} in {where}"

    def natural_key(self):
        return (self.pricing_model, self.category, self.country, self.effective_from)

    def clean(self):
        if self.pricing_model == self.PricingModel.MESSAGE and self.category not in TEMPLATE_CATEGORIES:
            raise ValidationError(
                {"category": "Per-message rates are for templates: marketing, utility, authentication."}
            )
        if self.category == Conversation.Category.FREE_ENTRY_POINT:
            raise ValidationError({"category": "Free-entry-point conversations are always free."})
        overlapping = Rate.objects.filter(
            pricing_model=self.pricing_model, category=self.category, country=self.country
        ).exclude(pk=self.pk)
        if self.effective_until is not None:
            overlapping = overlapping.filter(effective_from__lt=self.effective_until)
        overlapping = overlapping.filter(
            Q(effective_until__isnull=True) | Q(effective_until__gt=self.effective_from)
        )
        if overlapping.exists():
            raise ValidationError(
                "Another rate for this category and country covers some of these days: "
                "end it (effective until) before this one starts."
            )
