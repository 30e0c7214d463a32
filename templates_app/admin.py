"""A basic admin for message templates; the form runs MessageTemplate.clean() (placeholders, BODY)
through ModelForm validation, and the database constraints through validate_constraints()."""

from django.contrib import admin

from templates_app.models import MessageTemplate, TemplateEvent


class TemplateEventsInline(admin.TabularInline):
    """The platform's status and category changes, newest first."""

    model = TemplateEvent
    extra = 0
    can_delete = False
    fields = ("at", "kind", "old", "new", "reason", "source")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    def get_inlines(self, request, obj):
        return [TemplateEventsInline] if obj is not None else []  # a new template has no history
    list_display = ("name", "language", "category", "status", "parameter_format")
    list_filter = ("status", "category", "language")
    search_fields = ("name",)
    fields = (
        "name",
        "language",
        "category",
        "status",
        "parameter_format",
        "components",
        "platform_id",
        "rejected_reason",
        "created_at",
        "updated_at",
    )
    readonly_fields = ("created_at", "updated_at")
