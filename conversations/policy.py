"""The platform's conversation rules, as pure functions of an explicit, aware `now`.

Each rule of ../shared/docs/rules.md (R1–R9) lives here and nowhere else. Services gather a
`CustomerState` from the database (customer row locked), ask this module what a send does, and write
the answer; the inbox asks the same functions what a send *would* do. Nothing here imports Django, reads
the clock or touches I/O: a test proves it.

All intervals are half-open, [start, end): at exactly `end` the thing is over.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

# R2's facts are the template catalogue's (the bottom layer): which status is sendable, and the test.
from templates_app.statuses import SENDABLE as SENDABLE_TEMPLATE_STATUS
from templates_app.statuses import is_sendable as is_template_sendable

SERVICE_WINDOW = timedelta(hours=24)  # R1
FEP_ELIGIBILITY = timedelta(hours=24)  # R6
# A window with this little left is "closing soon": the inbox warns, and lists it under that filter.
CLOSING_SOON = timedelta(hours=1)


class Category(StrEnum):
    MARKETING = "marketing"
    UTILITY = "utility"
    AUTHENTICATION = "authentication"
    SERVICE = "service"
    FREE_ENTRY_POINT = "free_entry_point"

    @property
    def label(self) -> str:
        return self.value.replace("_", "-")


# R7: how long a conversation of each category lasts.
CONVERSATION_DURATION = {
    Category.MARKETING: timedelta(hours=24),
    Category.UTILITY: timedelta(hours=24),
    Category.AUTHENTICATION: timedelta(hours=24),
    Category.SERVICE: timedelta(hours=24),
    Category.FREE_ENTRY_POINT: timedelta(hours=72),
}

# A template's platform category (upper case) -> the conversation it opens (R3).
TEMPLATE_CATEGORIES = {
    "MARKETING": Category.MARKETING,
    "UTILITY": Category.UTILITY,
    "AUTHENTICATION": Category.AUTHENTICATION,
}

# The categories the platform reports in status webhooks (conversation.origin.type, pricing.category).
PLATFORM_CATEGORIES = {
    "marketing": Category.MARKETING,
    "marketing_lite": Category.MARKETING,
    "utility": Category.UTILITY,
    "authentication": Category.AUTHENTICATION,
    "authentication_international": Category.AUTHENTICATION,
    "authentication-international": Category.AUTHENTICATION,
    "service": Category.SERVICE,
    "referral_conversion": Category.FREE_ENTRY_POINT,
    "free_entry_point": Category.FREE_ENTRY_POINT,
}


def require_aware(value: datetime, name: str = "now") -> datetime:
    """Every rule takes an aware datetime; a naive one is a bug in the caller, never guessed at."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value


def _optional_aware(value: datetime | None, name: str) -> datetime | None:
    return None if value is None else require_aware(value, name)


def template_category(platform_category: str) -> Category:
    """R3: MARKETING / UTILITY / AUTHENTICATION templates open conversations of that category."""
    try:
        return TEMPLATE_CATEGORIES[platform_category.upper()]
    except KeyError:
        raise ValueError(f"not a template category: {platform_category!r}") from None


# --- R1: the customer service window ----------------------------------------------------------------


@dataclass(frozen=True)
class ServiceWindow:
    """What an agent may send at `now` (R1, R2). `opened_at` is the customer message that opened it."""

    now: datetime
    opened_at: datetime | None
    closes_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.closes_at is not None and self.opened_at <= self.now < self.closes_at

    @property
    def remaining(self) -> timedelta:
        if not self.is_open:
            return timedelta(0)
        return self.closes_at - self.now

    @property
    def closing_soon(self) -> bool:
        """Open, with CLOSING_SOON or less left."""
        return self.is_open and self.remaining <= CLOSING_SOON


def service_window(
    *, last_inbound_at: datetime | None, now: datetime, platform_closed_at: datetime | None = None
) -> ServiceWindow:
    """R1: the window ends 24 h after the latest customer message at or before `now`.

    `last_inbound_at` is that message's own platform timestamp (E11: not when we received it).
    Outbound messages play no part (R1, R5). `platform_closed_at`: the platform refused a free-form
    message as outside the window (error 131047) at that instant; the platform is the authority (R9),
    so the window that message fell in ended then. A later customer message opens a new one.
    """
    require_aware(now)
    _optional_aware(last_inbound_at, "last_inbound_at")
    _optional_aware(platform_closed_at, "platform_closed_at")
    if last_inbound_at is None:
        return ServiceWindow(now=now, opened_at=None, closes_at=None)
    if last_inbound_at > now:
        raise ValueError("last_inbound_at must be the latest customer message at or before now")
    closes_at = last_inbound_at + SERVICE_WINDOW
    if platform_closed_at is not None and last_inbound_at <= platform_closed_at < closes_at:
        closes_at = platform_closed_at
    return ServiceWindow(now=now, opened_at=last_inbound_at, closes_at=closes_at)


def service_windows(
    inbound_timestamps: Iterable[datetime], *, platform_closed_at: datetime | None = None
) -> list[tuple[datetime, datetime]]:
    """R1 over a history: the windows [opened_at, closes_at) the customer's messages opened, in order.
    A message inside an open window extends it; one after it closed opens a new one."""
    windows: list[list[datetime]] = []
    for timestamp in sorted(require_aware(t, "timestamp") for t in inbound_timestamps):
        if windows and timestamp < windows[-1][1]:
            windows[-1][1] = timestamp + SERVICE_WINDOW
        else:
            windows.append([timestamp, timestamp + SERVICE_WINDOW])
    if platform_closed_at is not None:
        for window in windows:
            if window[0] <= platform_closed_at < window[1]:
                window[1] = platform_closed_at
    return [(start, end) for start, end in windows]


# Platform message types that are not the customer writing (a number change notice, say): they are
# recorded in the thread but open no window.
NOT_FROM_THE_CUSTOMER = frozenset({"system"})


# A reaction or a platform notice is no turn in the conversation: a customer who only reacted to our
# reply does not need one (the inbox's "needs reply" follows the latest turn).
NOT_A_TURN = frozenset({"reaction", *NOT_FROM_THE_CUSTOMER})


def is_turn(message_type: str) -> bool:
    return message_type not in NOT_A_TURN


def opens_window(message_type: str) -> bool:
    """R1: a customer's message opens the window; a platform notice about them does not."""
    return message_type not in NOT_FROM_THE_CUSTOMER


# --- The thread's status in the team's work (not a platform rule; the inbox's worklists) --------------

SNOOZED = "snoozed"


def thread_status_at(status: str, snoozed_until: datetime | None, now: datetime) -> str:
    """The status a thread has at `now`: a snooze ends at its instant by itself ([start, until)), so a
    thread snoozed until t is open from t on, whether or not the tidying sweep has run."""
    require_aware(now)
    if status == SNOOZED and (snoozed_until is None or snoozed_until <= now):
        return "open"
    return status


def resolve_needs_confirmation(*, last_turn_direction: str, window: ServiceWindow) -> bool:
    """Resolving warns when the customer's last turn is unanswered and a reply is still possible (the
    window is open at its `now`); with the window closed, or our reply last, it asks nothing."""
    return last_turn_direction == "inbound" and window.is_open


def latest_inbound(current: datetime | None, timestamp: datetime) -> datetime:
    """R1: a new customer message restarts the window; a late one with an old timestamp never moves
    the end beyond its own timestamp + 24 h, so the latest timestamp wins."""
    require_aware(timestamp, "timestamp")
    if current is None:
        return timestamp
    return max(require_aware(current, "current"), timestamp)


# --- Conversations (R7, R8) ------------------------------------------------------------------------


@dataclass(frozen=True)
class ConversationState:
    """A conversation as the rules see it. `key` identifies it to the caller (a primary key)."""

    key: Hashable
    category: Category
    opened_at: datetime
    expires_at: datetime
    closed_at: datetime | None = None
    voided: bool = False

    def __post_init__(self):
        object.__setattr__(self, "category", Category(self.category))
        require_aware(self.opened_at, "opened_at")
        require_aware(self.expires_at, "expires_at")
        _optional_aware(self.closed_at, "closed_at")

    def is_open(self, now: datetime) -> bool:
        """R8: open at t iff opened_at <= t < expires_at and not closed at or before t. Computed from
        timestamps only: never from a status column or from a sweep having run."""
        require_aware(now)
        if self.voided:
            return False
        if not (self.opened_at <= now < self.expires_at):
            return False
        return self.closed_at is None or now < self.closed_at


def conversation_expires_at(category: Category, opened_at: datetime) -> datetime:
    """R7: 24 h for marketing, utility, authentication and service; 72 h for free-entry point."""
    return require_aware(opened_at, "opened_at") + CONVERSATION_DURATION[Category(category)]


def open_conversations(conversations: Iterable[ConversationState], now: datetime) -> list[ConversationState]:
    """R7/R8: every conversation open at `now`, earliest opened first."""
    require_aware(now)
    return sorted((c for c in conversations if c.is_open(now)), key=lambda c: c.opened_at)


# --- R6: free-entry point ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FepEligibility:
    is_eligible: bool
    until: datetime | None


def fep_eligibility(
    *, referral_at: datetime | None, conversations: Iterable[ConversationState], now: datetime
) -> FepEligibility:
    """R6: a referral message makes the customer eligible for [referral_at, referral_at + 24 h), until
    the first outbound message opens a free-entry-point conversation (which uses the eligibility up).

    `conversations` must include every free-entry-point conversation opened since `referral_at`;
    a voided one (R9) never happened, so it uses nothing up.
    """
    require_aware(now)
    if referral_at is None:
        return FepEligibility(False, None)
    require_aware(referral_at, "referral_at")
    used_up = any(
        c.category is Category.FREE_ENTRY_POINT and not c.voided and referral_at <= c.opened_at <= now
        for c in conversations
    )
    if not fep_eligible(referral_at=referral_at, used_up=used_up, now=now):
        return FepEligibility(False, None)
    return FepEligibility(True, referral_at + FEP_ELIGIBILITY)


def fep_eligible(*, referral_at: datetime | None, used_up: bool, now: datetime) -> bool:
    """R6 once it is known whether a free-entry-point conversation has used the referral up (a list
    reads that with one EXISTS per row): eligible for [referral_at, referral_at + 24 h)."""
    return referral_at is not None and not used_up and referral_at <= now < referral_at + FEP_ELIGIBILITY


def referral_grants_eligibility(*, timestamp: datetime, conversations: Iterable[ConversationState]) -> bool:
    """R6: a referral message that arrives while a free-entry-point conversation is open grants nothing."""
    require_aware(timestamp, "timestamp")
    return not any(c.category is Category.FREE_ENTRY_POINT and c.is_open(timestamp) for c in conversations)


# --- Sending (R2, R3, R4, R6) ------------------------------------------------------------------------


class Refusal(StrEnum):
    WINDOW_CLOSED = "window_closed"
    TEMPLATE_NOT_APPROVED = "template_not_approved"


class Effect(StrEnum):
    JOIN = "join"
    OPEN = "open"


@dataclass(frozen=True)
class Outbound:
    """What the agent wants to send: free-form (any non-template), or a template of a category."""

    template_category: Category | None = None
    template_status: str | None = None

    @classmethod
    def free_form(cls) -> Outbound:
        return cls()

    @classmethod
    def template(cls, category: str | Category, status: str = SENDABLE_TEMPLATE_STATUS) -> Outbound:
        if isinstance(category, Category):
            if category not in TEMPLATE_CATEGORIES.values():
                raise ValueError(f"templates cannot be of category {category}")
            return cls(category, status)
        return cls(template_category(category), status)

    @property
    def is_template(self) -> bool:
        return self.template_category is not None


@dataclass(frozen=True)
class CustomerState:
    """What the rules need to know about one customer at one instant.

    `last_inbound_at`: the latest customer message at or before now. `referral_at`: the latest
    referral that granted free-entry-point eligibility. `conversations`: at least every conversation
    open at now and every free-entry-point conversation opened since `referral_at`.
    """

    last_inbound_at: datetime | None = None
    referral_at: datetime | None = None
    conversations: tuple[ConversationState, ...] = ()
    platform_closed_at: datetime | None = None

    def __post_init__(self):
        _optional_aware(self.last_inbound_at, "last_inbound_at")
        _optional_aware(self.referral_at, "referral_at")
        _optional_aware(self.platform_closed_at, "platform_closed_at")
        object.__setattr__(self, "conversations", tuple(self.conversations))

    def window(self, now: datetime) -> ServiceWindow:
        return service_window(
            last_inbound_at=self.last_inbound_at, now=now, platform_closed_at=self.platform_closed_at
        )

    def fep(self, now: datetime) -> FepEligibility:
        return fep_eligibility(referral_at=self.referral_at, conversations=self.conversations, now=now)

    def open_conversations(self, now: datetime) -> list[ConversationState]:
        return open_conversations(self.conversations, now)


@dataclass(frozen=True)
class SendDecision:
    """The outcome of a send at `now`: refused, or which conversation the message opens or joins."""

    now: datetime
    rule: str
    refusal: Refusal | None = None
    effect: Effect | None = None
    category: Category | None = None
    joins: Hashable | None = None
    expires_at: datetime | None = None
    closes: tuple[ConversationState, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.refusal is None

    @property
    def opens(self) -> bool:
        return self.effect is Effect.OPEN

    def describe(self) -> str:
        """The sentence the inbox shows before a send; computed here so the UI never decides."""
        if self.refusal is Refusal.WINDOW_CLOSED:
            return "refused: the customer service window is closed, only approved templates can be sent"
        if self.refusal is Refusal.TEMPLATE_NOT_APPROVED:
            return "refused: this template is not approved"
        if self.category is Category.FREE_ENTRY_POINT:
            if self.opens:
                closed = ", ".join(f"the open {c.category.label} conversation" for c in self.closes)
                text = "free: opens a free-entry-point conversation (72 hours)"
                return f"{text} and closes {closed}" if closed else text
            return "free: inside the free-entry-point conversation"
        if self.opens:
            return f"opens a new {self.category.label} conversation"
        return f"joins the open {self.category.label} conversation"


def decide_send(state: CustomerState, outbound: Outbound, now: datetime) -> SendDecision:
    """What sending `outbound` at `now` does (R2, R3, R4, R6). Conversations open at the moment we
    accept the send."""
    require_aware(now)
    # R2: never a template that is not approved; free-form only inside the service window.
    if outbound.is_template and not is_template_sendable(outbound.template_status):
        return SendDecision(now=now, rule="R2", refusal=Refusal.TEMPLATE_NOT_APPROVED)
    if not outbound.is_template and not state.window(now).is_open:
        return SendDecision(now=now, rule="R2", refusal=Refusal.WINDOW_CLOSED)

    open_now = state.open_conversations(now)

    # R6: while a free-entry-point conversation is open, every outbound message joins it.
    fep_open = [c for c in open_now if c.category is Category.FREE_ENTRY_POINT]
    if fep_open:
        return _join(fep_open[0], now, rule="R6")
    # R6: the first outbound message while eligible opens one, closing every other open conversation.
    if state.fep(now).is_eligible:
        return _open(Category.FREE_ENTRY_POINT, now, rule="R6", closes=tuple(open_now))

    if outbound.is_template:
        # R3: join the open conversation of the template's category, or open one.
        same = [c for c in open_now if c.category is outbound.template_category]
        if same:
            return _join(same[0], now, rule="R3")
        return _open(outbound.template_category, now, rule="R3")

    # R4: free-form joins an open conversation of any category, the service one first; else opens service.
    if open_now:
        service = [c for c in open_now if c.category is Category.SERVICE]
        return _join((service or open_now)[0], now, rule="R4")
    return _open(Category.SERVICE, now, rule="R4")


def _join(conversation: ConversationState, now: datetime, *, rule: str) -> SendDecision:
    return SendDecision(
        now=now,
        rule=rule,
        effect=Effect.JOIN,
        category=conversation.category,
        joins=conversation.key,
        expires_at=conversation.expires_at,
    )


def _open(
    category: Category, now: datetime, *, rule: str, closes: tuple[ConversationState, ...] = ()
) -> SendDecision:
    return SendDecision(
        now=now,
        rule=rule,
        effect=Effect.OPEN,
        category=category,
        expires_at=conversation_expires_at(category, now),
        closes=closes,
    )


# --- R9: the platform is the authority on sent messages --------------------------------------------

# Delivery statuses of an outbound message, in the order they can only move forward. `failed` is
# terminal, and a failure report after the message was delivered or read is a contradiction we ignore.
DELIVERY_ORDER = ("queued", "sending", "sent", "delivered", "read")
FAILED = "failed"


def next_delivery_status(current: str, reported: str) -> str | None:
    """The status a message moves to when `reported` arrives, or None when it must not move: statuses
    only move forward whatever order they arrive in (sent < delivered < read; failed is terminal)."""
    if current == FAILED or current not in DELIVERY_ORDER:
        return None
    if reported == FAILED:
        return FAILED if DELIVERY_ORDER.index(current) < DELIVERY_ORDER.index("delivered") else None
    if reported not in DELIVERY_ORDER:
        return None
    return reported if DELIVERY_ORDER.index(reported) > DELIVERY_ORDER.index(current) else None


def is_voided(message_statuses: Iterable[str]) -> bool:
    """R9: a conversation whose every message finally failed never happened: it is voided."""
    statuses = list(message_statuses)
    return bool(statuses) and all(status == "failed" for status in statuses)


@dataclass(frozen=True)
class PlatformConversation:
    """The conversation a status webhook reports for a sent message."""

    id: str
    category: Category
    expires_at: datetime | None = None

    def __post_init__(self):
        object.__setattr__(self, "category", Category(self.category))
        _optional_aware(self.expires_at, "expires_at")


@dataclass(frozen=True)
class Reconciliation:
    """What we keep after comparing our estimate with the platform's report (R9: theirs wins)."""

    category: Category
    expires_at: datetime
    differences: tuple[str, ...]
    expiry_refused: bool = False  # the platform's expiry lies beyond any conversation's length: kept ours

    @property
    def agrees(self) -> bool:
        """Nothing worth recording (the expiry may still move by less than EXPIRY_TOLERANCE)."""
        return not self.differences


# The platform reports expiry in whole seconds and starts its clock when it processes the message, a
# moment after we accepted it: gaps below this are precision, not a disagreement worth a record.
EXPIRY_TOLERANCE = timedelta(minutes=1)


def reconcile(ours: ConversationState, platform: PlatformConversation) -> Reconciliation:
    """R9: adopt the platform's category and expiry; list every real difference so it can be recorded
    (an expiry within EXPIRY_TOLERANCE of ours is adopted silently)."""
    differences = []
    if platform.category is not ours.category:
        differences.append(f"category: ours {ours.category.value}, platform {platform.category.value}")
    expires_at = ours.expires_at
    if platform.expires_at is not None and not believable_expiry(ours.opened_at, platform.expires_at):
        differences.append(
            f"expires_at: ours {ours.expires_at.isoformat()}, platform {platform.expires_at.isoformat()}, "
            "beyond any conversation's length: not adopted"
        )
        return Reconciliation(platform.category, ours.expires_at, tuple(differences), expiry_refused=True)
    if platform.expires_at is not None and platform.expires_at != ours.expires_at:
        if abs(platform.expires_at - ours.expires_at) >= EXPIRY_TOLERANCE:
            differences.append(
                f"expires_at: ours {ours.expires_at.isoformat()}, platform {platform.expires_at.isoformat()}"
            )
        expires_at = platform.expires_at
    return Reconciliation(category=platform.category, expires_at=expires_at, differences=tuple(differences))


# --- Times the platform reports, within sane bounds -----------------------------------------------------
# A clock may be off and a payload hostile. A time reported further ahead of our clock than CLOCK_SKEW is
# not believed for the timeline: a message "from 2031" would pin its customer to the top of the list (and
# stretch their window) for years. The platform's own record keeps the time as reported.
CLOCK_SKEW = timedelta(minutes=5)
# R9 adopts the platform's expiry, but not one beyond the longest conversation (R7) plus this slack from
# the opening: a year-9999 expiry is recorded as a disagreement, never adopted.
LONGEST_CONVERSATION = max(CONVERSATION_DURATION.values())
EXPIRY_SLACK = timedelta(hours=24)


def on_timeline(reported: datetime, now: datetime) -> datetime:
    """The instant to order by and to start a window from for a time the platform reported at `now`
    (our clock when it arrived): the reported time, unless it lies more than CLOCK_SKEW ahead of `now`."""
    require_aware(reported, "reported")
    require_aware(now, "now")
    return reported if reported <= now + CLOCK_SKEW else now


def believable_expiry(opened_at: datetime, expires_at: datetime) -> bool:
    """Whether an expiry the platform reports for a conversation opened at `opened_at` can be adopted."""
    return require_aware(expires_at, "expires_at") <= opened_at + LONGEST_CONVERSATION + EXPIRY_SLACK


def platform_category(value: str) -> Category:
    """Map a category from a status webhook (origin.type / pricing.category) to ours."""
    try:
        return PLATFORM_CATEGORIES[value.lower()]
    except KeyError:
        raise ValueError(f"unknown platform conversation category: {value!r}") from None


# --- R9 under per-message pricing ------------------------------------------------------------------

CONVERSATION_BASED = "CBP"
PER_MESSAGE = "PMP"
# Everything sent from this instant on is priced per message (a utility conversation opened before it
# stayed conversation-based until it closed; its statuses say CBP, and we believe them).
PER_MESSAGE_PRICING_SINCE = datetime(2025, 7, 1, tzinfo=UTC)
# The pricing `type`s of per-message pricing; conversation-based pricing never sends one.
PRICING_TYPES = ("regular", "free_customer_service", "free_entry_point")
_FREE_ENTRY_POINT = frozenset({"referral_conversion", "free_entry_point"})


@dataclass(frozen=True)
class PricingParts:
    """The parts of a status webhook's `pricing` object that say what the platform charged."""

    model: str  # CBP, PMP, or "" when the object does not say
    category: str  # marketing, marketing_lite, utility, authentication, service, referral_conversion…
    type: str  # regular, free_customer_service, free_entry_point ("" under CBP)
    billable: bool | None  # deprecated by the platform in favour of type + category


def pricing_parts(pricing: object) -> PricingParts:
    """Read a `pricing` object leniently: parts in another shape are absent, never an error."""
    pricing = pricing if isinstance(pricing, dict) else {}

    def text(key: str, limit: int) -> str:
        value = pricing.get(key)
        return value.strip()[:limit] if isinstance(value, str) else ""

    billable = pricing.get("billable")
    return PricingParts(
        model=text("pricing_model", 8).upper(),
        category=text("category", 40).lower(),
        type=text("type", 40).lower(),
        billable=billable if isinstance(billable, bool) else None,
    )


def pricing_model(*, reported: str, pricing_type: str, sent_at: datetime) -> str:
    """How a message was priced: what the platform said (`pricing_model`); else per message when the
    pricing carries a `type` (only per-message pricing has one); else by when it was sent."""
    require_aware(sent_at, "sent_at")
    if reported in (CONVERSATION_BASED, PER_MESSAGE):
        return reported
    if pricing_type:
        return PER_MESSAGE
    return PER_MESSAGE if sent_at >= PER_MESSAGE_PRICING_SINCE else CONVERSATION_BASED


def reports_a_conversation(*, pricing_model: str, pricing_type: str, category: str | None) -> bool:
    """R9: whether a status's `conversation` object is the platform's record of a 24 h (or 72 h)
    conversation, to reconcile ours with. Under conversation-based pricing it is. Under per-message
    pricing it is absent (API v24+) or one per message (v23 and older), except inside a free-entry
    point, which the platform still reports as a conversation."""
    if pricing_model != PER_MESSAGE:
        return True
    return pricing_type == "free_entry_point" or (category or "").lower() in _FREE_ENTRY_POINT
