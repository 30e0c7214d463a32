"""The platform's error codes in plain words: what happened, what to do, and whether to try again.

Pure Python (no Django): the send task, the status webhook and the inbox pages all describe a failure
through `describe(code)`, so an agent reads the same sentence wherever the error surfaces.

`Retry` is the decision of the *automatic* sender only. BACKOFF means the platform refused the message
for a reason that passes with time (rate limits, an outage on its side), so the sender tries again later
within its own attempt limit; NEVER means trying again unchanged cannot help, or must not happen yet
(131049 asks for 24 hours), so a person decides. Generic platform failures (1, 2, 131000, 131016) are
BACKOFF: Meta's advice for them is to wait and retry, and the sender's attempt limit bounds the cost.

A message that has *finally* failed (a `failed` status webhook, or the sender giving up) is retried by
nothing, so its text must not say it will be: `failure_text(code, ...)` (or `info.final_text(...)`) gives
the reason and what a person can do instead, with the platform's own details quoted after it.

Sources: Meta's "WhatsApp error codes" page (developers.facebook.com/documentation/business-messaging/
whatsapp/support/error-codes), Graph API "Handling Errors" (codes 0-4, `error_user_title` /
`error_user_msg`), "Business-scoped user IDs" (131062), cross-checked with providers' copies of the table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum


class Retry(StrEnum):
    BACKOFF = "backoff"  # the platform refused it for now: the automatic sender tries again later
    NEVER = "never"  # trying again unchanged cannot help: a person decides what to do


@dataclass(frozen=True)
class ErrorInfo:
    code: int | None
    reason: str  # what happened, one plain sentence for the agent
    action: str  # what to do about it
    retry: Retry
    closes_window: bool = False  # 131047: free-form replies are refused until the customer writes
    undeliverable: bool = False  # 131026: this number cannot receive WhatsApp messages
    # 131062: the customer is known only by their business-scoped user id (a username, no phone number)
    # and this message needs a phone number: offer what can still be sent (replies, other templates).
    needs_phone_number: bool = False
    # What to do once nothing will try again (a failed status, or the sender gave up); empty: `action`,
    # which then promises no automatic retry. Every BACKOFF entry sets it.
    after_final_failure: str = ""

    @property
    def final_action(self) -> str:
        return self.after_final_failure or self.action

    def final_text(
        self, *, title: str = "", message: str = "", details: str = "", retried: bool = False
    ) -> str:
        """The text of a message that has finally failed: what happened, what a person can do (never a
        promise of an automatic retry), then the platform's own words (`details`, else `message`, else
        `title`) quoted. `retried`: the automatic sender already tried again before giving up."""
        parts = [self.reason]
        if retried:
            parts.append("The inbox already tried again automatically, without success.")
        parts.append(self.final_action)
        quoted = _platform_words(details or message or title)
        if quoted and quoted not in self.reason:  # unknown codes already quote them in the reason
            parts.append(f"WhatsApp said: “{quoted}”.")
        return " ".join(parts)


_AUTOMATIC_RETRY = "The inbox tries again automatically in a moment; nothing to do."
_REPORT = "Report it to an admin; the inbox will not resend it automatically."
# After a final failure of a BACKOFF error: nothing retries it any more, a person sends it again.
_WAIT_THEN_SEND_AGAIN = "Wait a few minutes, then send it again from the inbox."
_SEND_AGAIN_LATER = (
    "Send it again from the inbox in a few minutes; if it keeps failing, report it to an admin."
)

_TABLE: dict[int, ErrorInfo] = {
    info.code: info
    for info in (
        # --- The customer service window and the recipient ------------------------------------------
        ErrorInfo(
            131047,
            "More than 24 hours have passed since the customer last wrote, so the platform refused a "
            "free-form message.",
            "Send an approved template instead; free-form replies are possible again once the customer "
            "writes.",
            Retry.NEVER,
            closes_window=True,
        ),
        ErrorInfo(
            131026,
            "The message could not be delivered: the number may not be on WhatsApp, may use an old "
            "version of the app, or has not accepted WhatsApp's latest terms.",
            "Reach the customer another way (phone or email); sending again will not help until they "
            "can receive WhatsApp messages.",
            Retry.NEVER,
            undeliverable=True,
        ),
        ErrorInfo(
            131021,
            "The message was addressed to the business's own WhatsApp number.",
            "Send it to the customer's number instead.",
            Retry.NEVER,
        ),
        ErrorInfo(
            131062,
            "This customer is known only by their WhatsApp username, not by a phone number, and this kind "
            "of message can only be sent to a phone number.",
            "You can still reply to them and send other templates (not one-tap, zero-tap or copy-code "
            "authentication templates); to send this one, ask the customer for their phone number.",
            Retry.NEVER,
            needs_phone_number=True,
        ),
        ErrorInfo(
            130403,
            "This customer is blocked by the business on WhatsApp, so the platform refused the message.",
            "Do not send it again; an admin can unblock the customer in WhatsApp Manager if the block was a "
            "mistake.",
            Retry.NEVER,
        ),
        ErrorInfo(
            131063,
            "The platform does not allow this message to reach this customer because of a restriction on "
            "the customer's side.",
            "Do not send it again now; reply when the customer writes, or reach them another way.",
            Retry.NEVER,
        ),
        ErrorInfo(
            131064,
            "The platform does not allow the business to send this message because of a restriction on the "
            "business account.",
            "An admin should check the account's status and messaging limits in WhatsApp Manager; the inbox "
            "will not resend it automatically.",
            Retry.NEVER,
        ),
        # --- Marketing limits and the customer's choices --------------------------------------------
        ErrorInfo(
            131049,
            "The platform held back this marketing message because the customer has recently received "
            "enough marketing messages from businesses.",
            "Do not send this customer another marketing template for at least 24 hours; the inbox "
            "will not resend it automatically.",
            Retry.NEVER,
        ),
        ErrorInfo(
            131050,
            "The customer has chosen to stop receiving marketing messages from this business.",
            "Do not send them marketing templates; replies while they write to you and utility "
            "templates still work.",
            Retry.NEVER,
        ),
        ErrorInfo(
            130472,
            "The platform held back this marketing message because the customer's number is part of a "
            "WhatsApp experiment.",
            "Do not resend it; reply when the customer writes, or reach them another way.",
            Retry.NEVER,
        ),
        # --- Rate limits: they pass with time --------------------------------------------------------
        ErrorInfo(
            131056,
            "Too many messages were sent to this customer in a short time.",
            _AUTOMATIC_RETRY,
            Retry.BACKOFF,
            after_final_failure=_WAIT_THEN_SEND_AGAIN,
        ),
        ErrorInfo(
            130429,
            "The business number reached the platform's limit on how fast it may send messages.",
            _AUTOMATIC_RETRY,
            Retry.BACKOFF,
            after_final_failure=_WAIT_THEN_SEND_AGAIN,
        ),
        ErrorInfo(
            4,
            "The inbox made too many requests to the platform in a short time.",
            _AUTOMATIC_RETRY,
            Retry.BACKOFF,
            after_final_failure=_WAIT_THEN_SEND_AGAIN,
        ),
        ErrorInfo(
            80007,
            "The business account reached the platform's limit on requests.",
            _AUTOMATIC_RETRY,
            Retry.BACKOFF,
            after_final_failure=_WAIT_THEN_SEND_AGAIN,
        ),
        ErrorInfo(
            131048,
            "The platform is limiting messages from this number because earlier messages were blocked "
            "or reported as spam.",
            "Do not resend it now; an admin should check the number's quality rating in WhatsApp Manager.",
            Retry.NEVER,
        ),
        # --- Templates ---------------------------------------------------------------------------
        ErrorInfo(
            132000,
            "The number of values given does not match the number of placeholders in the template.",
            "Fill in exactly the placeholders the template has, then send it again.",
            Retry.NEVER,
        ),
        ErrorInfo(
            132012,
            "A value given for the template does not have the form the template expects.",
            "Correct the values for the template's placeholders, then send it again.",
            Retry.NEVER,
        ),
        ErrorInfo(
            132001,
            "This template does not exist in the chosen language, or it is not approved.",
            "Choose another template or language, or wait until this one is approved.",
            Retry.NEVER,
        ),
        ErrorInfo(
            132015,
            "This template is paused because customers blocked or reported it too often.",
            "Choose another template; an admin can edit this one or wait for the pause to end.",
            Retry.NEVER,
        ),
        ErrorInfo(
            132016,
            "This template was disabled after being paused too often for low quality.",
            "Choose another template; this one can no longer be sent.",
            Retry.NEVER,
        ),
        ErrorInfo(
            132005,
            "The template's text is too long once the values are filled in.",
            "Shorten the values, then send it again.",
            Retry.NEVER,
        ),
        ErrorInfo(
            132007,
            "The filled-in template breaks the platform's content rules.",
            "Change the values (no line breaks, tabs or long runs of spaces) or choose another template.",
            Retry.NEVER,
        ),
        ErrorInfo(
            132068,
            "The form (flow) attached to this message is blocked.",
            "Choose another template, or ask an admin to fix the flow in WhatsApp Manager.",
            Retry.NEVER,
        ),
        ErrorInfo(
            132069,
            "The form (flow) attached to this message was sent too often in the last hour.",
            "Send it again in an hour, or choose another template.",
            Retry.NEVER,
        ),
        # --- Messages and media ------------------------------------------------------------------------
        ErrorInfo(
            131053,
            "The platform could not upload the file attached to the message.",
            "The inbox tries again automatically; if it keeps failing, replace the file with a supported "
            "type and size.",
            Retry.BACKOFF,
            after_final_failure="Replace the file with one of a supported type and size, then send it again "
            "from the inbox.",
        ),
        ErrorInfo(
            131052,
            "The file the customer sent could not be downloaded.",
            "Ask the customer to send the file again.",
            Retry.NEVER,
        ),
        ErrorInfo(
            131051,
            "The message is of a kind the platform does not support.",
            "Send the content as text or as a supported attachment instead.",
            Retry.NEVER,
        ),
        ErrorInfo(
            131008,
            "The message was missing a required part, so the platform refused it.",
            _REPORT,
            Retry.NEVER,
        ),
        ErrorInfo(
            131009,
            "A value in the message is not valid, for example the customer's number or a template value.",
            "Check the customer's number and the message, then send it again; report it to an admin if it "
            "happens again.",
            Retry.NEVER,
        ),
        ErrorInfo(
            100,
            "The platform refused the request because a value in it, or in the inbox's WhatsApp settings, "
            "is not valid.",
            _REPORT,
            Retry.NEVER,
        ),
        ErrorInfo(
            135000,
            "The platform refused the message with a generic error about the request.",
            "Check the message and send it again from the inbox; report it to an admin if it happens again.",
            Retry.NEVER,
        ),
        # --- The business account, the token and permissions ------------------------------------------
        ErrorInfo(
            190,
            "The inbox's access key for the platform has expired or is no longer valid.",
            "An admin must renew WHATSAPP_ACCESS_TOKEN; nothing can be sent until then.",
            Retry.NEVER,
        ),
        ErrorInfo(
            131005,
            "The inbox's access key is not allowed to send messages for this business.",
            "An admin must give the access token the WhatsApp messaging permissions.",
            Retry.NEVER,
        ),
        ErrorInfo(
            10,
            "The inbox's access key does not have permission for this request.",
            "An admin must give the access token the WhatsApp permissions it needs.",
            Retry.NEVER,
        ),
        ErrorInfo(
            0,
            "The platform could not verify the inbox's access key: it may have expired or been revoked.",
            "An admin must renew WHATSAPP_ACCESS_TOKEN; nothing can be sent until then.",
            Retry.NEVER,
        ),
        ErrorInfo(
            3,
            "The inbox's WhatsApp app does not have the capability or permission for this request.",
            "An admin must give the app and its access token the WhatsApp permissions it needs.",
            Retry.NEVER,
        ),
        ErrorInfo(
            33,
            "The business phone number the inbox is set up with does not exist at the platform, or it was "
            "deleted.",
            "An admin must check WHATSAPP_PHONE_NUMBER_ID; nothing can be sent until it names a registered "
            "number.",
            Retry.NEVER,
        ),
        ErrorInfo(
            131037,
            "The business number's display name has not been approved yet, so the platform refused the "
            "message.",
            "An admin must get the display name approved in WhatsApp Manager; nothing can be sent until "
            "then.",
            Retry.NEVER,
        ),
        ErrorInfo(
            131045,
            "The business phone number's registration with the platform is incomplete (its certificate is "
            "wrong or missing).",
            "An admin must register the phone number again with the WhatsApp Cloud API; nothing can be sent "
            "until then.",
            Retry.NEVER,
        ),
        ErrorInfo(
            133010,
            "The business phone number is not registered with the WhatsApp Cloud API.",
            "An admin must register the phone number before any message can be sent.",
            Retry.NEVER,
        ),
        ErrorInfo(
            131031,
            "The business's WhatsApp account has been locked by the platform, for example after a policy "
            "violation or a failed verification.",
            "An admin must resolve it in WhatsApp Manager; nothing can be sent until then.",
            Retry.NEVER,
        ),
        ErrorInfo(
            368,
            "The business is temporarily blocked from sending messages because of policy violations.",
            "An admin should check WhatsApp Manager; sending works again once the block ends.",
            Retry.NEVER,
        ),
        ErrorInfo(
            131042,
            "The business's WhatsApp account has a payment problem.",
            "An admin must fix the payment method in WhatsApp Manager; sending works again after that.",
            Retry.NEVER,
        ),
        # --- The platform's own trouble: it passes with time -----------------------------------------
        ErrorInfo(
            131000,
            "The platform failed to send the message because of an unexpected error on its side.",
            "The inbox tries again automatically; if it keeps failing, try again later.",
            Retry.BACKOFF,
            after_final_failure=_SEND_AGAIN_LATER,
        ),
        ErrorInfo(
            1,
            "The platform reported an unknown error, usually a short outage on its side.",
            "The inbox tries again automatically; if it keeps failing, try again later.",
            Retry.BACKOFF,
            after_final_failure=_SEND_AGAIN_LATER,
        ),
        ErrorInfo(
            2,
            "The platform is temporarily unavailable.",
            _AUTOMATIC_RETRY,
            Retry.BACKOFF,
            after_final_failure=_SEND_AGAIN_LATER,
        ),
        ErrorInfo(
            131016,
            "The platform's messaging service is temporarily unavailable.",
            _AUTOMATIC_RETRY,
            Retry.BACKOFF,
            after_final_failure=_SEND_AGAIN_LATER,
        ),
        ErrorInfo(
            131057,
            "The business account is in maintenance mode, for example during a capacity upgrade.",
            _AUTOMATIC_RETRY,
            Retry.BACKOFF,
            after_final_failure="Send it again from the inbox later, once the platform's maintenance is "
            "over.",
        ),
        ErrorInfo(
            133004,
            "The platform's server is temporarily unavailable.",
            _AUTOMATIC_RETRY,
            Retry.BACKOFF,
            after_final_failure=_SEND_AGAIN_LATER,
        ),
    )
}

KNOWN_CODES: frozenset[int] = frozenset(_TABLE)

# Failures that carry no platform code: the client describes them with these. NO_ANSWER is for reads
# (listing templates), which are safe to repeat; a send that got no answer is OUTCOME_UNKNOWN.
NOT_REACHED = ErrorInfo(
    None,
    "The platform could not be reached, so the message was not sent.",
    _AUTOMATIC_RETRY,
    Retry.BACKOFF,
    after_final_failure="Send it again from the inbox once the platform can be reached; if it keeps "
    "failing, report it to an admin.",
)
SLOW_DOWN = ErrorInfo(
    None,
    "The platform asked the inbox to slow down, so the message was not sent yet.",
    _AUTOMATIC_RETRY,
    Retry.BACKOFF,
    after_final_failure=_WAIT_THEN_SEND_AGAIN,
)
PLATFORM_TROUBLE = ErrorInfo(
    None,
    "The platform had a temporary problem and did not accept the message.",
    _AUTOMATIC_RETRY,
    Retry.BACKOFF,
    after_final_failure=_SEND_AGAIN_LATER,
)
NO_ANSWER = ErrorInfo(
    None,
    "The platform did not answer in time, or the connection to it broke.",
    _AUTOMATIC_RETRY,
    Retry.BACKOFF,
    after_final_failure="Try again in a few minutes; if it keeps failing, report it to an admin.",
)
OUTCOME_UNKNOWN = ErrorInfo(
    None,
    "The platform did not confirm whether it accepted the message, so it may or may not reach the customer.",
    "Do not send it again yet: wait for a delivery status or check with the customer, because sending "
    "again could deliver it twice.",
    Retry.NEVER,
)

_MAX_QUOTED = 300
# Graph puts the code into messages: "(#131053) Media upload error".
_CODE_PREFIX = re.compile(r"^\(#\d+\)\s*")
# Template creation and edit refusals come as code 100 with an error_subcode 2388xxx (2388299: a variable
# at the start or end of the body) and the platform's own words for the person in error_user_title/_msg.
TEMPLATE_REFUSAL_SUBCODES = range(2388000, 2389000)


def describe(
    code: int | None,
    *,
    title: str = "",
    details: str = "",
    subcode: int | None = None,
    user_title: str = "",
    user_msg: str = "",
) -> ErrorInfo:
    """The plain-words description of a platform error code; unknown codes quote the platform's words.

    When the platform wrote words for the person (`error_user_title` / `error_user_msg`), they are the
    reason, as Graph asks: a template refusal (subcode 2388xxx) reads "Template submission refused by
    WhatsApp: <title> — <message>."
    """
    known = _TABLE.get(code) if code is not None else None
    if user_title.strip() or user_msg.strip():
        return _in_the_platforms_words(known, code, subcode, user_title, user_msg)
    if known is not None:
        return known
    quoted = "; ".join(part.strip().rstrip(".") for part in (title, details) if part and part.strip())
    quoted = _bounded(quoted)
    label = f"error {code}" if code is not None else "an error"
    reason = (
        f"The platform refused the request with {label} the inbox does not know: {quoted}."
        if quoted
        else f"The platform refused the request with {label} the inbox does not know."
    )
    return ErrorInfo(code, reason, _REPORT, Retry.NEVER)


def failure_text(
    code: int | None, *, title: str = "", message: str = "", details: str = "", retried: bool = False
) -> str:
    """The error text of a message that has finally failed (a `failed` status webhook, or a send the
    sender gave up on): it never promises an automatic retry, says what a person can do instead and
    quotes the platform's own `details` (else `message`, else `title`). See `ErrorInfo.final_text`."""
    info = describe(code, title=title, details=details)
    return info.final_text(title=title, message=message, details=details, retried=retried)


def _in_the_platforms_words(
    known: ErrorInfo | None, code: int | None, subcode: int | None, user_title: str, user_msg: str
) -> ErrorInfo:
    words = " — ".join(_bounded(part.strip().rstrip(".")) for part in (user_title, user_msg) if part.strip())
    if subcode is not None and subcode in TEMPLATE_REFUSAL_SUBCODES:
        return ErrorInfo(
            code,
            f"Template submission refused by WhatsApp: {words}.",
            "Change the template as WhatsApp asks, then submit it again.",
            Retry.NEVER,
        )
    reason = f"WhatsApp refused the request: {words}."
    if known is not None:
        return replace(known, reason=reason)
    return ErrorInfo(code, reason, _REPORT, Retry.NEVER)


def _platform_words(text: str) -> str:
    return _bounded(_CODE_PREFIX.sub("", " ".join(text.split())).rstrip("."))


def _bounded(text: str) -> str:
    return text if len(text) <= _MAX_QUOTED else text[: _MAX_QUOTED - 1] + "…"
