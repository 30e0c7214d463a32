"""Sign-in records kept no longer than needed. django-axes writes one row per sign-in (who, from which
address, with which browser, when they signed out): personal data that is useful for a while (who used
an account last month) and never for ever. Beat runs this daily; the retention is a setting."""

import logging
from datetime import timedelta

from axes.models import AccessLog
from celery import shared_task
from django.conf import settings
from django.utils import timezone

logger = logging.getLogger(__name__)


@shared_task(name="accounts.forget_old_sign_ins", ignore_result=True)
def forget_old_sign_ins() -> int:
    return forget_sign_ins_before(timezone.now() - timedelta(days=settings.SIGN_IN_LOG_RETENTION_DAYS))


def forget_sign_ins_before(moment) -> int:
    """Delete the records of sign-ins before `moment`: one DELETE a day, of a row per sign-in."""
    count, _ = AccessLog.objects.filter(attempt_time__lt=moment).delete()
    if count:
        logger.info("deleted %d sign-in record(s) from before %s", count, moment.isoformat())
    return count
