"""The template screen of the product: admins create, check, sync, import and export message templates here.

Thin by design: the rules are templates_app.validation (run by MessageTemplate.clean, so each error lands
next to its field), writes go through templates_app.services. Status, rejection reason, platform id and
last sync are the platform's facts: shown, never edited.

This is the catalogue's part of the screen, and it is not registered here: what needs the layers above
(how often a template was sent, the sync and submit that call WhatsApp) is added by the channel's
subclass, whatsapp.admin.MessageTemplateAdmin, which registers the screen.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.fields import InvalidJSONInput, JSONString
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from templates_app import rendering, services, statuses
from templates_app.models import MessageTemplate, TemplateEvent

IMPORT_MAX_BYTES = 5 * 1024 * 1024
COMPONENTS_HELP = (
    "The platform's components as JSON: exactly one BODY (up to 1024 characters); optionally one HEADER "
    '({"type": "HEADER", "format": "TEXT", "text": "…"} up to 60 characters, or format IMAGE, VIDEO, '
    "DOCUMENT, LOCATION), one FOOTER (60 characters, no placeholders) and one BUTTONS component "
    "(QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, OTP; at most 10). Example values for the preview go in "
    '"example", e.g. {"type": "BODY", "text": "Hi {{1}}", "example": {"body_text": [["Pablo"]]}}. '
    "Carousels, limited-time offers, product headers and catalogue or Flow buttons are made in WhatsApp "
    "Manager and brought here by a sync; saved unchanged, a synced template is kept as WhatsApp has it."
)


class ComponentsField(forms.JSONField):
    """The components as pretty-printed JSON, with an error that says where the JSON breaks."""

    def to_python(self, value):
        if self.disabled:
            return value
        if value in self.empty_values:
            return None
        if isinstance(value, list | dict | int | float | JSONString):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise ValidationError(
                "This is not valid JSON: %(problem)s at line %(line)s, column %(column)s. "
                "Check for a missing comma or quote, or a comma after the last item.",
                code="invalid",
                params={"problem": error.msg.lower(), "line": error.lineno, "column": error.colno},
            ) from None

    def prepare_value(self, value):
        if isinstance(value, InvalidJSONInput):
            return value
        return json.dumps(value, ensure_ascii=False, indent=2)


class MessageTemplateForm(forms.ModelForm):
    components = ComponentsField(
        help_text=COMPONENTS_HELP,
        widget=forms.Textarea(attrs={"rows": 18, "class": "tpl-json", "spellcheck": "false"}),
    )

    class Meta:
        model = MessageTemplate
        fields = ("name", "language", "category", "parameter_format", "components")
        help_texts = {
            "name": "Lowercase letters, digits and _, e.g. order_update. Fixed once WhatsApp knows it.",
            "language": "The platform's code: en, en_US, pt_BR… One template per name and language.",
            "category": "What WhatsApp charges for and reviews against. Changing it needs a new approval.",
        }


class TemplateEventsInline(admin.TabularInline):
    """What happened to the template: the platform's status and category changes, syncs, local edits."""

    model = TemplateEvent
    extra = 0
    can_delete = False
    verbose_name_plural = "history (newest first)"
    fields = ("at", "kind", "old", "new", "reason", "source")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _badge(info: statuses.StatusInfo):
    return format_html(
        '<span class="tpl-status tpl-status--{}" title="{}">{}</span>', info.tone, info.meaning, info.label
    )


def _parts(parts) -> str:
    return format_html_join(
        "", '<span class="tpl-part tpl-part--{}">{}</span>', ((p.kind, p.text) for p in parts)
    )


class StatusFilter(admin.SimpleListFilter):
    """The statuses present, in words (the column keeps the platform's raw value)."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        present = MessageTemplate.objects.order_by("status").values_list("status", flat=True).distinct()
        return [(status, statuses.describe(status).label) for status in present]

    def queryset(self, request, queryset):
        return queryset.filter(status=self.value()) if self.value() else queryset


class TemplateCatalogueAdmin(admin.ModelAdmin):
    """The catalogue: list, create, edit, check, import, export. Registered by whatsapp.admin's subclass."""

    form = MessageTemplateForm
    list_display = ("name", "language", "category", "status_badge", "placeholders", "last_synced_at")
    list_filter = (StatusFilter, "category", "language")
    search_fields = ("name", "body_text")
    search_help_text = "Name or body text."
    actions = ["export_selected"]
    inlines = [TemplateEventsInline]
    readonly_fields = (
        "status_explained",
        "platform_id",
        "last_synced_at",
        "components_readable",
        "preview",
        "created_at",
        "updated_at",
    )
    change_list_template = "admin/templates_app/messagetemplate/change_list.html"

    class Media:
        css = {"all": ["admin_extra/templates.css"]}

    def get_fieldsets(self, request, obj=None):
        fields = ("name", "language", "category", "parameter_format", "components")
        if obj is None:
            note = (
                "A new template is Pending until WhatsApp approves it: create it at WhatsApp with the same "
                "name and language (WhatsApp Manager), then “Sync with WhatsApp” to bring its status here."
            )
            return [(None, {"fields": fields, "description": note})]
        edit_note = (
            "Saving a change to these fields makes an approved template Pending again (recorded in the "
            "history below) until WhatsApp approves the new version."
        )
        return [
            ("At WhatsApp", {"fields": ("status_explained", "platform_id", "last_synced_at")}),
            ("What the customer sees", {"fields": ("preview", "components_readable")}),
            ("Template", {"fields": fields, "description": edit_note}),
            ("Record", {"fields": ("created_at", "updated_at")}),
        ]

    def get_inlines(self, request, obj):
        return [TemplateEventsInline] if obj is not None else []  # a new template has no history

    def get_changeform_initial_data(self, request):
        return {"components": [{"type": "BODY", "text": ""}], **super().get_changeform_initial_data(request)}

    def save_model(self, request, obj, form, change):
        services.save_template(template=obj, actor=request.user)

    # --- Columns and read-only fields -------------------------------------------------------------------

    @admin.display(description="status", ordering="status")
    def status_badge(self, template):
        return _badge(template.status_info)

    @admin.display(description="placeholders", ordering="parameter_format")
    def placeholders(self, template):
        return (
            "named" if template.parameter_format == MessageTemplate.ParameterFormat.NAMED else "{{1}}, {{2}}…"
        )

    @admin.display(description="status")
    def status_explained(self, template):
        info = template.status_info
        reason = (
            format_html(
                '<p class="tpl-reason">Reason given by WhatsApp: <code>{}</code></p>',
                template.rejected_reason,
            )
            if template.rejected_reason
            else ""
        )
        inbox = (
            format_html('<p class="tpl-reason">{}</p>', template.not_sendable_from_inbox)
            if template.not_sendable_from_inbox
            else ""
        )
        return format_html('{} <p class="tpl-meaning">{}</p>{}{}', _badge(info), info.meaning, reason, inbox)

    @admin.display(description="components as written")
    def components_readable(self, template):
        shown = rendering.render(template.components, template.parameter_format, examples=False)
        return self._card(shown, "tpl-card--raw")

    @admin.display(description="preview with example values")
    def preview(self, template):
        shown = template.shown_with_examples
        note = format_html(
            '<p class="tpl-note">Highlighted: example values from the template{}.</p>',
            "; placeholders without an example are shown as written"
            if any(p.kind == "placeholder" for p in (*shown.header, *shown.body))
            else "",
        )
        return format_html("{}{}", self._card(shown, "tpl-card--preview"), note)

    def _card(self, shown: rendering.Rendered, variant: str):
        rows = []
        if shown.header_format == "TEXT":
            rows.append(format_html('<div class="tpl-header"><b>Header</b> {}</div>', _parts(shown.header)))
        elif shown.header_format:
            rows.append(
                format_html(
                    '<div class="tpl-header"><b>Header</b> <i>{} chosen when sending</i></div>',
                    shown.header_format.lower(),
                )
            )
        rows.extend(format_html('<div class="tpl-extra"><i>{}</i></div>', note) for note in shown.notes)
        rows.append(
            format_html(
                '<div class="tpl-body"><b>Body</b> <span class="tpl-text">{}</span></div>', _parts(shown.body)
            )
        )
        if shown.footer:
            rows.append(format_html('<div class="tpl-footer"><b>Footer</b> {}</div>', shown.footer))
        if shown.buttons:
            buttons = format_html_join(
                "",
                '<li><span class="tpl-button">{}</span> <small>{}{}</small></li>',
                (
                    (b.text or "—", b.type.replace("_", " ").lower(), f": {b.detail}" if b.detail else "")
                    for b in shown.buttons
                ),
            )
            rows.append(format_html('<div class="tpl-buttons"><b>Buttons</b><ul>{}</ul></div>', buttons))
        return format_html(
            '<div class="tpl-card {}">{}</div>', variant, format_html_join("", "{}", ((r,) for r in rows))
        )

    # --- Actions and extra pages -------------------------------------------------------------------------

    @admin.action(description="Export selected templates as JSON", permissions=["view"])
    def export_selected(self, request, queryset):
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
        response = HttpResponse(
            services.export_json(queryset), content_type="application/json; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="templates-{stamp}.json"'
        return response

    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name=f"{info}_import"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            "statuses": statuses.known_statuses(),
            "can_import": self.has_add_permission(request) and self.has_change_permission(request),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context)

    def import_view(self, request):
        """A JSON file in the platform's shape, all or nothing: what WhatsApp has taken is checked to be a
        template, new or changed drafts with the creation rules (services.import_templates)."""
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            report = services.import_templates(
                form.cleaned_data["file"], actor=request.user, dry_run=form.cleaned_data["check_only"]
            )
            if report.applied:
                self.message_user(request, f"Imported: {report.summary}.", messages.SUCCESS)
                return redirect(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import templates",
            "form": form,
            "report": report,
            "media": self.media,
        }
        return TemplateResponse(request, "admin/templates_app/messagetemplate/import.html", context)


class ImportForm(forms.Form):
    file = forms.FileField(
        label="JSON file",
        help_text="Templates in the platform's shape, as exported here or by manage.py export_templates.",
    )
    check_only = forms.BooleanField(
        label="Check only (import nothing)", required=False, help_text="See what would change first."
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > IMPORT_MAX_BYTES:
            raise ValidationError(f"The file is larger than {IMPORT_MAX_BYTES // (1024 * 1024)} MB.")
        try:
            return json.loads(upload.read().decode("utf-8"))
        except UnicodeDecodeError:
            raise ValidationError("The file is not UTF-8 text.") from None
        except json.JSONDecodeError as error:
            where = f"line {error.lineno}, column {error.colno}"
            raise ValidationError(f"The file is not valid JSON: {error.msg.lower()} at {where}.") from None
