"""Files agents send, in the inbox (issue 14): the compose area offers a file inside the window only, the
server checks the file's bytes and the window again (409 outside it, the caption kept), only agents may
send, every post needs its CSRF token, and the thread shows what was sent like a customer's file."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conversations import services
from conversations.models import Message, MessageMedia
from tests.factories import user
from tests.inbox.test_views import compose_mode, visible
from whatsapp import sandbox_media

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
PDF = sandbox_media.pdf("Quote 2026-77")
PNG = sandbox_media.png()
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def wrote(wa_id="16505551234", *, ago=timedelta(minutes=5), n=1):
    return services.receive_message(
        wa_id=wa_id, body="Send the quote?", wamid=f"wamid.{wa_id}.{n}", timestamp=NOW - ago, name="Sheena"
    ).customer


def pdf(name="quote.pdf", content=PDF, content_type="application/pdf"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def post(client, customer, file, body="Here is the quote", reply_to="", **extra):
    return client.post(
        reverse("inbox:send-text", args=[customer.pk]),
        {"body": body, "client_token": uuid.uuid4(), "file": file, "reply_to": reply_to},
        **extra,
    )


@pytest.fixture
def agent_client(client):
    client.force_login(user("alex", "agents"))
    return client


# --- Who may send ----------------------------------------------------------------------------------------


def test_an_agent_sends_a_document_with_a_caption(agent_client):
    customer = wrote()
    response = post(agent_client, customer, pdf())
    assert response.status_code == 200 and "Queued for WhatsApp" in response.text
    assert response["HX-Trigger"] == "message-sent"
    message = Message.objects.get(direction="outbound")
    assert (message.wa_type, message.body, message.status, message.agent.username) == (
        "document",
        "Here is the quote",
        "queued",
        "alex",
    )
    file = message.media
    assert (file.content_type, file.size, file.filename, file.status) == (
        "application/pdf",
        len(PDF),
        "quote.pdf",
        "stored",
    )


def test_a_file_can_answer_a_message_quoting_it_and_the_channel_sends_the_quote(agent_client):
    """An agent answers the customer's question with the file, quoting it: the attachment carries the
    quoted message's wamid, and its payload the platform's `context`, as a quoted text does."""
    from whatsapp.services import outbound_payload

    customer = wrote()
    question = Message.objects.get(direction="inbound")
    response = post(agent_client, customer, pdf(), reply_to=str(question.pk))
    assert response.status_code == 200
    message = Message.objects.get(direction="outbound")
    assert message.context_wamid == question.wamid
    message.media.media_id = "uploaded-1"
    message.media.save()
    payload = outbound_payload(message)
    assert payload["context"] == {"message_id": question.wamid}
    assert payload["document"]["id"] == "uploaded-1"


def test_a_file_quoting_another_customers_message_is_refused_and_nothing_is_kept(agent_client):
    customer, stranger = wrote(), wrote("4915112345678")
    theirs = Message.objects.get(customer=stranger)
    response = post(agent_client, customer, pdf(), reply_to=str(theirs.pk))
    assert response.status_code == 400
    assert "not in this customer" in response.text and "Here is the quote" in response.text
    assert not Message.objects.filter(direction="outbound").exists()
    assert not MessageMedia.objects.filter(message__direction="outbound").exists()


@pytest.mark.parametrize("role", ["supervisors", "admins", None])
def test_roles_that_do_not_send_get_403_and_nothing_is_kept(client, role):
    customer = wrote()
    client.force_login(user("someone", role))
    response = post(client, customer, pdf())
    assert response.status_code == 403 and "send messages to customers" in response.text
    assert not Message.objects.filter(direction="outbound").exists()
    assert not MessageMedia.objects.exists()


def test_anonymous_is_sent_to_sign_in_and_htmx_gets_401(client):
    customer = wrote()
    response = post(client, customer, pdf())
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert post(client, customer, pdf(), headers={"HX-Request": "true"}).status_code == 401
    assert not MessageMedia.objects.exists()


def test_a_post_without_its_csrf_token_is_refused():
    customer = wrote()
    client = Client(enforce_csrf_checks=True)
    client.force_login(user("alex", "agents"))
    assert post(client, customer, pdf()).status_code == 403
    assert not MessageMedia.objects.exists()


# --- The server decides --------------------------------------------------------------------------------


def test_outside_the_window_the_server_refuses_with_409_and_keeps_the_caption(agent_client, frozen_clock):
    customer = wrote(ago=timedelta(hours=23, minutes=59))
    frozen_clock.shift(timedelta(minutes=1))  # 24:00:00 after the customer wrote: the window is over
    response = post(agent_client, customer, pdf(), body="Sorry for the wait, here it is")
    assert response.status_code == 409
    assert compose_mode(response.text) == "template-only"
    assert "window closed at" in response.text
    assert ">Sorry for the wait, here it is</textarea>" in response.text
    assert not Message.objects.filter(direction="outbound").exists()
    assert not MessageMedia.objects.exists()


@pytest.mark.parametrize(
    ("file", "words"),
    [
        (SimpleUploadedFile("photo.png", HTML, content_type="image/png"), "not a type we can keep safely"),
        (
            SimpleUploadedFile("logo.svg", b"<svg onload='alert(1)'/>", content_type="image/svg+xml"),
            "not a type",
        ),
        (
            SimpleUploadedFile(
                "setup.exe", b"MZ\x90\x00" + b"\x00" * 64, content_type="application/x-msdownload"
            ),
            "not a type",
        ),
        (SimpleUploadedFile("empty.pdf", b"", content_type="application/pdf"), "The file is empty"),
    ],
    ids=["html-as-png", "svg", "exe", "empty"],
)
def test_a_refused_file_says_why_and_keeps_the_caption(agent_client, file, words):
    customer = wrote()
    response = post(agent_client, customer, file, body="My caption")
    assert response.status_code == 422
    assert words in visible(response.text)
    assert ">My caption</textarea>" in response.text
    assert compose_mode(response.text) == "free-form"
    assert not Message.objects.filter(direction="outbound").exists()
    assert not MessageMedia.objects.exists()


def test_a_photo_over_5_mb_is_refused_in_words(agent_client):
    customer = wrote()
    big = PNG + b"\x00" * (5 * 1024 * 1024)
    response = post(agent_client, customer, SimpleUploadedFile("shade.png", big, content_type="image/png"))
    assert response.status_code == 422
    assert (
        "“shade.png” was not sent: The photo is 5.0 MB; WhatsApp takes a photo of at most 5 MB."
        in visible(response.text)
    )


def test_a_caption_on_a_recording_is_refused_with_the_caption_kept(agent_client):
    customer = wrote()
    voice = SimpleUploadedFile("note.ogg", sandbox_media.ogg(), content_type="audio/ogg")
    response = post(agent_client, customer, voice, body="Listen to this")
    assert response.status_code == 422
    assert "WhatsApp sends a recording without a caption" in response.text
    assert ">Listen to this</textarea>" in response.text
    assert not MessageMedia.objects.exists()


def test_a_file_without_a_caption_needs_no_text(agent_client):
    customer = wrote()
    response = post(
        agent_client, customer, SimpleUploadedFile("shade.png", PNG, content_type="image/png"), body=""
    )
    assert response.status_code == 200
    assert Message.objects.get(direction="outbound").wa_type == "image"


# --- The compose area and the thread -------------------------------------------------------------------


def test_the_file_control_is_there_inside_the_window_and_absent_outside(agent_client, frozen_clock):
    customer = wrote(ago=timedelta(hours=23))
    page = agent_client.get(reverse("inbox:customer", args=[customer.pk])).text
    assert 'type="file"' in page and 'name="file"' in page and 'enctype="multipart/form-data"' in page
    assert "data-attach-limits=" in page and "Attach a file" in page
    frozen_clock.shift(timedelta(hours=1))
    compose = agent_client.get(reverse("inbox:compose", args=[customer.pk])).text
    assert compose_mode(compose) == "template-only"
    assert 'type="file"' not in compose and "Attach a file" not in compose


def test_supervisors_see_no_file_control(client):
    customer = wrote()
    client.force_login(user("morgan", "supervisors"))
    page = client.get(reverse("inbox:customer", args=[customer.pk])).text
    assert 'type="file"' not in page


def test_the_thread_shows_the_sent_file_with_its_ticks_served_through_the_app(agent_client):
    customer = wrote()
    post(agent_client, customer, pdf())
    post(agent_client, customer, SimpleUploadedFile("shade.png", PNG, content_type="image/png"), body="")
    document, photo = Message.objects.filter(direction="outbound").order_by("pk")
    html = agent_client.get(reverse("inbox:thread", args=[customer.pk])).text
    bubble = re.search(
        rf'<li class="msg msg-outbound[^"]*" id="message-{document.pk}">.*?</li>', html, re.S
    ).group(0)
    url = reverse("inbox:media", args=[customer.pk, document.pk])
    assert f'href="{url}"' in bubble and "quote.pdf" in bubble and "PDF ·" in visible(bubble)
    assert "Here is the quote" in visible(bubble)
    assert re.search(r'class="ticks ticks-queued\b', bubble)
    photo_url = reverse("inbox:media", args=[customer.pk, photo.pk])
    assert f'src="{photo_url}"' in html and 'alt="The photo we sent"' in html
    # Served through the app, to whoever reads the thread, with its type and a download disposition.
    supervisor = Client()
    supervisor.force_login(user("morgan", "supervisors"))
    served = supervisor.get(url)
    assert served.status_code == 200 and b"".join(served.streaming_content) == PDF
    assert served["Content-Type"] == "application/pdf"
    assert served["Content-Disposition"] == 'attachment; filename="quote.pdf"'
    assert served["X-Content-Type-Options"] == "nosniff"
    assert Client().get(url).status_code == 302  # signed out: to the sign-in page


def test_a_failed_upload_is_shown_on_the_message_in_words(agent_client):
    customer = wrote()
    post(agent_client, customer, pdf())
    message = Message.objects.get(direction="outbound")
    services.mark_message_failed(
        message=message,
        error_code=100,
        error_text="WhatsApp did not take the file. The file type is not supported.",
    )
    html = agent_client.get(reverse("inbox:thread", args=[customer.pk])).text
    assert "Not delivered (100). WhatsApp did not take the file. The file type is not supported." in visible(
        html
    )


def test_the_thread_costs_the_same_queries_with_2_or_20_sent_files(agent_client):
    customer = wrote()

    def thread_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert agent_client.get(reverse("inbox:thread", args=[customer.pk])).status_code == 200
        return len(captured)

    for _ in range(2):
        post(agent_client, customer, pdf())
    few = thread_queries()
    for _ in range(18):
        post(agent_client, customer, SimpleUploadedFile("shade.png", PNG, content_type="image/png"), body="")
    assert thread_queries() == few
