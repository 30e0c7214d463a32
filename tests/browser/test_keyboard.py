"""The inbox without a mouse (issue 15, item 8): j / k move through the list's customers, r goes to the
reply box (Esc leaves it), a assigns the open customer to me, ? shows the shortcuts; a key typed in a
field is only text."""

import pytest
from playwright.sync_api import expect

from conversations.models import Customer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("demo"),
]


def test_an_agent_works_the_list_with_the_keyboard(log_in):
    page = log_in("agent", "agent-demo")
    page.goto("/?view=all")
    rows = page.locator("#customer-list li.row > a")
    expect(rows.first).to_be_visible()

    def opened_index() -> int:
        # The list may reorder under a poll (a tick arriving): read the open row's place now.
        return rows.evaluate_all("links => links.findIndex(a => a.getAttribute('aria-current') === 'page')")

    page.keyboard.press("j")  # nothing open yet: the first customer
    expect(page.locator("#customer-list a[aria-current='page']")).to_have_count(1)
    assert opened_index() == 0
    first = page.locator("#customer-title").inner_text()
    page.keyboard.press("j")
    expect(page.locator("#customer-title")).not_to_have_text(first)
    second = page.locator("#customer-title").inner_text()
    # The row is marked once the swap has settled: wait for it, as a person's eye would.
    current = page.locator("#customer-list a[aria-current='page'] .name")
    expect(current).to_have_text(second)
    page.keyboard.press("k")
    expect(page.locator("#customer-title")).not_to_have_text(second)
    expect(current).to_have_text(page.locator("#customer-title").inner_text())

    # ? shows the shortcuts; Esc closes them.
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Next / previous customer")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_a_assigns_the_open_customer_to_me_through_the_side_panels_button(log_in):
    customer = Customer.objects.get(name="Sheena Nelson")
    Customer.objects.filter(pk=customer.pk).update(assigned_to=None)
    page = log_in("agent", "agent-demo")
    page.goto(f"/customers/{customer.pk}/")
    expect(page.get_by_role("button", name="Assign to me")).to_be_visible()
    page.keyboard.press("a")  # the same button, with the server's checks
    expect(page.get_by_role("button", name="Assign to me")).to_have_count(0)
    customer.refresh_from_db()
    assert customer.assigned_to.username == "agent"


def test_r_goes_to_the_reply_box_where_keys_are_text_and_esc_leaves_it(log_in):
    page = log_in("agent", "agent-demo")
    page.goto("/?view=all")
    page.locator("#customer-list a", has_text="Sheena Nelson").click()
    expect(page.locator("#customer-title")).to_have_text("Sheena Nelson")
    page.keyboard.press("r")
    box = page.locator("#compose-body")
    expect(box).to_be_focused()
    page.keyboard.type("jkar?")  # text, not shortcuts
    expect(box).to_have_value("jkar?")
    expect(page.locator("#customer-title")).to_have_text("Sheena Nelson")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_hidden()
    page.keyboard.press("Escape")
    expect(box).not_to_be_focused()
    page.keyboard.press("j")
    expect(page.locator("#customer-title")).not_to_have_text("Sheena Nelson")


def test_outside_the_window_r_goes_to_the_template_picker(log_in):
    page = log_in("agent", "agent-demo")
    page.goto("/?view=all")
    page.locator("#customer-list a", has_text="Lukas Weber").click()
    expect(page.locator("#compose")).to_have_attribute("data-compose-mode", "template-only")
    page.locator("#customer-title").click()  # focus out of the list link
    page.keyboard.press("r")
    expect(page.locator("#template-choice")).to_be_focused()
