"""The project's own periodic task: proof for /healthz/deep that a worker runs the beat schedule."""

from celery import shared_task
from django.utils import timezone

from config import health


@shared_task(name="config.heartbeat", ignore_result=True)
def heartbeat() -> None:
    health.record_heartbeat(now=timezone.now())
