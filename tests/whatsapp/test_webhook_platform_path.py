"""The webhook as gunicorn serves it (config.wsgi): Django's handler without the browser's middleware, a
connection used without a health check (taken again when it turns out dead), and the usual status
locking the message alone (issue 13: the campaign-scale webhook; scripts/benchmark_channel.py)."""

import io
import logging
import sys
import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.conf import settings
from django.core import signals
from django.core.exceptions import DisallowedHost
from django.db import close_old_connections, connection
from django.urls import reverse

from config import wsgi
from conversations.models import Customer, Message
from tests.whatsapp import deliveries as d
from whatsapp.models import WebhookDelivery

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
WA_ID = "16505551234"
BSUID = "US.13491208655302741918"


def call(
    body: bytes,
    *,
    method="POST",
    signature: str | None = None,
    host="127.0.0.1:8000",
    query="",
    content_length: str | None = None,
):
    """`config.wsgi.application` called as gunicorn calls it; returns (status, headers, body)."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": wsgi.WEBHOOK_PATH,
        "SCRIPT_NAME": "",
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)) if content_length is None else content_length,
        "HTTP_HOST": host,
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    if signature is not None:
        environ["HTTP_X_HUB_SIGNATURE_256"] = signature
    answered = {}

    def start_response(status, headers, exc_info=None):
        answered["status"], answered["headers"] = status, dict(headers)

    # As Django's test client does: the test's connection (and its transaction) outlives the request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        response = wsgi.application(environ, start_response)
        try:
            content = b"".join(response)
        finally:
            if hasattr(response, "close"):  # as a WSGI server does
                response.close()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return int(answered["status"].split()[0]), answered["headers"], content


def signed_call(delivery: dict, **kwargs):
    body, signature = d.signed(delivery, settings.WHATSAPP_APP_SECRET)
    return call(body, signature=signature, **kwargs)


def status_delivery(state: str, at: datetime, **fields) -> dict:
    return d.delivery(d.statuses_change(d.status("wamid.OURS", state, at, recipient_id=WA_ID, **fields)))


def test_the_platform_path_is_the_webhooks_url():
    assert reverse("whatsapp-webhook") == wsgi.WEBHOOK_PATH


@pytest.mark.django_db(transaction=True)
def test_a_delivery_is_served_without_the_browsers_middleware_and_applied(sent_message):
    status, headers, content = signed_call(status_delivery("delivered", T0 + timedelta(minutes=1)))

    assert (status, content) == (200, b"EVENT_RECEIVED")
    assert "X-Frame-Options" not in headers and "Set-Cookie" not in headers  # no middleware ran
    assert Message.objects.get(pk=sent_message.pk).status == "delivered"
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.PROCESSED


@pytest.mark.django_db
def test_the_verification_handshake_and_other_pages_keep_the_whole_stack():
    query = f"hub.mode=subscribe&hub.verify_token={settings.WHATSAPP_VERIFY_TOKEN}&hub.challenge=42"
    status, headers, content = call(b"", method="GET", query=query)

    assert (status, content) == (200, b"42")
    assert headers["X-Frame-Options"] == "DENY"  # the middleware ran


@pytest.mark.django_db
def test_a_forged_signature_and_an_unknown_host_are_refused_on_the_platform_path(caplog):
    body, _ = d.signed(status_delivery("read", T0), settings.WHATSAPP_APP_SECRET)
    with caplog.at_level(logging.WARNING):
        assert call(body, signature="sha256=" + "0" * 64)[0] == 403
        assert call(body, signature=d.sign(body, settings.WHATSAPP_APP_SECRET), host="evil.example")[0] == 400
    assert WebhookDelivery.objects.count() == 0
    assert "Invalid HTTP_HOST header" in caplog.text


@pytest.mark.django_db
def test_a_crash_on_the_platform_path_is_a_logged_500_not_a_dead_worker(monkeypatch, caplog):
    def crash(*args, **kwargs):
        raise RuntimeError("boom")

    reported = []

    def report(sender, **kwargs):  # error tracking (sentry-sdk's Django integration) listens here
        reported.append(sys.exc_info()[1])

    monkeypatch.setattr("whatsapp.services.receive_delivery", crash)
    signals.got_request_exception.connect(report)
    try:
        with caplog.at_level(logging.ERROR):
            status, _, content = signed_call(status_delivery("read", T0))
    finally:
        signals.got_request_exception.disconnect(report)
    assert (status, content) == (500, b"Internal Server Error")
    assert "Internal Server Error: /webhooks/whatsapp/" in caplog.text and "boom" in caplog.text
    assert [str(error) for error in reported] == ["boom"]


def _signed_body() -> tuple[bytes, str]:
    return d.signed(status_delivery("read", T0), settings.WHATSAPP_APP_SECRET)


# Each request as (body, signature, Content-Length); both ways of serving the URL must answer it alike.
REQUESTS = {
    "applied": lambda: (*_signed_body(), None),
    "unsigned": lambda: (_signed_body()[0], None, None),
    "forged": lambda: (_signed_body()[0], "sha256=" + "0" * 64, None),
    "not JSON": lambda: (b"{oops", d.sign(b"{oops", settings.WHATSAPP_APP_SECRET), None),
    "length not a number": lambda: (*_signed_body(), "twelve"),
    "negative length": lambda: (*_signed_body(), "-1"),
    "over 4 MB": lambda: (*_signed_body(), str(settings.WHATSAPP_WEBHOOK_MAX_BYTES + 1)),
}


@pytest.mark.parametrize("case", REQUESTS)
@pytest.mark.django_db(transaction=True)
def test_the_platform_path_answers_as_the_view_does_under_the_whole_stack(case, sent_message, client):
    """gunicorn's requests take the bare path; Django's test client (and anything routed through Django)
    the view: the same status, content type and body for each, and the same rows kept."""
    body, signature, length = REQUESTS[case]()
    status, headers, content = call(body, signature=signature, content_length=length)
    bare = (status, headers["Content-Type"].split(";")[0], content, WebhookDelivery.objects.count())
    assert int(headers["Content-Length"]) == len(content)
    WebhookDelivery.objects.all().delete()

    extra = {"HTTP_X_HUB_SIGNATURE_256": signature} if signature else {}
    if length is not None:
        extra["CONTENT_LENGTH"] = length
    response = client.post(wsgi.WEBHOOK_PATH, body, content_type="application/json", **extra)
    whole = (response.status_code, response["Content-Type"].split(";")[0], response.content)

    assert bare == (*whole, WebhookDelivery.objects.count())
    assert bare[0] == {"applied": 200, "unsigned": 403, "forged": 403, "not JSON": 400}.get(
        case, 413 if case == "over 4 MB" else 400
    )


@pytest.mark.django_db
def test_a_forwarded_host_is_checked_when_the_proxy_is_trusted(settings):
    settings.USE_X_FORWARDED_HOST = True
    environ_host = {"HTTP_X_FORWARDED_HOST": "evil.example"}
    with pytest.raises(DisallowedHost):
        wsgi._check_host({"HTTP_HOST": "127.0.0.1", **environ_host})
    settings.USE_X_FORWARDED_HOST = False
    wsgi._check_host({"HTTP_HOST": "127.0.0.1", **environ_host})  # the forwarded header is not trusted
    with pytest.raises(DisallowedHost):
        wsgi._check_host({"HTTP_HOST": "not a host!"})


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_that_died_since_the_last_delivery_is_replaced_and_nothing_is_lost(sent_message, caplog):
    """No health check before the webhook's statements: when the database restarted since the last
    delivery (here: the server ended our session), the first attempt (the usual status's one statement)
    fails and the dead connection is closed; the usual way stores and applies the delivery on a new one:
    200."""
    connection.ensure_connection()
    backend = connection.connection.info.backend_pid
    with psycopg.connect(**_dsn(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [backend])

    with caplog.at_level(logging.INFO, logger="whatsapp"):
        status, _, _ = signed_call(status_delivery("read", T0 + timedelta(minutes=2)))

    assert status == 200
    assert Message.objects.get(pk=sent_message.pk).status == "read"
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.PROCESSED
    assert connection.connection.info.backend_pid != backend
    assert "applied the usual way: terminating connection" in caplog.text


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_usual_status_never_waits_for_the_customers_lock(sent_message):
    """A campaign's statuses write the message alone: an agent's send holding the customer's row lock
    (here another session's FOR UPDATE) does not hold them up. A status that would wait gives up after the
    lock timeout and is stored failed instead."""
    holding, release = threading.Event(), threading.Event()

    def agent_send():
        with psycopg.connect(**_dsn()) as other, other.transaction():
            other.execute(
                "SELECT 1 FROM conversations_customer WHERE id = %s FOR UPDATE", [sent_message.customer_id]
            )
            holding.set()
            release.wait(20)

    agent = threading.Thread(target=agent_send)
    agent.start()
    try:
        assert holding.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")
        for state, minutes in (("sent", 1), ("delivered", 2), ("read", 3)):
            assert (
                signed_call(status_delivery(state, T0 + timedelta(minutes=minutes), category="utility"))[0]
                == 200
            )
    finally:
        release.set()
        agent.join()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")

    message = Message.objects.get(pk=sent_message.pk)
    assert message.status == "read"
    assert message.pricing_category == "utility"
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"processed"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_usual_status_that_names_the_customer_anew_still_links_them(sent_message):
    """The fast path reads the customer's identifiers unlocked; a status that carries one the customer
    lacks (their BSUID) locks the customer and links it, as before."""
    item = d.status("wamid.OURS", "delivered", T0 + timedelta(minutes=1), recipient_id=WA_ID)
    item["recipient_user_id"] = BSUID

    assert signed_call(d.delivery(d.statuses_change(item)))[0] == 200

    customer = Customer.objects.get(pk=sent_message.customer_id)
    assert customer.user_id == BSUID
    assert Message.objects.get(pk=sent_message.pk).status == "delivered"


def _dsn() -> dict:
    db = connection.settings_dict
    return {"host": db["HOST"], "port": db["PORT"] or 5432, "dbname": db["NAME"], "user": db["USER"]} | (
        {"password": db["PASSWORD"]} if db["PASSWORD"] else {}
    )


@pytest.mark.django_db
def test_the_host_verdict_kept_for_a_header_follows_the_settings(settings):
    """The verdict on a Host header is kept (the platform names the same host every time) with the
    settings it read: a host allowed, then no longer allowed, is refused; a request without a Host
    header is checked on the server's name and port as Django does."""
    settings.ALLOWED_HOSTS = ["inbox.example"]
    wsgi._check_host({"HTTP_HOST": "inbox.example"})
    wsgi._check_host({"HTTP_HOST": "inbox.example"})  # kept
    settings.ALLOWED_HOSTS = ["other.example"]
    with pytest.raises(DisallowedHost, match=r"inbox\.example"):
        wsgi._check_host({"HTTP_HOST": "inbox.example"})
    with pytest.raises(DisallowedHost, match=r"inbox\.example"):
        wsgi._check_host({"HTTP_HOST": "inbox.example"})  # a refusal kept is still a refusal
    wsgi._check_host({"SERVER_NAME": "other.example", "SERVER_PORT": "80"})
    with pytest.raises(DisallowedHost):
        wsgi._check_host({"SERVER_NAME": "inbox.example", "SERVER_PORT": "80"})
