"""An agent's shift in a real browser: Chromium against the live server, on the demo data (seed_demo).

What only a browser can prove: the countdown ticking and flipping the compose area at zero without a
reload (R1, R2), htmx swapping the server's refusals into place, polls bringing new messages in, the
keyboard and a narrow screen, and a strict Content-Security-Policy holding on every page (conftest.py
fails a test on any violation or console error). The server decides every send: each test checks the
database too.

Screenshots for the README are taken here; they are written only with UPDATE_SCREENSHOTS=1.
"""

import os
import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Page, expect

from config.demo import DEMO_CUSTOMERS
from conversations import services
from conversations.models import Customer, Message
from templates_app.models import MessageTemplate
from tests.whatsapp import deliveries as d

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),  # the live server reads what the test writes
    pytest.mark.usefixtures("demo"),
]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
POLL = 15_000  # ms: the list polls every 5 s, the thread every 4 s
FOCUS_RING = "rgb(37, 99, 235)"  # --focus in static/inbox/inbox.css

SHEENA = "16505551234"  # window open, waiting for a reply


def save_screenshot(target, name: str) -> None:
    """A page or an element, to docs/screenshots/<name>.png, only when UPDATE_SCREENSHOTS=1 (so test runs
    never dirty the tree)."""
    if os.environ.get("UPDATE_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # caret="initial": hiding the caret leaves style="" on text fields, which htmx copies when it swaps
    # them, and the strict CSP then (rightly) refuses.
    target.screenshot(path=SCREENSHOTS / f"{name}.png", animations="disabled", caret="initial")


def open_customer(page: Page, name: str) -> None:
    page.locator("#customer-list a", has_text=name).click()
    expect(page.locator("#customer-title")).to_have_text(name)
    # The thread shows before htmx wires it up (20 ms later, in its settle step): a change made in between
    # is lost. A person is never that quick; a test is (CI saw a chosen template with no preview).
    htmx_settled(page)


def compose(page: Page):
    return page.locator("#compose")


def htmx_settled(page: Page) -> None:
    """Wait until htmx has swapped and settled (it wires up new content in the settle step): a person
    never types within those milliseconds; a test can."""
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")


def no_horizontal_overflow(page: Page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


# --- Replying ---------------------------------------------------------------------------------------


def test_reply_inside_the_window_with_ctrl_enter_and_a_double_clicked_send(agent):
    page = agent
    response = page.goto("/?view=all")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe" not in csp
    open_customer(page, "Sheena Nelson")
    expect(compose(page)).to_have_attribute("data-compose-mode", "free-form")
    # The agent's zone came from the browser (tz cookie): times are Berlin times, exact on hover.
    expect(page.locator("#thread .msg time").first).to_have_attribute("title", re.compile(r" CES?T$"))
    expect(page.get_by_label("Message to Sheena Nelson")).to_be_visible()
    save_screenshot(page, "inbox")
    save_screenshot(compose(page), "compose-free-form")

    # R2: inside the window a free-form reply goes out; Ctrl+Enter sends.
    first = "The premium plan for a team of 5 is 40 € a month."
    page.fill("#compose-body", first)
    page.press("#compose-body", "Control+Enter")
    bubble = page.locator("#thread .msg-outbound", has_text=first)
    expect(bubble).to_be_visible()
    expect(bubble.locator(".ticks")).to_have_class(re.compile(r"ticks-(queued|sending|sent)"))
    expect(compose(page).get_by_role("status")).to_contain_text("Queued for WhatsApp: service conversation")
    expect(compose(page)).to_have_attribute("data-compose-mode", "free-form")
    expect(page.locator("#compose-body")).to_have_value("")
    expect(page.locator("#compose-body")).to_be_focused()
    htmx_settled(page)

    # A double click on Send sends once.
    second = "Shall I send you the order form?"
    page.fill("#compose-body", second)
    page.locator("#compose").get_by_role("button", name="Send", exact=True).dblclick()
    expect(page.locator("#thread .msg-outbound", has_text=second)).to_have_count(1)
    expect(page.locator("#compose-body")).to_have_value("")
    assert Message.objects.filter(body=first).count() == 1
    assert Message.objects.filter(body=second).count() == 1
    assert Message.objects.get(body=second).agent.username == "agent"


def test_a_window_closing_on_screen_turns_the_compose_area_to_templates_without_a_reload(agent):
    page = agent
    now = timezone.now()
    customer = services.receive_message(
        wa_id="447700900123",
        name="Closing Soon",
        body="Are you still there?",
        wamid="wamid.browser.closing",
        timestamp=now - timedelta(hours=24) + timedelta(seconds=6),  # R1: the window ends in 6 s
    ).customer
    page.goto(f"/customers/{customer.pk}/")
    page.evaluate("() => { window.__marker = 1; }")
    expect(compose(page)).to_have_attribute("data-compose-mode", "free-form")
    countdown = compose(page).locator("time[data-window-countdown]")
    shown = countdown.inner_text()
    expect(countdown).not_to_have_text(shown)  # it ticks

    # At zero the page asks the server for the compose area: R2, templates only.
    expect(compose(page)).to_have_attribute("data-compose-mode", "template-only", timeout=20_000)
    expect(compose(page).get_by_text("only approved templates can be sent")).to_be_visible()
    expect(page.locator("#template-choice")).to_be_visible()
    expect(page.locator("#compose-body")).to_have_count(0)
    assert page.evaluate("() => window.__marker") == 1  # the same document: no reload
    row = page.locator("#customer-list li.row", has_text="Closing Soon")
    expect(row.locator(".badge")).to_have_text("Window closed")


def test_a_stale_tab_is_refused_and_keeps_the_typed_text(agent, page_issues):
    page = agent
    page.goto("/?view=all")
    open_customer(page, "Sheena Nelson")
    expect(compose(page)).to_have_attribute("data-compose-mode", "free-form")
    # The window closes on the server; the page still shows a free-form composer.
    Customer.objects.filter(wa_id=SHEENA).update(last_inbound_at=timezone.now() - timedelta(hours=25))

    page_issues.allow(r"status of 409 \(Conflict\)")  # the refusal, as the browser logs it
    text = "Sorry for the wait, here is the price list."
    page.fill("#compose-body", text)
    page.locator("#compose").get_by_role("button", name="Send", exact=True).click()
    expect(compose(page)).to_have_attribute("data-compose-mode", "template-only")
    expect(compose(page).get_by_role("alert")).to_contain_text("The customer service window closed at")
    expect(compose(page).get_by_role("alert")).to_contain_text("only approved templates can be sent")
    expect(page.locator("#draft-text")).to_have_value(text)
    expect(page.locator("#template-choice")).to_be_visible()
    assert not Message.objects.filter(body=text).exists()


def test_send_a_template_with_parameters_and_a_live_preview(agent):
    page = agent
    page.goto("/?view=all")
    open_customer(page, "Lukas Weber")
    expect(compose(page)).to_have_attribute("data-compose-mode", "template-only")
    expect(compose(page).get_by_text("only approved templates can be sent")).to_be_visible()
    htmx_settled(page)

    option = page.locator("#template-choice option", has_text="order_update")
    page.select_option("#template-choice", value=option.get_attribute("value"))
    first_name = page.get_by_label("{{first_name}}", exact=True)
    expect(first_name).to_have_value("Lukas")  # the customer's name, filled in where it fits
    preview = page.locator("#template-preview")
    expect(preview).to_contain_text("{{order_number}}")  # missing parameters stay visible
    htmx_settled(page)
    page.get_by_label("{{order_number}}", exact=True).fill("860199")
    page.get_by_label("{{days}}", exact=True).fill("3")
    final = (
        "Hi Lukas, your order 860199 has shipped and should arrive within 3 days. "
        "Reply here with any questions."
    )
    expect(preview.locator(".tpl-body")).to_have_text(final)
    expect(preview.locator(".effect")).to_have_text("Sending it opens a new utility conversation.")  # R3
    save_screenshot(compose(page), "compose-template-only")

    compose(page).get_by_role("button", name="Send template").click()
    bubble = page.locator("#thread .msg-outbound", has_text=final)
    expect(bubble).to_be_visible()
    expect(bubble.locator(".tag")).to_have_text("Template · order_update · utility")
    expect(compose(page).get_by_role("status").first).to_contain_text("utility conversation")
    message = Message.objects.get(body=final)
    assert message.kind == Message.Kind.TEMPLATE
    assert message.conversation.category == "utility"


def test_an_approved_carousel_is_shown_greyed_out_with_why_and_the_filters_keep_it_so(agent):
    MessageTemplate.objects.create(
        name="succulents_carousel",
        language="en_US",
        category="MARKETING",
        status="APPROVED",
        components=[
            {"type": "BODY", "text": "Rare succulents for you, {{1}}: shop now."},
            {"type": "CAROUSEL", "cards": [{"components": []}, {"components": []}]},
        ],
    )
    page = agent
    page.goto("/?view=all")
    open_customer(page, "Lukas Weber")
    carousel = page.locator("#template-choice option", has_text="succulents_carousel")
    expect(carousel).to_be_disabled()
    expect(carousel).to_contain_text("Not sendable from the inbox: it is a carousel of 2 cards")
    order_update = page.locator("#template-choice option", has_text="order_update")
    for category, hidden in (("MARKETING", False), ("UTILITY", True), ("", False)):
        page.locator("[data-template-filter=category]").select_option(category)
        assert carousel.evaluate("option => option.hidden") is hidden  # filtered like the others
        expect(carousel).to_be_disabled()  # and never choosable
    expect(order_update).to_be_enabled()
    expect(compose(page).locator(".picker-note")).to_contain_text("1 approved template cannot be sent")


def test_send_a_template_with_a_header_and_a_link_button_after_fixing_what_was_missing(agent, page_issues):
    page = agent
    page.goto("/?view=all")
    open_customer(page, "Lukas Weber")
    htmx_settled(page)  # the picker's change handler is wired once the swapped-in area has settled
    option = page.locator("#template-choice option", has_text="ticket_update")
    page.select_option("#template-choice", value=option.get_attribute("value"))
    expect(page.get_by_label("{{first_name}}", exact=True)).to_have_value("Lukas")
    preview = page.locator("#template-preview")
    expect(preview).to_contain_text("The button “Open the ticket” needs the end of its link")

    # Sent with the header filled and the button's link end forgotten: refused, nothing sent, and why.
    page_issues.allow(r"status of 422")
    htmx_settled(page)
    page.get_by_label("Header {{ticket_id}}").fill("T-4821")
    compose(page).get_by_role("button", name="Send template").click()
    expect(compose(page).get_by_role("alert")).to_contain_text("needs the end of its link")
    assert not Message.objects.filter(template__name="ticket_update").exists()
    # The refused form comes back as typed, with its preview and what is still missing.
    expect(page.get_by_label("Header {{ticket_id}}")).to_have_value("T-4821")
    expect(preview.locator(".tpl-header")).to_have_text("Ticket T-4821")
    expect(preview.locator(".problems")).to_contain_text("needs the end of its link")
    htmx_settled(page)

    page.get_by_label("Button “Open the ticket”: end of its link").fill("4821")
    expect(preview.locator(".tpl-button")).to_have_text("Open the ticket https://support.example.com/t/4821")
    expect(preview.locator(".tpl-header")).to_have_text("Ticket T-4821")
    compose(page).get_by_role("button", name="Send template").click()
    expect(
        page.locator("#thread .msg-outbound", has_text="there is news on your support request")
    ).to_be_visible()
    message = Message.objects.get(template__name="ticket_update")
    assert message.template_extras == {
        "header": {"format": "TEXT", "name": "ticket_id", "value": "T-4821"},
        "buttons": [{"index": 0, "value": "4821"}],
    }


# --- The list ---------------------------------------------------------------------------------------


def test_a_new_customer_message_appears_in_the_list_without_a_reload(agent, live_server):
    page = agent
    page.goto("/?view=all")
    page.evaluate("() => { window.__marker = 1; }")
    expect(page.locator("#customer-list li.row")).to_have_count(len(DEMO_CUSTOMERS))

    text = "Hi, is this the right number for support?"
    body, signature = d.signed(
        d.inbound_delivery("33612345678", text, timestamp=timezone.now(), name="Camille Durand"),
        settings.WHATSAPP_APP_SECRET,
    )
    response = httpx.post(
        f"{live_server.url}/webhooks/whatsapp/",
        content=body,
        headers={"X-Hub-Signature-256": signature, "Content-Type": "application/json"},
    )
    assert response.status_code == 200

    row = page.locator("#customer-list li.row", has_text="Camille Durand")
    expect(row).to_be_visible(timeout=POLL)
    expect(row.locator(".preview")).to_have_text(text)
    expect(row.locator(".unread-count")).to_contain_text("1")
    expect(page.locator("#count-all")).to_have_text(str(len(DEMO_CUSTOMERS) + 1))
    assert page.evaluate("() => window.__marker") == 1


def test_filters_search_and_the_keyboard(agent):
    page = agent
    page.goto("/")
    names = page.locator("#customer-list .name")

    # The worklist an agent lands on (issue 15): who waits for a reply while one can still be sent.
    expect(page.locator("label.chip.active")).to_contain_text("Needs reply")
    expect(names).to_have_count(4)
    for name in ("Sheena Nelson", "Aisha Khan", "Omar Haddad", "Ravi Patel"):
        expect(names.filter(has_text=name)).to_have_count(1)
    expect(names.filter(has_text="Lukas Weber")).to_have_count(0)

    page.locator("label.chip", has_text="All").click()
    expect(names).to_have_count(len(DEMO_CUSTOMERS))
    page.fill("#search", "Grace")
    expect(names).to_have_text(["Grace Okafor"])
    page.fill("#search", "")
    expect(names).to_have_count(len(DEMO_CUSTOMERS))

    # Keyboard: from the search field, Tab reaches the filter chips, the label and team filters, the
    # alert settings and the shortcuts, and then the customers, and every stop on the way shows where the
    # focus is.
    page.goto("/")
    page.focus("#search")
    stops = []
    for _ in range(15):
        page.keyboard.press("Tab")
        stop = page.evaluate(
            """(ring) => {
                const el = document.activeElement;
                const shown = el.closest('.chip') || el;
                const box = shown.getBoundingClientRect();
                return {
                    what: el.closest('.chip') ? 'chip'
                        : el.closest('#customer-list') ? 'customer' : el.tagName,
                    text: (shown.innerText || '').trim(),
                    focusVisible: el.matches(':focus-visible'),
                    ring: getComputedStyle(shown).boxShadow.includes(ring),
                    onScreen: box.width > 4 && box.height > 4,
                };
            }""",
            FOCUS_RING,
        )
        stops.append(stop)
        if stop["what"] == "customer":
            break
    assert stops[0]["what"] == "chip", stops
    assert stops[-1]["what"] == "customer", stops
    assert names.first.inner_text() in stops[-1]["text"]
    hidden = [s for s in stops if not (s["focusVisible"] and s["ring"] and s["onScreen"])]
    assert not hidden, f"focus not visible at {hidden}"

    # The selected customer's row shows the focus too.
    open_customer(page, "Sheena Nelson")
    page.locator("#customer-list a", has_text="Sheena Nelson").focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    selected = page.evaluate("() => getComputedStyle(document.activeElement).boxShadow")
    assert FOCUS_RING in selected, selected

    # Every visible control of the compose area has a label.
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('#compose textarea, #compose select, #compose input')]
            .filter(el => el.type !== 'hidden' && el.offsetParent !== null)
            .filter(el => el.labels.length === 0 && !el.getAttribute('aria-label'))
            .map(el => el.outerHTML.slice(0, 80))"""
    )
    assert unlabelled == []
    expect(page.get_by_label("Message to Sheena Nelson")).to_be_visible()


# --- Small screens and roles ------------------------------------------------------------------------


def test_a_narrow_window_shows_one_pane_at_a_time_without_overflow(agent):
    page = agent
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto("/?view=all")
    expect(page.locator("#customer-list")).to_be_visible()
    assert no_horizontal_overflow(page)

    open_customer(page, "Sheena Nelson")
    expect(page.locator("#thread")).to_be_visible()
    expect(page.locator("#customer-list")).to_be_hidden()
    back = page.get_by_role("link", name="← Customers")
    expect(back).to_be_visible()
    expect(page.locator("#compose-body")).to_be_visible()
    assert no_horizontal_overflow(page)
    save_screenshot(page, "narrow")

    back.click()
    expect(page.locator("#customer-list")).to_be_visible()
    assert no_horizontal_overflow(page)


def test_roles_a_supervisor_reads_and_a_user_without_a_role_is_told_what_is_missing(log_in, page_issues):
    page = log_in("supervisor", "supervisor-demo")
    page.goto("/?view=all")
    open_customer(page, "Sheena Nelson")
    expect(page.locator("#thread .msg").first).to_be_visible()
    expect(compose(page)).to_contain_text("Your role can read conversations but not send messages.")
    expect(page.locator("#compose form")).to_have_count(0)
    expect(page.locator("#side #assign-agent")).to_be_visible()  # supervisors reassign (issue 15)

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login/")
    User.objects.create_user("visitor", password="visitor-pass")
    page_issues.allow(r"status of 403 \(Forbidden\)")
    log_in("visitor", "visitor-pass")
    expect(page.get_by_role("heading", name="You can't do that with your account")).to_be_visible()
    expect(page.locator(".notice-card")).to_contain_text(
        "This needs permission to see the inbox (agents, supervisors and admins)."
    )
    expect(page.locator(".notice-card")).to_contain_text("Your roles: none.")
    expect(page.locator("#customer-list")).to_have_count(0)


# --- The watch itself -------------------------------------------------------------------------------


def test_the_page_watch_catches_a_content_security_policy_violation(page, page_issues):
    page.goto("/login/")
    page.wait_for_function("() => performance.getEntriesByType('navigation')[0].type === 'reload'")
    with page.expect_console_message(lambda message: "Content Security Policy" in message.text):
        page.evaluate(
            """() => { const style = document.createElement('style');
                       style.textContent = 'body { color: red }'; document.head.appendChild(style); }"""
        )
    assert page_issues.unexpected()
    page_issues.allow(".*")
    assert page_issues.unexpected(), "allowing never covers a CSP violation"
    page_issues.seen.clear()


# --- Late 2026: a customer known only by a username, left open through several polls ----------------

NOA_BSUID = "IL.70260000000000000001"  # the demo's customer without a phone number


def post_delivery(live_server, delivery: dict) -> None:
    body, signature = d.signed(delivery, settings.WHATSAPP_APP_SECRET)
    response = httpx.post(
        f"{live_server.url}/webhooks/whatsapp/",
        content=body,
        headers={"X-Hub-Signature-256": signature, "Content-Type": "application/json"},
    )
    assert response.status_code == 200


def from_noa(message: dict) -> dict:
    """A `messages` change from Noa as the platform sends it for a username-only user: no `from`, no
    `wa_id`, only her business-scoped user id."""
    return d.delivery(
        d.change(
            "messages",
            {
                "messaging_product": "whatsapp",
                "metadata": {
                    "display_phone_number": d.DISPLAY_PHONE_NUMBER,
                    "phone_number_id": d.PHONE_NUMBER_ID,
                },
                "contacts": [
                    {"profile": {"name": "Noa Levi", "username": "@noa.levi"}, "user_id": NOA_BSUID}
                ],
                "messages": [{"from_user_id": NOA_BSUID, **message}],
            },
        )
    )


def test_a_username_only_customer_thread_left_open_follows_replies_reactions_and_a_new_id(agent, live_server):
    """The agent keeps Noa's thread open, half-way through typing, while she reacts, replies to our
    message and gets a new WhatsApp user id: each shows up by itself through the polls, in place, and the
    typed text and the focus stay where they were."""
    page = agent
    page.goto("/?view=all")
    open_customer(page, "Noa Levi")
    expect(page.locator("#conversation .thread-head")).to_contain_text("@noa.levi")
    expect(page.locator("#side")).to_contain_text(NOA_BSUID)
    ours = Message.objects.get(customer__user_id=NOA_BSUID, direction="outbound")
    ours_bubble = page.locator(f"#message-{ours.pk}")
    expect(ours_bubble.locator(".reaction")).to_have_attribute(
        "title", "The customer reacted ❤️"
    )  # the demo's
    box = page.locator("#compose-body")
    box.click()
    box.type("Let me check the navy one in size")

    now = int(timezone.now().timestamp())
    post_delivery(
        live_server,
        from_noa(
            {
                "id": "wamid.NOA-R1",
                "timestamp": str(now),
                "type": "reaction",
                "reaction": {"message_id": ours.wamid, "emoji": "👍"},
            }
        ),
    )
    expect(ours_bubble.locator(".reaction")).to_have_attribute(
        "title", "The customer reacted 👍", timeout=POLL
    )

    post_delivery(
        live_server,
        from_noa(
            {
                "id": "wamid.NOA-T1",
                "timestamp": str(now + 1),
                "type": "text",
                "text": {"body": "Navy please, size M"},
                "context": {"from": d.DISPLAY_PHONE_NUMBER, "id": ours.wamid},
            }
        ),
    )
    reply = page.locator("#thread li.msg", has_text="Navy please, size M")
    expect(reply.locator(".quote")).to_contain_text(
        "You: Hi Noa! It comes in red and navy too.", timeout=POLL
    )

    notice = {
        "id": "wamid.NOA-S1",
        "timestamp": str(now + 2),
        "type": "system",
        "system": {
            "body": f"User Noa Levi changed from {NOA_BSUID} to IL.70260000000000000099",
            "type": "user_changed_user_id",
            "user_id": "IL.70260000000000000099",
            "previous_user_id": NOA_BSUID,
        },
    }
    post_delivery(live_server, from_noa(notice))
    expect(page.locator("#thread li.system-identity")).to_contain_text(
        "IL.70260000000000000099", timeout=POLL
    )

    # Still one customer and one thread; what the agent was typing is untouched and still focused.
    assert Customer.objects.filter(name="Noa Levi").count() == 1
    expect(box).to_have_value("Let me check the navy one in size")
    assert page.evaluate("() => document.activeElement && document.activeElement.id") == "compose-body"
    row = page.locator("#customer-list li.row", has_text="Noa Levi")
    expect(row.locator(".preview")).not_to_contain_text("You:")
