"""Labels, teams and the available/away switch in a real browser (issue 15 item 5), on the demo data: an
admin makes a label in the Django admin, an agent puts it on a thread from the side panel and filters the
list by it; an agent switches to away and the next new customer goes to the colleague. The strict CSP
holds throughout (conftest.py fails a test on any violation), label colours included."""

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from conversations import services
from conversations.models import AgentAvailability, Customer, CustomerLabel, Label

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),  # the live server reads what the test writes
    pytest.mark.usefixtures("demo"),
]

POLL = 15_000  # ms: the list polls every 5 s


def log_out(page: Page) -> None:
    page.goto("/")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login/")


def test_an_admin_made_label_is_put_on_a_thread_and_the_list_filtered_by_it(log_in, page_issues):
    page = log_in("admin", "admin-demo")
    # Django's admin pages name no icon, so Chromium asks for /favicon.ico, which we do not serve.
    page_issues.allow(r"status of 404 \(Not Found\) \(http://[^ ]+/admin/")
    page.goto("/admin/conversations/label/add/")
    page.fill("#id_name", "urgent")
    page.fill("#id_colour", "#c11574")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("urgent")
    assert Label.objects.filter(name="urgent", colour="#c11574").exists()
    log_out(page)

    log_in("agent", "agent-demo")
    page.goto("/")
    page.locator("#customer-list a", has_text="Sheena Nelson").click()
    expect(page.locator("#customer-title")).to_have_text("Sheena Nelson")
    side = page.locator("#side")
    side.locator("#add-label").select_option(label="urgent")
    side.get_by_role("button", name="Add label").click()
    chip = side.locator(".label-chip", has_text="urgent")
    expect(chip).to_be_visible()
    # The colour the admin chose, set through the CSSOM (no inline style under the strict CSP).
    expect(chip).to_have_css("background-color", "rgb(193, 21, 116)")
    sheena = Customer.objects.get(name="Sheena Nelson")
    assert CustomerLabel.objects.filter(customer=sheena, label__name="urgent").exists()
    # The list's row shows it (the side panel's change makes the list poll at once).
    row = page.locator(f'#customer-list li.row[data-id="{sheena.pk}"]')
    expect(row.locator(".label-chip", has_text="urgent")).to_be_visible(timeout=POLL)

    page.locator("#filter-label").select_option(label="urgent")
    expect(page.locator("#customer-list li.row")).to_have_count(1)
    expect(page.locator("#customer-list li.row .name")).to_have_text("Sheena Nelson")
    # Taken off again: the filtered list empties itself by its poll, without a reload.
    side.get_by_role("button", name="Remove the label urgent").click()
    expect(side.locator(".label-chip", has_text="urgent")).to_have_count(0)
    expect(page.locator("#customer-list li.row")).to_have_count(0, timeout=POLL)


def test_an_agent_switches_to_away_and_the_next_new_customer_goes_to_a_colleague(log_in):
    page = log_in("agent", "agent-demo")
    page.goto("/")
    switch = page.locator("#availability")
    expect(switch.locator("[data-availability]")).to_have_text("Available")
    switch.get_by_role("button", name="Go away").click()
    expect(switch.locator("[data-availability]")).to_have_text("Away")
    assert AgentAvailability.objects.get(agent__username="agent").available is False

    services.receive_message(
        wa_id="4930123456789",
        name="Jonas Neu",
        body="Hallo?",
        wamid="wamid.browser.away",
        timestamp=timezone.now(),
    )
    assert Customer.objects.get(name="Jonas Neu").assigned_to.username == "agent2"  # Sam, the colleague
    row = page.locator("#customer-list li.row", has_text="Jonas Neu")
    expect(row.locator(".assignee")).to_contain_text("Sam", timeout=POLL)
    expect(row.locator(".assignee")).to_contain_text("Support")

    page.reload()  # the switch is kept on the server
    expect(page.locator("#availability [data-availability]")).to_have_text("Away")
    page.locator("#availability").get_by_role("button", name="Be available").click()
    expect(page.locator("#availability [data-availability]")).to_have_text("Available")
    assert AgentAvailability.objects.get(agent__username="agent").available is True
