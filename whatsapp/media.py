"""Fetching a customer's media file from the platform, at once, and keeping it (issue 14).

media id → `GET /{media_id}` (a URL that lives about 5 minutes, the type, sha256 and size) → `GET url`
with the bearer token, streamed into a temporary file and stopped at the kind's limit or the announced
size → the sha256 checked → the bytes recognised (whatsapp.media_types) → stored through Django's storage
API by conversations.services.media. A URL that expired on the way is replaced by a fresh one (by id);
a failure that may pass is retried with the channel's backoff until the media id is gone (about 7 days),
then the thread says plainly the file could not be fetched. A file that fails a check is refused for
good, with the reason. No network call runs inside a transaction.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.files import File
from django.utils import timezone

from conversations.models import MessageMedia
from conversations.services import media as media_services
from whatsapp import media_types
from whatsapp.client import MediaTooLarge, PlatformError
from whatsapp.services import REQUEST_RETRY, backoff, client

logger = logging.getLogger(__name__)

# A download answered with one of these after the platform gave us the URL: the URL expired (it lives
# about 5 minutes); a fresh one is asked for by id, once per attempt.
URL_GONE = frozenset({401, 403, 404, 410})
# The platform no longer knows the media id (deleted, or past its lifetime): the file is gone for good.
MEDIA_ID_GONE = frozenset({404, 410})
# Our access key refused (expired, revoked, missing a permission): an admin can fix it while the media
# id lives, so the file is retried, not given up (whatsapp.errors).
ACCESS_KEY_CODES = frozenset({0, 10, 190, 131005})
MEMORY_SPOOL = 1024 * 1024  # files up to this size stay in memory while they are checked


@dataclass(frozen=True)
class FetchOutcome:
    """What fetch_media did: `retry_in` seconds when a failure may pass and the media id still lives."""

    result: str
    retry_in: float | None = None


def fetch_media(media_pk: int) -> FetchOutcome:
    """Fetch, check and store one pending file; each run is one attempt (claimed: runs once at a time)."""
    now = timezone.now()
    media = media_services.claim_media(media_pk, now=now)
    if media is None:
        return FetchOutcome("not due")
    if now >= media.expires_at:
        media_services.expire_media(media, now=now, reason="the media id's lifetime was over")
        return FetchOutcome("expired")
    limit = media_types.SIZE_LIMITS.get(media.kind, 0)
    with tempfile.SpooledTemporaryFile(max_size=MEMORY_SPOOL) as spool:
        try:
            sha256 = _download(media, spool, limit)
            content_type, size = _check(media, spool, sha256)
        except media_types.Refused as refusal:
            media_services.refuse_media(media, reason=str(refusal), now=timezone.now())
            return FetchOutcome("failed")
        except PlatformError as error:
            return _after_platform_error(media, error)
        spool.seek(0)
        media_services.store_media(
            media, content=File(spool), content_type=content_type, size=size, now=timezone.now()
        )
    logger.info("media %s stored: %s, %d bytes", media.pk, content_type, size)
    return FetchOutcome("stored")


def _download(media: MessageMedia, spool, limit: int) -> str:
    """The file into `spool`, with a fresh URL once if the first one expired. Returns the sha256 the
    platform gave (its answer is fresher than the webhook's)."""
    with client() as platform:
        info = platform.media_info(media.media_id)
        if info.file_size is not None and info.file_size > limit:
            raise media_types.Refused(_too_large(media.kind, info.file_size, limit))
        bound = min(limit, info.file_size) if info.file_size is not None else limit
        try:
            _stream(platform, info.url, spool, bound, media.kind, limit)
        except PlatformError as error:
            if error.http_status not in URL_GONE:
                raise
            logger.info("media %s: the download URL expired; asking for a fresh one", media.pk)
            spool.seek(0)
            spool.truncate()
            info = platform.media_info(media.media_id)
            try:
                _stream(platform, info.url, spool, bound, media.kind, limit)
            except PlatformError as again:
                if again.http_status not in URL_GONE:
                    raise
                # A fresh URL refused too, while the id itself answered: a hiccup, tried again later.
                raise PlatformError(
                    info=again.info, http_status=again.http_status, title=again.title, retryable=True
                ) from again
    return info.sha256 or media.sha256


def _stream(platform, url: str, spool, bound: int, kind: str, limit: int) -> None:
    try:
        platform.download_media(url, spool, max_bytes=bound)
    except MediaTooLarge as error:
        raise media_types.Refused(
            _too_large(kind, error.size, limit)
            if bound == limit
            else "The file is larger than WhatsApp said it was; it was not kept."
        ) from None


def _check(media: MessageMedia, spool, sha256: str) -> tuple[str, int]:
    """The file's content type (what its bytes are) and size, after the platform's hash matched."""
    size = spool.tell()
    spool.seek(0)
    digest = hashlib.sha256()
    head = spool.read(media_types.SNIFF_BYTES)
    digest.update(head)
    while chunk := spool.read(64 * 1024):
        digest.update(chunk)
    if sha256 and not _same_hash(digest.digest(), sha256):
        raise media_types.Refused(
            "The file does not match the fingerprint WhatsApp gave for it (it changed on the way); it was "
            "not kept."
        )
    if size == 0:
        raise media_types.Refused("The file is empty.")
    return media_types.sniff(media.kind, head, media.announced_type), size


def _same_hash(digest: bytes, announced: str) -> bool:
    # The platform writes sha256 in hex (GET /{media_id}) or base64 (webhooks): either must match.
    announced = announced.strip()
    return (
        hmac.compare_digest(announced.lower(), digest.hex())
        or hmac.compare_digest(announced, base64.b64encode(digest).decode())
        or hmac.compare_digest(announced, base64.urlsafe_b64encode(digest).decode())
    )


def _too_large(kind: str, size: int, limit: int) -> str:
    return (
        f"The file is too large to keep: {size / 1024 / 1024:.1f} MB, and a {kind} may be at most "
        f"{limit / 1024 / 1024:g} MB."
    )


def _after_platform_error(media: MessageMedia, error: PlatformError) -> FetchOutcome:
    now = timezone.now()
    if not error.retryable and error.code not in ACCESS_KEY_CODES:
        if error.code == 100 or error.http_status in MEDIA_ID_GONE:
            media_services.expire_media(media, now=now, reason=error.info.reason)
            return FetchOutcome("expired")
        reason = f"WhatsApp refused the download: {error.info.reason}"
        media_services.refuse_media(media, reason=reason, now=now)
        return FetchOutcome("failed")
    delay = fetch_retry_delay(media.attempts)
    retry_at = now + timedelta(seconds=delay)
    if not media_services.retry_media_later(media, reason=error.info.reason, retry_at=retry_at, now=now):
        return FetchOutcome("expired")
    logger.warning("media %s: %s; retry in %s s", media.pk, error, delay)
    return FetchOutcome("retry", retry_in=delay)


def fetch_retry_delay(attempt: int) -> int:
    """Seconds before fetching again after `attempt` tries (the channel's REQUEST_RETRY backoff)."""
    return backoff(attempt, **REQUEST_RETRY)


def requeue_media(*, now: datetime | None = None, limit: int = 500) -> int:
    """Queue the pending files whose retry is due or whose task was lost (beat runs it with the outbox's
    requeue). Safe to overlap with live tasks: the claim lets one of them fetch."""
    from whatsapp.tasks import fetch_media as fetch_task

    due = media_services.due_media(now=now or timezone.now(), limit=limit)
    for media_pk in due:
        fetch_task.delay(media_pk)
    return len(due)
