"""Two agents on one customer, in two browsers (issue 15, item 7): each sees the other on the thread,
then typing; when Sam has replied since Alex's compose area was drawn, Alex's Send is held with Sam's
reply quoted and Alex's text kept, and "Send anyway" sends it."""

import pytest
from playwright.sync_api import expect

from conversations.models import Message
from tests.browser.test_inbox import open_customer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("demo"),
]


def test_two_agents_see_each_other_and_the_second_reply_asks_for_confirmation(log_in, new_page, page_issues):
    page_issues.allow(r"409 \(Conflict\)")  # the held send, as the browser logs a 409
    alex = log_in("agent", "agent-demo")
    sam = log_in("agent2", "agent2-demo", tab=new_page())
    for tab in (alex, sam):
        tab.goto("/")
        open_customer(tab, "Sheena Nelson")

    expect(alex.locator("#presence")).to_have_text("Sam is viewing", timeout=12_000)
    expect(sam.locator("#presence")).to_have_text("Alex is viewing", timeout=12_000)

    sam.locator("#compose-body").type("Hi Sheena, your parcel left this morning.")
    expect(alex.locator("#presence")).to_have_text("Sam is typing a reply…", timeout=8_000)
    sam.get_by_role("button", name="Send", exact=True).click()
    expect(sam.locator("#compose").get_by_role("status")).to_contain_text("Queued for WhatsApp")

    alex.locator("#compose-body").fill("Let me check with the courier.")
    alex.get_by_role("button", name="Send", exact=True).click()
    warning = alex.locator("#compose .collision")
    expect(warning).to_contain_text("Sam replied to Sheena Nelson since you opened this thread")
    expect(warning).to_contain_text("your parcel left this morning")
    expect(alex.locator("#compose-body")).to_have_value("Let me check with the courier.")
    assert not Message.objects.filter(body="Let me check with the courier.").exists()

    alex.get_by_role("button", name="Send anyway").click()
    expect(alex.locator("#compose").get_by_role("status")).to_contain_text("Queued for WhatsApp")
    mine = alex.locator("#thread li.msg-outbound", has_text="Let me check with the courier.")
    expect(mine).to_be_visible()
    expect(alex.locator("#thread li.msg-outbound", has_text="your parcel left this morning")).to_be_visible()
