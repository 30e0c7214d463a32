"""Table-driven tests of `conversations/policy.py`, the pure rules module.

Every row's id names the rule (R1-R9) or worked example (E1-E11) of docs/rules.md that it checks.
No database, no clock, no Django: times are explicit, aware and in UTC around a fixed Monday.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest

from conversations.policy import (
    Category,
    ConversationState,
    CustomerState,
    Effect,
    FepEligibility,
    Outbound,
    PlatformConversation,
    Refusal,
    conversation_expires_at,
    decide_send,
    fep_eligibility,
    fep_eligible,
    is_template_sendable,
    is_voided,
    latest_inbound,
    on_timeline,
    open_conversations,
    platform_category,
    reconcile,
    referral_grants_eligibility,
    require_aware,
    service_window,
    template_category,
)

# A fixed Monday, so that the worked examples read as in rules.md: at("Tue 07:59:59").
MON = datetime(2026, 1, 5, tzinfo=UTC)
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
US = timedelta(microseconds=1)
H24 = timedelta(hours=24)
H72 = timedelta(hours=72)


def at(when: str) -> datetime:
    """at("Mon 09:00"), at("Tue 07:59:59"), at("Thu 10:19:59.999999"): UTC instants in that week."""
    day, clock = when.split()
    hours, minutes, *rest = clock.split(":")
    seconds = float(rest[0]) if rest else 0.0
    whole = int(seconds)
    micro = round((seconds - whole) * 1_000_000)
    return MON + timedelta(
        days=DAYS.index(day), hours=int(hours), minutes=int(minutes), seconds=whole, microseconds=micro
    )


def conv(key, category, opened: str, *, expires: str | None = None, closed: str | None = None, voided=False):
    opened_at = at(opened)
    return ConversationState(
        key=key,
        category=Category(category),
        opened_at=opened_at,
        expires_at=at(expires) if expires else conversation_expires_at(Category(category), opened_at),
        closed_at=at(closed) if closed else None,
        voided=voided,
    )


FREE_FORM = Outbound.free_form()
MARKETING = Outbound.template("MARKETING")
UTILITY = Outbound.template("UTILITY")
AUTHENTICATION = Outbound.template("AUTHENTICATION")


def test_at_helper_reads_like_rules_md():
    assert at("Mon 00:00") == datetime(2026, 1, 5, tzinfo=UTC)
    assert MON.weekday() == 0
    assert at("Tue 07:59:59.999999") == datetime(2026, 1, 6, 7, 59, 59, 999999, tzinfo=UTC)


# --- R1: the customer service window ---------------------------------------------------------------

WINDOW_ROWS = [
    ("R1-window-open-at-the-inbound-instant", "Mon 09:00", "Mon 09:00", True),
    ("R1-window-open-at-+12h", "Mon 09:00", "Mon 21:00", True),
    ("R1-window-open-at-23:59:59", "Mon 09:00", "Tue 08:59:59", True),
    ("R1-window-open-at-23:59:59.999999", "Mon 09:00", "Tue 08:59:59.999999", True),
    ("R1-window-closed-at-exactly-24:00:00", "Mon 09:00", "Tue 09:00", False),
    ("R1-window-closed-after-24h", "Mon 09:00", "Wed 09:00", False),
]


@pytest.mark.parametrize(
    ("last", "now", "is_open"), [r[1:] for r in WINDOW_ROWS], ids=[r[0] for r in WINDOW_ROWS]
)
def test_window_ends_24h_after_the_latest_inbound_half_open(last, now, is_open):
    window = service_window(last_inbound_at=at(last), now=at(now))
    assert window.opened_at == at(last)
    assert window.closes_at == at(last) + H24
    assert window.is_open is is_open
    assert window.remaining == (at(last) + H24 - at(now) if is_open else timedelta(0))


def test_R1_window_never_open_without_an_inbound_message():
    window = service_window(last_inbound_at=None, now=at("Mon 09:00"))
    assert (window.is_open, window.opened_at, window.closes_at, window.remaining) == (
        False,
        None,
        None,
        timedelta(0),
    )
    assert CustomerState().window(at("Mon 09:00")) == window


def test_R1_inbound_after_now_is_a_caller_bug():
    with pytest.raises(ValueError, match="at or before now"):
        service_window(last_inbound_at=at("Mon 09:00:00.000001"), now=at("Mon 09:00"))


def test_R1_aware_times_in_other_zones_are_the_same_instants():
    plus_two = timezone(timedelta(hours=2))
    window = service_window(
        last_inbound_at=at("Mon 09:00"), now=datetime(2026, 1, 6, 10, 59, 59, tzinfo=plus_two)
    )
    assert window.is_open
    assert not service_window(
        last_inbound_at=at("Mon 09:00"), now=datetime(2026, 1, 6, 11, tzinfo=plus_two)
    ).is_open


LATEST_INBOUND_ROWS = [
    ("R1-first-inbound-opens-the-window", None, "Mon 09:00", "Mon 09:00"),
    ("R1-later-inbound-restarts-the-window", "Mon 09:00", "Mon 20:00", "Mon 20:00"),
    ("R1-same-timestamp-twice-changes-nothing", "Mon 09:00", "Mon 09:00", "Mon 09:00"),
    ("E11-late-message-with-old-timestamp-never-extends", "Mon 12:00", "Mon 09:00", "Mon 12:00"),
    ("E11-late-message-1us-older-never-extends", "Mon 12:00", "Mon 11:59:59.999999", "Mon 12:00"),
]


@pytest.mark.parametrize(
    ("current", "timestamp", "expected"),
    [r[1:] for r in LATEST_INBOUND_ROWS],
    ids=[r[0] for r in LATEST_INBOUND_ROWS],
)
def test_latest_inbound_keeps_the_latest_platform_timestamp(current, timestamp, expected):
    result = latest_inbound(at(current) if current else None, at(timestamp))
    assert result == at(expected)
    assert service_window(last_inbound_at=result, now=at("Mon 23:00")).closes_at == at(expected) + H24


NAIVE = datetime(2026, 1, 5, 9, 0)  # no tzinfo: a bug in the caller, never guessed at
AWARE = at("Mon 09:00")
OPEN_S1 = conv("S1", "service", "Mon 09:00")

NAIVE_ROWS = [
    ("R1-naive-now-require_aware", lambda: require_aware(NAIVE)),
    ("R1-naive-now-service_window", lambda: service_window(last_inbound_at=AWARE, now=NAIVE)),
    ("R1-naive-last_inbound_at-service_window", lambda: service_window(last_inbound_at=NAIVE, now=AWARE)),
    ("R1-naive-timestamp-latest_inbound", lambda: latest_inbound(AWARE, NAIVE)),
    ("R1-naive-timestamp-latest_inbound-first-message", lambda: latest_inbound(None, NAIVE)),
    ("R1-naive-current-latest_inbound", lambda: latest_inbound(NAIVE, AWARE)),
    ("R1-naive-now-CustomerState.window", lambda: CustomerState(last_inbound_at=AWARE).window(NAIVE)),
    (
        "R1-naive-last_inbound_at-CustomerState-free-form-send",
        lambda: decide_send(CustomerState(last_inbound_at=NAIVE), FREE_FORM, AWARE),
    ),
    (
        "R2-naive-now-decide_send-free-form",
        lambda: decide_send(CustomerState(last_inbound_at=AWARE), FREE_FORM, NAIVE),
    ),
    ("R2-naive-now-decide_send-template", lambda: decide_send(CustomerState(), MARKETING, NAIVE)),
    ("R6-naive-now-fep_eligibility", lambda: fep_eligibility(referral_at=AWARE, conversations=(), now=NAIVE)),
    (
        "R6-naive-now-fep_eligibility-without-referral",
        lambda: fep_eligibility(referral_at=None, conversations=(), now=NAIVE),
    ),
    (
        "R6-naive-referral_at-fep_eligibility",
        lambda: fep_eligibility(referral_at=NAIVE, conversations=(), now=AWARE),
    ),
    ("R6-naive-now-CustomerState.fep", lambda: CustomerState(referral_at=AWARE).fep(NAIVE)),
    (
        "R6-naive-referral_at-CustomerState-template-send",
        lambda: decide_send(CustomerState(referral_at=NAIVE), MARKETING, AWARE),
    ),
    (
        "R6-naive-timestamp-referral_grants_eligibility",
        lambda: referral_grants_eligibility(timestamp=NAIVE, conversations=(OPEN_S1,)),
    ),
    (
        "R6-naive-timestamp-referral_grants_eligibility-no-conversations",
        lambda: referral_grants_eligibility(timestamp=NAIVE, conversations=()),
    ),
    ("R7-naive-opened_at-conversation_expires_at", lambda: conversation_expires_at(Category.SERVICE, NAIVE)),
    ("R7-naive-now-open_conversations", lambda: open_conversations([OPEN_S1], NAIVE)),
    ("R7-naive-now-open_conversations-empty", lambda: open_conversations([], NAIVE)),
    ("R7-naive-now-CustomerState.open_conversations", lambda: CustomerState().open_conversations(NAIVE)),
    ("R8-naive-now-ConversationState.is_open", lambda: OPEN_S1.is_open(NAIVE)),
    (
        "R8-naive-opened_at-ConversationState",
        lambda: ConversationState("S1", Category.SERVICE, opened_at=NAIVE, expires_at=AWARE + H24),
    ),
    (
        "R8-naive-expires_at-ConversationState",
        lambda: ConversationState("S1", Category.SERVICE, opened_at=AWARE, expires_at=NAIVE + H24),
    ),
    (
        "R8-naive-closed_at-ConversationState",
        lambda: ConversationState(
            "S1", Category.SERVICE, opened_at=AWARE, expires_at=AWARE + H24, closed_at=NAIVE
        ),
    ),
    (
        "R9-naive-expires_at-PlatformConversation",
        lambda: PlatformConversation("wa-1", Category.SERVICE, NAIVE),
    ),
]


@pytest.mark.parametrize("call", [r[1] for r in NAIVE_ROWS], ids=[r[0] for r in NAIVE_ROWS])
def test_naive_datetimes_are_rejected_everywhere(call):
    with pytest.raises(ValueError, match="must be timezone-aware"):
        call()


def test_R1_naive_last_inbound_at_is_rejected_even_on_a_template_send():
    with pytest.raises(ValueError, match="must be timezone-aware"):
        decide_send(CustomerState(last_inbound_at=NAIVE), MARKETING, AWARE)


@pytest.mark.parametrize(
    "value",
    ["2026-01-05T09:00:00Z", MON.date(), 1767603600],
    ids=["R1-str-not-datetime", "R1-date", "R1-epoch"],
)
def test_R1_non_datetimes_are_type_errors(value):
    with pytest.raises(TypeError, match="must be a datetime"):
        service_window(last_inbound_at=None, now=value)


# --- R2: what may be sent ---------------------------------------------------------------------------

STATUS_ROWS = [
    ("R2-APPROVED-sendable", "APPROVED", True),
    ("R2-lowercase-approved-accepted-case-insensitively", "approved", True),
    ("R2-Approved-mixed-case-accepted", "Approved", True),
    ("R2-PENDING-refused", "PENDING", False),
    ("R2-REJECTED-refused", "REJECTED", False),
    ("R2-PAUSED-refused", "PAUSED", False),
    ("R2-DISABLED-refused", "DISABLED", False),
    ("R2-IN_APPEAL-refused", "IN_APPEAL", False),
    ("R2-FLAGGED-refused", "FLAGGED", False),
    ("R2-LIMIT_EXCEEDED-refused", "LIMIT_EXCEEDED", False),
    ("R2-PENDING_DELETION-refused", "PENDING_DELETION", False),
    ("R2-empty-status-refused", "", False),
    ("R2-None-status-refused", None, False),
    ("R2-padded-APPROVED-refused", " APPROVED ", False),
]


@pytest.mark.parametrize(
    ("status", "sendable"), [r[1:] for r in STATUS_ROWS], ids=[r[0] for r in STATUS_ROWS]
)
def test_only_approved_templates_are_sendable(status, sendable):
    assert is_template_sendable(status) is sendable
    # The same answer from decide_send, even inside the window and while a free-entry point is open.
    inside_fep = CustomerState(
        last_inbound_at=at("Mon 10:00"),
        referral_at=at("Mon 10:00"),
        conversations=(conv("F1", "free_entry_point", "Mon 10:20"),),
    )
    decision = decide_send(inside_fep, Outbound.template("UTILITY", status), at("Mon 11:00"))
    if sendable:
        assert (decision.allowed, decision.effect, decision.joins) == (True, Effect.JOIN, "F1")
    else:
        assert (decision.allowed, decision.refusal, decision.rule) == (
            False,
            Refusal.TEMPLATE_NOT_APPROVED,
            "R2",
        )
        assert (decision.effect, decision.category, decision.joins, decision.expires_at, decision.closes) == (
            None,
            None,
            None,
            None,
            (),
        )


SEND_PERMISSION_ROWS = [
    ("R2-free-form-refused-without-any-inbound", None, FREE_FORM, "Mon 09:00", Refusal.WINDOW_CLOSED),
    ("R2-free-form-allowed-at-the-inbound-instant", "Mon 09:00", FREE_FORM, "Mon 09:00", None),
    ("R2-free-form-allowed-at-23:59:59.999999", "Mon 09:00", FREE_FORM, "Tue 08:59:59.999999", None),
    ("R2-free-form-refused-at-exactly-24h", "Mon 09:00", FREE_FORM, "Tue 09:00", Refusal.WINDOW_CLOSED),
    ("R2-free-form-refused-days-later", "Mon 09:00", FREE_FORM, "Fri 09:00", Refusal.WINDOW_CLOSED),
    ("R2-template-allowed-without-any-inbound", None, MARKETING, "Mon 09:00", None),
    ("R2-template-allowed-outside-the-window", "Mon 09:00", UTILITY, "Tue 09:00", None),
    ("R2-template-allowed-inside-the-window", "Mon 09:00", AUTHENTICATION, "Mon 10:00", None),
]


@pytest.mark.parametrize(
    ("last", "outbound", "now", "refusal"),
    [r[1:] for r in SEND_PERMISSION_ROWS],
    ids=[r[0] for r in SEND_PERMISSION_ROWS],
)
def test_free_form_needs_the_window_templates_do_not(last, outbound, now, refusal):
    state = CustomerState(last_inbound_at=at(last) if last else None)
    decision = decide_send(state, outbound, at(now))
    assert decision.refusal is refusal
    assert decision.allowed is (refusal is None)
    assert decision.now == at(now)
    if refusal is not None:
        assert decision.rule == "R2"


# --- R3 / R4 / R5 / R6: which conversation a send opens or joins -----------------------------------

M_MON_10 = conv("M1", "marketing", "Mon 10:00")
U_MON_08 = conv("U1", "utility", "Mon 08:00")
U_MON_12 = conv("U1", "utility", "Mon 12:00")
A_MON_11 = conv("A1", "authentication", "Mon 11:00")
S_MON_11 = conv("S1", "service", "Mon 11:00")
F_MON_11 = conv("F1", "free_entry_point", "Mon 11:00")


def customer(*conversations, last=None, referral=None):
    """A CustomerState: its conversations, latest inbound and latest eligibility-granting referral."""
    return CustomerState(
        last_inbound_at=at(last) if last else None,
        referral_at=at(referral) if referral else None,
        conversations=conversations,
    )


# (id, customer, outbound, now, rule, expected: "opens <category> until <Day hh:mm>" or "joins <key>")
SEND_ROWS = [
    # R3
    (
        "R3-marketing-opens-when-none-open",
        customer(),
        MARKETING,
        "Mon 10:00",
        "R3",
        "opens marketing until Tue 10:00",
    ),
    ("R3-utility-opens-24h", customer(), UTILITY, "Mon 10:00", "R3", "opens utility until Tue 10:00"),
    (
        "R3-authentication-opens-24h",
        customer(),
        AUTHENTICATION,
        "Mon 10:00",
        "R3",
        "opens authentication until Tue 10:00",
    ),
    ("R3-joins-the-open-same-category", customer(M_MON_10), MARKETING, "Mon 18:00", "R3", "joins M1"),
    (
        "R3-other-categories-irrelevant-utility-opens-beside-marketing-service-authentication",
        customer(M_MON_10, S_MON_11, A_MON_11, last="Mon 10:30"),
        UTILITY,
        "Mon 12:00",
        "R3",
        "opens utility until Tue 12:00",
    ),
    (
        "R3-picks-its-own-category-among-several",
        customer(M_MON_10, A_MON_11, U_MON_12),
        AUTHENTICATION,
        "Mon 13:00",
        "R3",
        "joins A1",
    ),
    (
        "R3-CSW-irrelevant-joins-outside-the-window",
        customer(M_MON_10, last="Sun 09:00"),
        MARKETING,
        "Mon 11:00",
        "R3",
        "joins M1",
    ),
    (
        "E2-joins-1us-before-expires_at",
        customer(M_MON_10),
        MARKETING,
        "Tue 09:59:59.999999",
        "R3",
        "joins M1",
    ),
    (
        "E2-exactly-at-expires_at-a-new-one-opens",
        customer(M_MON_10),
        MARKETING,
        "Tue 10:00",
        "R3",
        "opens marketing until Wed 10:00",
    ),
    (
        "R3-closed-conversation-does-not-count",
        customer(conv("M1", "marketing", "Mon 10:00", closed="Mon 12:00")),
        MARKETING,
        "Mon 12:00",
        "R3",
        "opens marketing until Tue 12:00",
    ),
    (
        "R3-voided-conversation-does-not-count",
        customer(conv("M1", "marketing", "Mon 10:00", voided=True)),
        MARKETING,
        "Mon 11:00",
        "R3",
        "opens marketing until Tue 11:00",
    ),
    # R4
    (
        "R4-E1-opens-service-when-nothing-open",
        customer(last="Mon 09:00"),
        FREE_FORM,
        "Mon 09:10",
        "R4",
        "opens service until Tue 09:10",
    ),
    (
        "R4-joins-the-open-service",
        customer(S_MON_11, last="Mon 10:00"),
        FREE_FORM,
        "Mon 15:00",
        "R4",
        "joins S1",
    ),
    (
        "R4-service-first-even-when-others-opened-earlier",
        customer(U_MON_08, M_MON_10, S_MON_11, last="Mon 10:00"),
        FREE_FORM,
        "Mon 15:00",
        "R4",
        "joins S1",
    ),
    (
        "R4-E4-joins-the-open-utility-no-service-opens",
        customer(conv("U1", "utility", "Mon 10:00"), last="Mon 12:00"),
        FREE_FORM,
        "Mon 12:05",
        "R4",
        "joins U1",
    ),
    (
        "R4-E6-joins-the-open-marketing-no-service-opens",
        customer(M_MON_10, last="Mon 13:00"),
        FREE_FORM,
        "Mon 13:05",
        "R4",
        "joins M1",
    ),
    (
        "R4-else-the-free-entry-point-one-over-an-earlier-marketing",
        customer(M_MON_10, F_MON_11, last="Mon 10:00"),
        FREE_FORM,
        "Mon 12:00",
        "R6",
        "joins F1",
    ),
    (
        "R4-else-the-earliest-opened-whatever-the-input-order",
        customer(U_MON_12, A_MON_11, M_MON_10, last="Mon 10:00"),
        FREE_FORM,
        "Mon 13:00",
        "R4",
        "joins M1",
    ),
    (
        "R4-E6-ended-marketing-ignored-opens-service",
        customer(M_MON_10, last="Mon 13:00"),
        FREE_FORM,
        "Tue 11:00",
        "R4",
        "opens service until Wed 11:00",
    ),
    (
        "R4-E1-ended-service-ignored-opens-a-new-service",
        customer(conv("S1", "service", "Mon 09:10"), last="Mon 20:00"),
        FREE_FORM,
        "Tue 09:10",
        "R4",
        "opens service until Wed 09:10",
    ),
    (
        # R4 alone says "the service one first"; R6 says every outbound message joins an open free-entry
        # point. Unreachable through the rules (an opening FEP closes the rest and nothing opens while it
        # is open); the code lets R6 win.
        "R4-R6-service-and-FEP-both-open-R6-wins",
        customer(conv("S1", "service", "Mon 09:00"), F_MON_11, last="Mon 10:00"),
        FREE_FORM,
        "Mon 12:00",
        "R6",
        "joins F1",
    ),
    # R5: inbound messages only feed last_inbound_at / referral_at, so the reply finds nothing open.
    (
        "R5-inbound-opened-nothing-reply-opens-service",
        customer(last="Mon 09:00"),
        FREE_FORM,
        "Mon 09:05",
        "R4",
        "opens service until Tue 09:05",
    ),
    (
        "R5-inbound-opened-nothing-template-opens-its-own",
        customer(last="Mon 09:00"),
        UTILITY,
        "Mon 09:05",
        "R3",
        "opens utility until Tue 09:05",
    ),
    # R6
    (
        "R6-first-free-form-while-eligible-opens-FEP-72h",
        customer(last="Mon 10:00", referral="Mon 10:00"),
        FREE_FORM,
        "Mon 10:20",
        "R6",
        "opens free_entry_point until Thu 10:20",
    ),
    (
        "R6-E10-first-template-while-eligible-opens-FEP-72h",
        customer(last="Mon 10:00", referral="Mon 10:00"),
        UTILITY,
        "Mon 22:00",
        "R6",
        "opens free_entry_point until Thu 22:00",
    ),
    (
        "R6-eligible-at-the-referral-instant",
        customer(last="Mon 10:00", referral="Mon 10:00"),
        MARKETING,
        "Mon 10:00",
        "R6",
        "opens free_entry_point until Thu 10:00",
    ),
    (
        "R6-eligible-at-referral+23:59:59.999999",
        customer(last="Mon 10:00", referral="Mon 10:00"),
        FREE_FORM,
        "Tue 09:59:59.999999",
        "R6",
        "opens free_entry_point until Fri 09:59:59.999999",
    ),
    (
        "R6-E9-not-eligible-at-exactly-referral+24h",
        customer(last="Mon 10:00", referral="Mon 10:00"),
        UTILITY,
        "Tue 10:00",
        "R3",
        "opens utility until Wed 10:00",
    ),
    (
        "R6-while-FEP-open-marketing-joins-it",
        customer(F_MON_11, referral="Mon 10:00"),
        MARKETING,
        "Wed 11:00",
        "R6",
        "joins F1",
    ),
    (
        "R6-while-FEP-open-utility-joins-it-to-its-end",
        customer(F_MON_11),
        UTILITY,
        "Thu 10:59:59.999999",
        "R6",
        "joins F1",
    ),
    (
        "R6-while-FEP-open-authentication-joins-it",
        customer(F_MON_11),
        AUTHENTICATION,
        "Mon 11:00",
        "R6",
        "joins F1",
    ),
    (
        "R6-while-FEP-open-free-form-joins-it",
        customer(F_MON_11, last="Mon 10:00"),
        FREE_FORM,
        "Mon 12:00",
        "R6",
        "joins F1",
    ),
    (
        "R6-FEP-over-at-its-72h-end-template-opens-normally",
        customer(F_MON_11),
        UTILITY,
        "Thu 11:00",
        "R3",
        "opens utility until Fri 11:00",
    ),
    (
        "R6-voided-FEP-does-not-use-up-eligibility",
        customer(
            conv("F1", "free_entry_point", "Mon 10:20", voided=True), last="Mon 10:00", referral="Mon 10:00"
        ),
        FREE_FORM,
        "Mon 11:00",
        "R6",
        "opens free_entry_point until Thu 11:00",
    ),
    (
        "R6-FEP-opened-before-the-referral-does-not-use-it-up",
        customer(conv("F0", "free_entry_point", "Sun 00:00", expires="Mon 09:00"), referral="Mon 10:00"),
        MARKETING,
        "Mon 11:00",
        "R6",
        "opens free_entry_point until Thu 11:00",
    ),
    (
        # The FEP that used the eligibility up ended early (R9: the platform's expiry was adopted).
        "R6-used-up-eligibility-opens-nothing-free",
        customer(
            conv("F1", "free_entry_point", "Mon 10:20", expires="Mon 11:00"),
            last="Mon 10:00",
            referral="Mon 10:00",
        ),
        FREE_FORM,
        "Mon 12:00",
        "R4",
        "opens service until Tue 12:00",
    ),
]


@pytest.mark.parametrize(
    ("state", "outbound", "now", "rule", "expected"),
    [r[1:] for r in SEND_ROWS],
    ids=[r[0] for r in SEND_ROWS],
)
def test_send_opens_or_joins(state, outbound, now, rule, expected):
    decision = decide_send(state, outbound, at(now))
    assert (decision.allowed, decision.refusal, decision.rule, decision.now) == (True, None, rule, at(now))
    verb, rest = expected.split(" ", 1)
    if verb == "opens":
        category, until = rest.split(" until ")
        assert (decision.effect, decision.opens, decision.joins) == (Effect.OPEN, True, None)
        assert decision.category is Category(category)
        assert decision.expires_at == at(until) == conversation_expires_at(Category(category), at(now))
    else:
        joined = next(c for c in state.conversations if c.key == rest)
        assert (decision.effect, decision.opens, decision.joins) == (Effect.JOIN, False, rest)
        assert (decision.category, decision.expires_at, decision.closes) == (
            joined.category,
            joined.expires_at,
            (),
        )


CLOSES_ROWS = [
    (
        "R6-E8-FEP-closes-the-open-utility",
        (U_MON_08,),
        ("U1",),
    ),
    (
        "R6-FEP-closes-every-open-conversation-earliest-first",
        (S_MON_11, M_MON_10, A_MON_11, U_MON_08),
        ("U1", "M1", "S1", "A1"),
    ),
    (
        "R6-FEP-closes-only-what-is-open",
        (
            conv("M0", "marketing", "Sun 10:00"),
            conv("U0", "utility", "Mon 09:00", closed="Mon 10:00"),
            conv("A0", "authentication", "Mon 09:00", voided=True),
            S_MON_11,
        ),
        ("S1",),
    ),
    ("R6-FEP-with-nothing-open-closes-nothing", (), ()),
]


@pytest.mark.parametrize(
    "outbound", [FREE_FORM, MARKETING, UTILITY], ids=["by-free-form", "by-marketing", "by-utility"]
)
@pytest.mark.parametrize(
    ("conversations", "closed_keys"), [r[1:] for r in CLOSES_ROWS], ids=[r[0] for r in CLOSES_ROWS]
)
def test_R6_opening_a_free_entry_point_closes_every_other_open_conversation(
    conversations, closed_keys, outbound
):
    state = CustomerState(
        last_inbound_at=at("Mon 12:00"), referral_at=at("Mon 12:00"), conversations=conversations
    )
    decision = decide_send(state, outbound, at("Mon 12:20"))
    assert (decision.effect, decision.category, decision.expires_at) == (
        Effect.OPEN,
        Category.FREE_ENTRY_POINT,
        at("Thu 12:20"),
    )
    assert tuple(c.key for c in decision.closes) == closed_keys
    for closed in decision.closes:
        assert closed.is_open(at("Mon 12:20"))  # open until the FEP closes it at that very instant


REFUSAL_ROWS = [
    (
        "R6-E8-FEP-does-not-widen-the-window-free-form-refused",
        CustomerState(
            last_inbound_at=at("Mon 10:00"),
            referral_at=at("Mon 10:00"),
            conversations=(conv("F1", "free_entry_point", "Mon 10:20"),),
        ),
        FREE_FORM,
        "Tue 10:00",
        Refusal.WINDOW_CLOSED,
    ),
    (
        "R6-eligibility-does-not-open-the-window-without-an-inbound",
        CustomerState(last_inbound_at=None, referral_at=at("Mon 10:00")),
        FREE_FORM,
        "Mon 10:20",
        Refusal.WINDOW_CLOSED,
    ),
    (
        "R2-R6-unapproved-template-refused-while-eligible-and-uses-nothing-up",
        CustomerState(last_inbound_at=at("Mon 10:00"), referral_at=at("Mon 10:00")),
        Outbound.template("MARKETING", "PAUSED"),
        "Mon 10:20",
        Refusal.TEMPLATE_NOT_APPROVED,
    ),
    (
        "R2-R4-free-form-refused-outside-the-window-even-with-an-open-conversation",
        CustomerState(last_inbound_at=None, conversations=(M_MON_10,)),
        FREE_FORM,
        "Mon 11:00",
        Refusal.WINDOW_CLOSED,
    ),
    (
        "E6-free-form-refused-at-window-end-though-service-is-open",
        CustomerState(last_inbound_at=at("Mon 13:00"), conversations=(conv("S1", "service", "Tue 11:00"),)),
        FREE_FORM,
        "Tue 13:00",
        Refusal.WINDOW_CLOSED,
    ),
]


@pytest.mark.parametrize(
    ("state", "outbound", "now", "refusal"), [r[1:] for r in REFUSAL_ROWS], ids=[r[0] for r in REFUSAL_ROWS]
)
def test_refusals_open_and_join_nothing(state, outbound, now, refusal):
    decision = decide_send(state, outbound, at(now))
    assert (decision.allowed, decision.refusal, decision.rule) == (False, refusal, "R2")
    assert (decision.effect, decision.opens, decision.joins, decision.closes) == (None, False, None, ())


def test_R6_a_refused_send_does_not_use_up_eligibility():
    state = CustomerState(last_inbound_at=at("Mon 10:00"), referral_at=at("Mon 10:00"))
    assert not decide_send(state, Outbound.template("MARKETING", "PENDING"), at("Mon 10:20")).allowed
    assert decide_send(state, MARKETING, at("Mon 10:21")).category is Category.FREE_ENTRY_POINT


# --- R6: eligibility --------------------------------------------------------------------------------

REFERRAL = "Mon 10:00"
FEP_ELIGIBILITY_ROWS = [
    ("R6-no-referral-never-eligible", None, (), "Mon 10:00", False),
    ("R6-not-eligible-1us-before-the-referral", REFERRAL, (), "Mon 09:59:59.999999", False),
    ("R6-eligible-at-the-referral", REFERRAL, (), "Mon 10:00", True),
    ("R6-eligible-at-referral+23:59:59.999999", REFERRAL, (), "Tue 09:59:59.999999", True),
    ("R6-E9-not-eligible-at-exactly-referral+24h", REFERRAL, (), "Tue 10:00", False),
    (
        "R6-used-up-by-an-FEP-opened-since-the-referral",
        REFERRAL,
        (conv("F1", "free_entry_point", "Mon 10:20"),),
        "Mon 11:00",
        False,
    ),
    (
        "R6-used-up-by-an-FEP-opened-at-the-referral-instant",
        REFERRAL,
        (conv("F1", "free_entry_point", "Mon 10:00"),),
        "Mon 11:00",
        False,
    ),
    (
        "R6-FEP-opened-later-than-now-does-not-count-yet",
        REFERRAL,
        (conv("F1", "free_entry_point", "Mon 12:00"),),
        "Mon 11:00",
        True,
    ),
    (
        "R6-voided-FEP-does-not-use-it-up",
        REFERRAL,
        (conv("F1", "free_entry_point", "Mon 10:20", voided=True),),
        "Mon 11:00",
        True,
    ),
    (
        "R6-FEP-opened-before-the-referral-does-not-use-it-up",
        REFERRAL,
        (conv("F0", "free_entry_point", "Sun 00:00", expires="Mon 09:00"),),
        "Mon 11:00",
        True,
    ),
    (
        "R6-other-categories-do-not-use-it-up",
        REFERRAL,
        (conv("U1", "utility", "Mon 10:05"), conv("S1", "service", "Mon 10:06")),
        "Mon 11:00",
        True,
    ),
]


@pytest.mark.parametrize(
    ("referral", "conversations", "now", "eligible"),
    [r[1:] for r in FEP_ELIGIBILITY_ROWS],
    ids=[r[0] for r in FEP_ELIGIBILITY_ROWS],
)
def test_fep_eligibility_is_the_24h_after_a_referral_until_used(referral, conversations, now, eligible):
    result = fep_eligibility(
        referral_at=at(referral) if referral else None, conversations=conversations, now=at(now)
    )
    expected = FepEligibility(True, at(referral) + H24) if eligible else FepEligibility(False, None)
    assert result == expected
    state = CustomerState(referral_at=at(referral) if referral else None, conversations=conversations)
    assert state.fep(at(now)) == expected


GRANTS_ROWS = [
    ("R6-referral-grants-with-no-conversations", (), "Mon 10:00", True),
    ("R6-referral-grants-beside-other-open-categories", (M_MON_10, S_MON_11), "Mon 11:00", True),
    ("R6-referral-grants-nothing-while-an-FEP-is-open", (F_MON_11,), "Mon 12:00", False),
    ("R6-referral-grants-nothing-at-the-FEP-opening-instant", (F_MON_11,), "Mon 11:00", False),
    ("R6-referral-grants-nothing-1us-before-the-FEP-ends", (F_MON_11,), "Thu 10:59:59.999999", False),
    ("R6-referral-grants-at-exactly-the-FEP-end", (F_MON_11,), "Thu 11:00", True),
    ("R6-referral-grants-before-the-FEP-opened", (F_MON_11,), "Mon 10:59:59.999999", True),
    (
        "R6-referral-grants-beside-a-voided-FEP",
        (conv("F1", "free_entry_point", "Mon 11:00", voided=True),),
        "Mon 12:00",
        True,
    ),
]


@pytest.mark.parametrize(
    ("conversations", "timestamp", "grants"), [r[1:] for r in GRANTS_ROWS], ids=[r[0] for r in GRANTS_ROWS]
)
def test_referral_grants_eligibility_only_when_no_fep_is_open_at_its_timestamp(
    conversations, timestamp, grants
):
    assert referral_grants_eligibility(timestamp=at(timestamp), conversations=conversations) is grants


# --- R7: durations, several open at once -----------------------------------------------------------

DURATION_ROWS = [
    ("R7-marketing-24h", Category.MARKETING, H24),
    ("R7-utility-24h", Category.UTILITY, H24),
    ("R7-authentication-24h", Category.AUTHENTICATION, H24),
    ("R7-service-24h", Category.SERVICE, H24),
    ("R7-free-entry-point-72h", Category.FREE_ENTRY_POINT, H72),
    ("R7-category-given-as-its-value", "free_entry_point", H72),
]


@pytest.mark.parametrize(
    ("category", "duration"), [r[1:] for r in DURATION_ROWS], ids=[r[0] for r in DURATION_ROWS]
)
def test_conversation_durations(category, duration):
    assert conversation_expires_at(category, at("Mon 10:20")) == at("Mon 10:20") + duration


def test_R7_unknown_category_has_no_duration():
    with pytest.raises(ValueError):
        conversation_expires_at("sms", at("Mon 10:00"))


OPEN_NOW_ROWS = [
    (
        "R7-E3-marketing-utility-authentication-open-together",
        (A_MON_11, M_MON_10, U_MON_12),
        "Mon 18:00",
        ("M1", "A1", "U1"),
    ),
    (
        "R7-E5-service-and-marketing-open-together",
        (M_MON_10, conv("S1", "service", "Mon 09:05")),
        "Mon 11:00",
        ("S1", "M1"),
    ),
    (
        "R7-ended-closed-voided-are-not-open",
        (
            conv("M0", "marketing", "Sun 09:00"),
            conv("U0", "utility", "Mon 08:00", closed="Mon 09:00"),
            conv("A0", "authentication", "Mon 08:00", voided=True),
            S_MON_11,
        ),
        "Mon 12:00",
        ("S1",),
    ),
    ("R7-nothing-open", (), "Mon 12:00", ()),
]


@pytest.mark.parametrize(
    ("conversations", "now", "keys"), [r[1:] for r in OPEN_NOW_ROWS], ids=[r[0] for r in OPEN_NOW_ROWS]
)
def test_open_conversations_earliest_first(conversations, now, keys):
    assert tuple(c.key for c in open_conversations(conversations, at(now))) == keys
    assert (
        tuple(c.key for c in CustomerState(conversations=conversations).open_conversations(at(now))) == keys
    )


# --- R8: open at t, from timestamps only -----------------------------------------------------------

S1 = conv("S1", "service", "Mon 09:10")  # [Mon 09:10, Tue 09:10)
S1_CLOSED = dataclasses.replace(S1, closed_at=at("Mon 12:00"))
S1_VOIDED = dataclasses.replace(S1, voided=True)

IS_OPEN_ROWS = [
    ("R8-not-open-1us-before-opened_at", S1, "Mon 09:09:59.999999", False),
    ("R8-open-at-opened_at", S1, "Mon 09:10", True),
    ("R8-open-at-expires_at-minus-1us", S1, "Tue 09:09:59.999999", True),
    ("R8-closed-at-expires_at", S1, "Tue 09:10", False),
    ("R8-closed-after-expires_at", S1, "Wed 09:10", False),
    ("R8-open-1us-before-closed_at", S1_CLOSED, "Mon 11:59:59.999999", True),
    ("R8-closed-at-closed_at", S1_CLOSED, "Mon 12:00", False),
    ("R8-closed-after-closed_at-before-expiry", S1_CLOSED, "Mon 18:00", False),
    ("R8-voided-never-open-at-opened_at", S1_VOIDED, "Mon 09:10", False),
    ("R8-voided-never-open-mid-way", S1_VOIDED, "Mon 18:00", False),
    ("R8-voided-never-open-at-expires_at-minus-1us", S1_VOIDED, "Tue 09:09:59.999999", False),
]


@pytest.mark.parametrize(
    ("conversation", "now", "is_open"), [r[1:] for r in IS_OPEN_ROWS], ids=[r[0] for r in IS_OPEN_ROWS]
)
def test_is_open_is_computed_from_timestamps(conversation, now, is_open):
    assert conversation.is_open(at(now)) is is_open


def test_R8_conversation_state_coerces_and_checks_its_category():
    state = ConversationState("M1", "marketing", at("Mon 10:00"), at("Tue 10:00"))
    assert state.category is Category.MARKETING
    with pytest.raises(ValueError):
        ConversationState("X1", "sms", at("Mon 10:00"), at("Tue 10:00"))


# --- R9: the platform is the authority -------------------------------------------------------------

VOIDED_ROWS = [
    ("R9-single-failed-is-voided", ["failed"], True),
    ("R9-all-failed-is-voided", ["failed", "failed", "failed"], True),
    ("R9-any-delivered-is-not-voided", ["failed", "delivered"], False),
    ("R9-any-sent-is-not-voided", ["sent", "failed"], False),
    ("R9-accepted-is-not-voided", ["accepted"], False),
    ("R9-read-is-not-voided", ["read"], False),
    ("R9-no-messages-is-not-voided", [], False),
    ("R9-any-iterable-all-failed", iter(["failed", "failed"]), True),
]


@pytest.mark.parametrize(
    ("statuses", "voided"), [r[1:] for r in VOIDED_ROWS], ids=[r[0] for r in VOIDED_ROWS]
)
def test_is_voided_only_when_every_message_failed(statuses, voided):
    assert is_voided(statuses) is voided


OURS = conv("M1", "marketing", "Mon 10:00")  # expires Tue 10:00
RECONCILE_ROWS = [
    (
        "R9-platform-agrees",
        PlatformConversation("wa-1", Category.MARKETING, at("Tue 10:00")),
        "marketing",
        "Tue 10:00",
        (),
    ),
    (
        "R9-platform-without-expiry-keeps-ours",
        PlatformConversation("wa-1", "marketing"),
        "marketing",
        "Tue 10:00",
        (),
    ),
    (
        "R9-same-instant-in-another-zone-agrees",
        PlatformConversation(
            "wa-1", "marketing", datetime(2026, 1, 6, 12, tzinfo=timezone(timedelta(hours=2)))
        ),
        "marketing",
        "Tue 10:00",
        (),
    ),
    (
        "R9-adopts-the-platform-expiry",
        PlatformConversation("wa-1", "marketing", at("Tue 10:05")),
        "marketing",
        "Tue 10:05",
        ("expires_at: ours 2026-01-06T10:00:00+00:00, platform 2026-01-06T10:05:00+00:00",),
    ),
    (
        "R9-adopts-seconds-of-clock-jitter-without-a-record",
        PlatformConversation("wa-1", "marketing", at("Tue 10:00:05")),
        "marketing",
        "Tue 10:00:05",
        (),
    ),
    (
        "R9-one-minute-is-a-disagreement",
        PlatformConversation("wa-1", "marketing", at("Tue 09:59")),
        "marketing",
        "Tue 09:59",
        ("expires_at: ours 2026-01-06T10:00:00+00:00, platform 2026-01-06T09:59:00+00:00",),
    ),
    (
        "R9-adopts-the-platform-category",
        PlatformConversation("wa-1", "utility", at("Tue 10:00")),
        "utility",
        "Tue 10:00",
        ("category: ours marketing, platform utility",),
    ),
    (
        "R9-adopts-both-and-lists-both",
        PlatformConversation("wa-1", Category.FREE_ENTRY_POINT, at("Thu 10:00")),
        "free_entry_point",
        "Thu 10:00",
        (
            "category: ours marketing, platform free_entry_point",
            "expires_at: ours 2026-01-06T10:00:00+00:00, platform 2026-01-08T10:00:00+00:00",
        ),
    ),
]


@pytest.mark.parametrize(
    ("platform", "category", "expires_at", "differences"),
    [r[1:] for r in RECONCILE_ROWS],
    ids=[r[0] for r in RECONCILE_ROWS],
)
def test_reconcile_adopts_the_platform_and_lists_the_differences(platform, category, expires_at, differences):
    result = reconcile(OURS, platform)
    assert result.category is Category(category)
    assert result.expires_at == at(expires_at)
    assert result.differences == differences
    assert result.agrees is (not differences)


def test_reconcile_adopts_an_expiry_up_to_the_longest_conversation_plus_a_day_from_the_opening():
    """R9 with sane bounds: OURS opened Mon 10:00; 72 h (R7's longest) + 24 h is Fri 10:00."""
    result = reconcile(OURS, PlatformConversation("wa-1", "marketing", at("Fri 10:00")))
    assert (result.expires_at, result.expiry_refused) == (at("Fri 10:00"), False)


@pytest.mark.parametrize(
    "reported",
    [at("Fri 10:00") + timedelta(seconds=1), datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)],
    ids=["R9-one-second-beyond", "R9-year-9999"],
)
def test_reconcile_never_adopts_an_expiry_beyond_any_conversation_s_length(reported):
    result = reconcile(OURS, PlatformConversation("wa-1", "utility", reported))
    assert result.expiry_refused and result.expires_at == OURS.expires_at
    assert result.category is Category.UTILITY  # the rest of the report is still adopted
    assert result.differences[-1] == (
        f"expires_at: ours 2026-01-06T10:00:00+00:00, platform {reported.isoformat()}, "
        "beyond any conversation's length: not adopted"
    )


@pytest.mark.parametrize(
    ("reported", "kept"),
    [
        (at("Mon 09:00"), at("Mon 09:00")),  # the past, as reported (R1 counts from it)
        (at("Mon 10:05"), at("Mon 10:05")),  # ahead of our clock by the skew allowed: believed
        (at("Mon 10:05") + timedelta(seconds=1), at("Mon 10:00")),  # further ahead: our clock
        (datetime(2031, 1, 1, tzinfo=UTC), at("Mon 10:00")),
    ],
    ids=["past", "five-minutes-ahead", "beyond-the-skew", "years-ahead"],
)
def test_a_time_from_the_future_is_put_on_the_timeline_at_our_clock(reported, kept):
    assert on_timeline(reported, at("Mon 10:00")) == kept


def test_on_timeline_takes_aware_times_only():
    with pytest.raises(ValueError, match="reported must be timezone-aware"):
        on_timeline(datetime(2026, 1, 5, 10, 0), at("Mon 10:00"))


PLATFORM_CATEGORY_ROWS = [
    ("R9-marketing", "marketing", Category.MARKETING),
    ("R9-marketing_lite", "marketing_lite", Category.MARKETING),
    ("R9-utility", "utility", Category.UTILITY),
    ("R9-authentication", "authentication", Category.AUTHENTICATION),
    (
        "R9-authentication_international-is-authentication",
        "authentication_international",
        Category.AUTHENTICATION,
    ),
    ("R9-service", "service", Category.SERVICE),
    ("R9-referral_conversion-is-free_entry_point", "referral_conversion", Category.FREE_ENTRY_POINT),
    ("R9-free_entry_point", "free_entry_point", Category.FREE_ENTRY_POINT),
    ("R9-upper-case-MARKETING", "MARKETING", Category.MARKETING),
    ("R9-upper-case-REFERRAL_CONVERSION", "REFERRAL_CONVERSION", Category.FREE_ENTRY_POINT),
]


@pytest.mark.parametrize(
    ("value", "category"), [r[1:] for r in PLATFORM_CATEGORY_ROWS], ids=[r[0] for r in PLATFORM_CATEGORY_ROWS]
)
def test_platform_category_mapping(value, category):
    assert platform_category(value) is category


@pytest.mark.parametrize(
    "value",
    ["sms", "", "free-entry-point", "business_initiated"],
    ids=["R9-unknown-sms", "R9-empty", "R9-hyphenated", "R9-legacy-bic"],
)
def test_platform_category_unknown_is_a_value_error(value):
    with pytest.raises(ValueError, match=f"unknown platform conversation category: {value!r}"):
        platform_category(value)


# --- R3: what a template may be --------------------------------------------------------------------

TEMPLATE_CATEGORY_ROWS = [
    ("R3-MARKETING", "MARKETING", Category.MARKETING),
    ("R3-utility-lower-case", "utility", Category.UTILITY),
    ("R3-Authentication-mixed-case", "Authentication", Category.AUTHENTICATION),
]


@pytest.mark.parametrize(
    ("value", "category"), [r[1:] for r in TEMPLATE_CATEGORY_ROWS], ids=[r[0] for r in TEMPLATE_CATEGORY_ROWS]
)
def test_template_categories(value, category):
    assert template_category(value) is category
    assert Outbound.template(value).template_category is category
    assert Outbound.template(category).template_category is category


@pytest.mark.parametrize(
    "value",
    ["SERVICE", "free_entry_point", "", Category.SERVICE, Category.FREE_ENTRY_POINT],
    ids=["R3-SERVICE-string", "R3-FEP-string", "R3-empty", "R3-SERVICE-enum", "R3-FEP-enum"],
)
def test_templates_cannot_be_service_or_free_entry_point(value):
    with pytest.raises(ValueError):
        Outbound.template(value)


def test_R2_outbound_kinds():
    assert not Outbound.free_form().is_template
    assert Outbound.template("UTILITY").is_template
    assert Outbound.template("UTILITY").template_status == "APPROVED"


# --- SendDecision.describe(): the sentence the inbox shows ------------------------------------------

DESCRIBE_ROWS = [
    (
        "R4-describe-open-service",
        CustomerState(last_inbound_at=at("Mon 09:00")),
        FREE_FORM,
        "opens a new service conversation",
    ),
    ("R3-describe-open-marketing", CustomerState(), MARKETING, "opens a new marketing conversation"),
    (
        "R3-describe-open-authentication",
        CustomerState(),
        AUTHENTICATION,
        "opens a new authentication conversation",
    ),
    (
        "R3-describe-join-utility",
        CustomerState(conversations=(U_MON_08,)),
        UTILITY,
        "joins the open utility conversation",
    ),
    (
        "R4-describe-join-service",
        CustomerState(last_inbound_at=at("Mon 09:00"), conversations=(S_MON_11,)),
        FREE_FORM,
        "joins the open service conversation",
    ),
    (
        "R6-describe-FEP-open-closing-nothing",
        CustomerState(last_inbound_at=at("Mon 10:00"), referral_at=at("Mon 10:00")),
        FREE_FORM,
        "free: opens a free-entry-point conversation (72 hours)",
    ),
    (
        "R6-E8-describe-FEP-open-closing-utility",
        CustomerState(
            last_inbound_at=at("Mon 10:00"), referral_at=at("Mon 10:00"), conversations=(U_MON_08,)
        ),
        FREE_FORM,
        "free: opens a free-entry-point conversation (72 hours) and closes the open utility conversation",
    ),
    (
        "R6-describe-FEP-open-closing-two",
        CustomerState(
            last_inbound_at=at("Mon 10:00"), referral_at=at("Mon 10:00"), conversations=(M_MON_10, U_MON_08)
        ),
        MARKETING,
        "free: opens a free-entry-point conversation (72 hours) and closes the open utility conversation, "
        "the open marketing conversation",
    ),
    (
        "R6-describe-FEP-join",
        CustomerState(conversations=(F_MON_11,)),
        MARKETING,
        "free: inside the free-entry-point conversation",
    ),
    (
        "R2-describe-refused-window-closed",
        CustomerState(),
        FREE_FORM,
        "refused: the customer service window is closed, only approved templates can be sent",
    ),
    (
        "R2-describe-refused-not-approved",
        CustomerState(),
        Outbound.template("MARKETING", "REJECTED"),
        "refused: this template is not approved",
    ),
]


@pytest.mark.parametrize(
    ("state", "outbound", "text"), [r[1:] for r in DESCRIBE_ROWS], ids=[r[0] for r in DESCRIBE_ROWS]
)
def test_describe(state, outbound, text):
    assert decide_send(state, outbound, at("Mon 12:00")).describe() == text


# --- E1-E11 as timelines ---------------------------------------------------------------------------
#
# A tiny simulator: it applies each event to a CustomerState using only the policy functions
# (latest_inbound, referral_grants_eligibility, decide_send, conversation_expires_at), appending a
# conversation on OPEN and setting closed_at on the decision's `closes`, exactly as the services do.

LETTER = {
    Category.SERVICE: "S",
    Category.MARKETING: "M",
    Category.UTILITY: "U",
    Category.AUTHENTICATION: "A",
    Category.FREE_ENTRY_POINT: "F",
}
OUTBOUND = {
    "B text": FREE_FORM,
    "B marketing": MARKETING,
    "B utility": UTILITY,
    "B authentication": AUTHENTICATION,
}


@dataclasses.dataclass(frozen=True)
class Expect:
    outcome: str  # refused | opens | joins | csw (window open until) | open (exactly these open now)
    key: str | None = None
    until: str | None = None
    closes: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    refusal: Refusal = Refusal.WINDOW_CLOSED

    @property
    def label(self) -> str:
        if self.outcome == "opens":
            closes = f"-closes-{'+'.join(self.closes)}" if self.closes else ""
            return f"opens-{self.key}-until-{self.until.replace(' ', '-')}{closes}"
        if self.outcome == "joins":
            return f"joins-{self.key}"
        if self.outcome == "csw":
            return f"CSW-until-{self.until.replace(' ', '-')}"
        if self.outcome == "open":
            return f"open-{'+'.join(self.keys) or 'none'}"
        return "refused"


def refused():
    return Expect("refused")


def opens(key, until, *, closes=()):
    return Expect("opens", key=key, until=until, closes=closes)


def joins(key):
    return Expect("joins", key=key)


def csw(until):
    return Expect("csw", until=until)


def open_now(*keys):
    return Expect("open", keys=keys)


@dataclasses.dataclass(frozen=True)
class Step:
    when: str  # when it happens (for a customer message: when it is delivered to us)
    event: str  # "C", "C via ad", "B text", "B marketing", "B utility", "B authentication", "check"
    expect: Expect
    stamped: str | None = None  # a customer message's own platform timestamp, when it differs (E11)


class Timeline:
    def __init__(self):
        self.state = CustomerState()
        self.numbers = Counter()

    def customer_writes(self, timestamp: datetime, *, referral: bool) -> None:
        referral_at = self.state.referral_at
        if referral and referral_grants_eligibility(
            timestamp=timestamp, conversations=self.state.conversations
        ):
            referral_at = latest_inbound(referral_at, timestamp)
        self.state = dataclasses.replace(
            self.state,
            last_inbound_at=latest_inbound(self.state.last_inbound_at, timestamp),
            referral_at=referral_at,
        )

    def send(self, outbound: Outbound, now: datetime):
        decision = decide_send(self.state, outbound, now)
        if not decision.opens:
            return decision, None
        self.numbers[decision.category] += 1
        key = f"{LETTER[decision.category]}{self.numbers[decision.category]}"
        closing = {c.key for c in decision.closes}
        conversations = tuple(
            dataclasses.replace(c, closed_at=now) if c.key in closing else c for c in self.state.conversations
        )
        opened = ConversationState(
            key=key,
            category=decision.category,
            opened_at=now,
            expires_at=conversation_expires_at(decision.category, now),
        )
        self.state = dataclasses.replace(self.state, conversations=(*conversations, opened))
        return decision, key

    def apply(self, step: Step):
        now = at(step.when)
        if step.event.startswith("C"):
            self.customer_writes(at(step.stamped or step.when), referral=step.event == "C via ad")
            return None, None
        if step.event == "check":
            return None, None
        return self.send(OUTBOUND[step.event], now)

    def by_key(self, key: str) -> ConversationState:
        return next(c for c in self.state.conversations if c.key == key)


TIMELINES = {
    "E1": [
        Step("Mon 09:00", "C", csw("Tue 09:00")),
        Step("Mon 09:10", "B text", opens("S1", "Tue 09:10")),
        Step("Mon 15:00", "B text", joins("S1")),
        Step("Mon 20:00", "C", csw("Tue 20:00")),
        Step("Tue 09:09:59.999999", "check", open_now("S1")),
        Step("Tue 09:10", "check", open_now()),
        Step("Tue 10:00", "B text", opens("S2", "Wed 10:00")),
        Step("Tue 19:59:59.999999", "B text", joins("S2")),
        Step("Tue 20:00:00", "B text", refused()),
    ],
    "E2": [
        Step("Mon 10:00", "B marketing", opens("M1", "Tue 10:00")),
        Step("Tue 09:59", "B marketing", joins("M1")),
        Step("Tue 09:59:59.999999", "B marketing", joins("M1")),
        Step("Tue 10:00", "B marketing", opens("M2", "Wed 10:00")),
        Step("Tue 10:30", "B marketing", joins("M2")),
    ],
    "E3": [
        Step("Mon 10:00", "B marketing", opens("M1", "Tue 10:00")),
        Step("Mon 14:00", "B utility", opens("U1", "Tue 14:00")),
        Step("Mon 15:00", "B authentication", opens("A1", "Tue 15:00")),
        Step("Mon 18:00", "B utility", joins("U1")),
        Step("Mon 18:00", "check", open_now("M1", "U1", "A1")),
    ],
    "E4": [
        Step("Mon 10:00", "B utility", opens("U1", "Tue 10:00")),
        Step("Mon 11:00", "B text", refused()),
        Step("Mon 12:00", "C", csw("Tue 12:00")),
        Step("Mon 12:05", "B text", joins("U1")),
        Step("Mon 12:05", "check", open_now("U1")),
    ],
    "E5": [
        Step("Mon 09:00", "C", csw("Tue 09:00")),
        Step("Mon 09:05", "B text", opens("S1", "Tue 09:05")),
        Step("Mon 11:00", "B marketing", opens("M1", "Tue 11:00")),
        Step("Mon 11:00", "check", open_now("S1", "M1")),
    ],
    "E6": [
        Step("Mon 10:00", "B marketing", opens("M1", "Tue 10:00")),
        Step("Mon 13:00", "C", csw("Tue 13:00")),
        Step("Mon 13:05", "B text", joins("M1")),
        Step("Tue 10:00", "check", open_now()),
        Step("Tue 11:00", "B text", opens("S1", "Wed 11:00")),
        Step("Tue 13:00", "check", open_now("S1")),
        Step("Tue 13:00", "B text", refused()),
    ],
    "E7": [
        Step("Mon 08:00:00", "C", csw("Tue 08:00")),
        Step("Tue 07:59:59", "B text", opens("S1", "Wed 07:59:59")),
        Step("Tue 07:59:59.999999", "B text", joins("S1")),
        Step("Tue 08:00:00", "B text", refused()),
        Step("Tue 08:00:30", "C", csw("Wed 08:00:30")),
        Step("Tue 08:01", "B text", joins("S1")),
    ],
    "E8": [
        Step("Mon 08:00", "B utility", opens("U1", "Tue 08:00")),
        Step("Mon 10:00", "C via ad", csw("Tue 10:00")),
        Step("Mon 10:20", "B text", opens("F1", "Thu 10:20", closes=("U1",))),
        Step("Mon 10:20", "check", open_now("F1")),
        Step("Tue 09:59:59.999999", "B text", joins("F1")),
        Step("Tue 11:00", "B text", refused()),
        Step("Tue 15:00", "B marketing", joins("F1")),
        Step("Tue 15:00", "check", open_now("F1")),
        Step("Thu 10:19:59.999999", "check", open_now("F1")),
        Step("Thu 10:20", "check", open_now()),
        Step("Thu 11:00", "B marketing", opens("M1", "Fri 11:00")),
    ],
    "E9": [
        Step("Mon 10:00", "C via ad", csw("Tue 10:00")),
        Step("Tue 10:30", "B utility", opens("U1", "Wed 10:30")),
    ],
    "E10": [
        Step("Mon 10:00", "C via ad", csw("Tue 10:00")),
        Step("Mon 22:00", "B utility", opens("F1", "Thu 22:00")),
        Step("Tue 09:59:59.999999", "B text", joins("F1")),
        Step("Tue 10:00", "B text", refused()),
        Step("Thu 21:59:59.999999", "check", open_now("F1")),
        Step("Thu 22:00", "check", open_now()),
    ],
    "E11": [
        Step("Mon 15:00", "C", csw("Tue 09:00"), stamped="Mon 09:00"),
        Step("Tue 08:59:59.999999", "B text", opens("S1", "Wed 08:59:59.999999")),
        Step("Tue 09:00", "B text", refused()),
    ],
    "E11-after-a-newer-message": [
        Step("Mon 12:00", "C", csw("Tue 12:00")),
        Step("Mon 15:00", "C", csw("Tue 12:00"), stamped="Mon 09:00"),
        Step("Tue 11:59:59.999999", "B text", opens("S1", "Wed 11:59:59.999999")),
        Step("Tue 12:00", "B text", refused()),
    ],
    "E8-R6-second-referral-while-F1-open-grants-nothing": [
        Step("Mon 10:00", "C via ad", csw("Tue 10:00")),
        Step("Mon 10:20", "B text", opens("F1", "Thu 10:20")),
        Step("Wed 12:00", "C via ad", csw("Thu 12:00")),
        Step("Thu 10:20", "B text", opens("S1", "Fri 10:20")),
    ],
    "E8-R6-referral-after-F1-ended-grants-a-new-one": [
        Step("Mon 10:00", "C via ad", csw("Tue 10:00")),
        Step("Mon 10:20", "B text", opens("F1", "Thu 10:20")),
        Step("Thu 10:20", "C via ad", csw("Fri 10:20")),
        Step("Thu 10:25", "B utility", opens("F2", "Sun 10:25")),
    ],
}


def _step_id(name: str, step: Step) -> str:
    when = step.when.replace(" ", "-")
    event = step.event.replace(" ", "-")
    if step.stamped:
        event += f"-stamped-{step.stamped.replace(' ', '-')}"
    return f"{name}-{when}-{event}-{step.expect.label}"


STEP_ROWS = [(name, index) for name, steps in TIMELINES.items() for index in range(len(steps))]


def test_every_worked_example_has_a_timeline():
    assert {f"E{n}" for n in range(1, 12)} <= set(TIMELINES)


@pytest.mark.parametrize(
    ("name", "index"), STEP_ROWS, ids=[_step_id(name, TIMELINES[name][index]) for name, index in STEP_ROWS]
)
def test_worked_example_step(name, index):
    steps = TIMELINES[name]
    timeline = Timeline()
    for earlier in steps[:index]:
        timeline.apply(earlier)
    step = steps[index]
    now = at(step.when)
    before = timeline.state
    decision, key = timeline.apply(step)
    expect = step.expect

    if step.event.startswith("B"):
        # R1: outbound messages, templates included, never open or extend the window.
        assert (timeline.state.last_inbound_at, timeline.state.referral_at) == (
            before.last_inbound_at,
            before.referral_at,
        )
    else:
        # R5: inbound messages (and looking) never open or close a conversation.
        assert timeline.state.conversations == before.conversations

    if expect.outcome == "refused":
        assert (decision.allowed, decision.refusal, decision.effect) == (False, expect.refusal, None)
        assert timeline.state == before
    elif expect.outcome == "opens":
        assert decision.allowed and decision.opens
        assert key == expect.key
        assert LETTER[decision.category] == expect.key[0]
        assert decision.expires_at == at(expect.until)
        opened = timeline.by_key(key)
        assert (opened.opened_at, opened.expires_at) == (now, at(expect.until))
        assert tuple(c.key for c in decision.closes) == expect.closes
        for closed_key in expect.closes:  # R6: closed at the very instant the FEP opens
            closed = timeline.by_key(closed_key)
            assert closed.closed_at == now
            assert not closed.is_open(now)
            assert closed.is_open(now - US)
    elif expect.outcome == "joins":
        assert decision.allowed
        assert (decision.effect, decision.joins, decision.closes) == (Effect.JOIN, expect.key, ())
        assert decision.expires_at == timeline.by_key(expect.key).expires_at
        assert timeline.state == before
    elif expect.outcome == "csw":
        window = timeline.state.window(now)
        assert window.is_open
        assert window.closes_at == at(expect.until)
    elif expect.outcome == "open":
        assert tuple(c.key for c in timeline.state.open_conversations(now)) == expect.keys
    else:  # pragma: no cover - a typo in the table
        pytest.fail(f"unknown expectation {expect.outcome!r}")


# --- One home for "closing soon" and FEP eligibility (issue 12) ------------------------------------------


@pytest.mark.parametrize(
    ("wrote", "now", "closing_soon"),
    [
        ("Mon 09:00", "Tue 07:59:59", False),  # 1 h 0 min 1 s left
        ("Mon 09:00", "Tue 08:00", True),  # exactly 1 h left
        ("Mon 09:00", "Tue 08:59:59", True),  # R1: 1 s left
        ("Mon 09:00", "Tue 09:00", False),  # R1: closed at 24:00:00
    ],
)
def test_closing_soon_is_the_last_hour_of_an_open_window(wrote, now, closing_soon):
    window = service_window(last_inbound_at=at(wrote), now=at(now))
    assert window.closing_soon is closing_soon


@pytest.mark.parametrize(
    ("now", "used_up", "eligible"),
    [
        ("Mon 09:00", False, True),  # R6: from the referral message on
        ("Tue 08:59:59", False, True),
        ("Tue 09:00", False, False),  # R6: 24 h later, no longer
        ("Mon 10:00", True, False),  # a free-entry-point conversation used it up
        ("Mon 08:59:59", False, False),  # before the referral
    ],
)
def test_fep_eligible_follows_r6(now, used_up, eligible):
    assert fep_eligible(referral_at=at("Mon 09:00"), used_up=used_up, now=at(now)) is eligible
