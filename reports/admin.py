from django.contrib import admin

from reports.models import Rate


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
