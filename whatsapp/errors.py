"""The platform's error codes in plain words: what happened, what to do, and whether to try again.

Pure Python (no Django): the send task, the status webhook and the inbox pages all describe a failure
through `describe(code)`, so an agent reads the same sentence wherever the error surfaces.

`Retry` is the decision of the *automatic* sender only. BACKOFF means the platform refused the message
for a reason that passes with time (rate limits, an outage on its side), so the sender tries again later
within its own attempt limit; NEVER means trying again unchanged cannot help, or must not happen yet
(131049 asks for 24 hours), so a person decides. Generic platform failures (1, 2, 131000, 131016) are
BACKOFF: Meta's advice for them is to wait and retry, and the sender's attempt limit bounds the cost.
"""

from __future__ import annotations

from dataclasses import dataclass
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


_AUTOMATIC_RETRY = "The inbox tries again automatically in a moment; nothing to do."
_REPORT = "Report it to an admin; the inbox will not resend it automatically."

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
        ),
        ErrorInfo(
            130429,
            "The business number reached the platform's limit on how fast it may send messages.",
            _AUTOMATIC_RETRY,
            Retry.BACKOFF,
        ),
        ErrorInfo(
            4,
            "The inbox made too many requests to the platform in a short time.",
            _AUTOMATIC_RETRY,
            Retry.BACKOFF,
        ),
        ErrorInfo(
            80007,
            "The business account reached the platform's limit on requests.",
            _AUTOMATIC_RETRY,
            Retry.BACKOFF,
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
        ),
        ErrorInfo(
            1,
            "The platform reported an unknown error, usually a short outage on its side.",
            "The inbox tries again automatically; if it keeps failing, try again later.",
            Retry.BACKOFF,
        ),
        ErrorInfo(
            2,
            "The platform is temporarily unavailable.",
            _AUTOMATIC_RETRY,
            Retry.BACKOFF,
        ),
        ErrorInfo(
            131016,
            "The platform's messaging service is temporarily unavailable.",
            _AUTOMATIC_RETRY,
            Retry.BACKOFF,
        ),
        ErrorInfo(
            131057,
            "The business account is in maintenance mode, for example during a capacity upgrade.",
            _AUTOMATIC_RETRY,
            Retry.BACKOFF,
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
)
SLOW_DOWN = ErrorInfo(
    None,
    "The platform asked the inbox to slow down, so the message was not sent yet.",
    _AUTOMATIC_RETRY,
    Retry.BACKOFF,
)
PLATFORM_TROUBLE = ErrorInfo(
    None,
    "The platform had a temporary problem and did not accept the message.",
    _AUTOMATIC_RETRY,
    Retry.BACKOFF,
)
NO_ANSWER = ErrorInfo(
    None,
    "The platform did not answer in time, or the connection to it broke.",
    _AUTOMATIC_RETRY,
    Retry.BACKOFF,
)
OUTCOME_UNKNOWN = ErrorInfo(
    None,
    "The platform did not confirm whether it accepted the message, so it may or may not reach the customer.",
    "Do not send it again yet: wait for a delivery status or check with the customer, because sending "
    "again could deliver it twice.",
    Retry.NEVER,
)

_MAX_QUOTED = 300


def describe(code: int | None, *, title: str = "", details: str = "") -> ErrorInfo:
    """The plain-words description of a platform error code; unknown codes quote the platform's words."""
    known = _TABLE.get(code) if code is not None else None
    if known is not None:
        return known
    quoted = "; ".join(part.strip().rstrip(".") for part in (title, details) if part and part.strip())
    if len(quoted) > _MAX_QUOTED:
        quoted = quoted[: _MAX_QUOTED - 1] + "…"
    label = f"error {code}" if code is not None else "an error"
    reason = (
        f"The platform refused the request with {label} the inbox does not know: {quoted}."
        if quoted
        else f"The platform refused the request with {label} the inbox does not know."
    )
    return ErrorInfo(code, reason, _REPORT, Retry.NEVER)
