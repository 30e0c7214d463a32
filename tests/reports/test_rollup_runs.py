"""Rollup runs at the same time, and the task in a real Celery worker, on PostgreSQL (committed data:
these tests use real transactions). SQLite needs no claim: its single write lock serialises runs."""

import os
import sys
import threading
import time
from datetime import date, timedelta

import pytest
import redis
import time_machine
from celery import Celery
from django.db import connection, transaction
from django.utils import timezone

from conversations import services as conversation_services
from reports import services
from reports.models import ConversationDay, RollupDay
from tests import factories
from tests.processes import project_env, started, stop
from tests.reports.conftest import NOW, person, text, utc, wrote

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def history(transactional_db):
    """A customer a day from Fri 2 to Wed 7 January 2026, each answered by Alex 20 minutes later."""
    alex = person("alex")
    for day in range(2, 8):
        customer = wrote(f"4915100000{day:03d}", utc(day, "10:00"), name=f"Customer {day}")
        text(customer, utc(day, "10:20"), alex)


def in_thread(target):
    """Run `target` on a thread with its own database connection, closed at the end."""
    result = {}

    def run():
        try:
            result["value"] = target()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def test_a_run_that_finds_another_at_work_skips_and_one_that_waits_gets_the_work(history):
    holding, release = threading.Event(), threading.Event()

    def other_run_at_work():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [services.ROLLUP_LOCK])
            holding.set()
            release.wait(20)

    other, _ = in_thread(other_run_at_work)
    assert holding.wait(20)
    assert services.refresh_rollup(now=NOW).skipped
    assert not RollupDay.objects.exists()

    waiting, result = in_thread(lambda: services.refresh_rollup(now=NOW, wait=True))
    time.sleep(0.5)
    assert waiting.is_alive(), "a waiting run must wait for the lock"
    release.set()
    other.join(20)
    waiting.join(20)
    assert result["value"].rolled_up_through == date(2026, 1, 7)


def test_two_runs_started_together_write_each_day_once(history):
    start = threading.Barrier(2)

    def run():
        start.wait(10)
        return services.refresh_rollup(now=NOW)

    threads = [in_thread(run) for _ in range(2)]
    for thread, _ in threads:
        thread.join(30)
    runs = [result["value"] for _, result in threads]
    assert sorted(run.computed is None for run in runs) == [False, True]  # one did the work
    assert RollupDay.objects.count() == 6  # Fri 2 to Wed 7 January, once each
    rows = sorted(ConversationDay.objects.values_list("day", "category", "country", "agent_id", "opened"))
    assert len(rows) == len(set(rows))


@pytest.fixture
def celery_worker(transactional_db, redis_url, tmp_path):
    redis.Redis.from_url(redis_url).flushdb()  # no tasks left over from another run
    env = project_env(tmp_path, CELERY_BROKER_URL=redis_url)
    log = tmp_path / "worker.log"
    argv = [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO", "--concurrency=1"]
    argv.append(f"--hostname=test-rollup-{os.getpid()}@%h")
    process = started(argv, env, log)
    try:
        yield process, log
    finally:
        stop(process)


@pytest.mark.redis
def test_a_worker_runs_the_task_by_name_and_rolls_up_the_days_old_enough(celery_worker, redis_url):
    process, log = celery_worker
    customer = factories.customer()
    five_days_ago = timezone.now() - timedelta(days=5)
    with time_machine.travel(five_days_ago, tick=False):
        conversation_services.send_template(
            customer=customer, template=factories.template("UTILITY"), params=["Ann"]
        )

    # An app of its own that does not become the current one (shared tasks would follow it elsewhere).
    Celery(broker=redis_url, set_as_current=False).send_task("reports.refresh_rollup")
    deadline = time.monotonic() + 60
    while not RollupDay.objects.exists():
        assert process.poll() is None, f"the worker died:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"nothing rolled up within 60 s:\n{log.read_text()}"
        time.sleep(0.5)
    assert RollupDay.objects.order_by("day").first().day == five_days_ago.date()
    assert ConversationDay.objects.get().opened == 1
    assert "reports.refresh_rollup" in log.read_text()
