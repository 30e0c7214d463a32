"""`manage.py simulate_inbound` plays the customer against a running app, exactly as the platform would."""

import pytest
from django.core.management import CommandError, call_command

from conversations import selectors
from conversations.models import Customer, Message
from whatsapp.models import WebhookDelivery


@pytest.mark.django_db(transaction=True)
def test_posts_a_signed_delivery_that_the_running_app_accepts(live_server, capsys):
    url = f"{live_server.url}/webhooks/whatsapp/"
    call_command(
        "simulate_inbound", "+4915112345678", "Hallo, ich brauche Hilfe 🙏", "--name", "Lukas", "--url", url
    )
    assert "Delivered wamid.SANDBOX" in capsys.readouterr().out
    message = Message.objects.get()
    assert (message.body, message.customer.name, message.customer.country) == (
        "Hallo, ich brauche Hilfe 🙏",
        "Lukas",
        "DE",
    )
    assert WebhookDelivery.objects.get().status == "processed"
    assert selectors.service_window(message.customer).is_open

    call_command("simulate_inbound", "15557654321", "I saw your ad", "--ad", "--url", url)
    lead = Customer.objects.get(wa_id="15557654321")
    assert selectors.fep_eligibility(lead).is_eligible  # R6

    # A customer with a username and no shared phone number: known by their business-scoped user id.
    call_command(
        "simulate_inbound",
        "US.13491208655302741918",
        "Another colour?",
        "--username",
        "@sheena",
        "--url",
        url,
    )
    sheena = Customer.objects.get(user_id="US.13491208655302741918")
    assert (sheena.wa_id, sheena.username, sheena.country, sheena.handle) == (
        None,
        "@sheena",
        "US",
        "@sheena",
    )
    assert selectors.service_window(sheena).is_open  # R1, whichever identifier the message carries


def test_explains_what_went_wrong():
    with pytest.raises(CommandError, match="not a WhatsApp phone number"):
        call_command("simulate_inbound", "not-a-number", "hi")
    with pytest.raises(CommandError, match="Is the app running"):
        call_command(
            "simulate_inbound", "15557654321", "hi", "--url", "http://127.0.0.1:9/webhooks/whatsapp/"
        )


@pytest.mark.django_db(transaction=True)
def test_posts_to_the_port_that_dev_demo_serves_on(live_server, monkeypatch, capsys):
    monkeypatch.setenv("PORT", live_server.url.rsplit(":", 1)[1])  # as `PORT=8001 ./dev demo` sets it
    call_command("simulate_inbound", "15557654321", "Is this the right port?")
    assert "Delivered wamid.SANDBOX" in capsys.readouterr().out
    assert Message.objects.get().body == "Is this the right port?"

    monkeypatch.setenv("PORT", "9")
    with pytest.raises(CommandError, match=r"http://127\.0\.0\.1:9/webhooks/whatsapp/"):
        call_command("simulate_inbound", "15557654321", "hi")


@pytest.mark.django_db(transaction=True)
def test_sends_a_photo_a_document_and_a_voice_note_whose_files_the_sandbox_serves(
    live_server, capsys, settings, tmp_path
):
    from conversations.models import MessageMedia
    from whatsapp import media, sandbox_media

    settings.WHATSAPP_SANDBOX = True
    files = {
        "photo.png": sandbox_media.png(),
        "invoice.pdf": sandbox_media.pdf(),
        "note.ogg": sandbox_media.ogg(),
    }
    for file_name, content in files.items():
        (tmp_path / file_name).write_bytes(content)
    url = f"{live_server.url}/webhooks/whatsapp/"
    # The caption after the file, as people type it (positionals are read among the options).
    call_command(
        "simulate_inbound", "15557654321", "--image", tmp_path / "photo.png", "The lid", "--url", url
    )
    call_command("simulate_inbound", "15557654321", "--document", tmp_path / "invoice.pdf", "--url", url)
    call_command("simulate_inbound", "15557654321", "--voice", tmp_path / "note.ogg", "--url", url)
    assert capsys.readouterr().out.count("Delivered wamid.SANDBOX") == 3
    image, document, voice = Message.objects.order_by("pk")
    assert (image.wa_type, image.body, document.wa_type, voice.wa_type) == (
        "image",
        "[Image] The lid",
        "document",
        "audio",
    )
    assert voice.details["media"]["voice"] is True and document.details["media"]["filename"] == "invoice.pdf"
    for message, content in zip((image, document, voice), files.values(), strict=True):
        assert media.fetch_media(message.media.pk).result == "stored"
        kept = MessageMedia.objects.get(pk=message.media.pk)
        with kept.file.open("rb") as stored:
            assert stored.read() == content
    with pytest.raises(CommandError, match="Say what the customer writes"):
        call_command("simulate_inbound", "15557654321", "--url", url)
