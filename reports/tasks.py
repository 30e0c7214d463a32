from celery import shared_task
from django.utils import timezone

from reports import services


@shared_task(name="reports.refresh_rollup", ignore_result=True)
def refresh_rollup() -> str:
    """Beat runs this every few minutes (config/settings.py). Safe to overlap: a run that finds another
    one working skips; a run with nothing old enough to roll up does nothing."""
    return str(services.refresh_rollup(now=timezone.now()))
