"""Files agents send (issue 14), the domain's part: an attachment is a free-form message (R2 decides it
under the customer's lock, R4/R6 open or join a conversation like a text), stored through Django's
storage API and recorded with its MessageMedia row, handed to the channel's send task after commit."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.files.base import ContentFile

from conversations import services
from conversations.exceptions import InvalidMessage, WindowClosed
from conversations.models import Conversation, Message, MessageMedia
from whatsapp import sandbox_media

pytestmark = pytest.mark.django_db

MON_0800 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PDF = sandbox_media.pdf("Quote 2026-77")
OGG = sandbox_media.ogg()


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(MON_0800, tick=False) as traveller:
        yield traveller


def customer_wrote(at=MON_0800, **kwargs):
    return services.receive_message(
        wa_id="16505551234", body="Send me the quote", wamid=f"wamid.in.{at:%H%M%S}", timestamp=at, **kwargs
    ).customer


def attach(customer, *, content=PDF, kind="document", content_type="application/pdf", caption="", **kw):
    return services.send_attachment(
        customer=customer,
        content=ContentFile(content),
        filename=kw.pop("filename", "quote.pdf"),
        kind=kind,
        content_type=content_type,
        size=len(content),
        caption=caption,
        **kw,
    )


def stored_files(media_storage) -> list:
    return [p for p in media_storage.rglob("*") if p.is_file()] if media_storage.exists() else []


def test_an_attachment_is_stored_recorded_queued_and_handed_to_the_send_task(
    django_capture_on_commit_callbacks, media_storage
):
    customer = customer_wrote()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        message = attach(customer, caption="Here is the quote")
    assert (message.direction, message.kind, message.wa_type, message.status) == (
        "outbound",
        "free_form",
        "document",
        "queued",
    )
    assert message.body == "Here is the quote"
    assert message.details == {"media": {"caption": "Here is the quote", "filename": "quote.pdf"}}
    # R4: a free-form message with nothing open opens a service conversation.
    assert message.conversation.category == Conversation.Category.SERVICE
    file = MessageMedia.objects.get(message=message)
    assert (file.status, file.kind, file.content_type, file.size, file.filename) == (
        "stored",
        "document",
        "application/pdf",
        len(PDF),
        "quote.pdf",
    )
    assert (file.media_id, file.uploaded_at, file.received_at) == ("", None, MON_0800)
    with file.file.open("rb") as kept:
        assert kept.read() == PDF
    assert "quote" not in file.file.name  # named by the app, never by the agent
    [dispatch] = queued
    assert (dispatch.func.__name__, dispatch.args) == ("_dispatch_outbound", (message.pk,))
    assert len(stored_files(media_storage)) == 1


def test_without_a_caption_the_body_names_the_file():
    customer = customer_wrote()
    assert attach(customer).body == "[Document] quote.pdf"
    voice = attach(customer, content=OGG, kind="audio", content_type="audio/ogg", filename="note.ogg")
    assert voice.body == "[Audio]" and voice.details["media"]["caption"] == ""


# --- R2 at the window's edge, for an attachment --------------------------------------------------------


def test_r2_an_attachment_at_235959_goes_and_at_240000_is_refused_keeping_nothing(clock, media_storage):
    customer = customer_wrote()
    clock.move_to(MON_0800 + timedelta(hours=23, minutes=59, seconds=59))
    assert attach(customer).status == "queued"
    clock.move_to(MON_0800 + timedelta(hours=24))
    with pytest.raises(WindowClosed, match="window closed at"):
        attach(customer, filename="second.pdf")
    assert Message.objects.filter(direction="outbound").count() == 1
    assert MessageMedia.objects.count() == 1
    assert len(stored_files(media_storage)) == 1  # the refused file was not kept


def test_r2_an_attachment_to_a_customer_who_never_wrote_is_refused():
    from tests import factories

    with pytest.raises(WindowClosed, match="never written to us"):
        attach(factories.customer())
    assert not MessageMedia.objects.exists()


def test_r4_an_attachment_joins_an_open_conversation_like_a_text():
    customer = customer_wrote()
    text = services.send_text(customer=customer, body="One moment")
    message = attach(customer)
    assert message.conversation_id == text.conversation_id
    assert Conversation.objects.count() == 1


# --- Refused before anything is kept -------------------------------------------------------------------


def test_a_caption_on_a_recording_is_refused_in_words(media_storage):
    customer = customer_wrote()
    with pytest.raises(InvalidMessage, match="WhatsApp sends a recording without a caption"):
        attach(customer, content=OGG, kind="audio", content_type="audio/ogg", caption="Listen")
    assert not Message.objects.filter(direction="outbound").exists()
    assert stored_files(media_storage) == []


def test_a_caption_over_the_platforms_length_is_refused():
    customer = customer_wrote()
    with pytest.raises(InvalidMessage, match="The caption is 1025 characters long; WhatsApp allows 1024"):
        attach(customer, caption="x" * 1025)
    assert attach(customer, caption="x" * 1024).status == "queued"


def test_a_sticker_is_not_something_agents_send():
    with pytest.raises(InvalidMessage, match="A sticker cannot be sent as an attachment"):
        attach(customer_wrote(), kind="sticker", content_type="image/webp")


def test_a_repeat_of_the_same_form_sends_once_and_keeps_one_file(media_storage):
    from django.contrib.auth.models import User

    customer, agent = customer_wrote(), User.objects.create_user("alex")
    token = "0b7d3c55-2c1a-4c0e-9a51-6f4b0e3c2d11"
    first = attach(customer, agent=agent, client_token=token)
    again = attach(customer, agent=agent, client_token=token)
    assert again.pk == first.pk
    assert MessageMedia.objects.count() == 1 and len(stored_files(media_storage)) == 1


def test_a_file_name_is_cleaned_of_folders_and_control_characters():
    message = attach(customer_wrote(), filename="..\\..\\etc/quo\x00te\n.pdf")
    assert message.media.filename == "quote.pdf"
