"""Read marks: opening a customer's thread tells WhatsApp their messages were read, with the platform's
read call for the latest one (which marks the earlier ones), once per message. A real HTTP server on
loopback stands in for the Graph API (fake_graph.py); `reading.mark_read` is what the Celery task runs,
and the last test runs it in a real worker, as `./dev demo` does."""

import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis
import time_machine
from django.contrib.auth.models import User
from django.db import connection

from conversations import services
from tests.processes import project_env, wait_until
from tests.whatsapp.fake_graph import Reply, graph_error
from tests.whatsapp.processes_helpers import Worker, use_broker
from whatsapp import reading, sandbox
from whatsapp.client import PlatformError, read_payload

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WA_ID = "16505551234"
PHONE_NUMBER_ID = "106540352242922"
API_VERSION = "v23.0"
ACCESS_TOKEN = "test-token"


@pytest.fixture
def platform(settings, fake_graph):
    settings.WHATSAPP_SANDBOX = False
    settings.WHATSAPP_API_BASE = fake_graph.url
    settings.WHATSAPP_API_VERSION = API_VERSION
    settings.WHATSAPP_PHONE_NUMBER_ID = PHONE_NUMBER_ID
    settings.WHATSAPP_ACCESS_TOKEN = ACCESS_TOKEN
    settings.WHATSAPP_HTTP_TIMEOUT = 2.0
    return fake_graph


@pytest.fixture
def agent_client(client):
    client.force_login(User.objects.create_superuser("alex", password="pw"))
    return client


def writes(body="Where is my order?", *, at, wa_type="text", context_wamid="", wa_id=WA_ID):
    return services.receive_message(
        wa_id=wa_id,
        body=body,
        wamid=f"wamid.IN{uuid.uuid4().hex.upper()}",
        timestamp=at,
        name="Sheena",
        wa_type=wa_type,
        context_wamid=context_wamid,
    )


def opens(client, customer, django_capture_on_commit_callbacks, *, poll=False) -> int:
    """An agent opens the thread (or its poll brings something new); how many read marks it queued."""
    url = f"/customers/{customer.pk}/thread/" if poll else f"/customers/{customer.pk}/"
    with django_capture_on_commit_callbacks() as queued:
        assert client.get(url).status_code == 200
    return len(queued)


def read_mark(wamid):
    return {"messaging_product": "whatsapp", "status": "read", "message_id": wamid}


# --- What is marked, and once ------------------------------------------------------------------------


@pytest.mark.django_db
def test_opening_a_thread_marks_the_latest_customer_message_read_once(
    platform, agent_client, django_capture_on_commit_callbacks
):
    with time_machine.travel(T0, tick=False):
        writes("Hello?", at=T0 - timedelta(minutes=3))
        latest = writes("Anyone there?", at=T0 - timedelta(minutes=1))
        customer = latest.customer
        assert opens(agent_client, customer, django_capture_on_commit_callbacks) == 1
        assert reading.mark_read(customer.pk).result == "marked"

        [request] = platform.requests
        assert (request.method, request.path) == ("POST", f"/{API_VERSION}/{PHONE_NUMBER_ID}/messages")
        assert request.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
        assert request.json == read_mark(latest.wamid)  # the latest marks the earlier one
        customer.refresh_from_db()
        assert (customer.platform_read_wamid, customer.platform_read_at) == (latest.wamid, T0)

        # Opening it again, and its poll, queue nothing; a task that runs anyway posts nothing.
        assert opens(agent_client, customer, django_capture_on_commit_callbacks) == 0
        assert opens(agent_client, customer, django_capture_on_commit_callbacks, poll=True) == 0
        assert reading.mark_read(customer.pk).result == "nothing to mark"
        assert len(platform.requests) == 1

    # The customer writes again: the thread's poll brings the message and queues its read mark.
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        newer = writes("Hello??", at=T0 + timedelta(minutes=4))
        assert opens(agent_client, customer, django_capture_on_commit_callbacks, poll=True) == 1
        assert reading.mark_read(customer.pk).result == "marked"
    assert platform.read_marks == [latest.wamid, newer.wamid]


@pytest.mark.django_db
def test_reactions_notices_and_old_messages_are_not_marked(platform):
    with time_machine.travel(T0, tick=False):
        message = writes(at=T0 - timedelta(minutes=10))
        customer = message.customer
        writes("👍", at=T0 - timedelta(minutes=5), wa_type="reaction", context_wamid="wamid.OURS")
        writes("", at=T0 - timedelta(minutes=4), wa_type="system")
        assert reading.mark_read(customer.pk).result == "marked"
        assert platform.read_marks == [message.wamid]  # neither the reaction nor the notice
        customer.refresh_from_db()
        assert not reading.read_mark_due(customer, now=T0)

        # A reaction after the marking: asked once, nothing to post, and not asked again.
        writes("❤️", at=T0 - timedelta(minutes=1), wa_type="reaction", context_wamid="wamid.OURS")
        customer.refresh_from_db()
        assert reading.read_mark_due(customer, now=T0)
        assert reading.mark_read(customer.pk).result == "nothing to mark"
        customer.refresh_from_db()
        assert not reading.read_mark_due(customer, now=T0)
    assert len(platform.requests) == 1

    # A customer who last wrote more than 30 days ago: the platform no longer takes the mark.
    old = writes(at=T0 - timedelta(days=31), wa_id="4915112345678").customer
    with time_machine.travel(T0, tick=False):
        assert not reading.read_mark_due(old, now=T0)
        assert reading.mark_read(old.pk).result == "nothing to mark"
    assert len(platform.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_two_agents_opening_the_thread_at_once_post_one_read_mark(platform):
    customer = writes(at=datetime.now(UTC) - timedelta(minutes=1)).customer
    platform.reply_with(lambda request: Reply(delay=0.3))  # each answer takes a while: the runs overlap
    start = threading.Barrier(2)
    results = []

    def run():
        start.wait()
        try:
            results.append(reading.mark_read(customer.pk).result)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(results) == ["marked", "nothing to mark"]
    assert len(platform.requests) == 1


# --- When the platform refuses ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_passing_failure_is_retried_with_the_send_backoff_and_posted_once_it_passes(platform):
    with time_machine.travel(T0, tick=False):
        message = writes(at=T0 - timedelta(minutes=1))
        customer = message.customer
        platform.enqueue(status=503, body="upstream unavailable")
        outcome = reading.mark_read(customer.pk)
        assert (outcome.result, outcome.wamid, outcome.retry_in) == ("retry", message.wamid, 5)
        customer.refresh_from_db()
        assert (customer.platform_read_wamid, customer.platform_read_at) == (message.wamid, None)
        # Meanwhile opening the thread asks nothing more: the retry is on its way.
        assert not reading.read_mark_due(customer, now=T0)
        assert reading.mark_read(customer.pk).result == "nothing to mark"

        platform.enqueue(status=200, body=graph_error(130429, "Rate limit hit"))  # also passing
        assert reading.mark_read(customer.pk, claimed=message.wamid, attempt=2).retry_in == 10
        assert reading.mark_read(customer.pk, claimed=message.wamid, attempt=3).result == "marked"
        customer.refresh_from_db()
        assert customer.platform_read_at == T0
    assert [r.json["message_id"] for r in platform.requests] == [message.wamid] * 3


@pytest.mark.django_db
def test_a_refusal_is_logged_and_not_retried_and_the_next_message_is_marked(platform, caplog):
    with time_machine.travel(T0, tick=False):
        message = writes(at=T0 - timedelta(minutes=2))
        customer = message.customer
        platform.enqueue(status=400, body=graph_error(131009, "Parameter value is not valid"))
        with caplog.at_level(logging.ERROR, logger="whatsapp.reading"):
            outcome = reading.mark_read(customer.pk)
        assert (outcome.result, outcome.retry_in) == ("failed", None)
        assert f"read mark of {message.wamid} failed for good" in caplog.text
        assert "131009" in caplog.text
        customer.refresh_from_db()
        assert not reading.read_mark_due(customer, now=T0)  # reopening does not ask again
        assert reading.mark_read(customer.pk).result == "nothing to mark"
        assert len(platform.requests) == 1

        newer = writes("Still there?", at=T0 - timedelta(minutes=1))
        customer.refresh_from_db()
        assert reading.read_mark_due(customer, now=T0)
        assert reading.mark_read(customer.pk).result == "marked"
    assert platform.read_marks == [newer.wamid]


@pytest.mark.django_db
def test_retries_run_out_and_a_newer_message_supersedes_a_pending_retry(platform):
    with time_machine.travel(T0, tick=False):
        message = writes(at=T0 - timedelta(minutes=2))
        customer = message.customer
        platform.enqueue(status=500)
        assert reading.mark_read(customer.pk).result == "retry"
        platform.enqueue(status=500)
        last = reading.mark_read(customer.pk, claimed=message.wamid, attempt=reading.READ_MAX_ATTEMPTS)
        assert (last.result, last.retry_in) == ("failed", None)

        # A retry still waiting when a newer message was marked: nothing left to do.
        newer = writes("Hello?", at=T0 - timedelta(minutes=1))
        assert reading.mark_read(customer.pk).result == "marked"
        assert reading.mark_read(customer.pk, claimed=message.wamid, attempt=2).result == "superseded"
    assert [r.json["message_id"] for r in platform.requests] == [message.wamid, message.wamid, newer.wamid]


@pytest.mark.django_db
def test_an_answer_in_another_shape_is_retried_since_a_read_mark_may_be_posted_twice(platform):
    with time_machine.travel(T0, tick=False):
        customer = writes(at=T0 - timedelta(minutes=1)).customer
        platform.enqueue(status=200, body={"messaging_product": "whatsapp"})
        assert reading.mark_read(customer.pk).result == "retry"


# --- The sandbox -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_sandbox_takes_read_marks_like_the_platform(settings):
    settings.WHATSAPP_SANDBOX = True
    with time_machine.travel(T0, tick=False):
        message = writes(at=T0 - timedelta(minutes=1))
        assert reading.mark_read(message.customer.pk).result == "marked"
    assert sandbox.read_marks[-1] == message.wamid

    platform = sandbox.SandboxClient()
    assert platform.mark_read(read_payload(message.wamid)) == {"success": True}
    with pytest.raises(PlatformError) as unknown:
        platform.mark_read(read_payload("wamid.NOT-A-MESSAGE"))
    assert (unknown.value.code, unknown.value.retryable) == (131009, False)
    for malformed in (
        {"messaging_product": "whatsapp", "status": "delivered", "message_id": message.wamid},
        {"status": "read", "message_id": message.wamid},
        {**read_payload(message.wamid), "to": WA_ID},
    ):
        with pytest.raises(PlatformError) as refused:
            platform.mark_read(malformed)
        assert refused.value.code == 100


@pytest.mark.django_db
def test_the_sandbox_refuses_to_mark_our_own_message_read():
    customer = writes(at=datetime.now(UTC) - timedelta(minutes=1)).customer
    reply = services.send_text(customer=customer, body="On its way")
    reply.wamid = "wamid.OURS1"
    reply.save(update_fields=["wamid"])
    with pytest.raises(PlatformError) as refused:
        sandbox.SandboxClient().mark_read(read_payload("wamid.OURS1"))
    assert refused.value.code == 131009


# --- For real: a Celery worker on Redis, the inbox's own request -----------------------------------------


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_worker_marks_the_thread_read_once_and_retries_a_passing_failure(
    platform, agent_client, redis_url, settings, tmp_path
):
    database = redis.Redis.from_url(redis_url)
    database.flushdb()
    settings.CELERY_BROKER_URL = redis_url
    environment = project_env(
        tmp_path,
        CELERY_BROKER_URL=redis_url,
        WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN,
        WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
        WHATSAPP_API_BASE=platform.url,
        WHATSAPP_API_VERSION=API_VERSION,
    )
    worker = Worker(environment, tmp_path / "worker.log", name="reads")
    try:
        with use_broker(redis_url):
            worker.start()
            message = writes(at=datetime.now(UTC) - timedelta(minutes=1))
            customer = message.customer
            platform.enqueue(status=503)  # the first try meets a platform that is down for a moment
            assert agent_client.get(f"/customers/{customer.pk}/").status_code == 200
            wait_until(lambda: platform.read_marks == [message.wamid], 30, "no read mark", worker.log)
            assert worker.results("whatsapp.mark_read") == ["marked"]
            assert len(platform.requests) == 2  # the 503, then the retry 5 s later

            # Opening the thread again and polling it post nothing more.
            assert agent_client.get(f"/customers/{customer.pk}/").status_code == 200
            assert agent_client.get(f"/customers/{customer.pk}/thread/").status_code == 200

            newer = writes("Hello?", at=datetime.now(UTC))
            assert agent_client.get(f"/customers/{customer.pk}/thread/").status_code == 200
            wait_until(
                lambda: platform.read_marks == [message.wamid, newer.wamid], 30, "no second mark", worker.log
            )
            wait_until(
                lambda: len(worker.results("whatsapp.mark_read")) == 2, 10, "task not done", worker.log
            )
            assert len(platform.requests) == 3
            customer.refresh_from_db()
            assert customer.platform_read_wamid == newer.wamid and customer.platform_read_at is not None
    finally:
        worker.stop()
        database.flushdb()
