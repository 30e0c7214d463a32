"""Sending an agent's file (issue 14): the send task uploads it to `POST /{PHONE_NUMBER_ID}/media` and
sends it by the id the platform answers (whatsapp.services.deliver_message calls this, outside any
transaction, after it claimed the message).

An upload is not a message: the customer sees nothing until the send, so an upload whose answer was
lost is simply tried again (unlike a send, which is never posted twice). Once the platform answered an
id, it is kept (conversations.services.attachments.record_upload): a retry of the send — throttled,
the platform unavailable — sends by that id and never uploads again. A refused upload fails the message
with the platform's reason in plain words, like a refused send.
"""

from __future__ import annotations

import logging

from django.utils import timezone

from conversations.limits import OUTBOUND_MEDIA_TYPES
from conversations.models import Message, MessageMedia
from conversations.services import attachments as attachment_services
from whatsapp.client import PlatformError

logger = logging.getLogger(__name__)

# The id an attachment's payload carries until its upload answered one (checked, never posted).
NOT_UPLOADED = "not-uploaded-yet"


class UploadError(PlatformError):
    """The platform did not take the file: the message's failure text says it is about the file."""

    @classmethod
    def of(cls, error: PlatformError) -> UploadError:
        fields = error._fields()
        if error.ambiguous:  # a lost answer to an upload: uploading again sends nothing twice
            fields |= {"ambiguous": False, "retryable": True}
        return cls(**fields)

    def final_text(self, *, retried: bool = False) -> str:
        return "WhatsApp did not take the file. " + super().final_text(retried=retried)


class FileUnavailable(ValueError):
    """The agent's file cannot be read from storage (deleted, the bucket unreachable for good)."""


def file_of(message: Message) -> MessageMedia | None:
    """The agent's file an outbound message sends, or None (a text, a template)."""
    if message.direction != Message.Direction.OUTBOUND or message.wa_type not in OUTBOUND_MEDIA_TYPES:
        return None
    return getattr(message, "media", None)


def media_id_for(message: Message) -> str:
    """The id the payload sends the file by: its upload's, or NOT_UPLOADED before (see `upload`)."""
    media = file_of(message)
    if media is None:
        raise ValueError(f"The {message.wa_type} message has no file to send.")
    if not media.is_stored:
        raise ValueError(
            f"The {message.wa_type}'s file is not stored ({media.get_status_display().lower()})."
        )
    return media.media_id or NOT_UPLOADED


def upload(message: Message, payload: dict, platform) -> dict:
    """`payload` with the id the platform gave the file: uploaded now, or on an earlier attempt (kept).
    Raises UploadError when the platform did not take it."""
    media = file_of(message)
    if media is None or media.media_id:
        return payload
    try:
        with media.file.open("rb") as content:
            media_id = platform.upload_media(
                content, filename=media.filename or message.wa_type, mime_type=media.content_type
            )
    except PlatformError as error:
        raise UploadError.of(error) from error
    except OSError as error:
        raise FileUnavailable(
            f"the file to send is no longer in storage ({type(error).__name__})."
        ) from error
    attachment_services.record_upload(media, media_id=media_id, now=timezone.now())
    logger.info("message %s: file uploaded to WhatsApp as media %s", message.pk, media_id)
    kind = payload["type"]
    return payload | {kind: payload[kind] | {"id": media_id}}
