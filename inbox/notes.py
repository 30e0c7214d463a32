"""Private notes in a customer's thread, @mentions and the notifications they bring (issue 15).

A note is for colleagues only: it is never a Message, never queued, never sent to the platform. `@name`
mentions a colleague by username or, when only one colleague has it, by first name (case aside); each
mentioned colleague but the author gets one in-app notification."""

import re
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction

from accounts import roles
from conversations.models import Customer
from inbox.models import NOTE_MAX_CHARS, Note, Notification

MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9_][\w.\-]*[\w]|[A-Za-z0-9_])")
NOTIFICATIONS_LISTED = 50


class NoteInvalid(ValueError):
    code = "note_invalid"


class NotYourNote(PermissionError):
    pass


def colleagues():
    """Who can be mentioned: active members of the roles (agents, supervisors, admins), by name."""
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=[roles.AGENTS, roles.SUPERVISORS, roles.ADMINS])
        .distinct()
        .order_by("first_name", "username")
    )


def mentioned(body: str, people) -> list:
    """The colleagues `body` mentions, each once, in the order mentioned: by username, else by a first
    name only one of them has (an ambiguous first name mentions nobody: the autocomplete offers usernames)."""
    by_username = {person.get_username().lower(): person for person in people}
    by_first: dict[str, list] = {}
    for person in people:
        if person.first_name:
            by_first.setdefault(person.first_name.lower(), []).append(person)
    found: dict[int, object] = {}
    for match in MENTION.finditer(body):
        word = match.group(1).lower()
        person = by_username.get(word)
        if person is None and len(by_first.get(word, [])) == 1:
            person = by_first[word][0]
        if person is not None:
            found.setdefault(person.pk, person)
    return list(found.values())


def add_note(*, customer: Customer, author, body: str, now: datetime) -> Note:
    """Write a note in `customer`'s thread as `author` at `now`, and notify whom it mentions. Nothing is
    sent to the customer."""
    text = (body or "").strip()
    if not text:
        raise NoteInvalid("The note is empty: write something for your colleagues.")
    if len(text) > NOTE_MAX_CHARS:
        raise NoteInvalid(f"The note is too long: at most {NOTE_MAX_CHARS} characters ({len(text)} now).")
    people = [person for person in mentioned(text, list(colleagues())) if person.pk != author.pk]
    with transaction.atomic():
        note = Note.objects.create(customer=customer, author=author, body=text, created_at=now)
        Notification.objects.bulk_create(
            [Notification(user=person, customer=customer, note=note, created_at=now) for person in people]
        )
    return note


def delete_note(*, note: Note, user) -> None:
    """Only its author deletes a note (their notifications go with it); nobody edits one."""
    if note.author_id != user.pk:
        raise NotYourNote("Only the author of a note can delete it.")
    note.delete()


def unread_count(user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notifications_of(user, limit: int = NOTIFICATIONS_LISTED):
    return (
        Notification.objects.filter(user=user)
        .select_related("customer", "note", "note__author")
        .order_by("-created_at", "-pk")[:limit]
    )


def open_notification(*, notification: Notification, now: datetime) -> Notification:
    """The user opened it: read from `now` (once: reading it again keeps the first time)."""
    Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=now)
    notification.refresh_from_db(fields=["read_at"])
    return notification


def notes_between(customer: Customer, *, after: datetime | None, before: datetime | None, limit: int = 200):
    """The customer's notes from `after` (inclusive) to `before` (exclusive), oldest first: one query."""
    notes = Note.objects.filter(customer=customer).select_related("author")
    if after is not None:
        notes = notes.filter(created_at__gte=after)
    if before is not None:
        notes = notes.filter(created_at__lt=before)
    return list(notes.order_by("-created_at", "-pk")[:limit])[::-1]
