"""What a send supplies beyond the body: a header's value, URL buttons' link ends, an authentication
template's code button (templates_app.sending), checked before anything is created."""

import pytest

from conversations.exceptions import TemplateParamsInvalid
from templates_app import sending

BODY = {"type": "BODY", "text": "Hi {{1}}, news on your request."}
TRACK = {"type": "URL", "text": "Track it", "url": "https://shop.example.com/o/{{1}}"}
STATIC = {"type": "URL", "text": "Our shop", "url": "https://shop.example.com"}


def inputs(*components, parameter_format="POSITIONAL", category="UTILITY"):
    return sending.send_inputs([BODY, *components], parameter_format, category)


def errors_of(call) -> list[str]:
    with pytest.raises(TemplateParamsInvalid) as raised:
        call()
    return raised.value.errors


def test_a_template_with_only_body_parameters_needs_nothing_more():
    plain = inputs(
        {"type": "HEADER", "format": "TEXT", "text": "Your order"},
        {"type": "BUTTONS", "buttons": [STATIC, {"type": "QUICK_REPLY", "text": "Yes"}]},
    )
    assert plain == sending.SendInputs(header=None, buttons=())
    assert sending.prepare(plain, None, {"1": "Ann"}) is None
    assert errors_of(lambda: sending.prepare(plain, {"header": "x"}, {})) == [
        "this template's header takes no parameter"
    ]


@pytest.mark.parametrize(
    ("parameter_format", "text", "name"),
    [("POSITIONAL", "Order {{1}}", "1"), ("NAMED", "Ticket {{ticket_id}}", "ticket_id")],
)
def test_a_text_header_placeholder_is_asked_for_and_checked(parameter_format, text, name):
    header = {"type": "HEADER", "format": "TEXT", "text": text}
    wanted = inputs(header, parameter_format=parameter_format)
    assert wanted.header == sending.HeaderInput("TEXT", name, text)
    assert sending.prepare(wanted, {"header": " 860198 "}, {}) == {
        "header": {"format": "TEXT", "name": name, "value": "860198"}
    }
    assert errors_of(lambda: sending.prepare(wanted, {}, {})) == [f"header {{{{{name}}}}} is empty"]
    too_long = "x" * (61 - len(text) + len(f"{{{{{name}}}}}"))  # the header would be 61 characters
    assert errors_of(lambda: sending.prepare(wanted, {"header": too_long}, {})) == [
        "the header would be 61 characters long; WhatsApp allows 60"
    ]
    just_fits = too_long[:-1]
    assert sending.prepare(wanted, {"header": just_fits}, {})["header"]["value"] == just_fits
    assert "new lines" in errors_of(lambda: sending.prepare(wanted, {"header": "a\nb"}, {}))[0]


@pytest.mark.parametrize("media", ["IMAGE", "VIDEO", "DOCUMENT"])
def test_a_media_header_takes_an_https_link(media):
    wanted = inputs({"type": "HEADER", "format": media})
    link = "https://cdn.example.com/spring/picks.jpg?v=2"
    assert sending.prepare(wanted, {"header": link}, {}) == {
        "header": {"format": media, "name": "", "value": link}
    }
    for bad in ("", "http://cdn.example.com/a.jpg", "https://localhost/a.jpg", "a picture"):
        [problem] = errors_of(lambda bad=bad: sending.prepare(wanted, {"header": bad}, {}))
        assert f"the header {media.lower()} needs a link" in problem


def test_a_location_header_takes_coordinates_and_optionally_a_name_and_an_address():
    wanted = inputs({"type": "HEADER", "format": "LOCATION"})
    place = {"latitude": "52.5200", "longitude": " 13.4050", "name": "Shop Mitte", "address": ""}
    assert sending.prepare(wanted, {"header": place}, {}) == {
        "header": {
            "format": "LOCATION",
            "name": "",
            "value": {"latitude": 52.52, "longitude": 13.405, "name": "Shop Mitte", "address": ""},
        }
    }
    assert errors_of(lambda: sending.prepare(wanted, {}, {})) == [
        "the header location needs its latitude (a number from -90 to 90)",
        "the header location needs its longitude (a number from -180 to 180)",
    ]
    far = {"latitude": "91", "longitude": "-180"}
    assert errors_of(lambda: sending.prepare(wanted, {"header": far}, {})) == [
        "the latitude 91 is not between -90 and 90"
    ]


def test_each_url_button_with_a_variable_needs_the_end_of_its_link_at_its_index():
    wanted = inputs({"type": "BUTTONS", "buttons": [STATIC, TRACK]})
    assert wanted.buttons == (sending.ButtonInput(1, "Track it", TRACK["url"]),)
    assert sending.prepare(wanted, {"buttons": {"1": "860198"}}, {}) == {
        "buttons": [{"index": 1, "value": "860198"}]
    }
    assert errors_of(lambda: sending.prepare(wanted, {}, {})) == [
        "the button “Track it” needs the end of its link (https://shop.example.com/o/{{1}})"
    ]
    assert errors_of(lambda: sending.prepare(wanted, {"buttons": {"1": "86 01"}}, {})) == [
        "the end of the button “Track it” link may not contain spaces"
    ]
    assert errors_of(lambda: sending.prepare(wanted, {"buttons": {"1": "a", "0": "b"}}, {})) == [
        "no button with a variable at position 0"
    ]


def test_an_authentication_templates_code_button_gets_the_bodys_code_without_asking():
    created_here = {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE"}]}
    as_listed = {
        "type": "BUTTONS",
        "buttons": [
            {"type": "URL", "text": "Copy code", "url": "https://www.whatsapp.com/otp/code/?c={{1}}"}
        ],
    }
    for buttons in (created_here, as_listed):
        wanted = inputs(buttons, category="AUTHENTICATION")
        assert wanted.asked == () and wanted.buttons[0].is_code
        assert sending.prepare(wanted, None, {"1": "482913"}) == {
            "buttons": [{"index": 0, "value": "482913"}]
        }


def test_every_problem_of_the_body_and_the_rest_is_reported_at_once(db):
    from tests import factories

    template = factories.template(category="UTILITY", body="Hi {{1}}, news.")
    template.components = [
        {"type": "HEADER", "format": "IMAGE"},
        template.components[0],
        {"type": "BUTTONS", "buttons": [TRACK]},
    ]
    problems = errors_of(lambda: template.prepare_send([""], {}))
    assert problems == [
        "parameter {{1}} is empty",
        "the header image needs a link (https://…): the template shows one",
        "the button “Track it” needs the end of its link (https://shop.example.com/o/{{1}})",
    ]


def test_a_copy_code_button_asks_for_the_offer_code():
    wanted = inputs({"type": "BUTTONS", "buttons": [{"type": "COPY_CODE", "example": "SPRING25"}]})
    [button] = wanted.asked
    assert (button.index, button.sub_type, button.label) == (
        0,
        "copy_code",
        "Button “Copy offer code”: the offer code",
    )
    assert sending.prepare(wanted, {"buttons": {"0": "SPRING25"}}, {}) == {
        "buttons": [{"index": 0, "value": "SPRING25", "sub_type": "copy_code"}]
    }
    assert errors_of(lambda: sending.prepare(wanted, {}, {})) == [
        "the button “Copy offer code” needs the offer code it copies"
    ]
    assert errors_of(lambda: sending.prepare(wanted, {"buttons": {"0": "A" * 16}}, {})) == [
        "the offer code has at most 15 characters and no spaces"
    ]
