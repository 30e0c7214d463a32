"""Message templates as the platform knows them: (name, language), a category, a raw status, and the
platform's own JSON components. Only APPROVED templates can be sent (R2)."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from conversations import policy
from templates_app import placeholders


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

    # --- components --------------------------------------------------------------------------------

    def component(self, kind: str) -> dict | None:
        for component in self.components or []:
            if isinstance(component, dict) and str(component.get("type", "")).upper() == kind:
                return component
        return None

    @property
    def body_text(self) -> str:
        body = self.component("BODY")
        return (body or {}).get("text", "") or ""

    @property
    def parameter_names(self) -> list[str]:
        """What a send must supply for the body: ["1", "2"] or ["first_name", …]."""
        return placeholders.parameter_names(self.body_text, self.parameter_format)

    @property
    def is_sendable(self) -> bool:
        return policy.is_template_sendable(self.status)

    @property
    def conversation_category(self) -> policy.Category:
        return policy.template_category(self.category)

    def render(self, params) -> str:
        """The body with `params` filled in; raises TemplateParamsInvalid when they do not fit."""
        return placeholders.render(self.body_text, self.parameter_format, params)

    # --- validation ----------------------------------------------------------------------------------

    def clean(self):
        errors = {}
        if not isinstance(self.components, list):
            errors["components"] = ["components must be a list of the platform's component objects"]
        elif self.component("BODY") is None:
            errors["components"] = ["a template needs a BODY component with text"]
        else:
            problems = []
            for component in self.components:
                text = component.get("text") if isinstance(component, dict) else None
                if isinstance(text, str):
                    kind = str(component.get("type", "")).upper()
                    problems += [
                        f"{kind}: {e}" for e in placeholders.placeholder_errors(text, self.parameter_format)
                    ]
            edge = placeholders.edge_placeholder_error(self.body_text)
            if edge:
                problems.append(f"BODY: {edge}")
            if problems:
                errors["components"] = problems
        if errors:
            raise ValidationError(errors)


class TemplateEvent(models.Model):
    """What happened to a template: the platform's status and category changes, local edits. Messages
    keep the category they were sent under (Message.template_category); this keeps the history."""

    class Kind(models.TextChoices):
        STATUS = "status", "Status"
        CATEGORY = "category", "Category"

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
