"""`whatsapp/client.py` against a real HTTP server on 127.0.0.1 (tests/whatsapp/fake_graph.py).

No mocks of httpx: every request crosses a socket. The rows say what a sender may do after each kind
of failure: `retryable` (certainly not accepted, trying again may help) and `ambiguous` (maybe accepted:
never re-post, since the platform has no idempotency key).
"""

from __future__ import annotations

import logging
import pickle
import socket
import threading
import time

import pytest
from django.conf import settings

from tests.whatsapp.fake_graph import FakeGraph, Reply, graph_error, recipient_success_body, template_refusal
from whatsapp.client import (
    GraphClient,
    PlatformError,
    SendResult,
    is_business_scoped_user_id,
    template_payload,
    text_payload,
)
from whatsapp.errors import describe, failure_text

VERSION = settings.WHATSAPP_API_VERSION
PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
TOKEN = "EAAG-test-token-not-secret-1234"
TIMEOUT = 0.5
TO = "+16505551234"
BSUID = "US.13491208655302741918"  # a business-scoped user id, as Meta's examples show it


@pytest.fixture
def client(fake_graph):
    with GraphClient(
        base_url=fake_graph.url,
        version=VERSION,
        phone_number_id=PHONE_NUMBER_ID,
        access_token=TOKEN,
        timeout=TIMEOUT,
    ) as graph:
        yield graph


# --- Payloads: the documented shapes ------------------------------------------------------------------------
PAYLOADS = [
    pytest.param(
        text_payload(to=TO, body="Hello"),
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "+16505551234",
            "type": "text",
            "text": {"body": "Hello", "preview_url": False},
        },
        id="text",
    ),
    pytest.param(
        text_payload(
            to="16505551234", body="See https://example.com", callback_data="msg-1", preview_url=True
        ),
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "+16505551234",
            "type": "text",
            "text": {"body": "See https://example.com", "preview_url": True},
            "biz_opaque_callback_data": "msg-1",
        },
        id="text-digits-only-to-with-callback-and-preview",
    ),
    pytest.param(
        template_payload(
            to=TO,
            name="order_update",
            language="en_US",
            parameter_format="NAMED",
            params={"first_name": "Pablo", "order_number": "860198"},
            callback_data="msg-4812",
        ),
        {
            "messaging_product": "whatsapp",
            "to": "+16505551234",
            "type": "template",
            "biz_opaque_callback_data": "msg-4812",
            "template": {
                "name": "order_update",
                "language": {"code": "en_US"},
                "components": [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "parameter_name": "first_name", "text": "Pablo"},
                            {"type": "text", "parameter_name": "order_number", "text": "860198"},
                        ],
                    }
                ],
            },
        },
        id="template-named-as-documented",
    ),
    pytest.param(
        template_payload(
            to=TO, name="shipping", language="de", parameter_format="POSITIONAL", params=["Anna", 42]
        ),
        {
            "messaging_product": "whatsapp",
            "to": "+16505551234",
            "type": "template",
            "template": {
                "name": "shipping",
                "language": {"code": "de"},
                "components": [
                    {
                        "type": "body",
                        "parameters": [{"type": "text", "text": "Anna"}, {"type": "text", "text": "42"}],
                    }
                ],
            },
        },
        id="template-positional-in-order",
    ),
    pytest.param(
        template_payload(
            to=TO,
            name="shipping",
            language="de",
            parameter_format="positional",
            params={"2": "second", "1": "first"},
        ),
        {
            "messaging_product": "whatsapp",
            "to": "+16505551234",
            "type": "template",
            "template": {
                "name": "shipping",
                "language": {"code": "de"},
                "components": [
                    {
                        "type": "body",
                        "parameters": [{"type": "text", "text": "first"}, {"type": "text", "text": "second"}],
                    }
                ],
            },
        },
        id="template-positional-dict-ordered-by-number",
    ),
    *[
        pytest.param(
            template_payload(
                to=TO, name="hello_world", language="en_US", parameter_format=fmt, params=params
            ),
            {
                "messaging_product": "whatsapp",
                "to": "+16505551234",
                "type": "template",
                "template": {"name": "hello_world", "language": {"code": "en_US"}},
            },
            id=f"template-no-params-{fmt.lower()}-{type(params).__name__}",
        )
        for fmt, params in [("POSITIONAL", None), ("POSITIONAL", []), ("NAMED", None), ("NAMED", {})]
    ],
]


@pytest.mark.parametrize(("payload", "expected"), PAYLOADS)
def test_payload_builders_make_the_documented_shapes(payload, expected):
    assert payload == expected


@pytest.mark.parametrize(("payload", "expected"), PAYLOADS)
def test_send_posts_the_payload_as_built_and_returns_the_wamid(fake_graph, client, payload, expected):
    result = client.send(payload)

    assert isinstance(result, SendResult)
    assert result.wamid.startswith("wamid.FAKE")
    assert result.wa_id == "16505551234"
    assert result.user_id is None
    assert result.raw["messages"] == [{"id": result.wamid}]
    [request] = fake_graph.requests
    assert request.method == "POST"
    assert request.path == f"/{VERSION}/{PHONE_NUMBER_ID}/messages"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("support-inbox/")
    assert request.json == expected


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(lambda: text_payload(to="6505551234x", body="Hi"), "international", id="to-not-digits"),
        pytest.param(lambda: text_payload(to="+0123456", body="Hi"), "international", id="to-leading-zero"),
        pytest.param(lambda: text_payload(to=TO, body="  "), "body", id="text-blank"),
        pytest.param(lambda: text_payload(to=TO, body="x" * 4097), "4096", id="text-too-long"),
        pytest.param(
            lambda: text_payload(to=TO, body="Hi", callback_data=""), "callback", id="callback-empty"
        ),
        pytest.param(
            lambda: template_payload(to=TO, name="t", language="en", parameter_format="NAMED", params=["a"]),
            "dict",
            id="named-given-a-list",
        ),
        pytest.param(
            lambda: template_payload(
                to=TO, name="t", language="en", parameter_format="NAMED", params={"First Name": "a"}
            ),
            "lowercase",
            id="named-bad-name",
        ),
        pytest.param(
            lambda: template_payload(
                to=TO, name="t", language="en", parameter_format="POSITIONAL", params={"1": "a", "3": "c"}
            ),
            "without gaps",
            id="positional-gap",
        ),
        pytest.param(
            lambda: template_payload(
                to=TO, name="t", language="en", parameter_format="POSITIONAL", params=[""]
            ),
            "empty",
            id="positional-empty-value",
        ),
        pytest.param(
            lambda: template_payload(
                to=TO, name="t", language="en", parameter_format="NAMED", params={"a": None}
            ),
            "text or a number",
            id="named-none-value",
        ),
        pytest.param(
            lambda: template_payload(to=TO, name="t", language="en", parameter_format="MIXED", params=None),
            "NAMED or POSITIONAL",
            id="unknown-format",
        ),
    ],
)
def test_payload_builders_refuse_what_the_platform_would_refuse(build, message):
    with pytest.raises(ValueError, match=message):
        build()


# --- Customers known only by a business-scoped user id (BSUID) ---------------------------------------------
BSUID_PAYLOADS = [
    pytest.param(
        text_payload(recipient=BSUID, body="Hello", callback_data="msg-7"),
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "recipient": BSUID,
            "type": "text",
            "text": {"body": "Hello", "preview_url": False},
            "biz_opaque_callback_data": "msg-7",
        },
        id="text-to-bsuid",
    ),
    pytest.param(
        template_payload(
            recipient=BSUID, name="order_update", language="en_US", parameter_format="NAMED", params={"n": 1}
        ),
        {
            "messaging_product": "whatsapp",
            "recipient": BSUID,
            "type": "template",
            "template": {
                "name": "order_update",
                "language": {"code": "en_US"},
                "components": [
                    {"type": "body", "parameters": [{"type": "text", "parameter_name": "n", "text": "1"}]}
                ],
            },
        },
        id="template-to-bsuid",
    ),
    pytest.param(
        text_payload(to=TO, recipient=BSUID, body="Hello"),
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "+16505551234",
            "type": "text",
            "text": {"body": "Hello", "preview_url": False},
        },
        id="both-known-phone-only",
    ),
    pytest.param(
        text_payload(to="", recipient=BSUID, body="Hello"),
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "recipient": BSUID,
            "type": "text",
            "text": {"body": "Hello", "preview_url": False},
        },
        id="empty-phone-means-none",
    ),
]


@pytest.mark.parametrize(("payload", "expected"), BSUID_PAYLOADS)
def test_a_customer_without_a_phone_number_is_addressed_by_recipient(payload, expected):
    assert payload == expected
    assert not ("to" in payload and "recipient" in payload)  # exactly one addressee


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(lambda: text_payload(body="Hi"), "needs an addressee", id="neither"),
        pytest.param(
            lambda: text_payload(to=None, recipient="", body="Hi"), "needs an addressee", id="blanks"
        ),
        pytest.param(
            lambda: template_payload(name="t", language="en", parameter_format="NAMED", params=None),
            "needs an addressee",
            id="template-neither",
        ),
        pytest.param(lambda: text_payload(to=BSUID, body="Hi"), "recipient=", id="bsuid-in-to"),
        pytest.param(
            lambda: template_payload(
                to=BSUID, name="t", language="en", parameter_format="NAMED", params=None
            ),
            "never as to=",
            id="template-bsuid-in-to",
        ),
        pytest.param(
            lambda: text_payload(to="US.ENT.11815799212886844830", body="Hi"), "recipient=", id="parent-in-to"
        ),
        pytest.param(
            lambda: text_payload(recipient="US.ENT.11815799212886844830", body="Hi"),
            "parent business-scoped user id",
            id="parent-is-not-a-recipient",
        ),
        pytest.param(
            lambda: text_payload(recipient="+16505551234", body="Hi"), "country code", id="phone-as-bsuid"
        ),
        pytest.param(
            lambda: text_payload(recipient="us.1349", body="Hi"), "country code", id="lowercase-country"
        ),
        pytest.param(
            lambda: text_payload(recipient="USA.1349", body="Hi"), "country code", id="three-letters"
        ),
        pytest.param(lambda: text_payload(recipient="US.", body="Hi"), "country code", id="no-id"),
        pytest.param(
            lambda: text_payload(recipient="US.13-49", body="Hi"), "country code", id="not-alphanumeric"
        ),
        pytest.param(
            lambda: text_payload(recipient="US." + "a" * 129, body="Hi"), "country code", id="too-long"
        ),
    ],
)
def test_payload_builders_refuse_a_wrong_addressee(build, message):
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (BSUID, True),
        ("DE.a1B2", True),
        ("US." + "9" * 128, True),
        ("US.ENT.11815799212886844830", False),
        ("16505551234", False),
        ("+16505551234", False),
        (None, False),
    ],
)
def test_is_business_scoped_user_id(value, expected):
    assert is_business_scoped_user_id(value) is expected


def test_a_send_to_a_bsuid_is_understood_without_a_wa_id(fake_graph, client):
    result = client.send(text_payload(recipient=BSUID, body="Hello"))

    assert (result.wa_id, result.user_id) == (None, BSUID)
    assert result.raw["contacts"] == [{"input": BSUID, "user_id": BSUID}]
    [request] = fake_graph.requests
    assert request.json["recipient"] == BSUID and "to" not in request.json
    assert fake_graph.misaddressed == []


def test_the_documented_bsuid_answer_is_parsed_as_received(fake_graph, client):
    # Meta's example answer to a send addressed with `recipient`: contacts with input and user_id only.
    fake_graph.enqueue(
        body=recipient_success_body(BSUID, wamid="wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4")
    )
    result = client.send(
        template_payload(recipient=BSUID, name="t", language="en", parameter_format="NAMED", params=None)
    )
    assert result == SendResult(
        wamid="wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4",
        wa_id=None,
        user_id=BSUID,
        raw={
            "messaging_product": "whatsapp",
            "contacts": [{"input": BSUID, "user_id": BSUID}],
            "messages": [{"id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4"}],
        },
    )


def test_131062_says_the_customer_needs_a_phone_number_for_this_message(fake_graph, client):
    fake_graph.enqueue(
        status=400,
        body=graph_error(
            131062,
            "Business-scoped User ID recipients are not supported for this message",
            details="Copy-code authentication templates need a phone number.",
        ),
    )
    payload = template_payload(
        recipient=BSUID,
        name="login_code",
        language="en_US",
        parameter_format="POSITIONAL",
        params=["123456"],
        extras={"buttons": [{"index": 0, "sub_type": "copy_code", "value": "123456"}]},
    )
    with pytest.raises(PlatformError) as caught:
        client.send(payload)
    error = caught.value
    assert (error.code, error.retryable, error.ambiguous) == (131062, False, False)
    assert error.info.needs_phone_number
    assert "phone number" in error.info.reason


def test_the_fake_refuses_and_records_a_bsuid_in_to(fake_graph, client):
    # The builders never do this; a hand-made payload shows what would happen (the platform drops it).
    with pytest.raises(PlatformError) as caught:
        client.send({"messaging_product": "whatsapp", "to": BSUID, "type": "text", "text": {"body": "Hi"}})
    assert caught.value.code == 100
    assert [r.json["to"] for r in fake_graph.misaddressed] == [BSUID]


def test_the_fake_lets_to_win_when_both_are_given(fake_graph, client):
    payload = {
        "messaging_product": "whatsapp",
        "to": TO,
        "recipient": BSUID,
        "type": "text",
        "text": {"body": "Hi"},
    }
    result = client.send(payload)
    assert (result.wa_id, result.user_id) == ("16505551234", None)


# --- Platform errors: the documented error body -------------------------------------------------------------
ERROR_ROWS = [
    # (code, HTTP status, retryable): an error body is an answer, so never ambiguous.
    (131047, 400, False),
    (131026, 400, False),
    (131049, 400, False),
    (131050, 400, False),
    (131056, 400, True),
    (130429, 429, True),
    (132000, 400, False),
    (132012, 400, False),
    (132001, 404, False),
    (132015, 400, False),
    (132016, 400, False),
    (131053, 400, True),
    (131000, 500, True),
    (1, 500, True),
    (4, 400, True),
    (80007, 400, True),
    (131008, 400, False),
    (131009, 400, False),
    (100, 400, False),
    (131021, 400, False),
    (131031, 400, False),
    (130472, 400, False),
    (190, 401, False),
    (131005, 403, False),
    (368, 400, False),
    (133010, 400, False),
    (130403, 400, False),
    (131037, 400, False),
    (131045, 400, False),
    (131062, 400, False),
    (131063, 400, False),
    (131064, 400, False),
    (133004, 503, True),
    (135000, 400, False),
    (0, 401, False),
    (3, 403, False),
    (33, 400, False),
]


@pytest.mark.parametrize(
    ("code", "status", "retryable"),
    ERROR_ROWS,
    ids=[f"{code}-http{status}-{'retry' if retry else 'no-retry'}" for code, status, retry in ERROR_ROWS],
)
def test_platform_error_codes(fake_graph, client, code, status, retryable):
    fake_graph.enqueue(
        status=status, body=graph_error(code, "Some title", details="Platform details.", fbtrace_id="AbC123")
    )

    with pytest.raises(PlatformError) as caught:
        client.send(text_payload(to=TO, body="Hello"))

    error = caught.value
    assert error.code == code
    assert error.http_status == status
    assert error.title == "Some title"
    assert error.message == f"(#{code}) Some title"
    assert error.details == "Platform details."
    assert error.fbtrace_id == "AbC123"
    assert error.info == describe(code)
    assert error.retryable is retryable
    assert error.ambiguous is False
    assert describe(code).reason in str(error)


def test_131047_says_the_window_is_closed(fake_graph, client):
    fake_graph.enqueue(status=400, body=graph_error(131047, "Re-engagement message"))
    with pytest.raises(PlatformError) as caught:
        client.send(text_payload(to=TO, body="Hello"))
    assert caught.value.info.closes_window
    assert str(caught.value).startswith("WhatsApp error 131047 (HTTP 400, Re-engagement message): More than")


def test_a_template_refusal_keeps_the_platforms_words_for_the_person(fake_graph, client):
    fake_graph.enqueue(
        status=400,
        body=template_refusal(
            2388299,
            "Template body has variables at the start or end",
            "Variables can't be at the start or end of the template. Add text around them.",
            fbtrace_id="AtRace9",
        ),
    )
    with pytest.raises(PlatformError) as caught:
        client.create_template(
            WABA_ID, {"name": "t", "language": "en_US", "category": "UTILITY", "components": []}
        )
    error = caught.value
    assert (error.code, error.error_subcode, error.http_status) == (100, 2388299, 400)
    assert error.error_user_title == "Template body has variables at the start or end"
    assert (
        error.error_user_msg
        == "Variables can't be at the start or end of the template. Add text around them."
    )
    assert error.user_text == (
        "Template body has variables at the start or end — Variables can't be at the start or end of the "
        "template. Add text around them."
    )
    assert error.info.reason == (
        "Template submission refused by WhatsApp: Template body has variables at the start or end — "
        "Variables can't be at the start or end of the template. Add text around them."
    )
    assert (error.retryable, error.ambiguous) == (False, False)
    assert str(error).startswith(
        "WhatsApp error 100/2388299 (HTTP 400, Invalid parameter): Template submission"
    )
    copy = pickle.loads(pickle.dumps(error))  # Celery pickles errors
    assert (copy.error_subcode, copy.error_user_title, copy.error_user_msg, copy.info) == (
        2388299,
        error.error_user_title,
        error.error_user_msg,
        error.info,
    )


def test_an_error_without_user_words_has_none(fake_graph, client):
    fake_graph.enqueue(status=400, body=graph_error(131047, "Re-engagement message"))
    with pytest.raises(PlatformError) as caught:
        client.send(text_payload(to=TO, body="Hello"))
    error = caught.value
    assert (error.error_subcode, error.error_user_title, error.error_user_msg, error.user_text) == (
        None,
        "",
        "",
        "",
    )


def test_a_platform_error_gives_the_text_of_a_final_failure(fake_graph, client):
    fake_graph.enqueue(
        status=400,
        body=graph_error(131053, "Media upload error", details="Unsupported mime type: image/heic"),
    )
    with pytest.raises(PlatformError) as caught:
        client.send(text_payload(to=TO, body="Hello"))
    error = caught.value
    assert error.retryable  # the sender still retries it for now ...
    assert "tries again automatically" in error.info.action
    final = error.final_text(retried=True)  # ... and once it gives up, nothing promises a retry
    assert final == failure_text(
        131053, title=error.title, message=error.message, details=error.details, retried=True
    )
    assert "tries again" not in final and final.endswith(
        "WhatsApp said: “Unsupported mime type: image/heic”."
    )


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        pytest.param(500, 999999, True, id="unknown-code-http500-retry"),
        pytest.param(503, 999999, True, id="unknown-code-http503-retry"),
        pytest.param(429, 999999, True, id="unknown-code-http429-retry"),
        pytest.param(400, 999999, False, id="unknown-code-http400-no-retry"),
        pytest.param(500, 190, False, id="known-never-code-http500-no-retry"),
        pytest.param(200, 131047, False, id="error-body-with-http200-is-an-answer"),
    ],
)
def test_error_bodies_with_unknown_codes_and_odd_statuses(fake_graph, client, status, code, retryable):
    fake_graph.enqueue(status=status, body=graph_error(code, "Mystery title", details="mystery details"))
    with pytest.raises(PlatformError) as caught:
        client.send(text_payload(to=TO, body="Hello"))
    assert caught.value.code == code
    assert caught.value.retryable is retryable
    assert caught.value.ambiguous is False
    if code == 999999:
        assert "Mystery title" in caught.value.info.reason


# --- Failures without the documented error body -------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


HTTP_ROWS = [
    # (reply, retryable, ambiguous, http_status)
    pytest.param(Reply(status=429), True, False, 429, id="http429-no-body-retry"),
    pytest.param(Reply(status=500, body="Internal Server Error"), True, False, 500, id="http500-text-retry"),
    pytest.param(
        Reply(status=502, body="<html><body><h1>502 Bad Gateway</h1></body></html>"),
        True,
        False,
        502,
        id="http502-html-retry",
    ),
    pytest.param(Reply(status=503, body=""), True, False, 503, id="http503-empty-retry"),
    pytest.param(
        Reply(status=504, body="<html>Gateway Timeout</html>"),
        False,
        True,
        504,
        id="http504-gateway-ambiguous",
    ),
    pytest.param(
        Reply(status=404, body="<html>Not Found</html>"), False, False, 404, id="http404-html-no-retry"
    ),
    pytest.param(
        Reply(status=200, body="<html>hello</html>"), False, True, 200, id="http200-garbage-ambiguous"
    ),
    pytest.param(Reply(status=200, body=b"\xff\xfe\x00"), False, True, 200, id="http200-bytes-ambiguous"),
    pytest.param(
        Reply(status=200, body={"ok": True}), False, True, 200, id="http200-json-no-messages-ambiguous"
    ),
    pytest.param(
        Reply(status=200, body={"messages": [{"id": ""}]}),
        False,
        True,
        200,
        id="http200-empty-wamid-ambiguous",
    ),
    pytest.param(Reply(status=200, body=[1, 2]), False, True, 200, id="http200-json-list-ambiguous"),
    pytest.param(Reply(delay=TIMEOUT * 3), False, True, None, id="read-timeout-ambiguous"),
    pytest.param(Reply(hang=True), False, True, None, id="never-answers-ambiguous"),
    pytest.param(Reply(drop=True), False, True, None, id="connection-dropped-after-sending-ambiguous"),
]


@pytest.mark.parametrize(("reply", "retryable", "ambiguous", "http_status"), HTTP_ROWS)
def test_answers_without_an_error_body(fake_graph, client, reply, retryable, ambiguous, http_status):
    fake_graph.reply_with(lambda request: reply)

    with pytest.raises(PlatformError) as caught:
        client.send(text_payload(to=TO, body="Hello"))

    error = caught.value
    assert (error.retryable, error.ambiguous, error.http_status) == (retryable, ambiguous, http_status)
    assert error.code is None
    assert error.info.reason and error.info.action
    if ambiguous:
        assert "twice" in error.info.action  # the agent learns why not to resend
    assert len(fake_graph.requests) == 1  # the request reached the server: one attempt, no silent retry


def test_read_timeout_is_quick_and_ambiguous(fake_graph, client):
    fake_graph.enqueue(delay=5.0)
    started = time.monotonic()
    with pytest.raises(PlatformError) as caught:
        client.send(text_payload(to=TO, body="Hello"))
    assert time.monotonic() - started < TIMEOUT + 1.0
    assert caught.value.ambiguous and not caught.value.retryable
    assert caught.value.title == "ReadTimeout"
    assert "outcome unknown" in str(caught.value)


def test_connection_refused_is_retryable_and_not_ambiguous():
    with (
        GraphClient(
            base_url=f"http://127.0.0.1:{_free_port()}",
            version=VERSION,
            phone_number_id=PHONE_NUMBER_ID,
            access_token=TOKEN,
            timeout=TIMEOUT,
        ) as graph,
        pytest.raises(PlatformError) as caught,
    ):
        graph.send(text_payload(to=TO, body="Hello"))
    error = caught.value
    assert (error.retryable, error.ambiguous, error.code, error.http_status) == (True, False, None, None)
    assert error.title == "ConnectError"
    assert "could not be reached" in error.info.reason


def test_the_client_keeps_working_after_a_timeout(fake_graph, client):
    fake_graph.enqueue(hang=True)
    with pytest.raises(PlatformError):
        client.send(text_payload(to=TO, body="first"))
    assert client.send(text_payload(to=TO, body="second")).wamid
    assert [r.json["text"]["body"] for r in fake_graph.requests] == ["first", "second"]


@pytest.mark.parametrize(
    ("code", "http_status", "retryable"),
    [
        pytest.param(131026, 400, False, id="known-never"),
        pytest.param(130429, 400, True, id="known-backoff"),
        pytest.param(999999, 503, True, id="unknown-http503"),
        pytest.param(999999, None, False, id="unknown-no-status"),
    ],
)
def test_platform_error_from_platform_applies_the_same_rules(code, http_status, retryable):
    error = PlatformError.from_platform(code=code, title="Title", message="Title", http_status=http_status)
    assert (error.code, error.retryable, error.ambiguous) == (code, retryable, False)
    assert error.info == describe(code, title="Title")


def test_platform_error_pickles_for_celery(fake_graph, client):
    fake_graph.enqueue(status=400, body=graph_error(131047, "Re-engagement message", fbtrace_id="T1"))
    with pytest.raises(PlatformError) as caught:
        client.send(text_payload(to=TO, body="Hello"))
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (copy.code, copy.info, copy.fbtrace_id, copy.retryable, copy.ambiguous) == (
        131047,
        describe(131047),
        "T1",
        False,
        False,
    )
    assert str(copy) == str(caught.value)


def test_the_token_is_never_logged_nor_shown(fake_graph, client, caplog):
    caplog.set_level(logging.DEBUG)
    fake_graph.templates([[{"id": "1"}], [{"id": "2"}]])
    fake_graph.enqueue(status=400, body=graph_error(190, "Error validating access token"))

    with pytest.raises(PlatformError) as caught:
        client.send(text_payload(to=TO, body="Hello"))
    assert list(client.list_templates(WABA_ID)) == [{"id": "1"}, {"id": "2"}]

    assert TOKEN not in caplog.text
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)
    assert TOKEN not in repr(client)
    assert (
        caught.value.info.action
        == "An admin must renew WHATSAPP_ACCESS_TOKEN; nothing can be sent until then."
    )


def test_no_authorization_header_without_a_token(fake_graph):
    with GraphClient(
        base_url=fake_graph.url + "/", version=VERSION, phone_number_id=PHONE_NUMBER_ID, access_token=""
    ) as graph:
        graph.send(text_payload(to=TO, body="Hello"))
    [request] = fake_graph.requests
    assert "authorization" not in request.headers
    assert request.path == f"/{VERSION}/{PHONE_NUMBER_ID}/messages"


# --- Templates ----------------------------------------------------------------------------------------------
def _template(n: int) -> dict:
    return {
        "id": str(n),
        "name": f"template_{n}",
        "language": "en_US",
        "status": "APPROVED",
        "category": "UTILITY",
        "parameter_format": "POSITIONAL",
        "components": [{"type": "BODY", "text": "Hello {{1}}"}],
    }


def test_list_templates_follows_paging_across_three_pages_and_stops(fake_graph, client):
    fake_graph.templates([[_template(1), _template(2)], [_template(3)], [_template(4), _template(5)]])

    templates = list(client.list_templates(WABA_ID, limit=2))

    assert [t["id"] for t in templates] == ["1", "2", "3", "4", "5"]
    requests = fake_graph.requests
    assert [(r.method, r.path) for r in requests] == [("GET", f"/{VERSION}/{WABA_ID}/message_templates")] * 3
    assert [r.query for r in requests] == [
        {"limit": "2"},
        {"limit": "2", "after": "page-1"},  # the token the link carried was dropped: the header has it
        {"limit": "2", "after": "page-2"},
    ]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in requests)


def test_list_templates_single_page_and_empty(fake_graph, client):
    fake_graph.templates([[]])
    assert list(client.list_templates(WABA_ID)) == []
    assert fake_graph.requests[0].query == {"limit": "100"}


def test_list_templates_raises_the_platform_error(fake_graph, client):
    fake_graph.templates([[_template(1)], [_template(2)]])
    fake_graph.reply_with(
        lambda request: (
            Reply(status=401, body=graph_error(190, "Session has expired"))
            if "after" in request.query
            else None
        )
    )
    templates = client.list_templates(WABA_ID)
    assert next(templates)["id"] == "1"
    with pytest.raises(PlatformError) as caught:
        next(templates)
    assert caught.value.code == 190 and not caught.value.retryable


def test_list_templates_never_follows_a_link_to_another_host(fake_graph, client):
    fake_graph.reply_with(
        lambda request: Reply(
            body={"data": [_template(1)], "paging": {"next": "http://203.0.113.9/v23.0/x/message_templates"}}
        )
    )
    templates = client.list_templates(WABA_ID)
    assert next(templates)["id"] == "1"
    with pytest.raises(PlatformError, match="another host"):
        next(templates)
    assert len(fake_graph.requests) == 1


def test_list_templates_stops_on_a_paging_loop(fake_graph, client):
    looping = {
        "data": [_template(1)],
        "paging": {"next": f"{fake_graph.url}/{VERSION}/{WABA_ID}/message_templates?after=x"},
    }
    fake_graph.reply_with(lambda request: Reply(body=looping))
    assert len(list(client.list_templates(WABA_ID))) == 2
    assert len(fake_graph.requests) == 2


@pytest.mark.parametrize(
    ("reply", "retryable"),
    [
        pytest.param(Reply(body="<html>oops</html>"), True, id="garbage-page-retry"),
        pytest.param(Reply(hang=True), True, id="no-answer-retry-reads-are-safe"),
        pytest.param(Reply(status=502, body="bad gateway"), True, id="http502-retry"),
    ],
)
def test_list_templates_failures_are_never_ambiguous(fake_graph, client, reply, retryable):
    fake_graph.reply_with(lambda request: reply)
    with pytest.raises(PlatformError) as caught:
        list(client.list_templates(WABA_ID))
    assert caught.value.ambiguous is False and caught.value.retryable is retryable


# --- The fake itself: what other tests rely on --------------------------------------------------------------
def test_fake_graph_answers_in_script_order_then_by_default(fake_graph, client):
    fake_graph.enqueue(status=400, body=graph_error(131047, "Re-engagement message"))
    fake_graph.enqueue(body={"messaging_product": "whatsapp", "messages": [{"id": "wamid.SCRIPTED"}]})

    with pytest.raises(PlatformError):
        client.send(text_payload(to=TO, body="1"))
    assert client.send(text_payload(to=TO, body="2")).wamid == "wamid.SCRIPTED"
    third = client.send(text_payload(to="+447700900123", body="3"))
    assert third.wa_id == "447700900123" and third.wamid.startswith("wamid.FAKE")
    assert [r.reply_status for r in fake_graph.wait_for_requests(3, timeout=1)] == [400, 200, 200]


def test_fake_graph_wamids_are_unique(fake_graph, client):
    wamids = {client.send(text_payload(to=TO, body=str(n))).wamid for n in range(5)}
    assert len(wamids) == 5


def test_fake_graph_wait_for_requests_times_out_with_a_clear_message(fake_graph):
    with pytest.raises(AssertionError, match="got 0 request"):
        fake_graph.wait_for_requests(1, timeout=0.1)


def test_fake_graph_unknown_paths_get_a_graph_404(fake_graph, client):
    with pytest.raises(PlatformError) as caught:
        list(client.list_templates(WABA_ID))  # no templates configured
    assert (caught.value.code, caught.value.http_status) == (100, 404)


def test_fake_graph_shows_a_broken_responder(fake_graph, client):
    fake_graph.reply_with(lambda request: 1 / 0)
    with pytest.raises(PlatformError):
        client.send(text_payload(to=TO, body="Hello"))
    assert isinstance(fake_graph.responder_errors[0], ZeroDivisionError)


def test_fake_graph_close_releases_a_hanging_request_quickly():
    fake = FakeGraph().start()
    graph = GraphClient(
        base_url=fake.url, version=VERSION, phone_number_id=PHONE_NUMBER_ID, access_token=TOKEN, timeout=10
    )
    fake.enqueue(hang=True)
    started = time.monotonic()
    try:
        threading.Timer(0.2, fake.close).start()
        with pytest.raises(PlatformError) as caught:
            graph.send(text_payload(to=TO, body="Hello"))
    finally:
        graph.close()
        fake.close()
    assert time.monotonic() - started < 3
    assert caught.value.ambiguous
