"""Customers' files fetched at once and kept (issue 14): a real HTTP server on loopback stands in for the
Graph API (tests/whatsapp/fake_graph.py) and serves real bytes; `fetch_media` is what the task runs."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from conversations import services
from conversations.models import Message, MessageMedia
from conversations.services import media as media_services
from tests.whatsapp.fake_graph import Reply, graph_error
from whatsapp import media, media_types, sandbox, sandbox_media, tasks
from whatsapp import services as channel

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
PNG = sandbox_media.png()
PDF = sandbox_media.pdf("Invoice 2026-114")
OGG = sandbox_media.ogg()
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def platform(settings, fake_graph):
    settings.WHATSAPP_SANDBOX = False
    settings.WHATSAPP_API_BASE = fake_graph.url
    settings.WHATSAPP_API_VERSION = "v26.0"
    settings.WHATSAPP_PHONE_NUMBER_ID = "106540352242922"
    settings.WHATSAPP_ACCESS_TOKEN = "test-token"
    settings.WHATSAPP_HTTP_TIMEOUT = 2.0
    return fake_graph


def received(kind="image", media_id="880001", mime_type="image/png", sha256="", **media_fields) -> Message:
    details = {"media": {"id": media_id, "mime_type": mime_type, "sha256": sha256, **media_fields}}
    return services.receive_message(
        wa_id="16505551234",
        body=f"[{kind.title()}]",
        wamid=f"wamid.M{media_id}",
        timestamp=T0,
        name="Sheena",
        wa_type=kind,
        details=details,
    )


def fetched(message: Message) -> MessageMedia:
    media.fetch_media(message.media.pk)
    return MessageMedia.objects.get(pk=message.media.pk)


# --- Recorded at once, fetched after commit ------------------------------------------------------------


def test_the_message_is_recorded_with_its_file_pending_and_the_fetch_is_queued_on_commit(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks() as queued:
        message = received(caption="The broken handle")
    # The message is there before any download: nothing about it waits for the file.
    assert Message.objects.get(pk=message.pk).body == "[Image]"
    file = message.media
    assert (file.status, file.kind, file.media_id, file.attempts) == ("pending", "image", "880001", 0)
    assert file.expires_at == T0 + timedelta(days=7)
    [dispatch] = queued
    assert (dispatch.func.__name__, dispatch.args) == ("_dispatch_fetch", (file.pk,))
    # Queued by name (the domain never imports the channel): the name of the channel's task.
    assert tasks.fetch_media.name == media_services.FETCH_MEDIA_TASK


def test_a_text_message_expects_no_file():
    message = services.receive_message(
        wa_id="16505551234", body="hi", wamid="wamid.T1", timestamp=T0, name="Sheena"
    )
    assert not MessageMedia.objects.filter(message=message).exists()


@pytest.mark.parametrize(
    ("kind", "content", "announced", "stored_as"),
    [
        ("image", PNG, "image/png", "image/png"),
        ("document", PDF, "application/pdf", "application/pdf"),
        ("audio", OGG, "audio/ogg; codecs=opus", "audio/ogg"),
    ],
)
def test_a_file_is_fetched_by_id_with_the_token_checked_and_stored(
    platform, kind, content, announced, stored_as
):
    platform.media("880001", content, announced)
    file = fetched(received(kind=kind, mime_type=announced, filename="invoice.pdf"))
    assert (file.status, file.content_type, file.size, file.error) == ("stored", stored_as, len(content), "")
    assert file.fetched_at == T0 and file.attempts == 1
    with file.file.open("rb") as stored:
        assert stored.read() == content
    assert "invoice" not in file.file.name and file.file.name.startswith("media/2026/05/")
    info, download = platform.requests
    assert (info.method, info.path) == ("GET", "/v26.0/880001")
    assert download.path == "/media-files/880001"
    assert {info.headers["authorization"], download.headers["authorization"]} == {"Bearer test-token"}


def test_the_webhooks_base64_hash_is_accepted_too(platform):
    import base64
    import hashlib

    platform.media("880001", PNG, "image/png", sha256="")  # GET /{id} gives none: the webhook's counts
    webhook_hash = base64.b64encode(hashlib.sha256(PNG).digest()).decode()
    assert fetched(received(sha256=webhook_hash)).status == "stored"


def test_an_expired_download_url_is_replaced_by_a_fresh_one(platform):
    platform.media("880001", PNG, "image/png")
    platform.expire_media_urls()

    def first_url_expires(request):
        if request.path.startswith("/media-files/") and request.query.get("serial") == "1":
            return Reply(status=404)
        return None

    platform.reply_with(first_url_expires)
    file = fetched(received())
    assert file.status == "stored"
    assert [r.path for r in platform.requests] == [
        "/v26.0/880001",
        "/media-files/880001",
        "/v26.0/880001",
        "/media-files/880001",
    ]


# --- Refused for good ----------------------------------------------------------------------------------


def test_a_file_whose_hash_does_not_match_is_refused(platform, media_storage):
    platform.media("880001", PNG, "image/png", sha256="0" * 64)
    file = fetched(received())
    assert file.status == "failed" and "does not match the fingerprint" in file.error
    assert not file.file and not any(media_storage.rglob("*.*"))


def test_a_file_announced_over_the_kinds_limit_is_refused_before_downloading(platform):
    platform.media("880001", PNG, "image/png", file_size=media_types.SIZE_LIMITS["image"] + 1)
    file = fetched(received())
    assert file.status == "failed" and "too large" in file.error and "at most 5 MB" in file.error
    assert [r.path for r in platform.requests] == ["/v26.0/880001"]


def test_a_file_larger_than_announced_is_refused(platform):
    platform.media("880001", PNG, "image/png", file_size=len(PNG) - 10)
    file = fetched(received())
    assert file.status == "failed" and "larger than WhatsApp said" in file.error


def test_a_file_over_the_limit_with_no_size_announced_is_stopped_at_the_limit(platform):
    sticker = b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(media_types.SIZE_LIMITS["sticker"])
    platform.media("880001", sticker, "image/webp", file_size=None)
    file = fetched(received(kind="sticker", mime_type="image/webp"))
    assert file.status == "failed" and "too large" in file.error


@pytest.mark.parametrize(
    ("content", "announced"),
    [(HTML, "image/png"), (SVG, "image/png"), (SVG, "image/svg+xml"), (b"\x89PNG" + HTML, "image/png")],
    ids=["html-as-png", "svg-as-png", "svg", "png-prefix-then-html"],
)
def test_markup_posing_as_an_image_is_refused(platform, content, announced):
    platform.media("880001", content, announced)
    file = fetched(received(mime_type=announced))
    assert file.status == "failed" and not file.file
    assert "not a type we can keep safely" in file.error or "may not carry" in file.error


def test_a_page_sent_as_a_text_document_is_refused_and_a_plain_text_kept(platform):
    platform.media("880001", HTML, "text/plain")
    assert fetched(received(kind="document", mime_type="text/plain")).status == "failed"
    platform.media("880002", b"Order 114: two chairs, one table.\n", "text/plain")
    file = fetched(received(kind="document", media_id="880002", mime_type="text/plain"))
    assert (file.status, file.content_type) == ("stored", "text/plain")


def test_a_pdf_sent_as_an_image_is_refused():
    with pytest.raises(media_types.Refused, match="application/pdf, which a image message may not carry"):
        media_types.sniff("image", PDF, "image/png")


# --- Retried while it may pass, expired after the media id's 7 days ------------------------------------


def test_a_failure_that_may_pass_is_retried_with_backoff_until_the_media_id_expires(platform, clock):
    platform.media("880001", PNG, "image/png")
    platform.reply_with(lambda request: Reply(status=503))
    message = received()
    outcome = media.fetch_media(message.media.pk)
    assert (outcome.result, outcome.retry_in) == ("retry", channel.backoff(1, **channel.REQUEST_RETRY))
    file = MessageMedia.objects.get(pk=message.media.pk)
    assert file.status == "pending" and file.next_attempt_at == T0 + timedelta(seconds=5)
    assert file.error.startswith("Retrying:")
    assert media.fetch_media(file.pk).result == "not due"  # before its retry, a second task does nothing

    expires = T0 + timedelta(days=7)
    clock.move_to(expires - timedelta(minutes=1))
    assert media.fetch_media(file.pk).result == "retry"  # 10 s more still fits in the 7 days
    clock.move_to(expires - timedelta(seconds=5))
    assert media.fetch_media(file.pk).result == "expired"  # the next try would be past them
    file.refresh_from_db()
    assert file.status == "expired" and "could not be fetched" in file.error and file.attempts == 3


def test_a_file_still_pending_at_the_seven_day_boundary_expires_without_a_request(platform, clock):
    platform.media("880001", PNG, "image/png")
    message = received()
    clock.move_to(T0 + timedelta(days=7))
    assert media.fetch_media(message.media.pk).result == "expired"
    assert platform.requests == []


def test_a_media_id_the_platform_no_longer_knows_is_expired(platform):
    file = fetched(received(media_id="unknown1"))
    assert file.status == "expired"


def test_an_access_key_refused_is_retried_while_an_admin_renews_it(platform):
    platform.media("880001", PNG, "image/png")
    platform.reply_with(
        lambda request: Reply(status=401, body=graph_error(190, "Invalid OAuth access token"))
    )
    message = received()
    assert media.fetch_media(message.media.pk).result == "retry"
    file = MessageMedia.objects.get(pk=message.media.pk)
    assert file.status == "pending" and "access key" in file.error


def test_a_fresh_url_refused_too_is_retried_later_not_given_up(platform):
    platform.media("880001", PNG, "image/png")
    platform.reply_with(
        lambda request: Reply(status=404) if request.path.startswith("/media-files/") else None
    )
    message = received()
    assert media.fetch_media(message.media.pk).result == "retry"
    assert len(platform.requests) == 4  # the id, its URL, the id again, the fresh URL
    assert MessageMedia.objects.get(pk=message.media.pk).status == "pending"


def test_lost_fetches_and_due_retries_are_requeued(platform, clock):
    lost = received().media
    assert media.requeue_media() == 0  # just created: its task is on the way
    clock.move_to(T0 + timedelta(minutes=2))
    assert media_services.due_media(now=T0 + timedelta(minutes=2)) == [lost.pk]
    platform.media("880001", PNG, "image/png")
    assert media.fetch_media(lost.pk).result == "stored"
    assert media_services.due_media(now=T0 + timedelta(minutes=3)) == []


# --- The sandbox plays the platform ------------------------------------------------------------------


def test_the_sandbox_keeps_a_customers_file_and_serves_it_by_id(settings):
    settings.WHATSAPP_SANDBOX = True
    kept = sandbox_media.keep(PDF, "application/pdf")
    delivery = sandbox.inbound_media_delivery(
        wa_id="16505551234", name="Sheena", timestamp=T0, kind="document", kept=kept, filename="invoice.pdf"
    )
    sandbox.deliver_locally(delivery)
    message = Message.objects.get(wa_type="document")
    file = fetched(message)
    assert (file.status, file.content_type, file.filename, file.size) == (
        "stored",
        "application/pdf",
        "invoice.pdf",
        len(PDF),
    )
