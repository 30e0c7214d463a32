"""An agent sends a document in a real browser (issue 14): picked with the "Attach a file" button, the
reply box as its caption; it shows in the thread as a document with its ticks, which move forward as the
send task and the platform's statuses go through (the sandbox stands in for the platform, as in the demo;
the task is run here as the worker would run it). A file over the platform's limit dropped on the compose
area is refused at once, the caption kept; outside the window there is no file control at all. The strict
CSP holds (conftest.py fails the test on any violation)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from conversations.models import Message
from tests.browser.test_inbox import compose, htmx_settled, open_customer, save_screenshot
from tests.browser.test_live_screen import POLL, customer_writes
from whatsapp import sandbox, sandbox_media
from whatsapp import services as channel

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("demo"),
]

PDF = sandbox_media.pdf("Quote 2026-77")


# A file as the browser hands it over when one is dragged from the desktop onto the page.
DATA_TRANSFER = """([name, type, bytes, size]) => {
    const transfer = new DataTransfer();
    const content = bytes === null ? new Uint8Array(size) : new Uint8Array(bytes);
    transfer.items.add(new File([content], name, {type}));
    return transfer;
}"""


def dropped(page: Page, name: str, content_type: str, *, content: bytes | None = None, size: int = 0):
    return page.evaluate_handle(
        DATA_TRANSFER, [name, content_type, list(content) if content is not None else None, size]
    )


def test_an_agent_sends_a_pdf_and_sees_it_in_the_thread_with_its_ticks(agent):
    page = agent
    page.goto("/?view=all")
    open_customer(page, "Sheena Nelson")
    expect(compose(page)).to_have_attribute("data-compose-mode", "free-form")
    page.fill("#compose-body", "Here is the quote for a team of 5")
    page.set_input_files(
        "#compose-file", files=[{"name": "quote-2026-77.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    chosen = compose(page).locator("[data-attach-chosen]")
    expect(chosen).to_be_visible()
    expect(chosen).to_contain_text("quote-2026-77.pdf")
    save_screenshot(compose(page), "compose-attachment")
    compose(page).get_by_role("button", name="Send", exact=True).click()

    expect(compose(page).get_by_role("status")).to_contain_text("Queued for WhatsApp")
    bubble = page.locator("#thread .msg-outbound", has_text="quote-2026-77.pdf")
    expect(bubble).to_be_visible()
    expect(bubble).to_contain_text("Here is the quote for a team of 5")
    expect(bubble.locator(".attachment-download")).to_contain_text("PDF ·")
    expect(bubble.locator(".ticks")).to_have_class(re.compile(r"ticks-queued"))
    expect(page.locator("#compose-body")).to_have_value("")
    expect(compose(page).locator("[data-attach-chosen]")).to_be_hidden()

    message = Message.objects.get(direction="outbound", wa_type="document")
    assert message.body == "Here is the quote for a team of 5" and message.agent.username == "agent"
    # The send task, as the worker runs it: the sandbox takes the upload, then the message by its id.
    assert channel.deliver_message(message.pk).result == "sent"
    message.refresh_from_db()
    assert sandbox_media.content(message.media.media_id) == PDF
    expect(bubble.locator(".ticks")).to_have_class(re.compile(r"ticks-sent"))
    sandbox.emit_status(message_id=message.pk, wamid=message.wamid, status="delivered")
    expect(bubble.locator(".ticks")).to_have_class(re.compile(r"ticks-delivered"))
    save_screenshot(bubble, "thread-attachment-sent")

    # The file downloads through the app: the bytes that were sent.
    with page.expect_download() as downloading:
        bubble.get_by_role("link", name="quote-2026-77.pdf").click()
    assert downloading.value.suggested_filename == "quote-2026-77.pdf"


def test_a_file_over_the_limit_dropped_on_the_compose_area_is_refused_at_once(agent):
    page = agent
    page.goto("/?view=all")
    open_customer(page, "Sheena Nelson")
    htmx_settled(page)
    page.fill("#compose-body", "The photo of the shade")
    drop = dropped(page, "shade.png", "image/png", size=5 * 1024 * 1024 + 1)
    page.dispatch_event("#compose-body", "dragover", {"dataTransfer": drop})
    page.dispatch_event("#compose-body", "drop", {"dataTransfer": drop})
    refused = compose(page).locator("[data-attach-refused]")
    expect(refused).to_be_visible()
    expect(refused).to_have_text(
        "“shade.png” is 5.0 MB; WhatsApp takes a photo of at most 5 MB. Choose a smaller file."
    )
    expect(page.locator("#compose-body")).to_have_value("The photo of the shade")  # the caption stays
    assert page.evaluate("() => document.getElementById('compose-file').files.length") == 0

    # A file the platform takes, dropped the same way, is attached and goes with the caption.
    ok = dropped(page, "quote.pdf", "application/pdf", content=PDF)
    page.dispatch_event("#compose-body", "drop", {"dataTransfer": ok})
    expect(refused).to_be_hidden()
    expect(compose(page).locator("[data-attach-chosen]")).to_contain_text("quote.pdf")
    compose(page).get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#thread .msg-outbound", has_text="quote.pdf")).to_contain_text(
        "The photo of the shade"
    )
    assert Message.objects.get(direction="outbound", wa_type="document").media.size == len(PDF)


def test_outside_the_window_there_is_no_file_control(agent):
    page = agent
    page.goto("/?view=all")
    open_customer(page, "Lukas Weber")
    expect(compose(page)).to_have_attribute("data-compose-mode", "template-only")
    expect(compose(page).locator("input[type=file]")).to_have_count(0)
    expect(compose(page).get_by_text("Attach a file")).to_have_count(0)


# --- A picked file through the window's changes --------------------------------------------------------


def test_a_picked_file_stays_when_the_customer_writes_meanwhile_and_is_sent_once(agent):
    page = agent
    customer = customer_writes("447700900661", "Can you send the quote?", name="Quote Asker")
    page.goto(f"/customers/{customer.pk}/")
    expect(compose(page)).to_have_attribute("data-compose-mode", "free-form")
    page.fill("#compose-body", "Here it is")
    page.set_input_files(
        "#compose-file", files=[{"name": "quote-88.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    chosen = compose(page).locator("[data-attach-chosen]")
    expect(chosen).to_contain_text("quote-88.pdf")
    key = compose(page).get_attribute("data-window-key")

    # R1: the customer writes again; the thread shows it and the server re-renders the compose area for the
    # window that starts now. The caption and the file both come through it.
    customer_writes("447700900661", "For 5 people, please", name="Quote Asker")
    expect(page.locator("#thread")).to_contain_text("For 5 people", timeout=POLL)
    expect(compose(page)).not_to_have_attribute("data-window-key", key, timeout=POLL)
    htmx_settled(page)
    expect(page.locator("#compose-body")).to_have_value("Here it is")
    expect(chosen).to_contain_text("quote-88.pdf")
    assert page.evaluate("() => document.getElementById('compose-file').files[0].name") == "quote-88.pdf"

    compose(page).get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#thread .msg-outbound", has_text="quote-88.pdf")).to_contain_text("Here it is")
    expect(chosen).to_be_hidden()  # sent: the compose area starts empty, the file is not carried again
    message = Message.objects.get(direction="outbound", wa_type="document", customer=customer)
    assert message.media.size == len(PDF) and message.body == "Here it is"


def test_a_picked_file_when_the_window_closes_is_named_as_not_sent(agent):
    page = agent
    closing = customer_writes(
        "447700900662",
        "Send me the form",
        name="Form Asker",
        at=timezone.now() - timedelta(hours=24) + timedelta(seconds=8),  # R1: the window ends in 8 s
    )
    page.goto(f"/customers/{closing.pk}/")
    expect(compose(page)).to_have_attribute("data-compose-mode", "free-form")
    page.set_input_files(
        "#compose-file", files=[{"name": "form.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    expect(compose(page).locator("[data-attach-chosen]")).to_contain_text("form.pdf")

    # R2 at zero: templates only, and no file goes with a template; the agent is told which file was not sent.
    expect(compose(page)).to_have_attribute("data-compose-mode", "template-only", timeout=20_000)
    note = compose(page).locator(".file-not-sent")
    expect(note).to_have_text(
        "“form.pdf” was not sent: the window closed, and only a template reaches the customer now. "
        "Attach it again when they write."
    )
    expect(compose(page).locator("input[type=file]")).to_have_count(0)
    assert not Message.objects.filter(direction="outbound", customer=closing).exists()
