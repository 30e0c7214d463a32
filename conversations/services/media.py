"""The files of customers' media messages: expected when the message is recorded, then stored, retried,
refused or given up on as the channel's fetch reports (whatsapp.media does the network part).

A file is fetched by a task queued after commit; the message never waits for it. A fetch claims the row
by moving `next_attempt_at` on by FETCH_LEASE (one worker at a time; a worker that died leaves the claim
to run out), and the sweep (`due_media`) re-queues pending files whose task was lost or whose retry is due.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import partial

from celery import signature
from django.core.files import File
from django.db import transaction
from django.db.models import F, Q

from conversations import policy
from conversations.limits import MEDIA_ID_LIFETIME_DAYS, MEDIA_TYPES
from conversations.models import Message, MessageMedia

logger = logging.getLogger(__name__)

# The channel's task that fetches a file (whatsapp.tasks.fetch_media), named: the domain never imports it.
FETCH_MEDIA_TASK = "whatsapp.fetch_media"
# How long one fetch may hold a file before the sweep may hand it to another worker.
FETCH_LEASE = timedelta(minutes=10)
# A pending file with no retry planned and this old lost its task (e.g. the broker was down at commit).
PENDING_GRACE = timedelta(seconds=60)
EXPIRED_TEXT = (
    "The file could not be fetched from WhatsApp before it was deleted there (media is kept for about "
    "7 days). Ask the customer to send it again."
)


def expect_media(message: Message, *, now: datetime) -> MessageMedia | None:
    """Inside the transaction that records a customer's media message: the row of its file, pending, and
    the fetch queued after commit. None for a message without a media id."""
    media = (message.details or {}).get("media") if isinstance(message.details, Mapping) else None
    if message.wa_type not in MEDIA_TYPES or not isinstance(media, Mapping) or not media.get("id"):
        return None
    size = media.get("file_size")
    row = MessageMedia.objects.create(
        message=message,
        kind=message.wa_type,
        media_id=str(media["id"])[:256],
        announced_type=str(media.get("mime_type") or "")[:128],
        sha256=str(media.get("sha256") or "")[:128],
        announced_size=size if isinstance(size, int) and size >= 0 else None,
        filename=str(media.get("filename") or "")[:255],
        received_at=message.occurred_at,
        expires_at=message.occurred_at + timedelta(days=MEDIA_ID_LIFETIME_DAYS),
        status_changed_at=now,
    )
    transaction.on_commit(partial(_dispatch_fetch, row.pk), robust=True)
    return row


def _dispatch_fetch(media_pk: int) -> None:
    # A signature by name runs the registered task (eagerly too, under CELERY_TASK_ALWAYS_EAGER).
    signature(FETCH_MEDIA_TASK, args=(media_pk,)).apply_async()


def claim_media(media_pk: int, *, now: datetime) -> MessageMedia | None:
    """The pending file to fetch now, claimed for FETCH_LEASE (one attempt more); None when it is not
    pending, or another fetch holds it, or its retry is not due yet."""
    policy.require_aware(now, "now")
    claimed = (
        MessageMedia.objects.filter(pk=media_pk, status=MessageMedia.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(next_attempt_at=now + FETCH_LEASE, attempts=F("attempts") + 1)
    )
    return MessageMedia.objects.get(pk=media_pk) if claimed else None


def store_media(media: MessageMedia, *, content: File, content_type: str, size: int, now: datetime) -> None:
    """The fetched file, checked, into storage (outside any transaction: a slow bucket holds no lock)."""
    media.file.save(media.kind, content, save=False)  # named by MessageMedia's upload_to, never by us
    updated = MessageMedia.objects.filter(pk=media.pk, status=MessageMedia.Status.PENDING).update(
        status=MessageMedia.Status.STORED,
        file=media.file.name,
        content_type=content_type,
        size=size,
        fetched_at=now,
        status_changed_at=now,
        next_attempt_at=None,
        error="",
    )
    if not updated:  # settled meanwhile (a second fetch after a lease ran out): keep one copy
        media.file.delete(save=False)


def retry_media_later(media: MessageMedia, *, reason: str, retry_at: datetime, now: datetime) -> bool:
    """A failure that may pass: try again at `retry_at`, unless the media id is gone by then (expired,
    said plainly in the thread). Returns whether a retry was planned."""
    if retry_at >= media.expires_at:
        expire_media(media, now=now, reason=reason)
        return False
    MessageMedia.objects.filter(pk=media.pk, status=MessageMedia.Status.PENDING).update(
        next_attempt_at=retry_at, error=f"Retrying: {reason}"
    )
    return True


def expire_media(media: MessageMedia, *, now: datetime, reason: str = "") -> None:
    _settle(media, MessageMedia.Status.EXPIRED, EXPIRED_TEXT, now=now)
    logger.warning("media %s expired before it could be fetched (%s)", media.pk, reason or "no reason")


def refuse_media(media: MessageMedia, *, reason: str, now: datetime) -> None:
    """A file that must never be kept (its hash does not match, it is too large, it is not what it says):
    failed for good, with the reason in plain words."""
    _settle(media, MessageMedia.Status.FAILED, reason, now=now)
    logger.warning("media %s refused: %s", media.pk, reason)


def _settle(media: MessageMedia, status: str, error: str, *, now: datetime) -> None:
    MessageMedia.objects.filter(pk=media.pk, status=MessageMedia.Status.PENDING).update(
        status=status, error=error, status_changed_at=now, next_attempt_at=None
    )


def due_media(*, now: datetime, limit: int = 500) -> list[int]:
    """Pending files to (re)queue: a retry due, a lease run out, or a task lost at commit time."""
    policy.require_aware(now, "now")
    return list(
        MessageMedia.objects.filter(status=MessageMedia.Status.PENDING)
        .filter(
            Q(next_attempt_at__lte=now)
            | Q(next_attempt_at__isnull=True, status_changed_at__lte=now - PENDING_GRACE)
        )
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
