"""The expiry sweep (R8): tidying only. Reads compare `expires_at` with now and never wait for it; the
sweep marks ended conversations `expired` so that lists, reports and live pages see the change. Run by
Celery beat (conversations.tasks) and by `manage.py expire_conversations`."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F, Lookup, Q, QuerySet, Subquery

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
            count = Conversation.objects.filter(_in_batch(batch)).update(
                status=Conversation.Status.EXPIRED, status_changed_at=now
            )
        marked += count
        if count < batch_size:
            break
    if marked:
        logger.info("marked %d conversation(s) expired as of %s", marked, now.isoformat())
    return marked


class _AnyOf(Lookup):
    """`lhs = ANY(ARRAY(<subquery>))` (PostgreSQL): the subquery runs once, as an InitPlan, and its ids
    are then read by the primary key. Used as an expression, never registered on a field."""

    lookup_name = "any_of"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = compiler.compile(self.rhs)  # "(SELECT …)"
        return f"{lhs} = ANY(ARRAY{rhs})", (*lhs_params, *rhs_params)


def _in_batch(batch: QuerySet) -> Q | _AnyOf:
    """The rows of one batch. On PostgreSQL `id = ANY(ARRAY(<batch>))`: the batch's ids are gathered once
    and the UPDATE reaches exactly those rows by the primary key. With `id IN (<batch>)` the planner may
    hash-join the whole table against the batch, one full scan per batch: at 100,000 due conversations
    that was a sixth of the sweep (scripts/benchmark_channel.py, README)."""
    if connection.vendor != "postgresql":
        return Q(pk__in=batch)
    return _AnyOf(F("pk"), Subquery(batch))
