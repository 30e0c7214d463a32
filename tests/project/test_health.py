"""/healthz/deep tells a monitor what /healthz does not (issue 13): whether a worker has run the beat
schedule recently, and whether outbound messages have waited in the queue too long. /healthz stays the
load balancer's cheap database check."""

import os
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from config import health, tasks
from config.models import Heartbeat
from conversations import services
from conversations.models import Message
from tests import factories
from tests.processes import project_env, started, stop, wait_until

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def thresholds(settings):
    settings.HEALTH_WORKER_STALE_AFTER_SECONDS = 90
    settings.HEALTH_OUTBOUND_QUEUED_MAX_SECONDS = 300
    return timedelta(seconds=90), timedelta(seconds=300)


def deep(client, at: datetime):
    with time_machine.travel(at, tick=False):
        response = client.get(reverse("healthz-deep"))
    return response.status_code, response.json()


def queued_message(at: datetime) -> Message:
    with time_machine.travel(at, tick=False):
        message = services.send_template(
            customer=factories.customer(), template=factories.template(category="UTILITY"), params=["Ann"]
        )
    assert message.status == Message.Status.QUEUED  # its send task is only queued after commit
    return message


def test_the_heartbeat_is_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["worker-heartbeat"]
    assert entry["task"] == tasks.heartbeat.name == "config.heartbeat"
    # Stale only after several missed beats: one late beat is not an outage.
    assert 2 * entry["schedule"] <= settings.HEALTH_WORKER_STALE_AFTER_SECONDS


def test_a_worker_that_never_beat_is_stale_and_healthz_stays_ok(client, thresholds):
    status, body = deep(client, T0)
    assert status == 503
    assert body["status"] == "failing"
    assert body["worker"] == {
        "status": "stale",
        "last_beat_at": None,
        "seconds_since_beat": None,
        "stale_after_seconds": 90.0,
    }
    assert body["outbound"]["status"] == "ok"
    # The load balancer's check does not take the web servers out of rotation for a dead worker.
    response = client.get(reverse("healthz"))
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_the_worker_is_ok_up_to_the_threshold_and_stale_just_after(client, thresholds):
    stale_after, _ = thresholds
    health.record_heartbeat(now=T0)
    assert deep(client, T0)[0] == 200
    status, body = deep(client, T0 + stale_after)
    assert status == 200 and body["status"] == "ok"
    assert body["worker"]["status"] == "ok" and body["worker"]["seconds_since_beat"] == 90.0
    assert body["worker"]["last_beat_at"] == T0.isoformat()

    status, body = deep(client, T0 + stale_after + timedelta(seconds=1))
    assert status == 503 and body["worker"]["status"] == "stale"
    assert body["worker"]["seconds_since_beat"] == 91.0

    # The next beat makes it ok again, in the same single row.
    health.record_heartbeat(now=T0 + stale_after + timedelta(seconds=1))
    assert deep(client, T0 + stale_after + timedelta(seconds=2))[0] == 200
    assert Heartbeat.objects.count() == 1


def test_a_message_queued_past_the_threshold_fails_the_check(client, thresholds):
    _, waited_too_long = thresholds
    queued_message(T0)
    queued_message(T0 + timedelta(seconds=60))
    sent = queued_message(T0)
    Message.objects.filter(pk=sent.pk).update(status=Message.Status.SENT)

    def at(moment):
        health.record_heartbeat(now=moment)  # a live worker: only the queue is in question
        return deep(client, moment)

    status, body = at(T0 + waited_too_long)
    assert status == 200 and body["outbound"]["status"] == "ok"
    assert body["outbound"]["queued_too_long"] == 0

    status, body = at(T0 + waited_too_long + timedelta(seconds=1))
    assert status == 503 and body["status"] == "failing"
    assert body["outbound"] == {
        "status": "backlog",
        "queued_too_long": 1,
        "oldest_queued_seconds": 301.0,
        "threshold_seconds": 300.0,
    }
    assert body["worker"]["status"] == "ok"

    status, body = at(T0 + timedelta(seconds=60) + waited_too_long + timedelta(seconds=1))
    assert body["outbound"]["queued_too_long"] == 2 and body["outbound"]["oldest_queued_seconds"] == 361.0


def test_staleness_takes_aware_times_only():
    with pytest.raises(ValueError):
        health.worker_is_stale(None, now=datetime(2026, 11, 30, 12, 0), stale_after=timedelta(seconds=1))
    naive = datetime(2026, 11, 30, 12, 0)
    with pytest.raises(ValueError):
        health.worker_is_stale(naive, now=T0, stale_after=timedelta(seconds=1))


@pytest.mark.postgres
def test_the_queue_check_reads_the_outbox_index_not_the_messages_table(thresholds):
    with CaptureQueriesContext(connection) as queries:
        health.outbound_health(now=T0)
    [query] = queries.captured_queries
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # the plan of a table large enough to matter
        cursor.execute(f"EXPLAIN {query['sql']}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "message_outbox_idx" in plan, plan


@pytest.mark.postgres
def test_a_real_worker_and_beat_on_the_embedded_broker_write_the_heartbeat(
    transactional_db, tmp_path, client
):
    """`celery worker -B` on the demo's filesystem broker, with an empty message file waiting in its
    queue folder (what stopped the demo's worker for good): it keeps running and beats."""
    broker_folder = tmp_path / "celery-broker"
    broker_folder.mkdir()
    abandoned = broker_folder / "1_half-written.celery.msg"
    abandoned.write_bytes(b"")
    long_ago = time.time() - 60  # older than the grace a writer has: it is moved aside at once
    os.utime(abandoned, (long_ago, long_ago))
    env = project_env(tmp_path, WORKER_HEARTBEAT_SECONDS="1", HEALTH_WORKER_STALE_AFTER_SECONDS="5")
    env.pop("CELERY_BROKER_URL", None)
    env.pop("REDIS_URL", None)
    log = tmp_path / "worker.log"
    argv = [sys.executable, "-m", "celery", "-A", "config", "worker", "-B", "--loglevel=INFO"]
    argv += ["--concurrency=1", f"--schedule={tmp_path / 'beat-schedule'}", "--hostname=health-test@%h"]
    process = started(argv, env, log)
    try:
        wait_until(lambda: Heartbeat.objects.filter(name=health.WORKER).exists(), 60, "no heartbeat", log)
        first = Heartbeat.objects.get().beat_at
        wait_until(lambda: Heartbeat.objects.get().beat_at > first, 30, "the heartbeat did not move", log)
        assert process.poll() is None, log.read_text()
        assert "Unrecoverable error" not in log.read_text()
        assert not abandoned.exists() and (tmp_path / "celery-unreadable" / abandoned.name).exists()
        assert f"broker: {abandoned.name} did not parse" in log.read_text()
        assert client.get(reverse("healthz-deep")).json()["worker"]["status"] == "ok"
    finally:
        stop(process)
