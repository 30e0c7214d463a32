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

SWEEP_BATCH_SIZE = 5000


def expire_due_conversations(*, now: datetime | None = None, batch_size: int = SWEEP_BATCH_SIZE) -> int:
    """Mark open conversations whose expires_at has passed as expired; return how many were marked.

    Tidying only: R8 reads never wait for it. Idempotent, and safe when two sweeps run at once: each
    batch is one UPDATE of the rows its subquery locks with SKIP LOCKED (a row another sweep holds is
    left to it), so every row is written once and counted once. What it marks is what
    selectors.due_to_expire lists (the command's dry run).
    """
    now = selectors.resolve_now(now)
    marked = 0
    while True:
        with transaction.atomic():
            batch = (
                selectors.due_to_expire(now)
                .order_by()
                .select_for_update(skip_locked=True)
                .values("pk")[:batch_size]
            )
            count = Conversation.objects.filter(pk__in=batch).update(
                status=Conversation.Status.EXPIRED, status_changed_at=now
            )
        marked += count
        if count < batch_size:
            break
    if marked:
        logger.info("marked %d conversation(s) expired as of %s", marked, now.isoformat())
    return marked
