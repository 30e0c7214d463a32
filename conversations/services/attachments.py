"""Files agents send (issue 14): a photo, a video, a recording or a document, with an optional caption.

An attachment is a free-form message (R2, R4, R6 decide it exactly as they decide a text, under the
customer's lock): `send_attachment` stores the file through Django's storage API before the decision (a
slow bucket holds no lock), records the message (queued, `wa_type` the kind of file, `body` the caption
or a line naming the file) and its MessageMedia row in one transaction, and hands the message to the
channel's send task after commit, like send_text. The channel uploads the file to the platform and sends
it by the media id it gets (whatsapp.attachments); nothing here talks to the platform.

What the file is (its type from its bytes, the platform's size limits) is the caller's to establish
before calling: the channel's whatsapp.media_types.check_outbound, which the inbox runs on every upload.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.core.files import File
from django.db import transaction

from conversations import policy, selectors
from conversations.exceptions import InvalidMessage
from conversations.limits import (
    CAPTION_MAX_CHARS,
    CAPTIONED_MEDIA_TYPES,
    OUTBOUND_MEDIA_TYPES,
    UPLOADED_MEDIA_LIFETIME_DAYS,
)
from conversations.models import Customer, Message, MessageMedia
from conversations.services.outbound import Prepare, _replying, _send

logger = logging.getLogger(__name__)

FILENAME_MAX_CHARS = 255


def send_attachment(
    *,
    customer: Customer,
    content: File,
    filename: str,
    kind: str,
    content_type: str,
    size: int,
    caption: str = "",
    reply_to: Message | int | None = None,
    agent=None,
    client_token=None,
    now: datetime | None = None,
) -> Message:
    """Queue a file of message type `kind` (image, video, audio or document) whose bytes were checked to
    be `content_type`, `size` bytes long, named `filename` (shown to the customer for a document), with
    `caption` (none on a recording: InvalidMessage). R2: refused with WindowClosed outside the customer
    service window, keeping nothing. R4/R6: opens or joins a conversation like any free-form message.
    `reply_to` quotes a message of the thread, as send_text's does. `client_token` makes a repeat of the
    same compose form return the first message; `now` as send_text."""
    name = _clean_filename(filename, kind)
    prepare = _attachment(kind, caption or "", name)
    if reply_to is not None:
        prepare = _replying(prepare, reply_to)
    pending = MessageMedia(
        kind=kind,
        filename=name,
        content_type=content_type,
        size=size,
        received_at=selectors.resolve_now(now),  # for the storage path only: the row takes the message's
        status=MessageMedia.Status.STORED,
    )
    pending.file.save(kind, content, save=False)  # named by MessageMedia's upload_to, never by the agent
    try:
        with transaction.atomic():
            message = _send(customer, prepare, agent=agent, client_token=client_token, now=now)
            if MessageMedia.objects.filter(message=message).exists():
                # A repeat of a form that was sent already (a double click): its file is kept once.
                pending.file.delete(save=False)
                return message
            _record_file(pending, message)
    except BaseException:
        pending.file.delete(save=False)  # refused (the window closed…) or failed: nothing is kept
        raise
    logger.info("attachment of message %s stored: %s, %d bytes", message.pk, content_type, size)
    return message


# How the customer list and quotes name a file sent without a caption (as customers' files are named).
LABELS = {"image": "[Image]", "video": "[Video]", "audio": "[Audio]", "document": "[Document]"}


def _attachment(kind: str, caption: str, filename: str) -> Prepare:
    if kind not in OUTBOUND_MEDIA_TYPES:
        raise InvalidMessage(f"A {kind} cannot be sent as an attachment.")
    if caption.strip() and kind not in CAPTIONED_MEDIA_TYPES:
        raise InvalidMessage(
            "WhatsApp sends a recording without a caption: remove the text to send the recording alone, "
            "then send the text as its own message."
        )
    if len(caption) > CAPTION_MAX_CHARS:
        raise InvalidMessage(
            f"The caption is {len(caption)} characters long; WhatsApp allows {CAPTION_MAX_CHARS} with a file."
        )
    caption = caption if caption.strip() else ""
    # The body is the caption; without one, a line naming the file (the list previews the body). The
    # caption itself is kept apart, as a customer's is (details.media), for the thread and the send.
    label = f"{LABELS[kind]} {filename}" if kind == "document" else LABELS[kind]
    fields = {
        "kind": Message.Kind.FREE_FORM,
        "wa_type": kind,
        "body": caption or label,
        "details": {"media": {"caption": caption, "filename": filename}},
    }
    return lambda customer, now: (policy.Outbound.free_form(), dict(fields))


def _record_file(pending: MessageMedia, message: Message) -> None:
    """The file's row, with its message, in the send's transaction (stored already: nothing to fetch)."""
    pending.message = message
    pending.received_at = message.occurred_at
    pending.expires_at = message.occurred_at + timedelta(days=UPLOADED_MEDIA_LIFETIME_DAYS)
    pending.status_changed_at = message.occurred_at
    pending.save(force_insert=True)


def _clean_filename(filename: str, kind: str) -> str:
    """The name the agent's file had, as the customer will see it: no folders, no control characters."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if len(name) > FILENAME_MAX_CHARS:
        stem, dot, extension = name.rpartition(".")
        name = (stem[: FILENAME_MAX_CHARS - len(extension) - 1] + dot + extension) if dot else name
        name = name[:FILENAME_MAX_CHARS]
    return name or kind


def record_upload(media: MessageMedia, *, media_id: str, now: datetime) -> None:
    """The platform took an agent's file under `media_id` (the channel's upload, outside any transaction):
    kept, so that a retry of the send sends it by this id and never uploads it again."""
    policy.require_aware(now, "now")
    MessageMedia.objects.filter(pk=media.pk).update(
        media_id=media_id[:256],
        uploaded_at=now,
        expires_at=now + timedelta(days=UPLOADED_MEDIA_LIFETIME_DAYS),
    )
    media.media_id, media.uploaded_at = media_id[:256], now
