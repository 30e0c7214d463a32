from django.contrib import admin

from reports.models import FreeMessageRule, Rate


@admin.register(Rate)
class RateAdmin(admin.ModelAdmin):
    """The rate card the cost estimate uses. Admins keep it up to date; overlapping dates are refused."""

    list_display = [
        "pricing_model",
        "category",
        "country_or_default",
        "price",
        "currency",
        "effective_from",
        "effective_until",
        "note",
    ]
    list_filter = ["pricing_model", "category", "currency", "country"]
    search_fields = ["country", "note"]
    ordering = ["pricing_model", "category", "country", "-effective_from"]

    @admin.display(description="country", ordering="country")
    def country_or_default(self, rate):
        return rate.country or "every other country"


@admin.register(FreeMessageRule)
class FreeMessageRuleAdmin(admin.ModelAdmin):
    """What is free under per-message pricing, by date, like the rate card: when the platform changes what
    is free, an admin ends the rule (effective until) and, if need be, adds the new one. Overlapping rules
    for the same messages are refused. The cost report applies the rules in force on each day."""

    list_display = ["messages", "inside", "effective_from", "effective_until", "note"]
    list_filter = ["inside", "category"]
    search_fields = ["note"]
    ordering = ["inside", "category", "-effective_from"]

    @admin.display(description="messages", ordering="category")
    def messages(self, rule):
        return rule.what
