"""A basic admin for message templates; the form runs MessageTemplate.clean() (placeholders, BODY)
through ModelForm validation, and the database constraints through validate_constraints()."""

from django.contrib import admin

from templates_app.models import MessageTemplate


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
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
