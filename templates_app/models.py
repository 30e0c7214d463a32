"""Message templates as the platform knows them: (name, language), a category, a raw status, and the
platform's own JSON components. Only APPROVED templates can be sent (R2)."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from templates_app import components as components_
from templates_app import placeholders, rendering, sending, statuses, validation


class MessageTemplate(models.Model):
    class Category(models.TextChoices):
        MARKETING = "MARKETING", "Marketing"
        UTILITY = "UTILITY", "Utility"
        AUTHENTICATION = "AUTHENTICATION", "Authentication"

    class ParameterFormat(models.TextChoices):
        POSITIONAL = placeholders.POSITIONAL, "Positional ({{1}}, {{2}}…)"
        NAMED = placeholders.NAMED, "Named ({{first_name}}…)"

    # The statuses the platform reports. `status` stores the raw value, so a status the platform adds
    # later is kept as it came rather than refused; only APPROVED is ever sendable.
    KNOWN_STATUSES = (
        "APPROVED",
        "PENDING",
        "REJECTED",
        "PAUSED",
        "DISABLED",
        "IN_APPEAL",
        "FLAGGED",
        "REINSTATED",
        "PENDING_DELETION",
        "DELETED",
        "ARCHIVED",
        "LIMIT_EXCEEDED",
    )

    name = models.CharField(max_length=512)
    language = models.CharField(max_length=15, help_text="The platform's language code, e.g. en_US.")
    category = models.CharField(max_length=16, choices=Category.choices)
    status = models.CharField(
        max_length=32, default="PENDING", help_text="The platform's status, as reported."
    )
    parameter_format = models.CharField(
        max_length=10, choices=ParameterFormat.choices, default=ParameterFormat.POSITIONAL
    )
    components = models.JSONField(
        default=list, help_text='The platform\'s components, e.g. [{"type": "BODY", "text": "Hello {{1}}"}].'
    )
    platform_id = models.CharField("platform template id", max_length=64, blank=True)
    rejected_reason = models.CharField(max_length=256, blank=True)
    # A copy of the BODY's text, so the admin searches a plain column on every database (searching the
    # JSON would match keys and escapes too). Derived from `components` in save(); never edited. Not
    # indexed: a "contains" search cannot use a B-tree, and an account holds hundreds to a few thousand
    # templates, a scan of which is cheap (a trigram index would be PostgreSQL-only).
    body_text = models.TextField(blank=True, editable=False)
    last_synced_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When a sync last found it at the platform."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(fields=["name", "language"], name="template_unique_name_language"),
            models.CheckConstraint(
                condition=models.Q(category__in=["MARKETING", "UTILITY", "AUTHENTICATION"]),
                name="template_category_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(parameter_format__in=["POSITIONAL", "NAMED"]),
                name="template_parameter_format_valid",
            ),
        ]
        indexes = [models.Index(fields=["status", "category", "language"], name="template_picker_idx")]

    def __str__(self):
        return f"{self.name} ({self.language})"

    def save(self, *args, **kwargs):
        # Keep the search copy in step with the components: a derived column, not a rule.
        self.body_text = components_.body_text(self.components)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "components" in update_fields:
            kwargs["update_fields"] = {*update_fields, "body_text"}
        super().save(*args, **kwargs)

    # --- components --------------------------------------------------------------------------------

    def component(self, kind: str) -> dict | None:
        return components_.find(self.components, kind)

    @property
    def parameter_names(self) -> list[str]:
        """What a send must supply for the body: ["1", "2"] or ["first_name", …]."""
        return placeholders.parameter_names(components_.body_text(self.components), self.parameter_format)

    @property
    def is_sendable(self) -> bool:
        return statuses.is_sendable(self.status)

    @property
    def needs_phone_number(self) -> bool:
        """An authentication template with a one-time-password button (copy code, one tap, zero tap)
        reaches only a customer whose phone number we have: the platform refuses it to a business-scoped
        user id (error 131062)."""
        if self.category != self.Category.AUTHENTICATION:
            return False
        buttons = components_.find(self.components, "BUTTONS") or {}
        listed = buttons.get("buttons") if isinstance(buttons.get("buttons"), list) else []
        return any(
            isinstance(button, dict) and str(button.get("type", "")).upper() in ("OTP", "COPY_CODE", "URL")
            for button in listed
        )

    @property
    def status_info(self) -> statuses.StatusInfo:
        return statuses.describe(self.status, self.rejected_reason)

    def shown(self, params=None, extras=None) -> rendering.Rendered:
        """The message as the customer sees it (header, body, footer, buttons) with a send's `params`
        and `extras`, as the compose form gives them or as a sent message stores them; a placeholder
        without a value stays as written. The compose preview and the thread both draw this."""
        return rendering.render(
            self.components,
            self.parameter_format,
            examples=False,
            given=rendering.given_from(params, extras),
        )

    @property
    def shown_with_examples(self) -> rendering.Rendered:
        """The message with the platform's example values: the admin's card and the agents' catalogue."""
        return rendering.render(self.components, self.parameter_format)

    @property
    def send_inputs(self) -> sending.SendInputs:
        """What a send needs beyond the body's parameters (templates_app.sending)."""
        return sending.send_inputs(self.components, self.parameter_format, self.category)

    @property
    def not_sendable_from_inbox(self) -> str:
        """Why the compose view cannot fill this template (a carousel, a product header…), in one
        sentence for agents; "" when it can. Independent of the status (R2 says whether it may be sent
        at all)."""
        return self.send_inputs.not_fillable_reason

    def render_send(self, params, extras=None) -> rendering.Send:
        """A send of this template with `params` and `extras` ({"header": value, "buttons": {index:
        value}}), checked and rendered: what the compose preview shows, the message stores and the
        platform receives. Raises TemplateParamsInvalid with every problem at once."""
        return rendering.render_send(self.components, self.parameter_format, self.category, params, extras)

    def prepare_send(self, params, extras=None) -> tuple[str, dict | None]:
        """The body with `params` filled in, and the header and button values checked and ready for the
        platform (render_send). Raises TemplateParamsInvalid with every problem of both at once."""
        send = self.render_send(params, extras)
        return send.body, send.extras

    # --- validation ----------------------------------------------------------------------------------

    def full_clean(self, exclude=None, validate_unique=True, validate_constraints=True):
        # clean() judges only the fields being validated: a form excludes the fields it does not show
        # and those that already failed (invalid JSON must not also read "needs a BODY").
        self._excluded_from_clean = set(exclude or ())
        try:
            super().full_clean(exclude, validate_unique, validate_constraints)
        finally:
            del self._excluded_from_clean

    @property
    def draft(self) -> validation.Draft:
        return validation.Draft(
            name=self.name,
            language=self.language,
            category=self.category,
            parameter_format=self.parameter_format,
            components=self.components,
        )

    def clean(self):
        """The platform's rules (templates_app.validation), each error on the field it belongs to; and
        the two that need the database: one template per (name, language), and no renaming a template
        the platform knows. The creation rules judge a new template or a change to what WhatsApp reviews;
        a template saved as it is stored (a carousel synced from WhatsApp, a legacy body that ends with a
        placeholder) is only checked to be a template: it is what the platform holds."""
        excluded = getattr(self, "_excluded_from_clean", set())
        stored = None
        if self.pk:
            stored = MessageTemplate.objects.filter(pk=self.pk).values(*statuses.REVIEWED_FIELDS).first()
        unchanged = stored is not None and not statuses.changed_fields(
            stored, {field: getattr(self, field) for field in statuses.REVIEWED_FIELDS}
        )
        rules = validation.listing_errors if unchanged else validation.template_errors
        errors = {field: messages for field, messages in rules(self.draft).items() if field not in excluded}
        checked = not {"name", "language"} & (excluded | errors.keys())
        if checked and stored is not None and self.platform_id:
            renamed = validation.identity_change_error(
                known_to_platform=bool(self.platform_id),
                old=(stored["name"], stored["language"]),
                new=(self.name, self.language),
            )
            if renamed:
                errors["name" if stored["name"] != self.name else "language"] = [renamed]
        if checked and "name" not in errors:
            duplicate = MessageTemplate.objects.filter(name=self.name, language=self.language)
            if self.pk:
                duplicate = duplicate.exclude(pk=self.pk)
            if duplicate.exists():
                errors["name"] = [validation.duplicate_error(self.name, self.language)]
        if errors:
            raise ValidationError(errors)


class TemplateEvent(models.Model):
    """What happened to a template: the platform's status and category changes, local edits (source
    "local"), what a sync changed (source "sync"). Messages keep the category they were sent under
    (Message.template_category); this keeps the history. An "edit" event names the fields that changed."""

    class Kind(models.TextChoices):
        STATUS = "status", "Status"
        CATEGORY = "category", "Category"
        EDIT = "edit", "Content"
        QUALITY = "quality", "Quality rating"

    template = models.ForeignKey(MessageTemplate, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    old = models.CharField(max_length=64, blank=True)
    new = models.CharField(max_length=64)
    reason = models.CharField(max_length=256, blank=True)
    source = models.CharField(max_length=32, default="platform")
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.template}: {self.kind} {self.old or '—'} → {self.new}"
