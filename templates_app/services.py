"""Writes to the template catalogue. The platform is the authority on a template's status and category:
webhooks (apply_platform_status / apply_platform_category) and syncs (sync_templates) bring its word;
local edits (save_template, import_templates) make a template PENDING until the platform approves it."""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from templates_app import platform, statuses, validation
from templates_app.models import MessageTemplate, TemplateEvent

logger = logging.getLogger(__name__)

# Platform webhook events that name the status the template is in afterwards, where they differ.
EVENT_STATUS = {"REINSTATED": "APPROVED"}


def _find(platform_id: str, name: str, language: str) -> MessageTemplate | None:
    found = None
    if platform_id:
        found = MessageTemplate.objects.select_for_update().filter(platform_id=str(platform_id)).first()
    if found is None and name and language:
        # Some webhooks write the language with a dash ("en-US") where listings write "en_US".
        spellings = {language, language.replace("-", "_")}
        found = MessageTemplate.objects.select_for_update().filter(name=name, language__in=spellings).first()
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


def apply_platform_quality(
    *, platform_id: str, name: str, language: str, previous_score: str, new_score: str
) -> MessageTemplate | None:
    """message_template_quality_update: the platform rated the template's quality (GREEN, YELLOW, RED,
    UNKNOWN). Recorded in its history; a low rating warns that a pause may follow, and the pause itself
    arrives as a status update."""
    with transaction.atomic():
        template = _find(platform_id, name, language)
        if template is None:
            return None
        latest = template.events.filter(kind=TemplateEvent.Kind.QUALITY).values_list("new", flat=True).first()
        if latest == new_score.upper():
            return template
        TemplateEvent.objects.create(
            template=template,
            kind=TemplateEvent.Kind.QUALITY,
            old=(previous_score or latest or "").upper()[:64],
            new=new_score.upper()[:64],
            at=timezone.now(),
        )
    return template


# --- Local edits: the admin and imports -------------------------------------------------------------------

LOCAL = "local"
IMPORT = "import"
SYNC = "sync"


def _who(actor) -> str:
    return getattr(actor, "username", "") or "someone"


def _reviewed(template: MessageTemplate) -> dict:
    return {field: getattr(template, field) for field in statuses.REVIEWED_FIELDS}


def _edit(stored: MessageTemplate, values: dict, *, now, reason: str, source: str) -> list[str]:
    """Apply a local change of the reviewed fields to a locked, stored template. What WhatsApp approved
    (or refused) is no longer this content, so the status goes back to PENDING (recorded), and a category
    change is recorded as such: messages already sent keep theirs (Message.template_category)."""
    changed = statuses.changed_fields(_reviewed(stored), values)
    if not changed:
        return []
    events = []
    if "category" in changed:
        events.append(
            TemplateEvent(kind=TemplateEvent.Kind.CATEGORY, old=stored.category, new=values["category"])
        )
    events.append(TemplateEvent(kind=TemplateEvent.Kind.EDIT, new=", ".join(changed)[:64]))
    reset = statuses.status_after_local_edit(stored.status, changed)
    if reset:
        events.append(TemplateEvent(kind=TemplateEvent.Kind.STATUS, old=stored.status, new=reset))
        stored.status, stored.rejected_reason = reset, ""
    for field in changed:
        setattr(stored, field, values[field])
    stored.save(update_fields=[*changed, "status", "rejected_reason", "updated_at"])
    for event in events:
        event.template, event.at, event.source, event.reason = stored, now, source, reason[:256]
    TemplateEvent.objects.bulk_create(events)
    return changed


def _create(template: MessageTemplate, *, now, reason: str, source: str) -> MessageTemplate:
    """A template made here starts PENDING and unknown to the platform: only the platform approves."""
    template.status, template.rejected_reason, template.platform_id = statuses.PENDING, "", ""
    template.last_synced_at = None
    template.save()
    TemplateEvent.objects.create(
        template=template,
        kind=TemplateEvent.Kind.EDIT,
        new="created",
        reason=reason[:256],
        source=source,
        at=now,
    )
    return template


def save_template(*, template: MessageTemplate, actor=None) -> MessageTemplate:
    """The admin's add or change of an already validated template (MessageTemplate.clean). Status,
    rejection reason, platform id and last sync are the platform's: never taken from the form."""
    now = timezone.now()
    with transaction.atomic():
        if template.pk is None:
            return _create(template, now=now, reason=f"added in the admin by {_who(actor)}", source=LOCAL)
        stored = MessageTemplate.objects.select_for_update().get(pk=template.pk)
        reason = f"edited in the admin by {_who(actor)}"
        if stored.status != statuses.PENDING:
            reason += ": WhatsApp must approve the new version before it can be sent"
        _edit(stored, _reviewed(template), now=now, reason=reason, source=LOCAL)
    template.status, template.rejected_reason = stored.status, stored.rejected_reason
    return stored


# --- Submission to the platform -----------------------------------------------------------------------

GONE_AT_PLATFORM = ("DELETED", "PENDING_DELETION", "ARCHIVED")


class NotSubmittable(ValueError):
    """The template cannot go to WhatsApp as it is; the message says why, in plain words."""


def submission(template: MessageTemplate) -> dict:
    """The body of `POST /{WABA_ID}/message_templates` for `template`, in the platform's shape."""
    return {
        "name": template.name,
        "language": template.language,
        "category": template.category,
        "parameter_format": template.parameter_format,
        "components": template.components,
    }


def submit_template(*, template: MessageTemplate, client, waba_id: str, actor=None) -> MessageTemplate:
    """Send a template to WhatsApp for review: a new one is created there (and gets its platform id), one
    the platform knows is edited (its new version reviewed again). Either way it is PENDING until the
    platform's status webhook (or a sync) says APPROVED or REJECTED. Raises NotSubmittable before any
    request when the template breaks the platform's rules or was deleted there, and PlatformError when
    the platform refuses it: nothing changes here then. The request is made outside any transaction."""
    if template.status.upper() in GONE_AT_PLATFORM:
        raise NotSubmittable(
            f"“{template}” was deleted at WhatsApp ({template.status}): it cannot be submitted again. "
            "Create a new template (a new name) instead."
        )
    # Always the creation rules: what goes to review must pass them, even a template the platform listed
    # as it is (a carousel, a legacy body): WhatsApp judges a submission by today's rules.
    broken = validation.template_errors(template.draft)
    if broken:
        problems = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in broken.items())
        raise NotSubmittable(f"“{template}” breaks the platform's rules: {problems}")
    if template.platform_id:
        changes = {"category": template.category, "components": template.components}
        client.edit_template(template.platform_id, changes)
        answer = {"id": template.platform_id, "status": statuses.PENDING}
    else:
        answer = client.create_template(waba_id, submission(template))
    now = timezone.now()
    reason = f"submitted to WhatsApp by {_who(actor)}"
    with transaction.atomic():
        stored = MessageTemplate.objects.select_for_update().get(pk=template.pk)
        status = str(answer.get("status") or statuses.PENDING).upper()
        category = str(answer.get("category") or stored.category).upper()
        events = [TemplateEvent(kind=TemplateEvent.Kind.EDIT, new="submitted to WhatsApp")]
        if stored.status != status:
            events.append(TemplateEvent(kind=TemplateEvent.Kind.STATUS, old=stored.status, new=status))
        if category != stored.category and category in MessageTemplate.Category.values:
            # The platform may file it under another category than the one asked for.
            events.append(TemplateEvent(kind=TemplateEvent.Kind.CATEGORY, old=stored.category, new=category))
            stored.category = category
        stored.platform_id, stored.status, stored.rejected_reason = str(answer["id"]), status, ""
        stored.save(update_fields=["platform_id", "status", "rejected_reason", "category", "updated_at"])
        for event in events:
            event.template, event.at, event.source, event.reason = stored, now, LOCAL, reason
        TemplateEvent.objects.bulk_create(events)
    logger.info("template %s submitted to WhatsApp as %s (%s)", stored, stored.platform_id, stored.status)
    return stored


# --- Sync with the platform ------------------------------------------------------------------------------

DELETED = "DELETED"

# progress(stage, done, total): stage "fetch" (total unknown: the platform does not say how many pages
# follow) then "apply" (total known).
Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class SyncReport:
    """Templates by what the sync did, each as "name (language)"."""

    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed_at_platform: tuple[str, ...] = ()  # here with a platform id, no longer listed: marked DELETED
    skipped: tuple[str, ...] = ()  # listed items we could not take, with the reason

    @property
    def summary(self) -> str:
        text = (
            f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.removed_at_platform)} removed at the platform"
        )
        return f"{text}, {len(self.skipped)} skipped" if self.skipped else text


def sync_templates(*, client, waba_id: str, progress: Progress | None = None) -> SyncReport:
    """Make the local catalogue what the platform lists: fetch every page (`client.list_templates`
    follows paging.next), then create or update each template by platform id, else by (name, language),
    recording status, category and content changes as TemplateEvents (source "sync"). A template we hold
    with a platform id that is no longer listed is marked DELETED (never removed: sent messages keep
    pointing at it). Templates made here and never seen by the platform are left alone.

    Every page is fetched before anything is written (no network call inside the transaction, and a
    failed fetch changes nothing: removals are only decided on a complete listing)."""
    items = []
    for item in client.list_templates(waba_id):
        items.append(item)
        if progress:
            progress("fetch", len(items), None)
    return _apply_listing(items, now=timezone.now(), progress=progress)


def _apply_listing(items: list, *, now, progress: Progress | None) -> SyncReport:
    created, updated, unchanged, removed, skipped = [], [], [], [], []
    unchanged_pks = []
    with transaction.atomic():
        local = list(MessageTemplate.objects.select_for_update().order_by("pk"))
        by_id = {t.platform_id: t for t in local if t.platform_id}
        by_key = {(t.name, t.language): t for t in local}
        seen: set[int] = set()
        for index, item in enumerate(items, start=1):
            if progress:
                progress("apply", index, len(items))
            try:
                remote = platform.parse(item)
            except platform.ShapeError as error:
                skipped.append(f"item {index}: {error}")
                continue
            template = by_id.get(remote.platform_id) or by_key.get(remote.key)
            holder = by_key.get(remote.key)
            problem = _unusable(remote)  # the lenient rules: the platform accepted everything else
            if template is not None and template.pk in seen:
                problem = "listed twice by the platform"
            elif template is not None and holder is not None and holder.pk != template.pk:
                problem = "that name and language belong to another template here"
            if problem:
                skipped.append(f"{remote.label}: {problem}")
                if template is not None:
                    seen.add(template.pk)  # listed by the platform, so not removed there
                continue
            if template is None:
                template = _create_from_platform(remote, now=now)
                by_key[remote.key] = template
                created.append(remote.label)
            elif _update_from_platform(template, remote, now=now):
                updated.append(remote.label)
            else:
                unchanged.append(remote.label)
                unchanged_pks.append(template.pk)
            seen.add(template.pk)
        for template in local:
            if template.platform_id and template.pk not in seen:
                removed.append(str(template))
                _mark_removed(template, now=now)
        MessageTemplate.objects.filter(pk__in=unchanged_pks).update(last_synced_at=now)
    return SyncReport(*(tuple(x) for x in (created, updated, unchanged, removed, skipped)))


def _draft(remote: platform.PlatformTemplate) -> validation.Draft:
    return validation.Draft(
        remote.name, remote.language, remote.category, remote.parameter_format, remote.components
    )


def _unusable(remote: platform.PlatformTemplate) -> str | None:
    errors = validation.listing_errors(_draft(remote))
    return "; ".join(message for messages in errors.values() for message in messages) or None


def _found_reason(remote: platform.PlatformTemplate) -> str:
    reason = f"found at the platform, {remote.status}"
    if remote.listed_category != remote.category:
        reason += f", listed under its former category {remote.listed_category}"
    return reason


def _create_from_platform(remote: platform.PlatformTemplate, *, now) -> MessageTemplate:
    template = MessageTemplate.objects.create(
        name=remote.name,
        language=remote.language,
        category=remote.category,
        status=remote.status,
        parameter_format=remote.parameter_format,
        components=remote.components,
        platform_id=remote.platform_id,
        rejected_reason=remote.rejected_reason[:256],
        last_synced_at=now,
    )
    TemplateEvent.objects.create(
        template=template,
        kind=TemplateEvent.Kind.EDIT,
        new="created",
        reason=_found_reason(remote)[:256],
        source=SYNC,
        at=now,
    )
    return template


def _update_from_platform(template: MessageTemplate, remote: platform.PlatformTemplate, *, now) -> bool:
    """The platform's version wins: a local edit not made at the platform is replaced (and recorded)."""
    events = []
    if template.status != remote.status:
        events.append(
            TemplateEvent(
                kind=TemplateEvent.Kind.STATUS,
                old=template.status,
                new=remote.status,
                reason=remote.rejected_reason,
            )
        )
    if template.category != remote.category:
        events.append(
            TemplateEvent(kind=TemplateEvent.Kind.CATEGORY, old=template.category, new=remote.category)
        )
    content = [
        f
        for f in ("name", "language", "parameter_format", "components")
        if getattr(template, f) != getattr(remote, f)
    ]
    if content:
        events.append(
            TemplateEvent(
                kind=TemplateEvent.Kind.EDIT,
                new=", ".join(content),
                reason="replaced by the platform's version",
            )
        )
    linked = template.platform_id != remote.platform_id
    if linked and not content:
        events.append(
            TemplateEvent(
                kind=TemplateEvent.Kind.EDIT, new="platform id", reason=f"linked to {remote.platform_id}"
            )
        )
    if not events and template.rejected_reason == remote.rejected_reason[:256]:
        return False
    for field in ("name", "language", "category", "status", "parameter_format", "components", "platform_id"):
        setattr(template, field, getattr(remote, field))
    template.rejected_reason = remote.rejected_reason[:256]
    template.last_synced_at = now
    template.save()
    for event in events:
        event.template, event.at, event.source = template, now, SYNC
    TemplateEvent.objects.bulk_create(events)
    return True


def _mark_removed(template: MessageTemplate, *, now) -> None:
    if template.status == DELETED:
        return
    TemplateEvent.objects.create(
        template=template,
        kind=TemplateEvent.Kind.STATUS,
        old=template.status,
        new=DELETED,
        reason="no longer listed by the platform",
        source=SYNC,
        at=now,
    )
    template.status, template.rejected_reason = DELETED, ""
    template.save(update_fields=["status", "rejected_reason", "updated_at"])


# --- Import and export: the platform's own JSON shape -----------------------------------------------------


def export_templates(queryset=None) -> list[dict]:
    """The catalogue (or `queryset`) as the platform's objects, in a stable order for diffs and reviews."""
    queryset = MessageTemplate.objects.all() if queryset is None else queryset
    return [
        platform.export_entry(
            name=t.name,
            language=t.language,
            category=t.category,
            status=t.status,
            parameter_format=t.parameter_format,
            components=t.components,
        )
        for t in queryset.order_by("name", "language")
    ]


def export_json(queryset=None) -> str:
    return json.dumps(export_templates(queryset), indent=2, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class ImportReport:
    """What an import did (or, refused or dry run, would have done). All or nothing: when any entry is
    refused, nothing is written, and `refused` says why for each, by field."""

    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    refused: tuple[tuple[str, dict[str, list[str]]], ...] = ()
    applied: bool = False

    @property
    def summary(self) -> str:
        counts = f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged"
        if self.refused:
            return f"nothing imported: {len(self.refused)} refused (would have been {counts})"
        return counts if self.applied else f"check only, nothing imported: would be {counts}"


def import_templates(document: object, *, actor=None, dry_run: bool = False) -> ImportReport:
    """Import templates in the platform's shape (a list, or a listing page `{"data": [...]}`), matched
    by (name, language). Duplicates in the file are refused, and each entry is checked with one of the
    two levels of rules (templates_app.validation):
    - the creation rules, for an entry that is new or changed here *and* that the platform has never
      seen (no platform id, no status or PENDING): a draft written by hand or exported from another
      environment before its review;
    - the lenient rules, for an entry the platform has taken (it has an id, or a status only the platform
      gives: APPROVED, PAUSED, REJECTED…, as in a listing saved from the API or an export of a synced
      catalogue), and for one that changes nothing here: the platform accepted it, whatever its kind
      (carousel, limited-time offer, catalogue buttons…) or age (a body that ends with a placeholder).

    All or nothing, so an environment never holds half a catalogue. An import is a local edit: a new
    template starts PENDING and a changed one goes back to PENDING, whatever `status` the file says (a
    file cannot approve a template; sync to learn what the platform decided). Unchanged ones keep
    their status. Recorded as TemplateEvents with source "import"."""
    try:
        items = platform.entries(document)
    except platform.ShapeError as error:
        return ImportReport(refused=(("the file", {"file": [str(error)]}),))
    refused, parsed = [], []
    for index, item in enumerate(items, start=1):
        try:
            parsed.append((index, platform.parse(item)))
        except platform.ShapeError as error:
            refused.append((index, f"item {index}", {"file": [str(error)]}))
    now = timezone.now()
    created, updated, unchanged, accepted, first_seen = [], [], [], [], {}
    with transaction.atomic():
        keys = Q()
        for _, entry in parsed:
            keys |= Q(name=entry.name, language=entry.language)
        existing = (
            {(t.name, t.language): t for t in MessageTemplate.objects.select_for_update().filter(keys)}
            if parsed
            else {}
        )
        for index, entry in parsed:
            values = {
                "name": entry.name,
                "language": entry.language,
                "category": entry.category,
                "parameter_format": entry.parameter_format,
                "components": entry.components,
            }
            stored = existing.get(entry.key)
            changes = statuses.changed_fields(_reviewed(stored), values) if stored is not None else []
            errors = _import_errors(entry, edits=stored is None or bool(changes))
            if entry.key in first_seen:
                errors.setdefault("name", []).append(
                    f"also in the file as item {first_seen[entry.key]}: keep one"
                )
            first_seen.setdefault(entry.key, index)
            if errors:
                refused.append((index, f"item {index} ({entry.label})", errors))
                continue
            accepted.append((entry, values, stored, changes))
        write = not refused and not dry_run
        for entry, values, stored, changes in accepted:
            reason = f"imported from a file by {_who(actor)}"
            if entry.seen_by_platform:
                reason += f"; the file has it {entry.status} at WhatsApp: sync to bring WhatsApp's status"
            if stored is None:
                created.append(entry.label)
                if write:
                    _create(MessageTemplate(**values), now=now, reason=reason, source=IMPORT)
            elif changes:
                updated.append(entry.label)
                if write:
                    _edit(stored, values, now=now, reason=reason, source=IMPORT)
            else:
                unchanged.append(entry.label)
    return ImportReport(
        created=tuple(created),
        updated=tuple(updated),
        unchanged=tuple(unchanged),
        refused=tuple((label, errors) for _, label, errors in sorted(refused, key=lambda r: r[0])),
        applied=not refused and not dry_run,
    )


def _import_errors(entry: platform.PlatformTemplate, *, edits: bool) -> dict[str, list[str]]:
    """The creation rules for a draft the platform has never seen that adds or changes a template here
    (kinds they cannot check aside); otherwise the lenient rules (it is what the platform holds, or it
    changes nothing)."""
    if edits and not entry.seen_by_platform:
        # The file may describe a carousel or a catalogue template made in WhatsApp Manager: what these
        # rules cannot check is let through (and the inbox will say it cannot send it), not refused.
        return validation.template_errors(_draft(entry), allow_unchecked_kinds=True)
    return validation.listing_errors(_draft(entry))
