"""The template picker's server side (issue 11, item 4): each parameter hinted with the template's example
value, the preview of the whole message (header, body, footer, buttons) filled in one pass and escaped, and
the thread drawing sent templates the same way, at a constant number of queries."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conversations import services
from conversations.models import Message
from tests import factories
from tests.inbox.test_views import user, visible, wrote
from whatsapp.services import outbound_payload

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def agent():
    return user("alex", "agents")


@pytest.fixture
def client(client, agent):
    client.force_login(agent)
    return client


def invoice_template(**fields):
    template = factories.template(category="UTILITY", body="Hi {{1}}, invoice {{2}} is due.", **fields)
    template.components = [
        {"type": "HEADER", "format": "TEXT", "text": "Invoice {{1}}", "example": {"header_text": ["A-17"]}},
        {
            "type": "BODY",
            "text": "Hi {{1}}, invoice {{2}} is due.",
            "example": {"body_text": [["Maria", "A-17"]]},
        },
        {"type": "FOOTER", "text": "Thanks for shopping with us"},
        {
            "type": "BUTTONS",
            "buttons": [
                {
                    "type": "URL",
                    "text": "Pay now",
                    "url": "https://pay.example.com/i/{{1}}",
                    "example": ["https://pay.example.com/i/A-17"],
                },
                {"type": "PHONE_NUMBER", "text": "Call us", "phone_number": "+15550783881"},
                {"type": "QUICK_REPLY", "text": "Paid already"},
            ],
        },
    ]
    template.save()
    return template


def fields_of(client, customer, template) -> str:
    return client.get(reverse("inbox:template-form", args=[customer.pk]), {"template": template.pk}).text


def preview_of(client, customer, template, **values) -> str:
    return client.post(
        reverse("inbox:template-form", args=[customer.pk]), {"template": template.pk, **values}
    ).text


def test_each_field_is_hinted_with_the_templates_example_value(client):
    customer = wrote("16505551234", ago=timedelta(days=3), name="Sheena Nelson")
    html = fields_of(client, customer, invoice_template())
    for field, hint in (("p_1", "Maria"), ("p_2", "A-17"), ("header", "A-17"), ("button_0", "A-17")):
        assert f'placeholder="e.g. {hint}" aria-describedby="id_{field}-hint"' in html
        assert f'<span class="field-hint" id="id_{field}-hint">e.g. {hint}</span>' in html
    named = factories.template(
        category="UTILITY",
        parameter_format="NAMED",
        body="Hi {{first_name}}, order {{order_number}} shipped.",
    )
    named.components[0]["example"] = {
        "body_text_named_params": [{"param_name": "order_number", "example": "860198"}]
    }
    named.save()
    html = fields_of(client, customer, named)
    assert 'placeholder="e.g. 860198"' in html and 'id="id_p_order_number-hint"' in html
    assert "id_p_first_name-hint" not in html  # no example, no hint


def test_the_preview_shows_header_body_footer_and_buttons(client):
    customer = wrote("16505551234", ago=timedelta(days=3), name="Sheena Nelson")
    template = invoice_template()
    empty = visible(fields_of(client, customer, template))
    assert "Invoice {{1}} Hi Sheena, invoice {{2}} is due. Thanks for shopping with us" in empty
    assert "Pay now https://pay.example.com/i/{{1}} Call us +15550783881 Paid already" in empty
    html = preview_of(client, customer, template, p_1="Sheena", p_2="B-9", header="B-9", button_0="B-9")
    assert visible(html) == (
        "What the customer will see Invoice B-9 Hi Sheena, invoice B-9 is due. Thanks for shopping with us "
        "Pay now https://pay.example.com/i/B-9 Call us +15550783881 Paid already "
        "Sending it opens a new utility conversation."
    )
    assert '<p class="tpl-footer">Thanks for shopping with us</p>' in html
    assert (
        '<li class="tpl-button tpl-button-quick_reply"><span class="tpl-button-text">Paid already</span></li>'
        in html
    )


def test_a_media_header_and_a_copy_code_button_in_the_preview(client):
    customer = wrote("16505551234", ago=timedelta(days=3))
    template = factories.template(category="MARKETING", body="Hi {{1}}, 20% off with this code.")
    template.components = [
        {"type": "HEADER", "format": "VIDEO"},
        *template.components,
        {"type": "BUTTONS", "buttons": [{"type": "COPY_CODE", "example": "SUMMER20"}]},
    ]
    template.save()
    assert "Video header: the link, still to give" in visible(fields_of(client, customer, template))
    html = preview_of(
        client, customer, template, p_1="Ann", header="https://cdn.example.com/v.mp4", button_0="AUTUMN5"
    )
    assert (
        "Video header: https://cdn.example.com/v.mp4 Hi Ann, 20% off with this code. Copy code AUTUMN5"
        in visible(html)
    )
    assert 'placeholder="e.g. SUMMER20"' in fields_of(client, customer, template)


def test_values_are_filled_in_one_pass_and_escaped(client):
    customer = wrote("16505551234", ago=timedelta(days=3))
    template = invoice_template()
    html = preview_of(
        client, customer, template, p_1="{{2}}", p_2='<script>alert("x")</script>', header="<b>", button_0="x"
    )
    assert "Hi {{2}}, invoice &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; is due." in visible(html)
    assert "<script>" not in html and "<b>" not in html
    assert "Invoice &lt;b&gt;" in visible(html)


def test_the_thread_draws_a_sent_template_as_the_customer_saw_it(client, agent):
    customer = wrote("16505551234", ago=timedelta(days=3))
    template = invoice_template()
    services.send_template(
        customer=customer,
        template=template,
        params=["Ann", "<i>B-9</i>"],
        extras={"header": "B-9", "buttons": {"0": "B-9"}},
        agent=agent,
        client_token=uuid.uuid4(),
    )
    thread = client.get(reverse("inbox:thread", args=[customer.pk])).text
    assert (
        "Invoice B-9 Hi Ann, invoice &lt;i&gt;B-9&lt;/i&gt; is due. Thanks for shopping with us "
        "Pay now https://pay.example.com/i/B-9 Call us +15550783881 Paid already"
    ) in visible(thread)
    assert "<i>B-9" not in thread

    # The template changed since: the body stays as it was sent.
    template.components[1]["text"] = "Hello {{1}}, invoice {{2}} is overdue."
    template.save()
    thread = client.get(reverse("inbox:thread", args=[customer.pk])).text
    assert "Invoice B-9 Hi Ann, invoice &lt;i&gt;B-9&lt;/i&gt; is due. Thanks" in visible(thread)


def test_template_bubbles_cost_no_query_each(client, agent):
    customer = wrote("16505551234", ago=timedelta(hours=1))

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("inbox:thread", args=[customer.pk])).status_code == 200
        return len(captured)

    def send(count):
        for _ in range(count):
            services.send_template(
                customer=customer,
                template=invoice_template(),
                params=["Ann", "B-9"],
                extras={"header": "B-9", "buttons": {"0": "B-9"}},
                agent=agent,
            )

    send(1)
    one = queries()
    send(5)
    assert queries() == one
    assert Message.objects.filter(kind="template").count() == 6


def ticket_template():
    """A NAMED template with a header text parameter, body parameters, a footer and a URL button's."""
    template = factories.template(category="UTILITY", parameter_format="NAMED", body="Hi")
    template.components = [
        {"type": "HEADER", "format": "TEXT", "text": "Ticket {{ticket_id}}"},
        {"type": "BODY", "text": "Hi {{first_name}}, ticket {{ticket_id_2}} has news."},
        {"type": "FOOTER", "text": "Thanks for shopping with us"},
        {
            "type": "BUTTONS",
            "buttons": [{"type": "URL", "text": "Read it", "url": "https://t.example/{{1}}"}],
        },
    ]
    template.save()
    return template


def as_the_platform_fills(template, payload) -> tuple[str, str, str]:
    """The header, body and button link the customer gets for `payload`, filled as the platform fills a
    template: each placeholder replaced, in one pass, by the parameter the payload gives for it (by
    position, or by name in a NAMED template). Written here, apart from the app's renderer, to check it."""
    given = {part["type"]: part for part in payload["template"]["components"]}

    def values(parameters):
        return {p.get("parameter_name") or str(n): p["text"] for n, p in enumerate(parameters, start=1)}

    def filled(text, parameters):
        return re.sub(r"\{\{(\w+)\}\}", lambda match: values(parameters)[match.group(1)], text)

    texts = {c["type"]: c.get("text") for c in template.components}
    link = template.components[3]["buttons"][0]["url"]
    return (
        filled(texts["HEADER"], given["header"]["parameters"]),
        filled(texts["BODY"], given["body"]["parameters"]),
        filled(link, given["button"]["parameters"]),
    )


@pytest.mark.parametrize(
    ("make", "fields"),
    [
        (invoice_template, {"p_1": "{{2}}", "p_2": "{{1}}", "header": "{{1}}", "button_0": "{{1}}"}),
        (
            ticket_template,
            {
                "p_first_name": "{{ticket_id_2}}",
                "p_ticket_id_2": "{{first_name}}",
                "header": "{{ticket_id}}",
                "button_0": "{{1}}",
            },
        ),
    ],
    ids=["positional", "named"],
)
def test_the_preview_is_exactly_what_is_stored_and_sent(client, make, fields):
    """Values that look like placeholders are shown, stored and sent as typed (never filled again), and
    the compose preview, the message's stored body and the payload's text as the platform fills it are
    one text: header, body, footer and the button's link."""
    customer = wrote("16505551234", ago=timedelta(hours=1), name="Sheena Nelson")
    template = make()
    preview = visible(preview_of(client, customer, template, **fields))

    sent = client.post(
        reverse("inbox:send-template", args=[customer.pk]),
        {"template": template.pk, "client_token": uuid.uuid4(), **fields},
    )
    assert sent.status_code == 200, visible(sent.text)
    message = Message.objects.get(kind="template")
    header, body, link = as_the_platform_fills(template, outbound_payload(message))

    assert "{{" in header and "{{" in body and link.endswith("/{{1}}")  # the values, verbatim
    assert message.body == body
    footer = template.components[2]["text"]
    button = template.components[3]["buttons"][0]["text"]
    assert preview.startswith(f"What the customer will see {header} {body} {footer} {button} {link} ")
