"""Admin pages to inspect what the rules did: customers, their messages and conversations.

These rows are written only by conversations.services, so the admin can view, search and filter them,
never add, change or delete them. Anything that depends on time is judged at one instant per request
(`request_now`) by the same policy and selectors the services use, and "open" is always computed from
timestamps (R8), never read from the `status` column the sweep keeps.
"""

from datetime import datetime
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from conversations import selectors
from conversations.models import (
    AgentAvailability,
    Assignment,
    ContactAttribute,
    ContactAttributeValue,
    Conversation,
    ConversationDiscrepancy,
    Customer,
    Label,
    Message,
    MessageMedia,
    PreviousIdentifier,
    Team,
    TeamMembership,
)
from conversations.services import assignment

admin.site.site_header = "Support Inbox administration"
admin.site.site_title = "Support Inbox administration"

INLINE_CONVERSATIONS_SHOWN = 20
INLINE_MESSAGES_SHOWN = 100


def request_now(request) -> datetime:
    """The instant a page is judged at. The clock is read once per request, so every row, column and
    filter of one page agrees."""
    if not hasattr(request, "_support_inbox_now"):
        request._support_inbox_now = timezone.now()
    return request._support_inbox_now


def _when(value: datetime | None) -> str:
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M:%S %Z}" if value else "—"


def _change_link(obj, text=None):
    if obj is None:
        return None
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text if text is not None else obj)


def _changelist_link(model, text, **lookups):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, urlencode(lookups), text)


def _short(text: str) -> str:
    return Truncator(text).chars(60)


def _conversation_label(conversation: Conversation) -> str:
    # Not str(conversation): that names the customer, which a message row has fetched already.
    return f"{conversation.get_category_display()} #{conversation.pk}"


class ViewOnlyAdmin(admin.ModelAdmin):
    """Viewable with the view permission; never added, changed or deleted here (the services write)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, ViewOnlyInline) and obj is not None:
            kwargs["queryset"] = inline.shown(kwargs["queryset"], obj)
        return kwargs


class ReadOnlyInline(admin.TabularInline):
    """Related rows shown as they are: the services write them, the admin never adds, changes or deletes."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ViewOnlyInline(ReadOnlyInline):
    """A read-only list of related rows. A busy customer has thousands of them, so the parent page shows
    a bounded number (`shown`) and links to the full, filtered changelist."""

    show_change_link = True

    def shown(self, queryset, parent):
        raise NotImplementedError


# --- Filters ---------------------------------------------------------------------------------------


class YesNoFilter(admin.SimpleListFilter):
    """Yes: rows where `condition(now)` holds at the request's instant; no: every other row."""

    def condition(self, now) -> Q:
        raise NotImplementedError

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        condition = self.condition(request_now(request))
        if self.value() == "yes":
            return queryset.filter(condition)
        if self.value() == "no":
            return queryset.exclude(condition)
        return queryset


class WindowOpenFilter(YesNoFilter):
    """R1: the service window is open at now (the same query as the inbox's: a window the platform
    closed, 131047, is closed here too)."""

    title = "service window open now"
    parameter_name = "window_open"

    def condition(self, now):
        return selectors.window_open_at(now)


class OpenNowFilter(YesNoFilter):
    """R8: open now, computed from the timestamps, whatever the status column says."""

    title = "open now"
    parameter_name = "open_now"

    def condition(self, now):
        return selectors.open_at(now)


# --- Customers -------------------------------------------------------------------------------------


class CustomerConversationsInline(ViewOnlyInline):
    model = Conversation
    fk_name = "customer"
    verbose_name_plural = f"latest conversations (at most {INLINE_CONVERSATIONS_SHOWN})"
    fields = ("category", "opened_at", "expires_at", "closed_at", "status", "opening_message")

    def get_queryset(self, request):
        # Each row is titled by str(conversation), which names the customer.
        return super().get_queryset(request).select_related("customer", "opening_message")

    def shown(self, queryset, customer):
        latest = Conversation.objects.filter(customer=customer).order_by("-opened_at", "-pk").values("pk")
        return queryset.filter(pk__in=latest[:INLINE_CONVERSATIONS_SHOWN])


class PreviousIdentifiersInline(ReadOnlyInline):
    model = PreviousIdentifier
    fields = ("kind", "value", "replaced_at")
    readonly_fields = fields
    verbose_name_plural = "previous identifiers (late deliveries that carry them still find this customer)"


@admin.register(Customer)
class CustomerAdmin(ViewOnlyAdmin):
    list_filter = ("country", WindowOpenFilter, "status")
    search_fields = ("name", "wa_id", "phone_e164", "=user_id", "username")
    search_help_text = "Name, phone number, username, or the exact business-scoped user id."
    inlines = [CustomerConversationsInline, PreviousIdentifiersInline]
    fieldsets = [
        (
            None,
            {
                "fields": (
                    "name",
                    "wa_id",
                    "phone_e164",
                    "user_id",
                    "parent_user_id",
                    "username",
                    "country",
                    "marketing_stopped_at",
                    "identity_changed_at",
                    "created_at",
                )
            },
        ),
        (
            "What the rules see (R1, R6, R8)",
            {"fields": ("rules_now", "last_inbound_at", "fep_referral_at", "last_activity_at")},
        ),
        (
            "In the team's work (changed in the inbox)",
            {"fields": ("status", "snoozed_until", "status_changed_at", "status_changed_by")},
        ),
        ("History", {"fields": ("messages_link", "conversations_link")}),
    ]
    readonly_fields = (
        "phone_e164",
        "country",
        "created_at",
        "rules_now",
        "messages_link",
        "conversations_link",
    )

    def get_list_display(self, request):
        now = request_now(request)

        @admin.display(description="window open now", boolean=True)
        def window_open(customer):
            # R1 from the row already fetched: the selector asks the messages only in the rare case of a
            # customer message stamped after `now` (clock skew), which the pure policy would refuse.
            return selectors.service_window(customer, now=now).is_open

        return (
            "name",
            "identifier",
            "country",
            "last_inbound_at",
            window_open,
            "last_activity_at",
            "messages_link",
            "conversations_link",
        )

    @admin.display(description="phone, username or user id", ordering="phone_e164")
    def identifier(self, customer):
        return customer.handle

    @admin.display(description="now")
    def rules_now(self, customer):
        now = timezone.now()
        window = selectors.service_window(customer, now=now)
        fep = selectors.fep_eligibility(customer, now=now)
        open_now = selectors.open_conversations(customer, now=now)
        if window.is_open:
            window_text = f"open until {_when(window.closes_at)}: free-form and templates"
        elif window.closes_at:
            window_text = f"closed since {_when(window.closes_at)}: approved templates only"
        else:
            window_text = "never opened (the customer has not written): approved templates only"
        fep_text = f"eligible until {_when(fep.until)}" if fep.is_eligible else "not eligible"
        open_links = [(_change_link(c, _conversation_label(c)), _when(c.ends_at)) for c in open_now]
        conversations = format_html_join(", ", "{} (until {})", open_links)
        return format_html(
            "At {}<br>Service window: {}<br>Free-entry point: {}<br>Open conversations: {}",
            _when(now),
            window_text,
            fep_text,
            conversations or "none",
        )

    @admin.display(description="messages")
    def messages_link(self, customer):
        return _changelist_link(Message, "messages", customer__id__exact=customer.pk)

    @admin.display(description="conversations")
    def conversations_link(self, customer):
        return _changelist_link(Conversation, "conversations", customer__id__exact=customer.pk)


# --- Conversations ---------------------------------------------------------------------------------


class ConversationMessagesInline(ViewOnlyInline):
    model = Message
    fk_name = "conversation"
    verbose_name_plural = f"messages (the first {INLINE_MESSAGES_SHOWN})"
    fields = ("occurred_at", "direction", "kind", "body_start", "status", "error_code", "agent")
    readonly_fields = ("body_start",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("agent")

    def shown(self, queryset, conversation):
        first = Message.objects.filter(conversation=conversation).order_by("occurred_at", "pk").values("pk")
        return queryset.filter(pk__in=first[:INLINE_MESSAGES_SHOWN])

    @admin.display(description="body")
    def body_start(self, message):
        return _short(message.body)


class ConversationDiscrepanciesInline(ViewOnlyInline):
    """R9: where the platform's report differed from our estimate, and what we did about it."""

    model = ConversationDiscrepancy
    fk_name = "conversation"
    verbose_name_plural = "disagreements with the platform (R9)"
    fields = ("recorded_at", "field", "ours", "platform", "adopted", "note", "message")
    show_change_link = False

    def shown(self, queryset, conversation):
        return queryset


@admin.register(ConversationDiscrepancy)
class ConversationDiscrepancyAdmin(ViewOnlyAdmin):
    list_display = ("recorded_at", "conversation_link", "field", "ours", "platform", "adopted", "note")
    list_filter = ("field", "adopted")
    list_select_related = ("conversation",)
    search_fields = ("conversation__platform_id", "conversation__customer__wa_id")
    date_hierarchy = "recorded_at"
    raw_id_fields = ("conversation", "message")

    @admin.display(description="conversation")
    def conversation_link(self, discrepancy):
        return _change_link(discrepancy.conversation, f"#{discrepancy.conversation_id}")


@admin.register(Conversation)
class ConversationAdmin(ViewOnlyAdmin):
    list_filter = ("category", "status", OpenNowFilter)
    list_select_related = ("customer", "opening_message")
    search_fields = ("customer__name", "customer__wa_id", "platform_id")
    search_help_text = "Customer name or WhatsApp id, or the platform conversation id."
    date_hierarchy = "opened_at"
    # Never a <select> of every customer or message, should a field ever become editable.
    raw_id_fields = ("customer", "closed_by", "opening_message")
    inlines = [ConversationMessagesInline, ConversationDiscrepanciesInline]
    fieldsets = [
        (None, {"fields": ("customer", "category", "platform_id", "opening_message", "messages_link")}),
        (
            "Life (R7, R8; R6 closes, R9 voids)",
            {"fields": ("open_now", "opened_at", "expires_at", "closed_at", "closed_by", "voided_at")},
        ),
        ("Kept by the sweep for lists, never the authority", {"fields": ("status", "status_changed_at")}),
    ]
    readonly_fields = ("open_now", "messages_link")

    # The template page links here for "the conversations this template opened".
    EXTRA_LOOKUPS = {"opening_message__template__id__exact"}

    def lookup_allowed(self, lookup, value, request):
        return lookup in self.EXTRA_LOOKUPS or super().lookup_allowed(lookup, value, request)

    def get_list_display(self, request):
        now = request_now(request)

        @admin.display(description="open now", boolean=True)
        def open_now(conversation):
            return conversation.as_policy().is_open(now)  # R8

        return (
            "id",
            "customer_link",
            "category",
            "opened_at",
            "expires_at",
            "closed_at",
            "status",
            open_now,
            "opening_message_link",
        )

    @admin.display(description="open now (R8)", boolean=True)
    def open_now(self, conversation):
        return conversation.as_policy().is_open(timezone.now())

    @admin.display(description="customer", ordering="customer__name")
    def customer_link(self, conversation):
        return _change_link(conversation.customer)

    @admin.display(description="opening message")
    def opening_message_link(self, conversation):
        return _change_link(conversation.opening_message)

    @admin.display(description="all messages")
    def messages_link(self, conversation):
        return _changelist_link(Message, "all its messages", conversation__id__exact=conversation.pk)


# --- Messages --------------------------------------------------------------------------------------


class MessageMediaInline(ReadOnlyInline):
    """A media message's file: what the platform announced, what the bytes turned out to be, and why it
    is not there when it is not."""

    model = MessageMedia
    fields = ("kind", "status", "error", "filename", "content_type", "size", "attempts", "fetched_at")
    readonly_fields = fields


@admin.register(Message)
class MessageAdmin(ViewOnlyAdmin):
    inlines = [MessageMediaInline]
    list_display = (
        "id",
        "customer_link",
        "direction",
        "kind",
        "body_start",
        "status",
        "error_code",
        "conversation_link",
        "agent",
        "occurred_at",
    )
    list_filter = ("direction", "kind", "status")
    list_select_related = ("customer", "conversation", "agent")
    search_fields = ("body", "wamid", "customer__name", "customer__wa_id", "customer__username")
    search_help_text = "Text, platform message id, or the customer's name, phone number or username."
    date_hierarchy = "occurred_at"
    ordering = ("-occurred_at", "-id")
    # Counting the whole table on every page is the slow part of a large changelist.
    show_full_result_count = False
    raw_id_fields = ("customer", "conversation", "template", "agent")
    fieldsets = [
        (
            None,
            {
                "fields": (
                    "customer",
                    "direction",
                    "kind",
                    "wa_type",
                    "body",
                    "context_wamid",
                    "details",
                    "referral",
                )
            },
        ),
        ("Template", {"fields": ("template", "template_category", "template_params")}),
        (
            "Timeline and conversation",
            {
                "fields": (
                    "occurred_at",
                    "platform_timestamp",
                    "created_at",
                    "conversation",
                    "opened_conversation",
                )
            },
        ),
        ("Platform status", {"fields": ("wamid", "status", "status_changed_at", "error_code", "error_text")}),
        (
            "What the platform charged",
            {"fields": ("pricing_model", "pricing_category", "pricing_type", "billable", "pricing")},
        ),
        (None, {"fields": ("agent",)}),
    ]
    readonly_fields = ("created_at", "opened_conversation")

    @admin.display(description="customer", ordering="customer__name")
    def customer_link(self, message):
        return _change_link(message.customer)

    @admin.display(description="body")
    def body_start(self, message):
        return _short(message.body)

    @admin.display(description="conversation", ordering="conversation")
    def conversation_link(self, message):
        conversation = message.conversation
        return conversation and _change_link(conversation, _conversation_label(conversation))

    @admin.display(description="opened its conversation", boolean=True)
    def opened_conversation(self, message):
        if message.conversation is None:
            return None
        return message.conversation.opening_message_id == message.pk


# --- Customers' files ------------------------------------------------------------------------------

MEDIA_FIELDS = (
    "kind",
    "status",
    "error",
    "filename",
    "content_type",
    "size",
    "announced_type",
    "announced_size",
    "sha256",
    "media_id",
    "attempts",
    "next_attempt_at",
    "received_at",
    "expires_at",
    "fetched_at",
    "status_changed_at",
)


@admin.register(MessageMedia)
class MessageMediaAdmin(ViewOnlyAdmin):
    """Every customer's file, newest first: which ones are still being fetched, which were refused (and
    why, in the words the agent sees), which could not be fetched before the platform forgot them."""

    list_display = (
        "id",
        "message_link",
        "kind",
        "status",
        "size",
        "content_type",
        "received_at",
        "file_link",
    )
    list_filter = ("status", "kind")
    list_select_related = ("message",)
    search_fields = ("filename", "media_id", "message__wamid")
    search_help_text = "The file's name, the platform's media id, or the message's platform id."
    ordering = ("-id",)  # the primary key's order is arrival order, and is indexed
    show_full_result_count = False
    fields = ("message", *MEDIA_FIELDS, "file_link")
    readonly_fields = ("message", *MEDIA_FIELDS, "file_link")

    @admin.display(description="message", ordering="message")
    def message_link(self, media):
        return _change_link(media.message, f"#{media.message_id}")

    @admin.display(description="file")
    def file_link(self, media):
        if media.status != MessageMedia.Status.STORED:
            return "—"
        # Served through the inbox's file view, with its role checks, never from a public path.
        url = reverse("inbox:media", args=[media.message.customer_id, media.message_id])
        return format_html('<a href="{}">open</a>', url)


# --- Contact attributes ------------------------------------------------------------------------------


@admin.register(ContactAttribute)
class ContactAttributeAdmin(admin.ModelAdmin):
    """The contact fields agents fill in on the side panel (issue 15): admins define them here. Their
    values are written by agents through conversations.services.set_attribute, and listed below."""

    list_display = ("label", "key", "kind", "optional", "position", "values_count")
    list_editable = ("position",)
    ordering = ("position", "label")
    search_fields = ("key", "label")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(values_total=Count("values"))  # one query for the list

    @admin.display(description="customers with a value", ordering="values_total")
    def values_count(self, attribute):
        return _changelist_link(
            ContactAttributeValue, attribute.values_total, attribute__id__exact=attribute.pk
        )


@admin.register(ContactAttributeValue)
class ContactAttributeValueAdmin(ViewOnlyAdmin):
    """Customers' values, as agents set them (view only: agents change them in the inbox)."""

    list_display = ("attribute", "customer_link", "value", "changed_by", "changed_at")
    list_filter = ("attribute",)
    list_select_related = ("attribute", "customer", "changed_by")
    search_fields = ("value", "customer__name")
    ordering = ("-changed_at",)
    readonly_fields = ("customer", "attribute", "value", "changed_by", "changed_at")

    @admin.display(description="customer", ordering="customer__name")
    def customer_link(self, value):
        return _change_link(value.customer)


# --- Teams, labels, who held a thread when (issue 15) ----------------------------------------------------


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    """Labels agents put on threads from the side panel; the list shows and filters by them."""

    list_display = ["name", "colour_swatch", "threads"]
    search_fields = ["name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(thread_count=Count("customer_links"))

    @admin.display(description="colour")
    def colour_swatch(self, label):
        return label.colour  # the page's strict CSP allows no inline style: the value itself

    @admin.display(description="threads", ordering="thread_count")
    def threads(self, label):
        return label.thread_count


class TeamMembershipInline(admin.TabularInline):
    model = TeamMembership
    extra = 1
    fields = ["agent", "last_assigned_at"]
    readonly_fields = ["last_assigned_at"]
    verbose_name = "member"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "agent":  # only who may answer customers can be given them
            kwargs["queryset"] = assignment.answering_users(get_user_model().objects.all()).order_by(
                "username"
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    """Teams and their agents. The default team gives new threads in turn to its available agents."""

    list_display = ["name", "is_default", "member_count"]
    fields = ["name", "is_default"]
    inlines = [TeamMembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(members_count=Count("memberships"))

    @admin.display(description="members", ordering="members_count")
    def member_count(self, team):
        return team.members_count


@admin.register(Assignment)
class AssignmentAdmin(ViewOnlyAdmin):
    """Who held each thread from when to when, and who changed it: written only by the assignment
    service (by hand, in turn, or "held before history was kept")."""

    list_display = ["customer", "agent", "started", "ended", "how", "assigned_by", "ended_by"]
    list_filter = ["how", "agent"]
    list_select_related = ["customer", "agent", "assigned_by", "ended_by"]
    search_fields = ["customer__name", "customer__wa_id", "agent__username"]
    date_hierarchy = "started_at"

    @admin.display(description="from", ordering="started_at")
    def started(self, row):
        return _when(row.started_at)

    @admin.display(description="until", ordering="ended_at")
    def ended(self, row):
        return _when(row.ended_at) if row.ended_at else "holds it now"


@admin.register(AgentAvailability)
class AgentAvailabilityAdmin(ViewOnlyAdmin):
    """Each agent's available/away switch (they set it in the inbox's header)."""

    list_display = ["agent", "available", "changed"]
    list_select_related = ["agent"]

    @admin.display(description="since", ordering="changed_at")
    def changed(self, row):
        return _when(row.changed_at)
