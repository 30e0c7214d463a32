"""Issue 15 in Chromium against the live server: two agents hand over with a private note and a mention
(two browser contexts: B's bell counts it without a reload, and the notification opens the thread at the
note); a canned reply with {{order_number}} filled from the customer's contact field through the `/`
shortcut; outside the window, `/` offers the approved templates, prefilled from contact fields by name.
The server half is in tests/inbox/test_notes_and_canned.py."""

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from conversations import services
from conversations.models import Customer, Message
from inbox.models import Note, Notification
from tests.browser.conftest import CSP_VIOLATION, TIME_ZONE, VIEWPORT

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),  # the live server reads what the test writes
    pytest.mark.usefixtures("demo"),
]

POLL = 15_000  # ms: the bell polls every 5 s, the thread every 4 s
PABLO = "5511987654321"  # window open, order_number 860198 in the demo
LUKAS = "4915112345678"  # window closed two days ago


def second_agent(browser, live_server, page_issues) -> Page:
    """Another person at another computer: a browser context of its own, signed in as agent2 (Sam)."""
    context = browser.new_context(
        viewport=VIEWPORT, timezone_id=TIME_ZONE, locale="en-US", base_url=live_server.url
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()

    def on_console(message):
        if message.type == "error" or CSP_VIOLATION.search(message.text):
            page_issues.seen.append(f"console {message.type} (agent2): {message.text} ({tab.url})")

    tab.on("console", on_console)
    tab.on("pageerror", lambda error: page_issues.seen.append(f"uncaught error (agent2): {error}"))
    tab.goto("/login/")
    tab.wait_for_function("() => performance.getEntriesByType('navigation')[0].type === 'reload'")
    tab.fill("#id_username", "agent2")
    tab.fill("#id_password", "agent2-demo")
    tab.get_by_role("button", name="Log in").click()
    tab.wait_for_url(lambda url: "/login/" not in url)
    return tab


def test_a_note_mentioning_a_colleague_reaches_them_without_a_reload(
    browser, live_server, log_in, page_issues
):
    Notification.objects.all().delete()  # the demo's own handover note mentions agent
    pablo = Customer.objects.get(wa_id=PABLO)
    messages_before = Message.objects.filter(customer=pablo).count()
    sam = second_agent(browser, live_server, page_issues)
    sam.goto("/")
    bell = sam.locator("#bell")
    expect(bell).to_have_attribute("data-unread", "0", timeout=POLL)
    sam.goto(f"/customers/{pablo.pk}/")  # Sam has Pablo's thread open too

    alex = log_in("agent", "agent-demo")
    alex.goto(f"/customers/{pablo.pk}/")
    alex.get_by_text("Add a private note").click()
    box = alex.locator("#note-body")
    box.click()
    box.press_sequentially("Refund approved, @sa")
    options = alex.get_by_role("listbox", name="Colleagues").get_by_role("option")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("Sam")
    box.press("Enter")  # picks the highlighted colleague
    expect(box).to_have_value("Refund approved, @agent2 ")
    box.press_sequentially("please confirm with <b>Pablo</b>")
    alex.get_by_role("button", name="Add note").click()
    expect(alex.locator("#note-box .ok")).to_contain_text("Only colleagues see it")
    note_in_alex = alex.locator("#thread li.note").last
    expect(note_in_alex).to_contain_text("Private note")
    expect(note_in_alex).to_contain_text("please confirm with <b>Pablo</b>")  # shown as typed, escaped
    expect(note_in_alex.locator(".mention")).to_have_text("@agent2")

    # Sam, without reloading: the thread's poll brings the note, the bell counts the mention.
    expect(sam.locator("#thread li.note").last).to_contain_text("Refund approved", timeout=POLL)
    expect(sam.locator("#thread li.note").last.get_by_role("button", name="Delete my note")).to_have_count(0)
    expect(bell).to_have_attribute("data-unread", "1", timeout=POLL)
    expect(bell).to_contain_text("1")
    bell.click()
    sam.get_by_role("button", name="Alex mentioned you about Pablo Morales").click()
    note = Note.objects.get(body__startswith="Refund approved")
    sam.wait_for_url(f"**/customers/{pablo.pk}/#note-{note.pk}")
    expect(sam.locator(f"#note-{note.pk}")).to_contain_text("please confirm with <b>Pablo</b>")
    expect(sam.locator("#bell")).to_have_attribute("data-unread", "0", timeout=POLL)
    assert Notification.objects.get(note=note).read_at is not None
    # Never sent: no message was recorded for the customer.
    assert Message.objects.filter(customer=pablo).count() == messages_before
    sam.context.close()


def test_a_canned_reply_with_order_number_filled_from_the_contact_field_via_slash(log_in):
    pablo = Customer.objects.get(wa_id=PABLO)
    page = log_in("agent", "agent-demo")
    page.goto(f"/customers/{pablo.pk}/")
    expect(page.locator("#attribute-order_number .attribute-value")).to_have_text("860198")
    reply = page.locator("#compose-body")
    reply.click()
    reply.press_sequentially("/ord")
    listbox = page.get_by_role("listbox", name="Canned replies")
    expect(listbox.get_by_role("option")).to_have_count(1)
    expect(listbox.get_by_role("option").first).to_contain_text("Order status")
    reply.press("Enter")
    expect(reply).to_have_value("Hi Pablo, your order 860198 is on its way. — Alex")
    expect(page.locator("[data-canned-missing]")).to_be_hidden()
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#compose .ok")).to_contain_text("Queued for WhatsApp")
    sent = Message.objects.filter(customer=pablo, direction="outbound").latest("occurred_at")
    assert sent.body == "Hi Pablo, your order 860198 is on its way. — Alex"


def test_a_variable_without_a_value_is_flagged_and_the_server_refuses_it(log_in, page_issues):
    page_issues.allow(r"422 \(Unprocessable")
    mei = Customer.objects.get(wa_id="6591234567")  # window open, no order number
    page = log_in("agent", "agent-demo")
    page.goto(f"/customers/{mei.pk}/")
    reply = page.locator("#compose-body")
    reply.click()
    reply.press_sequentially("/order st")
    options = page.get_by_role("listbox", name="Canned replies").get_by_role("option")
    expect(options).to_have_count(1)
    reply.press("ArrowDown")  # one option: stays on it
    reply.press("Enter")
    expect(reply).to_have_value("Hi Mei, your order {{order_number}} is on its way. — Alex")
    missing = page.locator("[data-canned-missing]")
    expect(missing).to_be_visible()
    expect(missing).to_contain_text("{{order_number}}")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#compose > p.error")).to_contain_text("still has {{order_number}}")
    expect(page.locator("#compose-body")).to_have_value(
        "Hi Mei, your order {{order_number}} is on its way. — Alex"
    )
    assert not Message.objects.filter(customer=mei, body__contains="{{").exists()
    # Esc closes the list and leaves the text as typed.
    reply = page.locator("#compose-body")
    reply.fill("")
    reply.press_sequentially("/")
    expect(page.get_by_role("listbox")).to_be_visible()
    reply.press("Escape")
    expect(page.get_by_role("listbox")).to_have_count(0)
    expect(reply).to_have_value("/")
    # Arrows move through the agent's and the team's replies (the team's first, by title).
    reply.press("Backspace")
    reply.press_sequentially("/")
    options = page.get_by_role("listbox", name="Canned replies").get_by_role("option")
    expect(options).to_have_count(3)
    expect(options.nth(0)).to_contain_text("Opening hours")
    reply.press("ArrowDown")
    reply.press("ArrowDown")
    expect(options.nth(2)).to_have_attribute("aria-selected", "true")
    expect(options.nth(2)).to_contain_text("Glad to help")
    reply.press("Enter")
    expect(reply).to_have_value("Thanks Mei, glad I could help! Anything else, just write here.")
    expect(page.locator("[data-canned-missing]")).to_be_hidden()


def test_outside_the_window_slash_offers_templates_prefilled_from_contact_fields(log_in):
    grace = Customer.objects.get(wa_id="2348012345678")  # never wrote: templates only; order_number 771204
    services.set_attribute(customer=grace, key="order_number", value="990001", by=None, now=timezone.now())
    page = log_in("agent", "agent-demo")
    page.goto(f"/customers/{grace.pk}/")
    expect(page.locator("#compose")).to_have_attribute("data-compose-mode", "template-only")
    page.locator("body").press("/")
    search = page.get_by_role("searchbox", name="Search approved templates")
    expect(search).to_be_focused()
    search.press_sequentially("order_up")
    search.press("Enter")
    expect(page.locator("#template-choice option:checked")).to_have_attribute("data-name", "order_update")
    expect(page.locator("input[name=p_order_number]")).to_have_value("990001")
    expect(page.locator("input[name=p_first_name]")).to_have_value("Grace")
