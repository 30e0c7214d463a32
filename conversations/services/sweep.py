"""The expiry sweep (R8): tidying only. Reads compare `expires_at` with now and never wait for it; the
sweep marks ended conversations `expired` so that lists, reports and live pages see the change. Run by
Celery beat (conversations.tasks) and by `manage.py expire_conversations`."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction

from conversations import selectors
from conversations.models import Conversation

logger = logging.getLogger(__name__)

SWEEP_BATCH_SIZE = 1000


def expire_due_conversations(*, now: datetime | None = None, batch_size: int = SWEEP_BATCH_SIZE) -> int:
    """Mark open conversations whose expires_at has passed as expired; return how many were marked.

    Tidying only: R8 reads never wait for it. Idempotent, and safe when two sweeps run at once: each
    batch locks its rows with SKIP LOCKED and the update re-checks the status, so a row is counted once.
    What it marks is what selectors.due_to_expire lists (the command's dry run).
    """
    now = selectors.resolve_now(now)
    marked = 0
    while True:
        with transaction.atomic():
            due = list(
                selectors.due_to_expire(now)
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:batch_size]
            )
            if not due:
                break
            marked += Conversation.objects.filter(pk__in=due, status=Conversation.Status.OPEN).update(
                status=Conversation.Status.EXPIRED, status_changed_at=now
            )
        if len(due) < batch_size:
            break
    if marked:
        logger.info("marked %d conversation(s) expired as of %s", marked, now.isoformat())
    return marked
