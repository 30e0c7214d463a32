"""Webhook deliveries, kept as received: an admin can read any of them and process a failed one again.
And the template screen: the catalogue's admin (templates_app.admin) with what needs this layer and the
domain's messages: how often each template was sent, and the sync and submit that call WhatsApp."""

import contextlib
import json
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db.models import Count
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from conversations import selectors as conversation_selectors
from conversations.admin import ReadOnlyInline
from conversations.models import Conversation, Message
from templates_app.admin import TemplateCatalogueAdmin
from templates_app.models import MessageTemplate
from whatsapp import selectors, services
from whatsapp.client import PlatformError
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


def _changelist_url(model, **lookups) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(lookups)}"


@admin.register(MessageTemplate)
class MessageTemplateAdmin(TemplateCatalogueAdmin):
    """The template screen: the catalogue, with each template's usage and the WhatsApp actions (the
    admin URLs stay templates_app's: /admin/templates_app/messagetemplate/sync/ and the rest)."""

    list_display = (*TemplateCatalogueAdmin.list_display, "times_used")
    actions = ["submit_selected", *TemplateCatalogueAdmin.actions]
    readonly_fields = (*TemplateCatalogueAdmin.readonly_fields, "usage")

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        # Before the record: where the catalogue's screen showed it.
        return [*fieldsets[:-1], ("Usage", {"fields": ("usage",)}), fieldsets[-1]]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(times_used=Count("messages"))

    @admin.display(description="times used", ordering="times_used")
    def times_used(self, template):
        url = _changelist_url(Message, template__id__exact=template.pk)
        return format_html('<a href="{}">{}</a>', url, template.times_used)

    @admin.display(description="usage")
    def usage(self, template):
        used = conversation_selectors.template_usage(template)
        messages_url = _changelist_url(Message, template__id__exact=template.pk)
        if not used.sent:
            return "Never sent."
        agents = format_html_join(
            "",
            '<li><a href="{}">{}</a>: {}</li>',
            (
                (
                    _changelist_url(Message, template__id__exact=template.pk, agent__id__exact=a.agent_id)
                    if a.agent_id
                    else _changelist_url(Message, template__id__exact=template.pk, agent__isnull="True"),
                    a.name,
                    a.count,
                )
                for a in used.by_agent
            ),
        )
        categories = ", ".join(f"{category}: {count}" for category, count in used.by_category)
        conversations_url = _changelist_url(Conversation, opening_message__template__id__exact=template.pk)
        return format_html(
            '<p><a href="{}">Sent {} time{}</a>{}.</p><p>By agent:</p><ul class="tpl-usage">{}</ul>'
            "<p>Sent under category: {} (a message keeps the category it was sent under).</p>"
            '<p><a href="{}">Opened {} conversation{}</a>.</p>',
            messages_url,
            used.sent,
            "" if used.sent == 1 else "s",
            f", {used.failed} failed" if used.failed else "",
            agents,
            categories,
            conversations_url,
            used.conversations_opened,
            "" if used.conversations_opened == 1 else "s",
        )

    # --- Actions and extra pages -------------------------------------------------------------------------

    @admin.action(description="Submit selected templates to WhatsApp for review", permissions=["change"])
    def submit_selected(self, request, queryset):
        """New templates are created at WhatsApp, known ones sent as a new version; each is PENDING until
        WhatsApp's review comes back (a status webhook, or the next sync)."""
        try:
            results = services.submit_templates(list(queryset), actor=request.user)
        except ImproperlyConfigured as error:
            self.message_user(request, f"Submitting not possible: {error}", messages.ERROR)
            return
        sent = [str(template) for template, error in results if error is None]
        if sent:
            self.message_user(
                request,
                f"Submitted to WhatsApp for review: {', '.join(sent)}. They stay PENDING until WhatsApp "
                "approves or rejects them; the status updates here by itself.",
                messages.SUCCESS,
            )
        for template, error in results:
            if isinstance(error, PlatformError):
                self.message_user(
                    request, _platform_failure(f"Submitting “{template}”", error), messages.ERROR
                )
            elif error is not None:
                self.message_user(request, str(error), messages.ERROR)

    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("sync/", self.admin_site.admin_view(self.sync_view), name=f"{info}_sync"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {"can_sync": self.has_change_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def sync_view(self, request):
        """POST: fetch the platform's templates (every page) and bring the catalogue in line. It runs in
        the request: fine for the hundreds of templates an account holds; `manage.py sync_templates`
        shows progress for longer ones."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        try:
            report = services.sync_template_catalogue()
        except PlatformError as error:
            self.message_user(request, _sync_failure(error), messages.ERROR)
        except ImproperlyConfigured as error:
            self.message_user(request, f"Sync not possible: {error}", messages.ERROR)
        else:
            self.message_user(request, f"Synced with WhatsApp: {report.summary}.", messages.SUCCESS)
            if report.removed_at_platform:
                self.message_user(
                    request,
                    "No longer at WhatsApp, now marked DELETED: "
                    + ", ".join(report.removed_at_platform)
                    + ".",
                    messages.WARNING,
                )
            if report.skipped:
                self.message_user(request, "Skipped: " + "; ".join(report.skipped) + ".", messages.WARNING)
        return redirect(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")


def _sync_failure(error: PlatformError) -> str:
    return _platform_failure("Sync with WhatsApp", error)


def _platform_failure(what: str, error: PlatformError) -> str:
    # A refusal that carries words for the person (error_user_title / error_user_msg: why a template was
    # refused) shows them as WhatsApp wrote them; Graph's own title ("Invalid parameter") says less.
    said = error.user_text or error.title or error.message or error.info.reason
    code = f"{error.code}/{error.error_subcode}" if error.error_subcode is not None else error.code
    where = f" (error {code})" if error.code else f" (HTTP {error.http_status})" if error.http_status else ""
    return f"{what} failed, nothing was changed. WhatsApp said{where}: {said}"
