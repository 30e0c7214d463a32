"""Resolve, reopen and the resolve warning in Chromium against the live server (issue 15 items 1-2): an
agent resolves a thread and it leaves the list; the customer writes and it comes back, open, without a
reload; resolving a customer still unanswered inside the window warns and needs a confirmation; the page
title counts unread threads of the agent's or nobody's. The server half is in tests/inbox/test_workflow.py.
"""

import uuid

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import expect

from conversations import services
from conversations.models import Customer
from tests.browser.test_inbox import save_screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),  # the live server reads what the test writes
    pytest.mark.usefixtures("demo"),
]

POLL = 15_000  # ms: the list polls every 5 s, the thread every 4 s


def customer_writes(wa_id: str, body: str, *, name: str):
    return services.receive_message(
        wa_id=wa_id,
        name=name,
        body=body,
        wamid=f"wamid.flow.{uuid.uuid4().hex[:10]}",
        timestamp=timezone.now(),
    ).customer


def test_a_resolved_thread_leaves_the_list_and_comes_back_open_when_the_customer_writes(agent):
    page = agent
    page.goto("/?view=all")
    page.evaluate("() => { window.__marker = 1; }")
    rows = page.locator("#customer-list li.row")
    pablo = rows.filter(has_text="Pablo Morales")  # answered: nothing to warn about
    expect(pablo).to_have_count(1)
    pablo.get_by_role("link").click()
    status = page.locator("#thread-status")
    expect(status).to_have_attribute("data-thread-status", "open")
    status.get_by_role("button", name="Resolve", exact=True).click()
    expect(status).to_have_attribute("data-thread-status", "resolved")
    expect(status.locator(".status-badge")).to_have_text("Resolved")
    expect(pablo).to_have_count(0, timeout=POLL)  # it left "All" without a reload
    assert Customer.objects.get(wa_id="5511987654321").status == "resolved"

    customer_writes("5511987654321", "Sorry, one more thing: can I change the address?", name="Pablo Morales")
    expect(pablo).to_have_count(1, timeout=POLL)  # back in the list, on top
    expect(rows.first).to_contain_text("Pablo Morales")
    expect(status).to_have_attribute("data-thread-status", "open", timeout=POLL)  # the header follows
    expect(page.locator("#thread .msg-inbound", has_text="change the address")).to_be_visible()
    assert page.evaluate("() => window.__marker") == 1  # the same document: no reload

    # Resolved threads have their own view.
    page.locator("label.chip", has_text="Resolved").click()
    expect(page.locator("#customer-list .empty")).to_be_visible()


def test_resolving_an_unanswered_customer_inside_the_window_warns_and_needs_a_confirmation(
    agent, page_issues
):
    page_issues.allow(r"status of 409 \(Conflict\)")  # the warning: refused until confirmed
    page = agent
    page.goto("/?view=needs-reply")
    rows = page.locator("#customer-list li.row")
    sheena = rows.filter(has_text="Sheena Nelson")
    sheena.get_by_role("link").click()
    status = page.locator("#thread-status")
    status.get_by_role("button", name="Resolve", exact=True).click()
    warning = status.locator(".resolve-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("no reply yet and the window is still open")
    save_screenshot(page, "resolve-warning")
    assert Customer.objects.get(wa_id="16505551234").status == "open"
    # "Keep it open" puts the warning away and changes nothing.
    warning.get_by_role("button", name="Keep it open").click()
    expect(warning).to_have_count(0)
    status.get_by_role("button", name="Resolve", exact=True).click()
    status.get_by_role("button", name="Resolve anyway").click()
    expect(status).to_have_attribute("data-thread-status", "resolved")
    expect(sheena).to_have_count(0, timeout=POLL)
    assert Customer.objects.get(wa_id="16505551234").status == "resolved"


def test_the_title_counts_unread_threads_and_a_snooze_hides_one_until_it_ends(agent):
    page = agent
    page.goto("/?view=all")
    # The demo's customers who wrote are unread for this agent, none assigned to anyone.
    title = page.wait_for_function("() => /^\\(\\d+\\) /.test(document.title)", timeout=POLL)
    assert title
    before = int(page.title().split(")")[0][1:])
    page.locator("#customer-list li.row", has_text="Omar Haddad").get_by_role("link").click()
    expect(page.locator("#thread-status")).to_be_visible()
    page.wait_for_function(f"() => document.title.startsWith('({before - 1}) ')", timeout=POLL)
    # Snooze for an hour: the thread leaves "All" and is listed under "Snoozed".
    status = page.locator("#thread-status")
    status.locator("summary", has_text="Snooze").click()
    status.get_by_role("button", name="For 1 hour").click()
    expect(status).to_have_attribute("data-thread-status", "snoozed")
    page.locator("label.chip", has_text="Lost").click()
    expect(page.locator("#customer-list li.row", has_text="Lukas Weber")).to_be_visible()
    expect(page.locator("#customer-list li.row .lost")).to_have_text(["Lost: needs a template"])
    page.locator("label.chip", has_text="All").click()
    expect(page.locator("#customer-list li.row", has_text="Omar Haddad")).to_have_count(0, timeout=POLL)
    expect(page.locator("#count-snoozed")).to_have_text("1", timeout=POLL)


RECORD_NOTIFICATIONS = """
window.__notified = [];
if (window.Notification) {
  const Real = window.Notification;
  function Recorded(title, options) {
    window.__notified.push(title);
    return new Real(title, options);
  }
  Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
  Recorded.requestPermission = (callback) => Real.requestPermission(callback);
  window.Notification = Recorded;
}
"""


def test_alerts_notify_once_for_a_new_message_and_a_window_of_mine_closing_unanswered(page, log_in):
    page.context.grant_permissions(["notifications"])
    page.context.add_init_script(RECORD_NOTIFICATIONS)  # what the page asks the browser to show
    log_in("agent", "agent-demo")
    page.goto("/?view=all")
    page.locator(".alert-settings summary").click()
    expect(page.locator("[data-alert-permission-state]")).to_have_text("Browser notifications are on.")
    expect(page.locator("[data-alert-lead]")).to_have_value("30")
    page.wait_for_function("() => /^\\(\\d+\\) /.test(document.title)", timeout=POLL)
    unread = int(page.title().split(")")[0][1:])
    page.wait_for_timeout(2_500)
    assert page.evaluate("() => window.__notified") == []  # what was there at load is not news

    customer_writes("33612345678", "Bonjour, do you deliver to Lyon?", name="Camille Durand")
    page.wait_for_function(
        "() => window.__notified.includes('New message from Camille Durand')", timeout=POLL
    )
    page.wait_for_function(f"() => document.title.startsWith('({unread + 1}) ')", timeout=POLL)

    # Aisha's window closes in minutes with no reply: assigned to this agent, it is their alert.
    Customer.objects.filter(wa_id="447400123456").update(assigned_to=User.objects.get(username="agent"))
    page.wait_for_function("() => window.__notified.includes('Window closing: Aisha Khan')", timeout=POLL)

    # Once per event: a reload (or another tab) does not notify again.
    page.reload()
    page.wait_for_timeout(7_000)
    assert page.evaluate("() => window.__notified") == []


def test_the_keyboard_resolves_with_e_and_opens_the_snooze_choices_with_s(agent):
    page = agent
    page.goto("/?view=all")
    page.locator("#customer-list li.row", has_text="Mei Chen").get_by_role("link").click()
    status = page.locator("#thread-status")
    expect(status).to_have_attribute("data-thread-status", "open")
    page.locator("#customer-title").click()  # the page, not a field: the shortcuts listen
    page.keyboard.press("s")
    expect(status.get_by_role("button", name="For 1 hour")).to_be_visible()
    page.keyboard.press("Escape")
    page.locator("#customer-title").click()
    page.keyboard.press("e")  # Mei's last message was answered: nothing to warn about
    expect(status).to_have_attribute("data-thread-status", "resolved")
    assert Customer.objects.get(wa_id="6591234567").status == "resolved"
