"""The platform's error codes in plain words (`whatsapp/errors.py`, pure Python).

Each row's id names the code and what the inbox does about it; the first block is the table of
docs/whatsapp-cloud-api.md ("Error codes the inbox must explain in plain words").
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from whatsapp import errors
from whatsapp.errors import KNOWN_CODES, ErrorInfo, Retry, describe, failure_text

REPO_ROOT = Path(__file__).resolve().parents[2]

# The documented table: code → the retry class its "what the system does" column implies.
DOCUMENTED = {
    131047: Retry.NEVER,  # window closed: switch to templates, never retry
    131026: Retry.NEVER,  # undeliverable
    131049: Retry.NEVER,  # do not retry for 24 h: a person decides, not the automatic sender
    131050: Retry.NEVER,  # customer stopped marketing messages
    131056: Retry.BACKOFF,  # too many messages to this customer
    130429: Retry.BACKOFF,  # throughput limit
    132000: Retry.NEVER,  # parameter count mismatch: fix the parameters
    132012: Retry.NEVER,  # parameter format mismatch: fix the parameters
    132001: Retry.NEVER,  # template missing in that language / not approved
    132015: Retry.NEVER,  # template paused
    132016: Retry.NEVER,  # template disabled
    131053: Retry.BACKOFF,  # media upload failed: retry (bounded), then replace the media
}
# Further codes from Meta's error reference.
FURTHER = {
    131000: Retry.BACKOFF,  # something went wrong (platform side)
    1: Retry.BACKOFF,  # API unknown (usually a short outage)
    2: Retry.BACKOFF,  # API service temporarily unavailable
    131016: Retry.BACKOFF,  # service unavailable
    131057: Retry.BACKOFF,  # account in maintenance mode
    4: Retry.BACKOFF,  # app request limit
    80007: Retry.BACKOFF,  # WABA rate limit
    131008: Retry.NEVER,  # required parameter missing
    131009: Retry.NEVER,  # parameter value not valid
    100: Retry.NEVER,  # invalid parameter
    131021: Retry.NEVER,  # recipient cannot be sender
    131031: Retry.NEVER,  # account locked
    130472: Retry.NEVER,  # user's number is part of an experiment
    131048: Retry.NEVER,  # spam rate limit
    131051: Retry.NEVER,  # unsupported message type
    131052: Retry.NEVER,  # media download error (inbound)
    132005: Retry.NEVER,  # translated text too long
    132007: Retry.NEVER,  # format character policy violated
    132068: Retry.NEVER,  # flow blocked
    132069: Retry.NEVER,  # flow throttled (an hour: too long for the automatic sender)
    133010: Retry.NEVER,  # phone number not registered
    190: Retry.NEVER,  # access token expired
    131005: Retry.NEVER,  # access denied
    10: Retry.NEVER,  # permission denied
    368: Retry.NEVER,  # temporarily blocked for policy violations
    131042: Retry.NEVER,  # payment problem
    # The platform in late 2026 (docs/whatsapp-cloud-api.md, "More error codes").
    130403: Retry.NEVER,  # the business blocked this user
    131037: Retry.NEVER,  # display name not approved
    131045: Retry.NEVER,  # phone number registration (incorrect certificate)
    131062: Retry.NEVER,  # BSUID recipient not supported for this message: needs a phone number
    131063: Retry.NEVER,  # restriction on the recipient's side
    131064: Retry.NEVER,  # restriction on the business's side
    133004: Retry.BACKOFF,  # server temporarily unavailable
    135000: Retry.NEVER,  # generic user error
    0: Retry.NEVER,  # AuthException: the token could not be verified
    3: Retry.NEVER,  # API method: capability or permission missing
    33: Retry.NEVER,  # parameter value not valid: the phone number id does not exist
}
ALL = DOCUMENTED | FURTHER


def _id(code: int) -> str:
    return f"{code}-{ALL[code]}"


@pytest.mark.parametrize("code", list(ALL), ids=_id)
def test_every_code_is_explained_in_plain_sentences(code):
    info = describe(code)
    assert info.code == code
    for text in (info.reason, info.action, info.final_action):
        assert text.strip() == text and len(text) > 15
        assert text[0].isupper() and text.endswith("."), text
        if code >= 100:  # plain words: the agent does not need the number
            assert str(code) not in text


@pytest.mark.parametrize("code", list(ALL), ids=_id)
def test_retry_class(code):
    assert describe(code).retry is ALL[code]


def test_the_table_knows_exactly_the_listed_codes():
    assert set(ALL) == KNOWN_CODES


def test_only_131047_closes_the_window_and_only_131026_is_undeliverable():
    assert [code for code in KNOWN_CODES if describe(code).closes_window] == [131047]
    assert [code for code in KNOWN_CODES if describe(code).undeliverable] == [131026]


def test_only_131062_needs_a_phone_number_and_says_what_can_still_be_sent():
    assert [code for code in KNOWN_CODES if describe(code).needs_phone_number] == [131062]
    info = describe(131062)
    assert "username" in info.reason and "phone number" in info.reason
    assert "still reply" in info.action and "other templates" in info.action
    assert "ask the customer for their phone number" in info.action


@pytest.mark.parametrize(
    ("code", "words"),
    [
        pytest.param(131047, ["24 hours", "template"], id="131047-says-24h-and-template"),
        pytest.param(131049, ["24 hours", "not resend it automatically"], id="131049-no-retry-for-24h"),
        pytest.param(190, ["WHATSAPP_ACCESS_TOKEN"], id="190-admin-renews-token"),
        pytest.param(131053, ["replace the file"], id="131053-replace-media"),
        pytest.param(132015, ["another template"], id="132015-choose-another"),
    ],
)
def test_actions_tell_the_agent_what_to_do(code, words):
    info = describe(code)
    for word in words:
        assert word in f"{info.reason} {info.action}"


def test_131047_reads_as_the_documented_example():
    info = describe(131047)
    assert info.reason == (
        "More than 24 hours have passed since the customer last wrote, so the platform refused a "
        "free-form message."
    )
    assert info.action == (
        "Send an approved template instead; free-form replies are possible again once the customer writes."
    )


@pytest.mark.parametrize(
    ("code", "title", "details", "quoted"),
    [
        pytest.param(999001, "Brand new error", "", ["Brand new error"], id="unknown-with-title"),
        pytest.param(
            999002,
            "Odd failure.",
            "Something specific happened.",
            ["Odd failure", "Something specific happened"],
            id="unknown-with-title-and-details",
        ),
        pytest.param(None, "HTTP 404 Not Found", "", ["HTTP 404 Not Found"], id="no-code"),
        pytest.param(999003, "", "", [], id="unknown-without-words"),
    ],
)
def test_unknown_codes_quote_the_platform_and_are_never_retried(code, title, details, quoted):
    info = describe(code, title=title, details=details)
    assert info.code == code
    assert info.retry is Retry.NEVER
    assert not info.closes_window and not info.undeliverable
    for words in quoted:
        assert words in info.reason
    assert ".." not in info.reason and info.reason.endswith(".")
    assert info.action


def test_a_known_code_keeps_its_own_words_whatever_the_platform_title():
    assert describe(131047, title="Re-engagement message", details="x") == describe(131047)


def test_unknown_code_quotes_are_bounded():
    assert len(describe(999004, title="x" * 5000).reason) < 400


@pytest.mark.parametrize(
    ("info", "retry"),
    [
        pytest.param(errors.NOT_REACHED, Retry.BACKOFF, id="not-reached-backoff"),
        pytest.param(errors.SLOW_DOWN, Retry.BACKOFF, id="http-429-backoff"),
        pytest.param(errors.PLATFORM_TROUBLE, Retry.BACKOFF, id="http-5xx-backoff"),
        pytest.param(errors.NO_ANSWER, Retry.BACKOFF, id="read-no-answer-backoff"),
        pytest.param(errors.OUTCOME_UNKNOWN, Retry.NEVER, id="outcome-unknown-never"),
    ],
)
def test_failures_without_a_code(info: ErrorInfo, retry):
    assert info.code is None and info.retry is retry
    assert info.reason.endswith(".") and info.action.endswith(".")


def test_error_info_is_frozen():
    with pytest.raises(AttributeError):
        describe(131047).retry = Retry.BACKOFF  # type: ignore[misc]


def test_errors_module_imports_no_django():
    code = (
        "import json, sys; import whatsapp.errors; "
        "print(json.dumps([m for m in sys.modules if m == 'django' or m.startswith('django.')]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


# --- A final failure never promises a retry that will not happen ------------------------------------------
# Words that promise an automatic retry (the past "tried again automatically" is a fact, not a promise).
PROMISE = re.compile(r"tries again|will (?:try|retry|resend)|retries|in a moment", re.IGNORECASE)
CODE_LESS = {
    "not-reached": errors.NOT_REACHED,
    "slow-down": errors.SLOW_DOWN,
    "platform-trouble": errors.PLATFORM_TROUBLE,
    "no-answer": errors.NO_ANSWER,
    "outcome-unknown": errors.OUTCOME_UNKNOWN,
}
BACKOFF_CODES = [code for code, retry in ALL.items() if retry is Retry.BACKOFF]


def test_the_promise_detector_sees_the_retrying_words():
    assert PROMISE.search(describe(131056).action)  # what the sender says while it still retries
    assert not PROMISE.search("Report it to an admin; the inbox will not resend it automatically.")


@pytest.mark.parametrize("code", list(ALL), ids=_id)
@pytest.mark.parametrize("retried", [False, True], ids=["status-webhook", "sender-gave-up"])
def test_a_final_failure_never_promises_an_automatic_retry(code, retried):
    text = failure_text(
        code, title="Some title", message="Some message", details="Some details", retried=retried
    )
    assert not PROMISE.search(text), text
    assert text.startswith(describe(code).reason)
    assert describe(code).final_action in text
    assert text.endswith("WhatsApp said: “Some details”.")
    assert ("already tried again" in text) is retried


@pytest.mark.parametrize("code", BACKOFF_CODES, ids=_id)
def test_every_backoff_code_says_what_a_person_does_once_nothing_retries(code):
    info = describe(code)
    assert info.final_action != info.action  # the action promises the retry; the final one must not
    assert info.final_action.endswith(".") and "inbox" in info.final_action.lower()
    assert "send it again" in info.final_action.lower() or "try again" in info.final_action.lower()


@pytest.mark.parametrize("name", list(CODE_LESS))
def test_failures_without_a_code_have_a_final_text_too(name):
    info = CODE_LESS[name]
    text = info.final_text(message="ConnectError: [Errno 111] Connection refused", retried=True)
    assert not PROMISE.search(text), text
    assert "Connection refused" in text


@pytest.mark.parametrize(
    ("code", "kwargs", "quoted"),
    [
        pytest.param(
            131053,
            {
                "title": "Media upload error",
                "message": "Media upload error",
                "details": "Unsupported mime type: image/heic",
            },
            "“Unsupported mime type: image/heic”",
            id="details-first",
        ),
        pytest.param(
            131000,
            {"message": "(#131000) Something went wrong"},
            "“Something went wrong”",
            id="message-without-code",
        ),
        pytest.param(131016, {"title": "Service unavailable"}, "“Service unavailable”", id="title-last"),
    ],
)
def test_a_final_failure_keeps_the_platforms_own_words(code, kwargs, quoted):
    text = failure_text(code, **kwargs)
    assert text.endswith(f"WhatsApp said: {quoted}.")
    assert text.index(describe(code).reason) < text.index(quoted)  # plain words first, then the quote


def test_131053_final_failure_reads_as_a_person_would_act_on_it():
    text = failure_text(
        131053, message="Media upload error", details="Unsupported mime type: image/heic.", retried=False
    )
    assert text == (
        "The platform could not upload the file attached to the message. Replace the file with one of a "
        "supported type and size, then send it again from the inbox. WhatsApp said: “Unsupported mime type: "
        "image/heic”."
    )


def test_a_final_failure_without_platform_words_quotes_nothing():
    assert failure_text(131047) == f"{describe(131047).reason} {describe(131047).action}"


def test_an_unknown_code_final_failure_quotes_the_platform_once():
    text = failure_text(999005, title="Brand new error", details="Something specific happened.")
    assert text.count("Something specific happened") == 1
    assert not PROMISE.search(text)


def test_describe_is_unchanged_for_the_in_flight_sender():
    assert "tries again automatically" in describe(133004).action  # the sender still retries it


# --- Refusals in the platform's own words (error_user_title / error_user_msg) -------------------------------
def test_a_template_refusal_is_the_platforms_user_title_and_message():
    info = describe(
        100,
        title="Invalid parameter",
        subcode=2388299,
        user_title="Template body has variables at the start or end",
        user_msg="Variables can't be at the start or end of the template.",
    )
    assert info.reason == (
        "Template submission refused by WhatsApp: Template body has variables at the start or end — "
        "Variables can't be at the start or end of the template."
    )
    assert info.retry is Retry.NEVER
    assert info.action == "Change the template as WhatsApp asks, then submit it again."


@pytest.mark.parametrize(
    ("user_title", "user_msg", "words"),
    [
        pytest.param("Only a title", "", "Only a title", id="title-only"),
        pytest.param("", "Only a message.", "Only a message", id="message-only"),
    ],
)
def test_a_refusal_with_part_of_the_user_words(user_title, user_msg, words):
    info = describe(100, subcode=2388040, user_title=user_title, user_msg=user_msg)
    assert info.reason == f"Template submission refused by WhatsApp: {words}."


def test_user_words_outside_templates_keep_the_codes_retry_class():
    info = describe(131056, user_title="Slow down", user_msg="Too many messages.")
    assert info.reason == "WhatsApp refused the request: Slow down — Too many messages."
    assert info.retry is Retry.BACKOFF and info.final_action == describe(131056).final_action
    unknown = describe(999006, user_title="Odd", user_msg="Very odd.")
    assert (unknown.reason, unknown.retry) == ("WhatsApp refused the request: Odd — Very odd.", Retry.NEVER)


def test_blank_user_words_change_nothing():
    assert describe(100, subcode=2388299, user_title="  ", user_msg="") == describe(100)


def test_one_backoff_formula_serves_deliveries_and_requests():
    """Deliveries: 30 s, doubling, at most an hour; requests to the platform: 5 s, doubling, at most 15
    minutes (issue 12: one formula)."""
    from whatsapp.services import DELIVERY_RETRY, REQUEST_RETRY, backoff, send_retry_delay

    assert [backoff(n, **DELIVERY_RETRY) for n in (0, 1, 2, 3, 7, 8, 20)] == [
        30,
        30,
        60,
        120,
        1920,
        3600,
        3600,
    ]
    assert [send_retry_delay(n) for n in (1, 2, 3, 8, 9, 30)] == [5, 10, 20, 640, 900, 900]
    assert send_retry_delay(4) == backoff(4, **REQUEST_RETRY)
