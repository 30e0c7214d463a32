"""Reads about the channel: how far behind the processing of stored webhook deliveries is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q

from whatsapp.models import WebhookDelivery

UNFINISHED = [
    WebhookDelivery.Status.PENDING,
    WebhookDelivery.Status.PROCESSING,
    WebhookDelivery.Status.FAILED,
    WebhookDelivery.Status.DEAD,
]
# The arrival rate is read over this window (the newest deliveries, on the received_at index).
RATE_WINDOW = timedelta(minutes=5)


@dataclass(frozen=True)
class Backlog:
    """Stored deliveries not processed yet at `now`: waiting (never tried, or being processed), failed (will
    be retried), dead (parked for a person); the oldest of the waiting and failed; and how many arrived in
    the last RATE_WINDOW, so a person can tell whether processing keeps up."""

    now: datetime
    waiting: int
    failed: int
    dead: int
    oldest_received_at: datetime | None
    arrived_recently: int

    @property
    def oldest_age(self) -> timedelta | None:
        if self.oldest_received_at is None:
            return None
        return max(self.now - self.oldest_received_at, timedelta(0))

    @property
    def arrivals_per_minute(self) -> float:
        return self.arrived_recently / (RATE_WINDOW.total_seconds() / 60)


def delivery_backlog(now: datetime) -> Backlog:
    """Two queries on two small index ranges (the unfinished deliveries; the last minutes' arrivals),
    whatever the number of deliveries processed over the years."""
    pending = [WebhookDelivery.Status.PENDING, WebhookDelivery.Status.PROCESSING]
    figures = WebhookDelivery.objects.filter(status__in=UNFINISHED).aggregate(
        waiting=Count("pk", filter=Q(status__in=pending)),
        failed=Count("pk", filter=Q(status=WebhookDelivery.Status.FAILED)),
        dead=Count("pk", filter=Q(status=WebhookDelivery.Status.DEAD)),
        oldest=Min("received_at", filter=~Q(status=WebhookDelivery.Status.DEAD)),
    )
    arrived = WebhookDelivery.objects.filter(received_at__gt=now - RATE_WINDOW, received_at__lte=now).count()
    return Backlog(
        now=now,
        waiting=figures["waiting"],
        failed=figures["failed"],
        dead=figures["dead"],
        oldest_received_at=figures["oldest"],
        arrived_recently=arrived,
    )
