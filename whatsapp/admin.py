"""Webhook deliveries, kept as received: an admin can read any of them and process a failed one again."""

import contextlib
import json

from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from conversations.admin import ReadOnlyInline
from whatsapp import selectors, services
from whatsapp.models import KeptItem, WebhookDelivery


def _pretty(data) -> str:
    return format_html("<pre>{}</pre>", json.dumps(data, indent=2, ensure_ascii=False))


class KeptItemsInline(ReadOnlyInline):
    model = KeptItem
    fields = ("where", "kind", "field", "reason")
    readonly_fields = fields
    verbose_name_plural = "items kept for review (not applied: everything else of the delivery was)"


@admin.register(KeptItem)
class KeptItemAdmin(admin.ModelAdmin):
    """Items of deliveries that were not applied, with the reason: what the platform sent that the
    inbox could not understand, keeps apart on purpose (groups), or could not match to a message."""

    list_display = ("recorded_at", "kind", "field", "short_reason", "delivery_link")
    list_filter = ("kind", "field")
    search_fields = ("reason", "where")
    date_hierarchy = "recorded_at"
    show_full_result_count = False
    list_select_related = ("delivery",)
    fields = ("recorded_at", "kind", "field", "where", "reason", "delivery_link", "pretty_data")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).defer("delivery__body")

    @admin.display(description="reason")
    def short_reason(self, item):
        return (item.reason[:100] + "…") if len(item.reason) > 100 else item.reason

    @admin.display(description="delivery")
    def delivery_link(self, item):
        url = reverse("admin:whatsapp_webhookdelivery_change", args=[item.delivery_id])
        return format_html('<a href="{}">#{}</a>', url, item.delivery_id)

    @admin.display(description="the item as received")
    def pretty_data(self, item):
        return _pretty(item.data)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    inlines = [KeptItemsInline]
    list_display = ("id", "received_at", "status", "size", "attempts", "summary", "short_error")
    list_filter = ("status",)
    date_hierarchy = "received_at"
    show_full_result_count = False
    actions = ["process_again"]
    fields = (
        "received_at",
        "status",
        "attempts",
        "next_attempt_at",
        "processed_at",
        "summary",
        "error",
        "signature",
        "size",
        "pretty_body",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # kept exactly as received

    def has_reprocess_permission(self, request):
        return request.user.has_perm("whatsapp.change_webhookdelivery")

    def get_queryset(self, request):
        # The list never loads bodies (up to 4 MB each); the detail page does.
        queryset = super().get_queryset(request)
        return queryset if request.resolver_match.url_name.endswith("_change") else queryset.defer("body")

    def changelist_view(self, request, extra_context=None):
        backlog = selectors.delivery_backlog(timezone.now())
        age = backlog.oldest_age
        extra_context = {
            "backlog": backlog,
            "alert": age is not None and age > services.BACKLOG_ALERT_AFTER,
            "rate_minutes": int(selectors.RATE_WINDOW.total_seconds() // 60),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context)

    @admin.display(description="error")
    def short_error(self, delivery):
        return (delivery.error[:80] + "…") if len(delivery.error) > 80 else delivery.error

    @admin.display(description="body (as received)")
    def pretty_body(self, delivery):
        text = delivery.text
        with contextlib.suppress(ValueError):  # shown as received when it is not JSON
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        return format_html("<pre>{}</pre>", text)

    @admin.action(
        description="Process the selected deliveries again (failed or parked ones)", permissions=["reprocess"]
    )
    def process_again(self, request, queryset):
        retried = 0
        for delivery in queryset.filter(
            status__in=[WebhookDelivery.Status.FAILED, WebhookDelivery.Status.DEAD]
        ):
            # A person's retry starts the count again: a dead delivery used up its attempts.
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=WebhookDelivery.Status.FAILED, attempts=0, next_attempt_at=None
            )
            services.process_delivery(delivery.pk)
            retried += 1
        self.message_user(request, f"Processed {retried} deliveries again.", messages.SUCCESS)
