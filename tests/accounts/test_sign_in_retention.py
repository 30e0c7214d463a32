"""Sign-in records are kept SIGN_IN_LOG_RETENTION_DAYS and no longer (accounts.tasks): what a real sign-in
writes, aged by the clock, is deleted by the daily task from the day after its retention ends, and the
task is on the beat schedule."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from axes.models import AccessLog
from django.conf import settings
from django.test import Client, override_settings

from accounts import roles, tasks
from tests.factories import user

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def sign_in(username: str) -> None:
    response = Client(REMOTE_ADDR="198.51.100.20").post("/login/", {"username": username, "password": "pw"})
    assert response.status_code == 302


@override_settings(SIGN_IN_LOG_RETENTION_DAYS=30)
def test_a_sign_in_is_remembered_for_the_retention_and_forgotten_after():
    user("ana", roles.AGENTS)
    user("ben", roles.AGENTS)
    with time_machine.travel(MONDAY, tick=False):
        sign_in("ana")
    with time_machine.travel(MONDAY + timedelta(days=10), tick=False):
        sign_in("ben")
    assert AccessLog.objects.count() == 2

    with time_machine.travel(MONDAY + timedelta(days=30), tick=False):  # exactly 30 days: still kept
        assert tasks.forget_old_sign_ins() == 0
    with time_machine.travel(MONDAY + timedelta(days=30, seconds=1), tick=False):
        assert tasks.forget_old_sign_ins() == 1
    assert list(AccessLog.objects.values_list("username", flat=True)) == ["ben"]
    with time_machine.travel(MONDAY + timedelta(days=30, seconds=1), tick=False):
        assert tasks.forget_old_sign_ins() == 0  # idempotent
    with time_machine.travel(MONDAY + timedelta(days=41), tick=False):
        assert tasks.forget_old_sign_ins() == 1
    assert not AccessLog.objects.exists()


def test_the_task_runs_daily_from_the_beat_schedule():
    from config.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["forget-old-sign-ins"]
    assert entry["task"] == tasks.forget_old_sign_ins.name == "accounts.forget_old_sign_ins"
    assert entry["schedule"] == 24 * 3600
    app.loader.import_default_modules()  # what a worker does at start: autodiscovery finds the task
    assert "accounts.forget_old_sign_ins" in app.tasks
    assert settings.SIGN_IN_LOG_RETENTION_DAYS == 90
