"""Customers' files in the inbox (issue 14): served only through the app, to who may read the thread,
with a safe type and disposition; shown in the thread as a person expects, and swapped in by the poll
when the file arrives."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.urls import reverse

from conversations import services
from conversations.models import Message, MessageMedia
from conversations.services import media as media_services
from tests.factories import user
from tests.inbox.test_views import visible
from whatsapp import sandbox_media

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
PNG = sandbox_media.png()
PDF = sandbox_media.pdf()
OGG = sandbox_media.ogg()


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def sent(wa_id="16505551234", kind="image", mime_type="image/png", n=1, **media_fields) -> Message:
    return services.receive_message(
        wa_id=wa_id,
        body=f"[{kind.title()}]",
        wamid=f"wamid.{wa_id}.{n}",
        timestamp=NOW - timedelta(minutes=5),
        name="Sheena",
        wa_type=kind,
        details={"media": {"id": f"77{n}", "mime_type": mime_type, **media_fields}},
    )


def stored(message: Message, content: bytes, content_type: str) -> MessageMedia:
    media_services.store_media(
        message.media, content=ContentFile(content), content_type=content_type, size=len(content), now=NOW
    )
    return MessageMedia.objects.get(pk=message.media.pk)


def media_url(message: Message) -> str:
    return reverse("inbox:media", args=[message.customer_id, message.pk])


# --- Who may fetch a file -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["agents", "supervisors", "admins"])
def test_every_role_that_reads_the_thread_gets_the_file(client, role):
    message = sent()
    stored(message, PNG, "image/png")
    client.force_login(user("reader", role))
    response = client.get(media_url(message))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG


def test_anonymous_is_sent_to_sign_in_and_htmx_gets_401(client):
    message = sent()
    stored(message, PNG, "image/png")
    response = client.get(media_url(message))
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.get(media_url(message), headers={"HX-Request": "true"}).status_code == 401


def test_a_user_without_an_inbox_role_gets_403(client):
    message = sent()
    stored(message, PNG, "image/png")
    client.force_login(user("nobody"))
    assert client.get(media_url(message)).status_code == 403


def test_another_customers_message_a_text_or_a_file_not_stored_is_not_found(client):
    mine = sent()
    stored(mine, PNG, "image/png")
    other = sent(wa_id="16505550000", n=2)
    stored(other, PNG, "image/png")
    pending = sent(n=3)
    text = services.receive_message(
        wa_id="16505551234", body="hi", wamid="wamid.text", timestamp=NOW - timedelta(minutes=1)
    )
    client.force_login(user("alex", "agents"))
    assert client.get(reverse("inbox:media", args=[mine.customer_id, other.pk])).status_code == 404
    assert client.get(media_url(pending)).status_code == 404
    assert client.get(media_url(text)).status_code == 404
    assert client.get(media_url(mine)).status_code == 200


# --- How a file is served -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "content", "content_type", "disposition"),
    [
        ("image", PNG, "image/png", 'inline; filename="image-{pk}.png"'),
        ("audio", sandbox_media.ogg(), "audio/ogg", "inline; filename="),
        ("document", PDF, "application/pdf", 'attachment; filename="invoice.pdf"'),
        ("document", PNG, "image/png", 'attachment; filename="invoice.pdf"'),
    ],
    ids=["image", "voice", "pdf", "photo-sent-as-a-document"],
)
def test_a_file_is_served_with_its_stored_type_nosniff_a_disposition_and_a_sandbox(
    client, kind, content, content_type, disposition
):
    message = sent(kind=kind, mime_type="text/html", filename="invoice.pdf")
    stored(message, content, content_type)
    client.force_login(user("alex", "agents"))
    response = client.get(media_url(message))
    assert response["Content-Type"] == content_type  # what the bytes are, never what was announced
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith(disposition.format(pk=message.pk))
    policy = response["Content-Security-Policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy and "script-src" not in policy
    assert response["Cache-Control"].startswith("private")


# --- Seeking in a voice note or a video: byte ranges --------------------------------------------------


def voice_note(client):
    message = sent(kind="audio", mime_type="audio/ogg; codecs=opus")
    stored(message, OGG, "audio/ogg")
    client.force_login(user("alex", "agents"))
    return message


def test_a_player_seeking_gets_the_range_it_asked_for(client):
    message = voice_note(client)
    whole = client.get(media_url(message))
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes"
    middle = client.get(media_url(message), headers={"Range": "bytes=10-29"})
    assert middle.status_code == 206
    assert middle["Content-Range"] == f"bytes 10-29/{len(OGG)}" and middle["Content-Length"] == "20"
    assert b"".join(middle.streaming_content) == OGG[10:30]
    # The same guards as the whole file: its type, nosniff, a sandbox, private caching.
    assert middle["Content-Type"] == "audio/ogg" and middle["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in middle["Content-Security-Policy"] and middle["Cache-Control"].startswith("private")
    assert middle["Content-Disposition"].startswith("inline")


def test_an_open_range_and_a_suffix_range_end_at_the_files_end(client):
    message = voice_note(client)
    rest = client.get(media_url(message), headers={"Range": f"bytes={len(OGG) - 7}-"})
    assert rest.status_code == 206 and b"".join(rest.streaming_content) == OGG[-7:]
    tail = client.get(media_url(message), headers={"Range": "bytes=-5"})
    assert tail["Content-Range"] == f"bytes {len(OGG) - 5}-{len(OGG) - 1}/{len(OGG)}"
    assert b"".join(tail.streaming_content) == OGG[-5:]
    beyond = client.get(media_url(message), headers={"Range": f"bytes=0-{len(OGG) * 2}"})
    assert beyond.status_code == 206 and b"".join(beyond.streaming_content) == OGG


def test_a_range_past_the_end_is_416_and_what_cannot_be_read_as_one_range_gets_the_whole_file(client):
    message = voice_note(client)
    past = client.get(media_url(message), headers={"Range": f"bytes={len(OGG)}-"})
    assert past.status_code == 416 and past["Content-Range"] == f"bytes */{len(OGG)}"
    for header in ("bytes=0-1,5-9", "bytes=9-2", "items=0-5", "bytes=-", "bytes=abc"):
        response = client.get(media_url(message), headers={"Range": header})
        assert response.status_code == 200, header
        assert b"".join(response.streaming_content) == OGG
    # A validator we never gave cannot match: the whole file.
    guarded = client.get(media_url(message), headers={"Range": "bytes=0-9", "If-Range": '"abc"'})
    assert guarded.status_code == 200


def test_a_range_is_no_way_around_the_sign_in_or_the_role(client):
    message = sent(kind="audio", mime_type="audio/ogg")
    stored(message, OGG, "audio/ogg")
    assert client.get(media_url(message), headers={"Range": "bytes=0-9"}).status_code == 302
    client.force_login(user("nobody"))
    assert client.get(media_url(message), headers={"Range": "bytes=0-9"}).status_code == 403


def test_a_hostile_file_name_stays_a_file_name(client):
    message = sent(kind="document", mime_type="application/pdf", filename='x".html\r\nSet-Cookie: a=b')
    stored(message, PDF, "application/pdf")
    client.force_login(user("alex", "agents"))
    response = client.get(media_url(message))
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert response["Content-Disposition"].startswith("attachment;")


# --- In the thread ---------------------------------------------------------------------------------------


def thread_html(client, message) -> str:
    return client.get(reverse("inbox:thread", args=[message.customer_id])).text


def test_the_thread_shows_fetching_then_the_photo_that_opens_full_size_and_the_poll_swaps_it(client):
    message = sent(caption="The broken handle")
    client.force_login(user("alex", "agents"))
    url = reverse("inbox:thread", args=[message.customer_id])
    before = client.get(url)
    assert "Fetching the photo…" in visible(before.text) and "The broken handle" in visible(before.text)
    version = re.search(r'"v": "([0-9a-f]+)"', before.text).group(1)
    assert client.get(url, {"v": version}).status_code == 204  # nothing changed: nothing rendered
    stored(message, PNG, "image/png")
    after = client.get(url, {"v": version})  # the poll: the file's state changed the thread's version
    file_url = media_url(message)
    assert after.status_code == 200
    assert f'<a class="thumb" href="{file_url}"' in after.text and f'<img src="{file_url}"' in after.text
    assert "Fetching" not in after.text and "The broken handle" in visible(after.text)


def test_the_thread_shows_a_documents_name_type_size_and_download_link(client):
    message = sent(kind="document", mime_type="application/pdf", filename="invoice-114.pdf")
    stored(message, PDF, "application/pdf")
    client.force_login(user("alex", "agents"))
    html = thread_html(client, message)
    assert f'<a href="{media_url(message)}" download="invoice-114.pdf">invoice-114.pdf</a>' in html
    assert re.search(r"PDF · [0-9.]+\s(bytes|KB)", visible(html))


def test_the_thread_shows_players_for_a_voice_note_and_a_video(client):
    voice = sent(kind="audio", mime_type="audio/ogg", voice=True)
    stored(voice, sandbox_media.ogg(), "audio/ogg")
    video = sent(kind="video", mime_type="video/mp4", n=2)
    stored(video, b"\x00\x00\x00\x18ftypmp42" + bytes(32), "video/mp4")
    client.force_login(user("alex", "agents"))
    html = thread_html(client, voice)
    assert f'<audio controls preload="metadata" src="{media_url(voice)}"' in html
    assert f'<video controls preload="metadata" src="{media_url(video)}"' in html


def test_a_refused_or_expired_file_is_said_plainly(client):
    refused = sent()
    media_services.refuse_media(refused.media, reason="The file is not a type we can keep safely.", now=NOW)
    expired = sent(n=2)
    media_services.expire_media(expired.media, now=NOW)
    client.force_login(user("alex", "agents"))
    shown = visible(thread_html(client, refused))
    assert "The file is not a type we can keep safely." in shown
    assert "could not be fetched from WhatsApp" in shown and "Ask the customer to send it again" in shown
    assert "<img" not in thread_html(client, refused)


def test_location_is_a_map_link_and_contacts_a_card(client):
    customer = services.receive_message(
        wa_id="16505551234",
        body="[Location] Shop",
        wamid="wamid.loc",
        timestamp=NOW - timedelta(minutes=3),
        wa_type="location",
        details={
            "location": {"latitude": 52.52, "longitude": 13.405, "name": "Shop", "address": "Main St 1"}
        },
    ).customer
    services.receive_message(
        wa_id="16505551234",
        body="[Contact] Ana",
        wamid="wamid.vcard",
        timestamp=NOW - timedelta(minutes=2),
        wa_type="contacts",
        details={"contacts": [{"name": "Ana Díaz", "phones": ["+34 600 000 000"], "emails": ["ana@x.es"]}]},
    )
    client.force_login(user("alex", "agents"))
    html = client.get(reverse("inbox:thread", args=[customer.pk])).text
    assert 'href="https://www.openstreetmap.org/?mlat=52.52&amp;mlon=13.405' in html
    assert "Shop Main St 1" in visible(html)
    assert "Ana Díaz +34 600 000 000 ana@x.es" in visible(html)


def test_the_page_with_media_keeps_the_strict_csp(client):
    message = sent()
    stored(message, PNG, "image/png")
    client.force_login(user("alex", "agents"))
    page = client.get(reverse("inbox:customer", args=[message.customer_id]))
    policy = page["Content-Security-Policy"]
    assert "img-src 'self'" in policy and "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "<script>" not in page.text and " style=" not in page.text
