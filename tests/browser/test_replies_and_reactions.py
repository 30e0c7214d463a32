"""An agent replies to a customer's photo and reacts to it, in a real browser (issue 14, item 4): the demo's
Ravi Patel sent a photo of a cracked lamp shade minutes ago (his window is open). Reply puts the quote
above the reply box (keyboard reachable, × cancels it), the sent reply shows the quote in the thread, 👍
sits beside the photo; typing shows the customer "typing…" (asked of the server, throttled); the strict
CSP holds (conftest.py fails the test on any violation or console error)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conversations import selectors, services
from conversations.models import Customer, Message
from tests.browser.test_inbox import open_customer, save_screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("demo"),
]


def test_an_agent_replies_to_a_customers_photo_and_reacts_with_a_thumbs_up(agent):
    page = agent
    page.goto("/")
    open_customer(page, "Ravi Patel")
    ravi = Customer.objects.get(name="Ravi Patel")
    photo = Message.objects.get(customer=ravi, wa_type="image")
    photo_bubble = page.locator(f"#message-{photo.pk}")
    expect(photo_bubble.locator("img")).to_be_visible()
    quote_box = page.locator("#compose [data-reply-quote]")
    expect(quote_box).to_be_hidden()

    # Reply, from the keyboard: the quote (author and first line) above the reply box, which has the focus.
    reply_action = photo_bubble.get_by_role("button", name="Reply to this message")
    reply_action.focus()
    page.keyboard.press("Enter")
    expect(quote_box).to_be_visible()
    expect(quote_box).to_contain_text("Customer: [Image]")
    expect(quote_box).to_contain_text("The shade is cracked")
    expect(page.locator("#compose-body")).to_be_focused()

    # × sends without the quote; Reply again brings it back.
    quote_box.get_by_role("button", name="Cancel the reply").click()
    expect(quote_box).to_be_hidden()
    expect(page.locator("#compose input[name='reply_to']")).to_have_value("")
    reply_action.click()
    expect(page.locator("#compose input[name='reply_to']")).to_have_value(str(photo.pk))

    # Typing shows the customer "typing…": the page asks the server, which queues it (once per 20 s).
    with page.expect_response(lambda r: r.url.endswith(f"/customers/{ravi.pk}/typing/")) as typing:
        page.locator("#compose-body").type("We will send you a new shade today.")
    assert typing.value.status == 202
    ravi.refresh_from_db()
    assert ravi.typing_indicated_at is not None

    page.get_by_role("button", name="Send", exact=True).click()
    reply = page.locator("#thread li.msg-outbound", has_text="We will send you a new shade today.")
    expect(reply.locator(".quote")).to_contain_text("Customer: [Image]")
    expect(reply.locator(".quote")).to_contain_text("The shade is cracked")
    expect(quote_box).to_be_hidden()
    sent = Message.objects.get(customer=ravi, body="We will send you a new shade today.")
    assert sent.context_wamid == photo.wamid

    # React: a small set of emoji, then 👍 beside the photo.
    photo_bubble.get_by_text("React", exact=True).click()
    photo_bubble.get_by_role("button", name="React 👍").click()
    expect(photo_bubble.locator(".our-reaction")).to_have_text("Your reaction: 👍")
    reaction = Message.objects.get(customer=ravi, wa_type="reaction", direction="outbound")
    assert (reaction.context_wamid, reaction.details) == (photo.wamid, {"reaction": "👍"})
    expect(page.locator(f"#message-{reaction.pk}")).to_have_count(0)  # beside the photo, not a bubble
    save_screenshot(page.locator("#conversation"), "thread-reply-and-reaction")

    # Removing it removes it.
    photo_bubble.get_by_text("React", exact=True).click()
    photo_bubble.get_by_role("button", name="Remove").click()
    expect(photo_bubble.locator(".our-reaction")).to_have_count(0)


def test_the_actions_are_not_offered_once_the_window_is_closed(agent):
    """A customer whose window closed (the demo has some): templates only, so neither Reply nor React."""
    page = agent
    closed = next(c for c in Customer.objects.exclude(last_inbound_at=None) if not _window_open(c))
    page.goto(f"/customers/{closed.pk}/")
    expect(page.locator("#compose")).to_have_attribute("data-compose-mode", "template-only")
    expect(page.locator("#thread .msg-inbound")).not_to_have_count(0)
    expect(page.locator("#thread [data-reply-to]")).to_have_count(0)
    expect(page.locator("#thread .react")).to_have_count(0)


def test_the_actions_go_when_the_window_closes_under_the_open_page(agent):
    """R2 at the second: the page offered Reply and React; at zero the compose area turns to templates
    only and the actions go with it, without a reload (the server refuses them anyway)."""
    page = agent
    wrote_at = timezone.now() - timedelta(hours=24) + timedelta(seconds=6)
    message = services.receive_message(
        wa_id="15550009999",
        body="Still there?",
        wamid="wamid.LAST-SECONDS",
        timestamp=wrote_at,
        name="Late Lou",
    )
    page.goto(f"/customers/{message.customer_id}/")
    bubble = page.locator(f"#message-{message.pk}")
    expect(bubble.get_by_role("button", name="Reply to this message")).to_be_visible()
    expect(page.locator("#compose")).to_have_attribute("data-compose-mode", "template-only", timeout=15_000)
    expect(bubble.get_by_role("button", name="Reply to this message")).to_be_hidden()
    expect(bubble.locator(".react")).to_be_hidden()


def _window_open(customer) -> bool:
    return selectors.service_window(customer).is_open
