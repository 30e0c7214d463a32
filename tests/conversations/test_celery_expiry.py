"""On-time expiry with a real Celery worker and beat on Redis, against the test's PostgreSQL database.

Nothing is mocked: a `celery -A config worker -B` process runs the beat schedule from config/settings.py
(with a shorter period so the test is quick), the sweep task marks the conversation expired, and R8
reads never waited for it."""

import os
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import time_machine
from django.conf import settings
from django.utils import timezone

from conversations import selectors, services
from conversations.models import Conversation
from tests import factories
from tests.processes import project_env, started, stop

ROOT = Path(__file__).resolve().parents[2]
SWEEP_SECONDS = 3


@pytest.fixture
def celery_worker_with_beat(transactional_db, redis_url, tmp_path):
    redis.Redis.from_url(redis_url).flushdb()  # no tasks left over from another run
    env = project_env(tmp_path, CELERY_BROKER_URL=redis_url, CONVERSATION_SWEEP_SECONDS=str(SWEEP_SECONDS))
    log = tmp_path / "worker.log"
    argv = [sys.executable, "-m", "celery", "-A", "config", "worker", "-B", "--loglevel=INFO"]
    argv += [
        "--concurrency=1",
        f"--schedule={tmp_path / 'beat-schedule'}",
        f"--hostname=test-{os.getpid()}@%h",
    ]
    process = started(argv, env, log)
    try:
        yield process, log
    finally:
        stop(process)


def test_beat_schedule_sweeps_well_within_a_minute():
    entry = settings.CELERY_BEAT_SCHEDULE["expire-due-conversations"]
    assert entry["task"] == "conversations.expire_due_conversations"
    assert entry["schedule"] <= 30  # R8: marked within a minute of expires_at, with room to spare


@pytest.mark.postgres
@pytest.mark.redis
def test_worker_and_beat_mark_a_conversation_expired_within_60s(celery_worker_with_beat):
    process, log = celery_worker_with_beat
    customer = factories.customer()
    template = factories.template(category="UTILITY")
    # Send as if 24 h minus 4 s ago (through the real service), so U1 expires 4 s from now.
    with time_machine.travel(timezone.now() - timedelta(hours=24) + timedelta(seconds=4), tick=True):
        message = services.send_template(customer=customer, template=template, params=["Ann"])
    conversation = message.conversation
    assert list(selectors.open_conversations(customer)) == [conversation]

    while timezone.now() < conversation.expires_at:
        time.sleep(0.05)
    # R8: the moment expires_at is reached, reads say "not open", whether or not the sweep has run.
    assert list(selectors.open_conversations(customer)) == []

    deadline = conversation.expires_at + timedelta(seconds=60)
    while timezone.now() < deadline:
        conversation.refresh_from_db()
        if conversation.status == Conversation.Status.EXPIRED:
            break
        assert process.poll() is None, f"the worker died:\n{log.read_text()}"
        time.sleep(0.5)
    assert conversation.status == Conversation.Status.EXPIRED, f"not expired within 60 s:\n{log.read_text()}"
    lag = conversation.status_changed_at - conversation.expires_at
    assert timedelta(0) <= lag < timedelta(seconds=60)
    assert "conversations.expire_due_conversations" in log.read_text()
