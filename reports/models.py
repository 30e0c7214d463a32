"""The rate card the cost estimate prices conversations and messages with, what is free under
per-message pricing, and the daily rollup.

Admins manage the rate card and the rules of what is free in the admin; the sample rows in
fixtures/sample_rates.json are examples, never the platform's prices; fixtures/free_message_rules.json is
the platform's published schedule of what is free (migration 0006 starts every installation with it).

The rollup holds, per business day, the aggregates the report pages read (reports/facts.py defines each
one once, as SQL; reports/services.refresh_rollup fills them): figures of past days come from here,
today's and the last few days' are counted live (reports/selectors/). Nothing here is a source of
truth; every row can be recomputed from conversations and messages (`manage.py rollup_reports`).
"""

from django.conf import settings
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
# What a message is priced as under per-message pricing: its template's category, or service for a
# free-form message (charged since 2026-10-01: FreeMessageRule).
MESSAGE_CATEGORIES = [*TEMPLATE_CATEGORIES, Conversation.Category.SERVICE]


def _overlapping(queryset, effective_from, effective_until):
    """The rows of `queryset` whose days [effective_from, effective_until) meet the given ones."""
    if effective_until is not None:
        queryset = queryset.filter(effective_from__lt=effective_until)
    return queryset.filter(Q(effective_until__isnull=True) | Q(effective_until__gt=effective_from))


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
        MESSAGE = "message", "Per message (since July 2025)"

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
                violation_error_message="The rate must end after the day it starts (or leave the end empty).",
            ),
            models.CheckConstraint(
                condition=Q(price__gte=0),
                name="rate_price_not_negative",
                violation_error_message="A price cannot be negative.",
            ),
        ]
        indexes = [models.Index(fields=["pricing_model", "category", "country"], name="rate_lookup_idx")]
        # The reports' permissions live here, next to the prices.
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
        if self.category == Conversation.Category.FREE_ENTRY_POINT:
            raise ValidationError(
                {
                    "category": "Free-entry-point conversations are always free; what is free per message "
                    "is a rule (Reports › What is free)."
                }
            )
        same_price = Rate.objects.filter(
            pricing_model=self.pricing_model, category=self.category, country=self.country
        ).exclude(pk=self.pk)
        if (
            self.effective_from
            and _overlapping(same_price, self.effective_from, self.effective_until).exists()
        ):
            raise ValidationError(
                "Another rate for this category and country covers some of these days: "
                "end it (effective until) before this one starts."
            )


class FreeMessageRuleManager(models.Manager):
    def get_by_natural_key(self, inside, category, effective_from):
        return self.get(inside=inside, category=category, effective_from=effective_from)


# The platform's schedule (fixtures/free_message_rules.json, migration 0006), as Meta announced it in
# "Upcoming pricing updates for Meta Business Agent, service and utility messages" (updated 2026-07-01;
# developers.facebook.com/documentation/business-messaging/whatsapp/pricing, read through a mirror at
# nermalcat69.github.io/meta-developer-docs/.../pricing/authentication-international-rates.html): from
# 2026-10-01 service messages (free since November 2024) and utility messages sent in an open customer
# service window (free since 2025-07-01) are charged; the 72 h free-entry point is unchanged. Providers
# say the same (chakrahq.com, ycloud.com/blog/whatsapp-service-messages-24-hour-window-pricing,
# hello-charles.com: a service message costs the market's utility rate). Earlier: Meta's "Pricing updates
# on the WhatsApp Business Platform" (developers.facebook.com/docs/whatsapp/pricing/updates-to-pricing).
class FreeMessageRule(models.Model):
    """Under per-message pricing, messages of `category` (blank: every message) sent `inside` are free on
    the days [effective_from, effective_until) (business time zone). Every other message that did not
    fail is charged at its category's per-message rate. The platform changes what is free by date (service
    messages and utility templates inside the customer service window are charged from 2026-10-01), so a
    past day is priced by the rules in force on it (reports.pricing.FreeRules)."""

    class Inside(models.TextChoices):
        FREE_ENTRY_POINT = "free_entry_point", "Inside a free-entry point (72 h)"
        WINDOW = "customer_service_window", "Inside an open customer service window"

    inside = models.CharField(max_length=32, choices=Inside.choices)
    category = models.CharField(
        max_length=24,
        blank=True,
        choices=[(c.value, c.label) for c in MESSAGE_CATEGORIES],
        help_text="Service = free-form messages (anything but a template); the others are template "
        "categories. Blank: every message.",
    )
    effective_from = models.DateField(help_text="The first day (business time zone) the rule applies.")
    effective_until = models.DateField(
        null=True, blank=True, help_text="The first day it no longer applies. Blank: until further notice."
    )
    note = models.CharField(max_length=200, blank=True, help_text="Where the rule comes from.")

    objects = FreeMessageRuleManager()

    class Meta:
        verbose_name = "what is free (per-message pricing)"
        verbose_name_plural = "what is free (per-message pricing)"
        ordering = ["inside", "category", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["inside", "category", "effective_from"], name="free_rule_unique_start"
            ),
            models.CheckConstraint(
                condition=Q(effective_until__isnull=True) | Q(effective_until__gt=F("effective_from")),
                name="free_rule_until_after_from",
            ),
        ]

    def __str__(self):
        return f"{self.what} {self.get_inside_display().lower()}: free"

    @property
    def what(self) -> str:
        if not self.category:
            return "Every message"
        if self.category == Conversation.Category.SERVICE:
            return "Free-form (service) messages"
        return f"{self.get_category_display()} templates"

    def natural_key(self):
        return (self.inside, self.category, self.effective_from)

    def clean(self):
        # A rule for every message covers the rules for one category at the same place: one of them at a
        # time, so that what is free on a day never depends on which rule is read first.
        same_place = FreeMessageRule.objects.filter(inside=self.inside).exclude(pk=self.pk)
        if self.category:
            same_place = same_place.filter(category__in=[self.category, ""])
        if (
            self.effective_from
            and _overlapping(same_place, self.effective_from, self.effective_until).exists()
        ):
            raise ValidationError(
                "Another rule for these messages at this place covers some of these days: end it "
                "(effective until) before this one starts."
            )


# --- The daily rollup ------------------------------------------------------------------------------


class RollupDay(models.Model):
    """A business day whose figures are in the rollup tables, final (reports.services.refresh_rollup).

    Rolled-up days run without a gap from the first day with data; the pages count every later day
    live. A day is rolled up once it ended ROLLUP_HORIZON ago with nothing opened on it still undecided
    (a conversation still open, a window still open and unanswered), or once it ended PENDING_LIMIT ago.
    """

    day = models.DateField(primary_key=True)
    time_zone = models.CharField(max_length=64, help_text="BUSINESS_TIME_ZONE when it was rolled up.")
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["day"]

    def __str__(self):
        return f"{self.day} ({self.time_zone}), rolled up at {self.computed_at:%Y-%m-%d %H:%M}"


class RollupState(models.Model):
    """Until when changes to conversations and messages have been looked for: a run recomputes the
    rolled-up days that changed since (reports.services.refresh_rollup). One row."""

    changes_checked_at = models.DateTimeField()

    def __str__(self):
        return f"changes checked until {self.changes_checked_at:%Y-%m-%d %H:%M:%S}"


def _agent(help_text: str):
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=help_text,
    )


class ConversationDay(models.Model):
    """Conversations opened on a day, per category, customer country and the agent who opened them."""

    day = models.DateField()
    category = models.CharField(max_length=24, choices=Conversation.Category.choices)
    country = models.CharField(max_length=2, blank=True)
    agent = _agent("Who sent the opening message (none: sent by the system).")
    opened = models.PositiveIntegerField(help_text="Not voided.")
    voided = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "category", "country", "agent"], name="rollup_conversation_day_key"
            )
        ]

    def __str__(self):
        return f"{self.day} {self.category} {self.country or '-'} agent {self.agent_id}: {self.opened} opened"


class ConversationLengthDay(models.Model):
    """Lengths of the conversations opened on a day that have ended, bucketed (reports.distribution)."""

    day = models.DateField()
    category = models.CharField(max_length=24, choices=Conversation.Category.choices)
    agent = _agent("Who sent the opening message.")
    bucket_ms = models.BigIntegerField()
    conversations = models.PositiveIntegerField()
    total_ms = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "category", "agent", "bucket_ms"], name="rollup_length_day_key"
            )
        ]

    def __str__(self):
        return (
            f"{self.day} {self.category} agent {self.agent_id}: {self.conversations} from {self.bucket_ms} ms"
        )


class ClosedEarlyDay(models.Model):
    """Conversations closed early by a free-entry point that opened on `day` (R6), per the closed
    conversation's category and the agent who opened the free-entry point."""

    day = models.DateField(help_text="The day the free-entry point opened.")
    category = models.CharField(max_length=24, choices=Conversation.Category.choices)
    agent = _agent("Who opened the free-entry point.")
    conversations = models.PositiveIntegerField()
    total_ms = models.BigIntegerField(help_text="Summed time left until their expiry when they closed.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "category", "agent"], name="rollup_closed_early_day_key")
        ]

    def __str__(self):
        return f"{self.day} {self.category} agent {self.agent_id}: {self.conversations} closed early"


class FirstResponseDay(models.Model):
    """Customer service windows opened on a day and answered in time, per agent who answered first,
    with their first-response times bucketed (reports.distribution)."""

    day = models.DateField()
    agent = _agent("Who sent the first reply inside the window.")
    bucket_ms = models.BigIntegerField()
    windows = models.PositiveIntegerField()
    total_ms = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "agent", "bucket_ms"], name="rollup_first_response_key")
        ]

    def __str__(self):
        return f"{self.day} agent {self.agent_id}: {self.windows} answered from {self.bucket_ms} ms"


class UnansweredWindow(models.Model):
    """A customer service window opened on a day that nobody answered in time, one row each: reports
    attribute it to the customer's assignee *now*, so the customer is kept, not the assignee."""

    class Outcome(models.TextChoices):
        LOST = "lost", "Lost (closed unanswered)"
        WAITING = "waiting", "Still open, unanswered (when it was rolled up)"

    day = models.DateField()
    customer = models.ForeignKey("conversations.Customer", on_delete=models.CASCADE, related_name="+")
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField()
    outcome = models.CharField(max_length=8, choices=Outcome.choices)

    class Meta:
        indexes = [models.Index(fields=["day"], name="rollup_unanswered_day_idx")]

    def __str__(self):
        return f"{self.day} customer {self.customer_id}: {self.outcome}"


class MessageDay(models.Model):
    """Our messages sent on a day that did not fail, per agent, category, customer country, where they were
    sent (inside a free-entry point, inside the customer service window: what the rules of what is free
    ask), whether a template went out after the window closed, and what the platform's pricing said."""

    day = models.DateField()
    agent = _agent("Who sent them (none: the system).")
    category = models.CharField(
        max_length=24, help_text="The template's category; service for a free-form message."
    )
    country = models.CharField(max_length=2, blank=True)
    in_free_entry_point = models.BooleanField(help_text="Joined a free-entry-point conversation (R6).")
    in_window = models.BooleanField(
        help_text="The customer service window was open (R1); free-form messages always (R2)."
    )
    after_closed_window = models.BooleanField(
        help_text="Templates answering the customer's last message (nothing of ours in between) after "
        "their window had closed: replies that had to be templates."
    )
    pricing_model = models.CharField(
        max_length=8, blank=True, help_text="CBP or PMP, as the platform priced them; blank: no pricing yet."
    )
    pricing_category = models.CharField(max_length=40, blank=True, help_text="The platform's category.")
    pricing_type = models.CharField(max_length=40, blank=True, help_text="The platform's type (PMP).")
    charged_by_platform = models.BooleanField(
        help_text="The platform charged them: type regular, or billable without a type (CBP)."
    )
    messages = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "day",
                    "agent",
                    "category",
                    "country",
                    "in_free_entry_point",
                    "in_window",
                    "after_closed_window",
                    "pricing_model",
                    "pricing_category",
                    "pricing_type",
                    "charged_by_platform",
                ],
                name="rollup_message_day_key",
            )
        ]

    def __str__(self):
        return f"{self.day} agent {self.agent_id} {self.category}: {self.messages}"


ROLLUP_TABLES = [
    ConversationDay,
    ConversationLengthDay,
    ClosedEarlyDay,
    FirstResponseDay,
    UnansweredWindow,
    MessageDay,
]
