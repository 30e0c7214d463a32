"""The template picker in a real browser (issue 11, item 4): the filters and the selection always agree, each
parameter is hinted with the template's example value, the preview shows the whole message as the customer
will see it (header, body, footer, buttons), it and the Send button fit a laptop screen, and the thread shows
a sent template the same way. The server decides every send: the tests check the database too.

Screenshots for a person to look at are written only with UPDATE_SCREENSHOTS=1 (tests/browser/test_inbox.py).
"""

import pytest
from playwright.sync_api import Page, expect

from conversations import services
from conversations.models import Customer, Message
from templates_app.models import MessageTemplate
from tests.browser.test_inbox import htmx_settled, save_screenshot
from tests.browser.test_inbox import open_customer as open_in_list

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),  # the live server reads what the test writes
    pytest.mark.usefixtures("demo"),
]


def open_customer(page: Page, name: str) -> None:
    page.goto("/?view=all")
    open_in_list(page, name)


def choose(page: Page, name: str) -> None:
    """Choose a template by name, opening the picker first when the window is open (it starts folded)."""
    picker = page.locator("#compose details.templates")
    if picker.get_attribute("open") is None:
        picker.locator("summary").click()
    option = page.locator("#template-choice option", has_text=name)
    page.select_option("#template-choice", value=option.get_attribute("value"))
    expect(page.locator("#template-preview")).to_be_visible()
    htmx_settled(page)


def send_button(page: Page):
    return page.locator("#compose").get_by_role("button", name="Send template")


# --- Filters and selection ----------------------------------------------------------------------------


def test_a_filter_that_hides_the_chosen_template_unselects_it_and_nothing_can_be_sent(agent):
    MessageTemplate.objects.create(
        name="bestellung_versandt",
        language="de",
        category="UTILITY",
        status="APPROVED",
        components=[{"type": "BODY", "text": "Hallo {{1}}, Ihre Bestellung ist unterwegs."}],
    )
    page = agent
    open_customer(page, "Lukas Weber")
    choice = page.locator("#template-choice")
    note = page.locator("[data-template-cleared]")

    choose(page, "order_update")
    expect(send_button(page)).to_be_visible()
    # A category that the chosen template is not in: it is unselected with its fields and Send button.
    page.locator("[data-template-filter=category]").select_option("MARKETING")
    expect(choice).to_have_value("")
    expect(page.locator("#template-fields")).to_be_empty()
    expect(send_button(page)).to_have_count(0)
    expect(note).to_be_visible()
    expect(note).to_contain_text("“order_update” is not in the category or language chosen")
    # The form cannot be sent without a template (the select is required), and the server refuses it too.
    page.locator("form.template-picker").evaluate("form => form.requestSubmit()")
    assert not Message.objects.filter(direction="outbound", customer__name="Lukas Weber").exists()

    # A filter the chosen template still matches keeps it, fields and all.
    page.locator("[data-template-filter=category]").select_option("")
    expect(note).to_be_hidden()
    choose(page, "bestellung_versandt")
    page.locator("[data-template-filter=category]").select_option("UTILITY")
    expect(choice).to_have_value(str(MessageTemplate.objects.get(name="bestellung_versandt").pk))
    expect(send_button(page)).to_be_visible()
    expect(note).to_be_hidden()
    # The language filter works the same way.
    page.locator("[data-template-filter=language]").select_option("en_US")
    expect(choice).to_have_value("")
    expect(send_button(page)).to_have_count(0)
    expect(note).to_contain_text("“bestellung_versandt”")
    # Choosing another template puts the note away.
    choose(page, "ticket_update")
    expect(note).to_be_hidden()
    expect(send_button(page)).to_be_visible()


# --- Hints and the preview ----------------------------------------------------------------------------


def test_each_parameter_is_hinted_with_the_templates_example_value(agent):
    page = agent
    open_customer(page, "Lukas Weber")
    choose(page, "order_update")  # named parameters
    order_number = page.get_by_label("{{order_number}}", exact=True)
    expect(order_number).to_have_attribute("placeholder", "e.g. 860198")
    expect(page.locator("#id_p_order_number-hint")).to_have_text("e.g. 860198")
    expect(page.locator("#id_p_order_number-hint")).to_be_visible()
    expect(order_number).to_have_accessible_description("e.g. 860198")
    expect(page.get_by_label("{{days}}", exact=True)).to_have_attribute("placeholder", "e.g. 3")

    choose(page, "ticket_update")  # a header's and a link button's examples too
    expect(page.get_by_label("Header {{ticket_id}}")).to_have_attribute("placeholder", "e.g. T-4821")
    expect(page.get_by_label("Button “Open the ticket”: end of its link")).to_have_accessible_description(
        "e.g. 4821"
    )

    choose(page, "appointment_reminder")  # positional parameters
    expect(page.get_by_label("{{2}}", exact=True)).to_have_attribute("placeholder", "e.g. Tuesday 10:30")
    expect(page.locator("#id_p_2-hint")).to_be_visible()


def test_the_preview_shows_the_whole_message_as_the_customer_will_see_it(agent):
    page = agent
    open_customer(page, "Sheena Nelson")
    preview = page.locator("#template-preview")

    choose(page, "order_update")  # a text header and a link button
    expect(preview.locator(".tpl-header")).to_have_text("Your order is on its way")
    expect(preview.locator(".tpl-body")).to_contain_text("Hi Sheena, your order {{order_number}} has shipped")
    expect(preview.locator(".tpl-missing")).to_have_text(["{{order_number}}", "{{days}}"])
    expect(preview.locator(".tpl-button")).to_have_text("Track your order https://shop.example.com/orders")

    choose(page, "summer_sale")  # a footer
    expect(preview.locator(".tpl-header")).to_have_text("Summer sale")
    expect(preview.locator(".tpl-footer")).to_have_text("You get this because you opted in.")

    choose(page, "appointment_reminder")  # quick replies; values are filled in one pass, as WhatsApp does
    expect(preview.locator(".tpl-button")).to_have_text(["YES", "Reschedule"])
    page.get_by_label("{{1}}", exact=True).fill("{{2}} <b>Sheena</b>")
    page.get_by_label("{{2}}", exact=True).fill("Friday")
    expect(preview.locator(".tpl-body")).to_have_text(
        "Hello {{2}} <b>Sheena</b>, this is a reminder of your appointment on Friday. Reply YES to confirm."
    )
    expect(preview.locator(".tpl-body b")).to_have_count(0)  # what the agent types is text, never markup

    choose(page, "new_arrivals")  # an image header: the link the agent gives
    media = preview.locator(".tpl-media")
    expect(media).to_have_text("Image header: the link, still to give")
    page.get_by_label("Header image: link (https://…)").fill("https://cdn.example.com/picks.jpg")
    expect(media).to_have_text("Image header: https://cdn.example.com/picks.jpg")
    expect(preview.locator(".problems")).to_have_count(0)


# --- A laptop screen ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(1366, 768), (1280, 720)], ids=["1366x768", "1280x720"])
def test_on_a_laptop_screen_the_fields_preview_and_send_button_show_without_scrolling(agent, size):
    page = agent
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    open_customer(page, "Lukas Weber")  # a closed window and a marketing stop: two notices above the picker

    def all_on_screen():
        compose = page.locator("#compose").bounding_box()
        shown = [
            *page.locator("#template-fields input").all(),
            page.locator("#template-preview"),
            send_button(page),
        ]
        assert len(shown) > 3
        for element in shown:
            box = element.bounding_box()
            assert box is not None and box["height"] > 0
            # In the window, and inside the compose area's visible part (nothing scrolled out of sight).
            assert box["y"] >= 0 and box["y"] + box["height"] <= height, (element, box)
            assert (
                compose["y"] <= box["y"] and box["y"] + box["height"] <= compose["y"] + compose["height"] + 1
            )
            assert box["x"] >= 0 and box["x"] + box["width"] <= width
        assert page.evaluate("() => document.scrollingElement.scrollHeight <= window.innerHeight")
        assert page.evaluate("() => document.scrollingElement.scrollWidth <= window.innerWidth")

    for name, parameters in (("order_update", 3), ("ticket_update", 1)):  # a header and a button too
        choose(page, name)
        expect(page.locator("#template-preview .problems li")).to_have_count(
            parameters - 1 if name == "order_update" else 2
        )
        htmx_settled(page)
        all_on_screen()  # with what is still missing listed under the preview
    page.get_by_label("Header {{ticket_id}}").fill("T-4821")
    page.get_by_label("Button “Open the ticket”: end of its link").fill("4821")
    expect(page.locator("#template-preview .problems")).to_have_count(0)
    htmx_settled(page)  # the preview of the last value typed may still be swapping in
    all_on_screen()
    save_screenshot(page, f"template-picker-{width}x{height}")


def test_on_a_phone_the_picker_is_one_column_without_overflow(agent):
    page = agent
    page.set_viewport_size({"width": 390, "height": 800})
    open_customer(page, "Lukas Weber")
    choose(page, "ticket_update")
    fields = page.get_by_label("Header {{ticket_id}}").bounding_box()
    preview = page.locator("#template-preview").bounding_box()
    assert preview["y"] >= fields["y"] + fields["height"]  # one below the other
    send_button(page).scroll_into_view_if_needed()
    expect(send_button(page)).to_be_in_viewport()
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


# --- The thread ---------------------------------------------------------------------------------------


def test_a_sent_template_shows_its_header_footer_and_buttons_in_the_thread(agent):
    template = MessageTemplate.objects.create(
        name="invoice_due",
        language="en_US",
        category="UTILITY",
        status="APPROVED",
        components=[
            {"type": "HEADER", "format": "TEXT", "text": "Invoice {{1}}"},
            {"type": "BODY", "text": "Hi {{1}}, invoice {{2}} is due on Friday."},
            {"type": "FOOTER", "text": "Thanks for shopping with us"},
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "URL", "text": "Pay now", "url": "https://pay.example.com/i/{{1}}"},
                    {"type": "PHONE_NUMBER", "text": "Call us", "phone_number": "+15550783881"},
                    {"type": "QUICK_REPLY", "text": "Paid already"},
                ],
            },
        ],
    )
    services.send_template(
        customer=Customer.objects.get(name="Lukas Weber"),
        template=template,
        params=["Lukas", "<i>A-17</i>"],
        extras={"header": "A-17", "buttons": {"0": "A-17"}},
    )
    page = agent
    open_customer(page, "Lukas Weber")
    bubble = page.locator("#thread .msg-outbound", has_text="is due on Friday")
    expect(bubble.locator(".tpl-header")).to_have_text("Invoice A-17")
    expect(bubble.locator(".tpl-body")).to_have_text("Hi Lukas, invoice <i>A-17</i> is due on Friday.")
    expect(bubble.locator(".tpl-footer")).to_have_text("Thanks for shopping with us")
    expect(bubble.locator(".tpl-button")).to_have_text(
        ["Pay now https://pay.example.com/i/A-17", "Call us +15550783881", "Paid already"]
    )
    # The demo's template sent to Grace: its fixed header and link button are in her thread too.
    open_customer(page, "Grace Okafor")
    grace = page.locator("#thread .msg-outbound", has_text="your order 771204 has shipped")
    expect(grace.locator(".tpl-header")).to_have_text("Your order is on its way")
    expect(grace.locator(".tpl-button")).to_have_text("Track your order https://shop.example.com/orders")
    save_screenshot(page.locator("#thread"), "thread-template")


# What the agent does the moment a swap shows, reaches the page: htmx wires new content up in the swap
# itself (templates/base.html: no settle delay). A script chooses the template as soon as the picker is in
# the page, quicker than any person; with htmx's default 20 ms settle delay the choice went unnoticed.
CHOOSE_ON_ARRIVAL = """(name) => { window.chosenOnArrival = new Promise((resolve) => {
    new MutationObserver((changes, observer) => {
        const choice = document.getElementById("template-choice");
        if (!choice) return;
        observer.disconnect();
        const option = [...choice.options].find((o) => o.dataset.name === name);
        choice.value = option.value;
        choice.dispatchEvent(new Event("change", {bubbles: true}));
        resolve(option.value);
    }).observe(document.body, {childList: true, subtree: true});
}); }"""


def test_a_template_chosen_the_moment_the_thread_shows_is_previewed(agent):
    page = agent
    page.goto("/?view=all")
    page.evaluate(CHOOSE_ON_ARRIVAL, "order_update")
    page.locator("#customer-list a", has_text="Lukas Weber").click()
    expect(page.locator("#customer-title")).to_have_text("Lukas Weber")
    chosen = page.evaluate("() => window.chosenOnArrival")
    assert chosen == str(MessageTemplate.objects.get(name="order_update").pk)
    expect(page.locator("#template-preview")).to_be_visible()
    expect(page.locator("#template-preview .tpl-body")).to_contain_text("order")
