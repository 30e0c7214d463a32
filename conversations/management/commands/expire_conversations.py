"""The expiry sweep (R8) on demand: what Celery beat runs every CONVERSATION_SWEEP_SECONDS."""

import argparse
from datetime import datetime

from django.core.management.base import BaseCommand
from django.utils import timezone

from conversations import selectors, services
from conversations.models import Conversation


def aware_datetime(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 date and time") from None
    if timezone.is_naive(parsed):
        raise argparse.ArgumentTypeError(f"{value!r} has no UTC offset (say 2026-03-12T15:00:00+00:00)")
    return parsed


def positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of 1 or more")
    return int(value)


class Command(BaseCommand):
    help = (
        "Mark the conversations whose expires_at has passed as expired: the sweep Celery beat runs, for "
        "lists and reports (reads never wait for it, R8). Safe to run beside beat. With --dry-run, list "
        "what it would mark, by category, and change nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="List the conversations it would mark; change nothing."
        )
        parser.add_argument(
            "--now",
            type=aware_datetime,
            help="Sweep as of this instant, an ISO 8601 time with its offset. Default: the clock.",
        )
        parser.add_argument(
            "--batch-size",
            type=positive,
            default=services.SWEEP_BATCH_SIZE,
            help=f"Conversations marked per transaction. Default: {services.SWEEP_BATCH_SIZE}.",
        )

    def handle(self, *args, dry_run=False, now=None, batch_size=services.SWEEP_BATCH_SIZE, **options):
        now = now or timezone.now()
        if dry_run:
            self._list(selectors.due_to_expire(now), now)
            return
        marked = services.expire_due_conversations(now=now, batch_size=batch_size)
        self.stdout.write(f"Marked {marked} conversation(s) expired as of {now.isoformat()}.")

    def _list(self, due, now: datetime) -> None:
        by_category: dict[str, list[Conversation]] = {}
        for conversation in due.iterator():
            by_category.setdefault(conversation.get_category_display(), []).append(conversation)
        total = sum(len(conversations) for conversations in by_category.values())
        self.stdout.write(
            f"Dry run, nothing changed: {total} conversation(s) would be marked expired as of "
            f"{now.isoformat()}."
        )
        for category, conversations in sorted(by_category.items()):
            self.stdout.write(f"{category}: {len(conversations)}")
            for conversation in conversations:
                self.stdout.write(
                    f"  #{conversation.pk} of customer #{conversation.customer_id}, "
                    f"expired at {conversation.expires_at.isoformat()}"
                )
