"""Files agents send (issue 14), the channel's part: what the platform takes is decided from the bytes
(whatsapp.media_types), the send task uploads the file to POST /{PHONE_NUMBER_ID}/media once and sends it
by the id it got, and a refusal is said in words. A real HTTP server on loopback stands in for the Graph
API (tests/whatsapp/fake_graph.py); the sandbox takes uploads and media sends like the platform."""

import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.files.base import ContentFile

from conversations import services
from conversations.models import Message, MessageMedia
from tests.whatsapp.fake_graph import Reply, graph_error, multipart_fields
from whatsapp import media_types, sandbox, sandbox_media
from whatsapp import services as channel
from whatsapp.client import PlatformError, media_payload

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
PNG = sandbox_media.png()
PDF = sandbox_media.pdf("Quote 2026-77")
OGG = sandbox_media.ogg()
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
MB = 1024 * 1024


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


def customer_wrote(wa_id="16505551234"):
    return services.receive_message(
        wa_id=wa_id, body="Can you send the quote?", wamid=f"wamid.in.{wa_id}", timestamp=T0, name="Sheena"
    ).customer


def attach(customer, content=PDF, *, name="quote.pdf", caption="Here is the quote", **kwargs) -> Message:
    kind, content_type = media_types.check_outbound(
        content[:4096], len(content), announced=kwargs.pop("announced", "")
    )
    return services.send_attachment(
        customer=customer,
        content=ContentFile(content),
        filename=name,
        kind=kind,
        content_type=content_type,
        size=len(content),
        caption=caption,
        **kwargs,
    )


def uploads(fake) -> list:
    return [r for r in fake.requests if r.path.endswith("/media") and r.method == "POST"]


def sends(fake) -> list:
    return [r for r in fake.requests if r.path.endswith("/messages")]


# --- What the platform takes, decided from the bytes ---------------------------------------------------


@pytest.mark.parametrize(
    ("content", "announced", "expected"),
    [
        (PNG, "image/png", ("image", "image/png")),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 100, "", ("image", "image/jpeg")),
        (PDF, "application/pdf", ("document", "application/pdf")),
        (OGG, "audio/ogg", ("audio", "audio/ogg")),
        (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, "video/mp4", ("video", "video/mp4")),
        (b"Order 114: two lamps\n", "text/plain", ("document", "text/plain")),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp", ("document", "image/webp")),  # a sticker type
        (
            b"PK\x03\x04" + b"\x00" * 60,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ("document", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ),
    ],
    ids=["png", "jpeg", "pdf", "ogg", "mp4", "text", "webp-as-document", "docx"],
)
def test_a_file_is_sent_as_what_its_bytes_are(content, announced, expected):
    assert media_types.check_outbound(content[:4096], len(content), announced=announced) == expected


@pytest.mark.parametrize(
    "content", [HTML, SVG, b"  <html><script>x</script>"], ids=["html", "svg", "html-spaced"]
)
def test_markup_posing_as_a_picture_is_refused(content):
    with pytest.raises(
        media_types.Refused, match="not a type we can keep safely \\(it was announced as image/png\\)"
    ):
        media_types.check_outbound(content, len(content), announced="image/png")


@pytest.mark.parametrize(
    ("content", "size", "words"),
    [
        (PNG, 5 * MB + 1, "The photo is 5.0 MB; WhatsApp takes a photo of at most 5 MB"),
        (OGG, 16 * MB + 1, "The recording is 16.0 MB; WhatsApp takes a recording of at most 16 MB"),
        (PDF, 100 * MB + 1, "The document is 100.0 MB; WhatsApp takes a document of at most 100 MB"),
        (PDF, 0, "The file is empty"),
    ],
)
def test_a_file_over_the_platforms_limit_is_refused_in_words(content, size, words):
    with pytest.raises(media_types.Refused, match=words):
        media_types.check_outbound(content, size)
    # At the limit it goes.
    if size:
        assert media_types.check_outbound(content, size - 1)


def test_an_executable_is_refused():
    with pytest.raises(media_types.Refused, match="not a type we can keep safely"):
        media_types.check_outbound(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 60, 70)


# --- The payload ---------------------------------------------------------------------------------------


def test_media_payloads_have_the_documented_shapes():
    document = media_payload(
        to="+16505551234", kind="document", media_id="9001", caption="Quote", filename="q.pdf"
    )
    assert document == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+16505551234",
        "type": "document",
        "document": {"id": "9001", "caption": "Quote", "filename": "q.pdf"},
    }
    image = media_payload(
        recipient="US.13491208655302741918", kind="image", media_id="9002", filename="x.png"
    )
    assert image["image"] == {"id": "9002"} and image["recipient"] == "US.13491208655302741918"
    assert media_payload(to="+16505551234", kind="audio", media_id="9003")["audio"] == {"id": "9003"}
    with pytest.raises(ValueError, match="audio message carries no caption"):
        media_payload(to="+16505551234", kind="audio", media_id="9003", caption="Listen")
    with pytest.raises(ValueError, match="needs the id"):
        media_payload(to="+16505551234", kind="image", media_id="")


# --- Upload once, then send by id ----------------------------------------------------------------------


def test_the_send_task_uploads_the_file_then_sends_it_by_id(platform):
    message = attach(customer_wrote())
    assert channel.deliver_message(message.pk).result == "sent"
    [upload] = uploads(platform)
    assert upload.path == "/v26.0/106540352242922/media"
    assert upload.headers["authorization"] == "Bearer test-token"
    fields = multipart_fields(upload)
    assert fields["messaging_product"] == (None, b"whatsapp")
    assert fields["type"] == (None, b"application/pdf")
    assert fields["file"] == ("quote.pdf", PDF)
    media_id = upload.reply_body["id"]
    [send] = sends(platform)
    assert send.json["type"] == "document"
    assert send.json["document"] == {"id": media_id, "caption": "Here is the quote", "filename": "quote.pdf"}
    assert send.json["biz_opaque_callback_data"] == f"msg-{message.pk}"
    message.refresh_from_db()
    assert message.status == "sent" and message.wamid.startswith("wamid.FAKE")
    file = MessageMedia.objects.get(message=message)
    assert (file.media_id, file.uploaded_at) == (media_id, T0)


def test_a_photo_without_a_caption_and_a_recording(platform):
    customer = customer_wrote()
    photo = attach(customer, PNG, name="shade.png", caption="")
    voice = attach(customer, OGG, name="note.ogg", caption="")
    for message in (photo, voice):
        assert channel.deliver_message(message.pk).result == "sent"
    photo_send, voice_send = sends(platform)
    assert photo_send.json["type"] == "image" and set(photo_send.json["image"]) == {"id"}
    assert voice_send.json["type"] == "audio" and set(voice_send.json["audio"]) == {"id"}
    assert [multipart_fields(u)["type"][1] for u in uploads(platform)] == [b"image/png", b"audio/ogg"]


def test_a_retry_after_the_upload_never_uploads_again(platform, clock):
    message = attach(customer_wrote())
    # The upload goes through; the send is throttled (it may pass): retried later, by the kept id.
    platform.reply_with(
        lambda r: (
            Reply(status=429, body=graph_error(131056, "Pair rate limit hit"))
            if r.path.endswith("/messages") and len(sends(platform)) == 1
            else None
        )
    )
    first = channel.deliver_message(message.pk)
    assert first.result == "retry" and first.retry_in == 5
    message.refresh_from_db()
    assert message.status == "queued" and message.error_text.startswith("Retrying:")
    media_id = MessageMedia.objects.get(message=message).media_id
    assert media_id
    clock.shift(timedelta(seconds=5))
    assert channel.deliver_message(message.pk).result == "sent"
    assert len(uploads(platform)) == 1
    first_send, second_send = sends(platform)
    assert first_send.json["document"]["id"] == second_send.json["document"]["id"] == media_id


def test_a_lost_answer_to_the_upload_is_retried_never_left_unknown(platform):
    message = attach(customer_wrote())
    platform.enqueue(drop=True)  # the upload's answer never comes: an upload is no message, so try again
    outcome = channel.deliver_message(message.pk)
    assert outcome.result == "retry"
    message.refresh_from_db()
    assert message.status == "queued" and not sends(platform)
    assert channel.deliver_message(message.pk).result == "sent"
    assert len(uploads(platform)) == 2 and len(sends(platform)) == 1


def test_a_platform_refusal_of_the_upload_fails_the_message_in_words(platform):
    message = attach(customer_wrote())
    platform.enqueue(
        status=400,
        body=graph_error(100, "Invalid parameter", details="Param file must be a file with a supported type"),
    )
    assert channel.deliver_message(message.pk).result == "failed"
    message.refresh_from_db()
    assert message.status == "failed" and message.error_code == 100
    assert message.error_text.startswith("WhatsApp did not take the file.")
    assert "Param file must be a file with a supported type" in message.error_text
    assert not sends(platform)


def test_an_upload_error_that_keeps_failing_ends_in_words(platform, clock):
    message = attach(customer_wrote())
    platform.reply_with(
        lambda r: (
            Reply(status=500, body=graph_error(131053, "Media upload error"))
            if r.path.endswith("/media")
            else None
        )
    )
    for _ in range(channel.SEND_MAX_ATTEMPTS):
        outcome = channel.deliver_message(message.pk)
        clock.shift(timedelta(minutes=20))
    assert outcome.result == "failed"
    message.refresh_from_db()
    assert message.status == "failed" and message.error_code == 131053
    assert "WhatsApp did not take the file. The platform could not upload the file" in message.error_text
    assert not sends(platform)


def test_the_stand_in_refuses_an_upload_over_the_platforms_limit(platform):
    from whatsapp.services import client

    with client() as graph, pytest.raises(PlatformError) as refused:
        graph.upload_media(
            io.BytesIO(b"\xff\xd8\xff" + b"\x00" * (5 * MB)), filename="big.jpg", mime_type="image/jpeg"
        )
    assert refused.value.code == 131053


# --- The sandbox takes uploads and media sends like the platform ---------------------------------------


def test_the_sandbox_takes_an_upload_and_sends_the_file_by_its_id(settings):
    settings.WHATSAPP_SANDBOX = True
    message = attach(customer_wrote())
    assert channel.deliver_message(message.pk).result == "sent"
    file = MessageMedia.objects.get(message=message)
    kept = sandbox_media.find(file.media_id)
    assert kept is not None and kept.mime_type == "application/pdf"
    assert sandbox_media.content(file.media_id) == PDF


def test_the_sandbox_refuses_what_the_platform_refuses():
    client = sandbox.SandboxClient()
    with pytest.raises(PlatformError) as too_big:
        client.upload_media(
            io.BytesIO(b"\x89PNG" + b"\x00" * (5 * MB)), filename="big.png", mime_type="image/png"
        )
    assert too_big.value.code == 131053
    with pytest.raises(PlatformError) as wrong_type:
        client.upload_media(io.BytesIO(HTML), filename="page.html", mime_type="text/html")
    assert wrong_type.value.code == 100 and "Param file must be a file" in wrong_type.value.title
    customer = customer_wrote()
    payload = media_payload(to=f"+{customer.wa_id}", kind="image", media_id="1234567890")
    with pytest.raises(PlatformError) as unknown:
        client.send(payload)
    assert unknown.value.code == 131053
    kept = client.upload_media(io.BytesIO(PNG), filename="shade.png", mime_type="image/png")
    assert client.send(media_payload(to=f"+{customer.wa_id}", kind="image", media_id=kept)).wamid


def test_the_sandbox_refuses_a_media_send_outside_the_window(clock):
    client = sandbox.SandboxClient()
    customer = customer_wrote()
    kept = client.upload_media(io.BytesIO(PNG), filename="shade.png", mime_type="image/png")
    clock.shift(timedelta(hours=24))
    with pytest.raises(PlatformError) as refused:
        client.send(media_payload(to=f"+{customer.wa_id}", kind="image", media_id=kept))
    assert refused.value.code == 131047


def test_a_file_gone_from_storage_fails_the_message_without_a_request(platform):
    message = attach(customer_wrote())
    file = MessageMedia.objects.get(message=message)
    file.file.storage.delete(file.file.name)
    assert channel.deliver_message(message.pk).result == "failed"
    message.refresh_from_db()
    assert message.status == "failed"
    assert message.error_text == (
        "The message could not be prepared for WhatsApp: the file to send is no longer in storage "
        "(FileNotFoundError)."
    )
    assert platform.requests == []
