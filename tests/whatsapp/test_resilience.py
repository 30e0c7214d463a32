"""The channel's failure modes, with real processes: Celery workers (and beat) on Redis against the test's
PostgreSQL database, a loopback HTTP server standing in for the Graph API (fake_graph.py), and a
redis-server of the test's own that it stops and starts again.

What must hold whatever breaks: a message is posted to the platform at most once (there is no
idempotency key), and a delivery or a queued message is never lost, only delayed.
"""

import logging
import os
import shutil
import signal
import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from config.celery import app
from conversations import selectors
from conversations import services as conversation_services
from conversations.models import Conversation, Message
from tests.processes import project_env, wait_until
from tests.whatsapp import deliveries as d
from tests.whatsapp.fake_graph import graph_error
from tests.whatsapp.processes_helpers import RedisServer, Worker, deadline, use_broker
from whatsapp import services as channel
from whatsapp.models import WebhookDelivery
from whatsapp.tasks import send_message

URL = "/webhooks/whatsapp/"
WA_ID = "16505551234"
ACCESS_TOKEN = "test-token"
PHONE_NUMBER_ID = "106540352242922"
API_VERSION = "v23.0"
QUICK = 3.0  # seconds: the webhook's 200 and a send must not wait for a broker that refuses connections
FROZEN_QUICK = 5.0  # ... nor hang on one that accepts them and never answers (about 3 s: socket timeouts)
INLINE_MAX_BYTES = 1024  # deliveries larger than this are processed by a task (through the broker)


# --- Fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
def platform(settings, fake_graph):
    """The Graph stand-in, with this process configured like the workers (no sandbox)."""
    settings.WHATSAPP_SANDBOX = False
    settings.WHATSAPP_API_BASE = fake_graph.url
    settings.WHATSAPP_API_VERSION = API_VERSION
    settings.WHATSAPP_PHONE_NUMBER_ID = PHONE_NUMBER_ID
    settings.WHATSAPP_ACCESS_TOKEN = ACCESS_TOKEN
    return fake_graph


@pytest.fixture
def redis_broker(redis_url, settings):
    """The Redis under test (TEST_REDIS_URL), empty, as this process's broker."""
    database = redis.Redis.from_url(redis_url)
    database.flushdb()  # only the test database: nothing left over from another run
    settings.CELERY_BROKER_URL = redis_url
    try:
        with use_broker(redis_url):
            yield redis_url
    finally:
        database.flushdb()  # a killed worker leaves its unacknowledged task behind


@pytest.fixture
def own_redis(tmp_path, settings):
    """A redis-server of the test's own, as this process's broker; the test may stop or freeze it."""
    if not shutil.which("redis-server"):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true: needs the redis-server executable")
        pytest.skip("needs the redis-server executable")
    server = RedisServer(tmp_path).start()
    settings.CELERY_BROKER_URL = server.url
    settings.WHATSAPP_WEBHOOK_INLINE_MAX_BYTES = INLINE_MAX_BYTES
    try:
        with use_broker(server.url):
            app.send_task("whatsapp.retry_deliveries")  # like a web process: a live broker connection
            yield server
    finally:
        server.stop()


@pytest.fixture
def workers(transactional_db, platform, tmp_path):
    """Start workers with `workers(broker_url, name=...)`; every one is stopped (or killed) at the end."""
    base = project_env(
        tmp_path,
        WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN,
        WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
        WHATSAPP_API_BASE=platform.url,
        WHATSAPP_API_VERSION=API_VERSION,
    )
    running: list[Worker] = []

    def start(broker_url: str, *, name: str, **options) -> Worker:
        environment = {**base, "CELERY_BROKER_URL": broker_url}
        worker = Worker(environment, tmp_path / f"{name}.log", name=name, **options)
        running.append(worker)
        return worker.start()

    try:
        yield start
    finally:
        for worker in running:
            worker.stop()


# --- Helpers ----------------------------------------------------------------------------------------


def customer_who_wrote(wa_id: str = WA_ID):
    """A customer whose service window is open: they wrote five minutes ago."""
    return conversation_services.receive_message(
        wa_id=wa_id,
        body="Where is my order?",
        wamid=d.new_wamid(),
        timestamp=timezone.now() - timedelta(minutes=5),
        name=d.NAME,
    ).customer


def queued_text(body: str = "Your parcel left the warehouse this morning.") -> Message:
    """Queue a reply through the service: its after-commit hook publishes `whatsapp.send_message`."""
    return conversation_services.send_text(customer=customer_who_wrote(), body=body)


def posts_for(platform, message: Message) -> list:
    callback = f"msg-{message.pk}"
    return [
        request
        for request in platform.requests
        if request.method == "POST"
        and isinstance(request.json, dict)
        and request.json.get("biz_opaque_callback_data") == callback
    ]


def post_signed(client, delivery: dict, secret: str):
    body, header = d.signed(delivery, secret)
    started = time.monotonic()
    response = client.post(
        URL, data=body, content_type="application/json", headers={"X-Hub-Signature-256": header}
    )
    return response, time.monotonic() - started, len(body)


def wait_for_status(message: Message, status: str, seconds: float, worker: Worker) -> None:
    def reached() -> bool:
        message.refresh_from_db()
        return message.status == status

    wait_until(reached, seconds, f"message {message.pk} not {status} (it is {message.status})", worker.log)


def hold(seconds: float, check) -> None:
    """Keep checking `check()` (which asserts) for `seconds`: a duplicate post may come late."""
    deadline = time.monotonic() + seconds
    while True:
        check()
        if time.monotonic() >= deadline:
            return
        time.sleep(0.25)


# --- At most once -----------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.redis
def test_a_worker_killed_mid_send_never_posts_twice(platform, redis_broker, workers, client, settings):
    platform.enqueue(hang=True)  # the platform takes the request and never answers
    doomed = workers(redis_broker, name="doomed")
    message = queued_text()
    [request] = platform.wait_for_requests(1, timeout=20)
    assert request.json["biz_opaque_callback_data"] == f"msg-{message.pk}"

    doomed.kill()  # the host is lost mid-request: no answer, no ack, no cleanup
    killed_at = time.monotonic()
    message.refresh_from_db()
    assert (message.status, message.send_attempts, message.wamid) == ("sending", 1, None)

    fresh = workers(redis_broker, name="fresh", beat=True)
    send_message.delay(message.pk)  # the broker redelivering the lost task, twice
    send_message.delay(message.pk)
    app.send_task("whatsapp.requeue_outbound")  # the outbox job, as beat runs it
    assert channel.requeue_outbound(now=timezone.now() + timedelta(hours=1)) == 0  # and much later
    wait_until(
        lambda: (
            fresh.results("whatsapp.send_message") == ["not queued", "not queued"]
            and fresh.results("whatsapp.requeue_outbound") == ["0"]
        ),
        20,
        "the redelivered tasks and the outbox job did not run",
        fresh.log,
    )

    def posted_once_and_still_unknown():
        assert len(posts_for(platform, message)) == 1 and len(platform.requests) == 1
        message.refresh_from_db()
        assert message.status == "sending"  # the outcome is unknown: never re-posted

    hold(max(0.0, killed_at + 10 - time.monotonic()), posted_once_and_still_unknown)

    # The platform had accepted it: its status names the message by our callback data, with a wamid we
    # never saw (the answer died with the worker).
    wamid = d.new_wamid()
    sent = d.status_delivery(
        wamid, "sent", timezone.now(), recipient_id=WA_ID, callback_data=f"msg-{message.pk}"
    )
    response, _, _ = post_signed(client, sent, settings.WHATSAPP_APP_SECRET)
    assert response.status_code == 200
    message.refresh_from_db()
    assert (message.status, message.wamid) == ("sent", wamid) and message.sent_at is not None
    assert len(platform.requests) == 1


@pytest.mark.postgres
@pytest.mark.redis
def test_a_pool_child_killed_mid_send_is_redelivered_by_the_broker_and_never_reposted(
    platform, redis_broker, workers
):
    """Acks late + reject on worker lost: the main process requeues the task of a child that died, so the
    broker really delivers it again, at once. The claim refuses it."""
    platform.enqueue(hang=True)
    worker = workers(redis_broker, name="survivor")
    message = queued_text()
    platform.wait_for_requests(1, timeout=20)
    [child] = worker.pool_children()
    os.kill(child, signal.SIGKILL)  # the OOM killer takes the pool process mid-request

    wait_until(
        lambda: worker.results("whatsapp.send_message") == ["not queued"],
        20,
        "the task was not redelivered after its worker process died",
        worker.log,
    )
    assert "WorkerLostError" in worker.output()
    hold(2, lambda: len(platform.requests) == 1 or pytest.fail("posted twice"))
    message.refresh_from_db()
    assert (message.status, message.send_attempts) == ("sending", 1)


@pytest.mark.postgres
@pytest.mark.redis
def test_a_task_delivered_several_times_posts_once(platform, redis_broker, workers):
    platform.enqueue(delay=1.0)  # a slow answer: the copies arrive while the first is in flight
    worker = workers(redis_broker, name="busy", concurrency=3)
    message = queued_text()  # published once on commit
    for _ in range(3):
        send_message.delay(message.pk)

    wait_until(
        lambda: len(worker.results("whatsapp.send_message")) == 4,
        20,
        "four runs of send_message did not finish",
        worker.log,
    )
    assert sorted(worker.results("whatsapp.send_message")) == ["not queued"] * 3 + ["sent"]
    assert len(posts_for(platform, message)) == 1 and len(platform.requests) == 1
    message.refresh_from_db()
    assert (message.status, message.send_attempts) == ("sent", 1)
    assert message.wamid == platform.requests[0].reply_body["messages"][0]["id"]


# --- The platform says no ---------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.redis
def test_throttling_is_retried_with_backoff_then_succeeds(platform, redis_broker, workers):
    arrivals: list[float] = []
    platform.reply_with(lambda request: arrivals.append(time.monotonic()))  # records, then falls through
    platform.enqueue(
        status=400, body=graph_error(131056, "(Business Account, Consumer Account) pair rate limit hit")
    )
    worker = workers(redis_broker, name="patient")
    message = queued_text()

    def waiting_to_retry() -> bool:
        message.refresh_from_db()
        return message.status == "queued" and message.error_code == 131056

    wait_until(waiting_to_retry, 10, "the throttled message was not put back in the queue", worker.log)
    assert message.next_attempt_at is not None and message.error_text.startswith("Retrying:")
    assert message.send_attempts == 1

    wait_for_status(message, "sent", 20, worker)
    assert message.send_attempts == 2 and message.next_attempt_at is None
    assert message.wamid == platform.requests[1].reply_body["messages"][0]["id"]
    assert len(posts_for(platform, message)) == 2 and len(arrivals) == 2
    assert arrivals[1] - arrivals[0] >= 4.5  # the first backoff is 5 s
    assert worker.results("whatsapp.send_message") == ["sent"]  # the first run ended in a retry


@pytest.mark.postgres
@pytest.mark.redis
def test_a_permanent_error_fails_the_message_in_plain_words(platform, redis_broker, workers):
    platform.enqueue(status=400, body=graph_error(131047, "Re-engagement message"))
    worker = workers(redis_broker, name="refused")
    message = queued_text()
    conversation = message.conversation
    assert conversation.category == "service" and conversation.opening_message_id == message.pk

    wait_for_status(message, "failed", 20, worker)
    assert message.error_code == 131047
    assert "template" in message.error_text.lower() and "24 hours" in message.error_text
    customer = message.customer
    customer.refresh_from_db()
    assert selectors.service_window(customer).is_open is False  # the platform closed the window
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.VOIDED  # R9: its only message failed
    assert list(selectors.open_conversations(customer)) == []
    hold(1, lambda: len(platform.requests) == 1 or pytest.fail("a permanent error was retried"))
    assert worker.results("whatsapp.send_message") == ["failed"]


# --- The broker goes away ---------------------------------------------------------------------------


def large_delivery(senders: list[str], timestamp) -> dict:
    delivery = d.delivery(
        d.messages_change(
            *(d.text_message(wa_id, "My parcel is late", timestamp=timestamp) for wa_id in senders)
        )
    )
    assert len(d.encode(delivery)) > INLINE_MAX_BYTES
    return delivery


@pytest.mark.postgres
@pytest.mark.redis
def test_redis_stopped_while_deliveries_arrive_loses_nothing(
    own_redis, platform, workers, client, settings, caplog
):
    own_redis.stop()
    secret = settings.WHATSAPP_APP_SECRET
    written = timezone.now() - timedelta(minutes=2)

    # (a) Small deliveries are processed in the request: no broker needed.
    for index in range(2):
        small = d.inbound_delivery(WA_ID, f"Hello, any news? ({index})", timestamp=written)
        response, seconds, size = post_signed(client, small, secret)
        assert response.status_code == 200 and size <= INLINE_MAX_BYTES and seconds < QUICK
    assert Message.objects.filter(direction="inbound", customer__wa_id=WA_ID).count() == 2
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"processed"}

    # (b) A large one is stored, acknowledged, and left for the retry job: publishing failed.
    senders = [f"1650555{index:04d}" for index in range(12)]
    with caplog.at_level(logging.ERROR, logger="whatsapp.views"):
        response, seconds, size = post_signed(client, large_delivery(senders, written), secret)
    assert response.status_code == 200
    assert seconds < QUICK, f"the 200 waited {seconds:.1f} s for a dead broker"
    stored = WebhookDelivery.objects.get(size=size)
    assert stored.status == "pending"
    assert "could not queue processing" in caplog.text
    assert not Message.objects.filter(customer__wa_id__in=senders).exists()

    # (c) A reply while the broker is down: queued, no error for the agent.
    customer = Message.objects.filter(customer__wa_id=WA_ID).first().customer
    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="django.db.backends.base"):
        reply = conversation_services.send_text(customer=customer, body="It arrives tomorrow.")
    seconds = time.monotonic() - started
    assert seconds < QUICK, f"send_text waited {seconds:.1f} s for a dead broker"
    assert "in on_commit()" in caplog.text
    reply.refresh_from_db()
    assert reply.status == "queued"
    assert platform.requests == []

    # The broker comes back, empty (what it held is gone); a worker runs; the periodic jobs run, played here
    # with a clock past their grace periods.
    own_redis.start()
    worker = workers(own_redis.url, name="after-outage")
    later = timezone.now() + timedelta(minutes=2)
    assert channel.retry_deliveries(now=later) == 1
    stored.refresh_from_db()
    assert (stored.status, stored.summary) == ("processed", {"messages": 12})
    assert Message.objects.filter(customer__wa_id__in=senders).count() == 12

    assert channel.requeue_outbound(now=later) == 1
    wait_for_status(reply, "sent", 20, worker)
    assert channel.requeue_outbound(now=later) == 0
    hold(2, lambda: len(platform.requests) == 1 or pytest.fail("posted twice"))
    assert len(posts_for(platform, reply)) == 1
    assert reply.wamid == platform.requests[0].reply_body["messages"][0]["id"]


@pytest.mark.postgres
@pytest.mark.redis
def test_a_frozen_broker_holds_neither_the_webhook_nor_a_send(
    own_redis, platform, transactional_db, client, settings
):
    """SIGSTOP: the broker keeps its connections open and never answers (a hung server, a network
    partition). Publishing must give up on its own; without socket timeouts it waits forever."""
    customer = customer_who_wrote()
    own_redis.freeze()

    with deadline(30, "the webhook's 200 is held by a frozen broker"):
        delivery = large_delivery([f"1650555{index:04d}" for index in range(12)], timezone.now())
        response, seconds, size = post_signed(client, delivery, settings.WHATSAPP_APP_SECRET)
    assert response.status_code == 200
    assert seconds < FROZEN_QUICK, f"the 200 waited {seconds:.1f} s for a frozen broker"
    assert WebhookDelivery.objects.get(size=size).status == "pending"  # the retry job will process it

    started = time.monotonic()
    with deadline(30, "send_text is held by a frozen broker"):
        reply = conversation_services.send_text(customer=customer, body="It arrives tomorrow.")
    seconds = time.monotonic() - started
    assert seconds < FROZEN_QUICK, f"send_text waited {seconds:.1f} s for a frozen broker"
    reply.refresh_from_db()
    assert reply.status == "queued"  # the outbox job will send it
