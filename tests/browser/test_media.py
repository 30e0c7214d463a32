"""A customer's photo and PDF in a real browser (issue 14): the demo's Ravi Patel sent both, the sandbox
kept them and the app fetched and stored them (config.demo). The picture shows in the thread and opens
full size; the PDF shows its name and downloads through the app; the strict CSP holds (conftest.py fails
the test on any violation)."""

import pytest
from playwright.sync_api import expect

from conversations.models import MessageMedia
from tests.browser.test_inbox import open_customer, save_screenshot
from whatsapp import sandbox_media

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("demo"),
]


def test_a_customers_photo_shows_in_the_thread_and_the_pdf_downloads(agent, tmp_path):
    page = agent
    page.goto("/")
    open_customer(page, "Ravi Patel")
    photo = page.locator("#thread .attachment-image img")
    expect(photo).to_be_visible()
    # Loaded, through the app, as the picture it is (not a broken-image icon).
    assert photo.evaluate("img => img.complete && img.naturalWidth") == 320
    expect(page.locator("#thread .msg", has_text="The shade is cracked").locator("img")).to_have_count(1)
    box = photo.bounding_box()
    assert box["width"] <= 18 * 16 and box["height"] <= 16 * 16  # a thumbnail, scaled by CSS
    image = MessageMedia.objects.get(kind="image", message__customer__name="Ravi Patel")
    expect(page.locator("#thread a.thumb")).to_have_attribute(
        "href", f"/customers/{image.message.customer_id}/media/{image.message_id}/"
    )

    document = page.locator("#thread .attachment-download")
    expect(document.get_by_role("link", name="invoice-2026-0917.pdf")).to_be_visible()
    expect(document).to_contain_text("PDF ·")
    expect(page.locator("#thread .msg", has_text="invoice-2026-0917.pdf")).to_contain_text("My invoice")
    save_screenshot(page, "thread-media")

    with page.expect_download() as downloading:
        document.get_by_role("link", name="invoice-2026-0917.pdf").click()
    download = downloading.value
    assert download.suggested_filename == "invoice-2026-0917.pdf"
    saved = tmp_path / "invoice.pdf"
    download.save_as(saved)
    assert saved.read_bytes() == sandbox_media.pdf("Invoice invoice-2026-0917.pdf")

    # Full size opens in a new tab, served by the app with its own strict policy.
    with page.context.expect_page() as opening:
        page.locator("#thread a.thumb").click()
    full = opening.value
    full.wait_for_load_state()
    assert full.url.endswith(f"/media/{image.message_id}/")
    assert full.evaluate("() => document.images.length && document.images[0].naturalWidth") == 320
    full.close()


def test_a_customers_voice_note_plays_in_the_thread_and_can_be_seeked(agent):
    """Ravi's voice note: an audio player whose file the browser loads through the app (its metadata and
    duration read, no error), and whose seeking asks for byte ranges the app answers with 206."""
    page = agent
    ranges = []
    page.on(
        "response",
        lambda response: ranges.append(response.status) if "/media/" in response.url else None,
    )
    page.goto("/")
    open_customer(page, "Ravi Patel")
    player = page.locator("#thread audio")
    expect(player).to_have_count(1)
    page.wait_for_function(
        "() => { const a = document.querySelector('#thread audio'); return a && a.readyState >= 1; }",
        timeout=10_000,
    )
    assert player.evaluate("a => a.error") is None
    assert player.evaluate("a => a.duration") > 0
    # Wide enough to show its play button and timeline (a bubble is as wide as its content).
    assert player.bounding_box()["width"] >= 15 * 16
    voice = MessageMedia.objects.get(kind="audio", message__customer__name="Ravi Patel")
    served = page.request.get(
        f"/customers/{voice.message.customer_id}/media/{voice.message_id}/", headers={"Range": "bytes=4-11"}
    )
    assert served.status == 206 and served.body() == sandbox_media.ogg()[4:12]
    assert served.headers["content-range"] == f"bytes 4-11/{len(sandbox_media.ogg())}"


def test_a_signed_out_browser_cannot_fetch_a_file(page):
    image = MessageMedia.objects.filter(kind="image").first()
    response = page.goto(f"/customers/{image.message.customer_id}/media/{image.message_id}/")
    assert "/login/" in page.url and response.ok
