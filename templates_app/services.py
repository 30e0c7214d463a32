"""Writes to the template catalogue. The platform is the authority on a template's status and category."""

import logging

from django.db import transaction
from django.utils import timezone

from templates_app.models import MessageTemplate, TemplateEvent

logger = logging.getLogger(__name__)

# Platform webhook events that name the status the template is in afterwards, where they differ.
EVENT_STATUS = {"REINSTATED": "APPROVED"}


def _find(platform_id: str, name: str, language: str) -> MessageTemplate | None:
    found = None
    if platform_id:
        found = MessageTemplate.objects.select_for_update().filter(platform_id=str(platform_id)).first()
    if found is None and name and language:
        found = MessageTemplate.objects.select_for_update().filter(name=name, language=language).first()
    if found is None:
        logger.warning(
            "template %s (%s, %s) is not in our catalogue: sync templates", platform_id, name, language
        )
    return found


def apply_platform_status(
    *, platform_id: str, name: str, language: str, event: str, reason: str | None = None
) -> MessageTemplate | None:
    """message_template_status_update: the template's status (and rejection reason) as the platform says."""
    status = EVENT_STATUS.get(event.upper(), event.upper())
    with transaction.atomic():
        template = _find(platform_id, name, language)
        if template is None:
            return None
        if template.status == status and template.rejected_reason == (reason or ""):
            return template
        TemplateEvent.objects.create(
            template=template,
            kind=TemplateEvent.Kind.STATUS,
            old=template.status,
            new=status,
            reason=reason or "",
            at=timezone.now(),
        )
        template.status = status
        template.rejected_reason = (reason or "") if status == "REJECTED" else ""
        if platform_id and not template.platform_id:
            template.platform_id = str(platform_id)
        template.save(update_fields=["status", "rejected_reason", "platform_id", "updated_at"])
    return template


def apply_platform_category(
    *, platform_id: str, name: str, language: str, new_category: str
) -> MessageTemplate | None:
    """template_category_update: the platform re-categorised the template. Messages already sent keep
    the category they were sent under; the change is recorded."""
    category = new_category.upper()
    if category not in MessageTemplate.Category.values:
        raise ValueError(f"unknown template category from the platform: {new_category!r}")
    with transaction.atomic():
        template = _find(platform_id, name, language)
        if template is None or template.category == category:
            return template
        TemplateEvent.objects.create(
            template=template,
            kind=TemplateEvent.Kind.CATEGORY,
            old=template.category,
            new=category,
            at=timezone.now(),
        )
        template.category = category
        template.save(update_fields=["category", "updated_at"])
    return template
