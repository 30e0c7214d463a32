"""What a monitor asks beyond "the database answers" (issue 13: the demo's worker died, every send stayed
queued for 43 minutes, and every page looked fine): has a worker run the beat schedule recently, and
have outbound messages waited in the queue too long? Read by /healthz/deep; written by the heartbeat task."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min

from config.models import Heartbeat
from conversations.models import Message

WORKER = "worker"


def record_heartbeat(*, now: datetime) -> None:
    """One UPDATE of one row; the first beat after a fresh database creates it."""
    if not Heartbeat.objects.filter(name=WORKER).update(beat_at=now):
        Heartbeat.objects.update_or_create(name=WORKER, defaults={"beat_at": now})


def worker_is_stale(last_beat_at: datetime | None, *, now: datetime, stale_after: timedelta) -> bool:
    """Stale when no beat has ever run, or none within `stale_after` (a few beat intervals: one late
    beat is not an outage)."""
    if now.tzinfo is None or (last_beat_at is not None and last_beat_at.tzinfo is None):
        raise ValueError("aware datetimes only")
    return last_beat_at is None or now - last_beat_at > stale_after


@dataclass(frozen=True)
class WorkerHealth:
    last_beat_at: datetime | None
    stale: bool
    stale_after: timedelta

    def as_json(self, *, now: datetime) -> dict:
        return {
            "status": "stale" if self.stale else "ok",
            "last_beat_at": self.last_beat_at.isoformat() if self.last_beat_at else None,
            "seconds_since_beat": _seconds(now - self.last_beat_at) if self.last_beat_at else None,
            "stale_after_seconds": _seconds(self.stale_after),
        }


@dataclass(frozen=True)
class OutboundHealth:
    """Outbound messages still queued (not handed to the platform) after `waited_too_long`."""

    queued_too_long: int
    oldest_queued_at: datetime | None
    waited_too_long: timedelta

    @property
    def backlog(self) -> bool:
        return self.queued_too_long > 0

    def as_json(self, *, now: datetime) -> dict:
        return {
            "status": "backlog" if self.backlog else "ok",
            "queued_too_long": self.queued_too_long,
            "oldest_queued_seconds": _seconds(now - self.oldest_queued_at) if self.oldest_queued_at else None,
            "threshold_seconds": _seconds(self.waited_too_long),
        }


@dataclass(frozen=True)
class HealthReport:
    now: datetime
    worker: WorkerHealth
    outbound: OutboundHealth

    @property
    def ok(self) -> bool:
        return not self.worker.stale and not self.outbound.backlog

    def as_json(self) -> dict:
        return {
            "status": "ok" if self.ok else "failing",
            "database": "ok",
            "worker": self.worker.as_json(now=self.now),
            "outbound": self.outbound.as_json(now=self.now),
        }


def worker_health(*, now: datetime) -> WorkerHealth:
    stale_after = timedelta(seconds=settings.HEALTH_WORKER_STALE_AFTER_SECONDS)
    last = Heartbeat.objects.filter(name=WORKER).values_list("beat_at", flat=True).first()
    return WorkerHealth(last, worker_is_stale(last, now=now, stale_after=stale_after), stale_after)


def outbound_health(*, now: datetime) -> OutboundHealth:
    waited_too_long = timedelta(seconds=settings.HEALTH_OUTBOUND_QUEUED_MAX_SECONDS)
    # status = queued alone selects from the outbox's partial index (queued and sending messages only),
    # never the whole table; only outbound messages are ever queued (message_direction_consistent).
    stuck = Message.objects.filter(status=Message.Status.QUEUED, created_at__lt=now - waited_too_long)
    found = stuck.aggregate(count=Count("pk"), oldest=Min("created_at"))
    return OutboundHealth(found["count"], found["oldest"], waited_too_long)


def health_report(*, now: datetime) -> HealthReport:
    return HealthReport(now, worker_health(now=now), outbound_health(now=now))


def _seconds(duration: timedelta) -> float:
    return round(duration.total_seconds(), 1)
