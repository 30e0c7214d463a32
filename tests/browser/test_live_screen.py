"""The agent's screen never moves under them (issue 11), in Chromium against the live server, over time:
a list scrolled and left open through several polls, a window that closes under a half-typed reply and
reopens when the customer writes, a session that ends mid-shift. The server half is in
tests/inbox/test_live_screen.py.
"""

import re
import uuid
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone
from playwright.sync_api import Page, expect

from config.demo import DEMO_CUSTOMERS
from conversations import services
from conversations.models import Message
from tests.browser.test_inbox import save_screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),  # the live server reads what the test writes
    pytest.mark.usefixtures("demo"),
]

POLL = 15_000  # ms: the list polls every 5 s, the thread every 4 s


def customer_writes(wa_id: str, body: str, *, name: str, at=None):
    return services.receive_message(
        wa_id=wa_id,
        name=name,
        body=body,
        wamid=f"wamid.live.{uuid.uuid4().hex[:10]}",
        timestamp=at or timezone.now(),
    ).customer


def list_statuses(page: Page) -> list[int]:
    """Every answer the list's poll got, in order (recorded by the page's network events)."""
    statuses: list[int] = []

    def record(response):
        if "/list/?" in response.url and "through=" in response.url:
            statuses.append(response.status)

    page.on("response", record)
    return statuses


def test_a_scrolled_list_left_open_keeps_its_position_older_rows_and_focus_through_polls(agent):
    page = agent
    now = timezone.now()
    for i in range(60):
        at = now - timedelta(minutes=30 + i)
        customer_writes(f"4930{i:07d}", f"Question {i}", name=f"Kunde {i:02d}", at=at)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto("/?view=all")
    statuses = list_statuses(page)
    page.evaluate("() => { window.__marker = 1; }")
    rows = page.locator("#customer-list li.row")
    first_page = rows.count()
    assert first_page == 25
    page.get_by_role("link", name="Older customers").click()
    expect(rows).to_have_count(50)
    # Loading older rows makes the poll cover them: it learns their version at once (one answer that
    # changes nothing on screen), then nothing new is 204.
    page.wait_for_function("() => document.querySelector('#customer-list').dataset.version", timeout=POLL)
    page.wait_for_timeout(1_000)
    statuses.clear()

    # Scroll down into the older rows, and put the keyboard focus on one of them.
    page.locator("#customer-list").evaluate("el => { el.scrollTop = 900; }")
    target = page.locator("#customer-list li.row", has_text="Kunde 30").get_by_role("link")
    target.focus()
    scroll = page.locator("#customer-list").evaluate("el => el.scrollTop")
    box = target.bounding_box()

    page.wait_for_timeout(12_000)  # two to three polls, while every countdown on screen ticks
    assert statuses and set(statuses) == {204}, statuses
    expect(rows).to_have_count(50)
    expect(target).to_be_focused()
    assert page.locator("#customer-list").evaluate("el => el.scrollTop") == scroll
    assert target.bounding_box()["y"] == box["y"]

    # A customer far down the loaded rows writes: her row moves to the top, replaced in place; the row
    # the agent is on stays focused and where it was on screen, and no row is lost.
    customer_writes("49300000040", "Any news on my order?", name="Kunde 40")
    top = rows.first
    expect(top).to_contain_text("Kunde 40", timeout=POLL)
    expect(top.locator(".preview")).to_have_text("Any news on my order?")
    expect(rows).to_have_count(50)
    expect(target).to_be_focused()
    assert abs(target.bounding_box()["y"] - box["y"]) < 2
    assert 200 in statuses
    assert page.evaluate("() => window.__marker") == 1  # the same document: no reload

    # The keyboard goes on from where it was.
    page.keyboard.press("Tab")
    expect(page.locator("#customer-list li.row", has_text="Kunde 31").get_by_role("link")).to_be_focused()


def test_a_half_typed_search_survives_the_polls(agent):
    page = agent
    page.goto("/?view=all")
    search = page.locator("#search")
    search.press_sequentially("Shee")
    expect(page.locator("#customer-list .name")).to_have_text(["Sheena Nelson"])
    page.wait_for_timeout(11_000)
    expect(search).to_be_focused()
    expect(search).to_have_value("Shee")
    customer_writes("16505551234", "Hello again", name="Sheena Nelson")
    expect(page.locator("#customer-list li.row .preview")).to_have_text(["Hello again"], timeout=POLL)
    expect(search).to_be_focused()
    expect(search).to_have_value("Shee")


def test_a_closed_window_reopens_live_in_the_compose_area_side_panel_and_list(agent):
    page = agent
    page.goto("/?view=all")
    page.locator("#customer-list a", has_text="Lukas Weber").click()
    compose = page.locator("#compose")
    expect(compose).to_have_attribute("data-compose-mode", "template-only")
    page.evaluate("() => { window.__marker = 1; }")
    row = page.locator("#customer-list li.row", has_text="Lukas Weber")
    expect(row.locator(".badge").first).to_have_text("Window closed")
    expect(page.locator("#side")).to_contain_text("Closed")

    # R1: he writes; without a reload, the thread shows it and everything agrees: a free reply is allowed.
    customer_writes("4915112345678", "Eine Frage noch: gibt es Rabatt?", name="Lukas Weber")
    expect(page.locator("#thread")).to_contain_text("gibt es Rabatt?", timeout=POLL)
    expect(compose).to_have_attribute("data-compose-mode", "free-form", timeout=POLL)
    expect(page.locator("#compose-body")).to_be_visible()
    expect(compose.locator("time[data-window-countdown]")).to_have_text(re.compile(r"^23:5\d:\d\d$"))
    expect(page.locator("#side")).to_contain_text("Open until", timeout=POLL)
    expect(row.locator(".badge").first).not_to_have_text("Window closed", timeout=POLL)
    expect(row.locator(".needs-reply")).to_be_visible()
    assert page.evaluate("() => window.__marker") == 1

    page.fill("#compose-body", "Ja, 10 % mit dem Code DANKE10.")
    page.locator("#compose").get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#thread .msg-outbound", has_text="DANKE10")).to_be_visible()
    assert Message.objects.filter(body="Ja, 10 % mit dem Code DANKE10.", kind="free_form").count() == 1


def test_text_typed_while_the_window_closes_is_kept_and_comes_back_when_it_reopens(agent):
    page = agent
    closing = customer_writes(
        "447700900555",
        "Can you call me back?",
        name="Closing Soon",
        at=timezone.now() - timedelta(hours=24) + timedelta(seconds=8),  # R1: the window ends in 8 s
    )
    page.goto(f"/customers/{closing.pk}/")
    compose = page.locator("#compose")
    expect(compose).to_have_attribute("data-compose-mode", "free-form")
    text = "Of course — what time suits you tomorrow?"
    page.locator("#compose-body").press_sequentially(text)

    # R2 at zero: templates only. The text is not lost: it stays visible beside the template picker.
    expect(compose).to_have_attribute("data-compose-mode", "template-only", timeout=20_000)
    draft = page.locator("#draft-text")
    expect(draft).to_be_visible()
    expect(draft).to_have_value(text)
    expect(page.locator("#template-choice")).to_be_visible()
    expect(page.locator("#side")).to_contain_text("Closed", timeout=5_000)
    row = page.locator("#customer-list li.row", has_text="Closing Soon")
    expect(row.locator(".badge").first).to_have_text("Window closed")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    compose.get_by_role("button", name="Copy").click()
    expect(compose.locator("[data-copy-result]")).to_have_text("Copied.")
    save_screenshot(compose, "compose-draft-kept")
    assert page.evaluate("() => navigator.clipboard.readText()") == text

    # A reload keeps it too (it lives in the browser until it is sent).
    page.reload()
    expect(page.locator("#draft-text")).to_have_value(text)

    # R1: the customer writes again; the text goes back into the reply box, ready to send.
    customer_writes("447700900555", "Hello?", name="Closing Soon")
    expect(compose).to_have_attribute("data-compose-mode", "free-form", timeout=POLL)
    expect(page.locator("#compose-body")).to_have_value(text)
    page.locator("#compose").get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#thread .msg-outbound", has_text=text)).to_be_visible()
    page.reload()
    expect(page.locator("#compose-body")).to_have_value("")  # sent: the browser forgets it


def test_an_expired_session_shows_a_notice_keeps_the_reply_and_signs_back_in(agent, page_issues):
    page = agent
    page_issues.allow(r"401 \(Unauthorized\)")  # the browser logs the refused polls
    page.goto("/?view=all")
    page.locator("#customer-list a", has_text="Sheena Nelson").click()
    expect(page.locator("#compose")).to_have_attribute("data-compose-mode", "free-form")
    text = "Let me check the team price for you."
    page.fill("#compose-body", text)

    Session.objects.all().delete()  # the session ends on the server (expiry, a sign-out elsewhere)
    notice = page.locator("#page-notice")
    expect(notice).to_be_visible(timeout=POLL)
    expect(notice).to_contain_text("You were signed out.")
    # Never the sign-in page nested in a panel.
    expect(page.locator("#main #id_username")).to_have_count(0)
    expect(page.locator("#customer-list li.row").first).to_be_visible()
    save_screenshot(page, "signed-out-notice")

    # Send is refused with the notice; the text stays.
    page.locator("#compose").get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#compose-body")).to_have_value(text)
    assert not Message.objects.filter(body=text).exists()

    sign_in = notice.get_by_role("link", name="Sign in again")
    expect(sign_in).to_have_attribute("href", re.compile(r"^/login/\?next=%2Fcustomers%2F\d+%2F"))
    sign_in.click()
    page.fill("#id_username", "agent")
    page.fill("#id_password", "agent-demo")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#customer-title")).to_have_text("Sheena Nelson")
    expect(page.locator("#compose-body")).to_have_value(text)  # kept in the browser until sent
    expect(page.locator("#page-notice")).to_be_hidden()
    page.locator("#compose").get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#thread .msg-outbound", has_text=text)).to_be_visible()
    assert Message.objects.filter(body=text).count() == 1


def test_opening_customers_from_a_scrolled_list_leaves_the_list_as_it_was(agent):
    page = agent
    now = timezone.now()
    for i in range(40):
        at = now - timedelta(minutes=30 + i)
        customer_writes(f"4930{i:07d}", f"Question {i}", name=f"Kunde {i:02d}", at=at)
    all_rows = 40 + len(DEMO_CUSTOMERS)  # two pages of the list: every customer
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto("/?view=all")
    page.evaluate("() => { window.__marker = 1; }")
    rows = page.locator("#customer-list li.row")
    page.get_by_role("link", name="Older customers").click()
    expect(rows).to_have_count(all_rows)
    link = page.locator("#customer-list li.row", has_text="Kunde 33").get_by_role("link")
    link.scroll_into_view_if_needed()  # as a person scrolls to the row they want
    scroll = page.locator("#customer-list").evaluate("el => el.scrollTop")
    assert scroll > 1000
    link.click()
    expect(page.locator("#customer-title")).to_have_text("Kunde 33")
    expect(page).to_have_url(re.compile(r"/customers/\d+/\?view=all$"))
    expect(page).to_have_title(re.compile(r"^Kunde 33 · Inbox"))
    expect(page.locator("#thread")).to_contain_text("Question 33")
    expect(link).to_have_attribute("aria-current", "page")
    expect(link).to_be_focused()
    expect(rows).to_have_count(all_rows)
    assert page.locator("#customer-list").evaluate("el => el.scrollTop") == scroll
    # The list's poll brings her unread count down, in place.
    expect(page.locator("#customer-list li.row", has_text="Kunde 33").locator(".unread-count")).to_have_count(
        0, timeout=POLL
    )

    # The keyboard: the next row, Enter; the previous one loses its mark.
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#customer-title")).to_have_text("Kunde 34")
    expect(link).not_to_have_attribute("aria-current", "page")
    expect(rows).to_have_count(all_rows)
    assert page.locator("#customer-list").evaluate("el => el.scrollTop") == scroll
    page.fill("#compose-body", "Hallo Kunde 34")
    page.locator("#compose").get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#thread .msg-outbound", has_text="Hallo Kunde 34")).to_be_visible()
    assert page.evaluate("() => window.__marker") == 1  # one document all along

    # Back goes to the previous customer (a fresh page for that address).
    page.go_back()
    expect(page.locator("#customer-title")).to_have_text("Kunde 33")
