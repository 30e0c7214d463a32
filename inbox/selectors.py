"""Reads for the agent inbox. Every page runs a constant number of queries, whatever the number of rows;
time-dependent facts (windows, countdowns, what a send would do) come from conversations.policy at one
instant per request, so the page shows what the server will enforce."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, Subquery, Value
from django.db.models.functions import Coalesce

from accounts import roles
from conversations import identifiers, policy
from conversations import search as search_module
from conversations import selectors as domain
from conversations.models import (
    Conversation,
    Customer,
    CustomerLabel,
    Label,
    Message,
    MessageMedia,
    Team,
    ThreadStatus,
)
from inbox import notes
from inbox.models import CustomerSeen
from templates_app.models import MessageTemplate

NEVER = datetime(1970, 1, 1, tzinfo=UTC)
PAGE_SIZE = 25
THROUGH_LIMIT = 500  # a list poll covers at most this many rows (20 "Older customers" pages)
THREAD_PAGE_SIZE = 60


class Filter(StrEnum):
    NEEDS_REPLY = "needs-reply"
    CLOSING_SOON = "closing-soon"
    LOST = "lost"
    MINE = "mine"
    UNASSIGNED = "unassigned"
    OPEN = "open"
    PENDING = "pending"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"
    ALL = "all"

    @property
    def label(self) -> str:
        return {
            "needs-reply": "Needs reply",
            "closing-soon": "Closing soon",
            "lost": "Lost",
            "mine": "Mine",
            "unassigned": "Unassigned",
            "open": "Open",
            "pending": "Pending",
            "snoozed": "Snoozed",
            "resolved": "Resolved",
            "all": "All",
        }[self.value]

    @property
    def hint(self) -> str:
        """What the filter lists, for its title (the worklists' rules in words)."""
        return {
            "needs-reply": "The customer wrote last and the window is open",
            "closing-soon": "Windows closing within the hour, the earliest deadline first",
            "lost": "Wrote, never answered, window closed: needs a template now",
            "mine": "Assigned to you",
            "unassigned": "Nobody owns them yet",
            "open": "Open threads",
            "pending": "Waiting for the customer",
            "snoozed": "Snoozed: back by themselves at their time, or when the customer writes",
            "resolved": "Resolved: back when the customer writes",
            "all": "Every thread not resolved or snoozed (a search looks through all of them)",
        }[self.value]

    @property
    def by_deadline(self) -> bool:
        """Sorted by the window's deadline, earliest first (keyset on last_inbound_at), not by activity."""
        return self is Filter.CLOSING_SOON


# --- The customer list ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """Keyset position in the list: the last row shown, by (last_activity_at, id) descending, or for a
    view sorted by deadline (Filter.by_deadline) by (last_inbound_at, id) ascending."""

    activity: datetime
    pk: int

    def encode(self) -> str:
        return f"{self.activity.isoformat()}|{self.pk}"

    END: ClassVar[Cursor]  # the position after every row: `through` it is the whole list (THROUGH_LIMIT)

    @classmethod
    def decode(cls, value: str | None) -> Cursor | None:
        if not value:
            return None
        try:
            activity, pk = value.rsplit("|", 1)
            moment = datetime.fromisoformat(activity)
            return cls(policy.require_aware(moment, "cursor"), int(pk))
        except (ValueError, TypeError):
            return None


Cursor.END = Cursor(datetime.min.replace(tzinfo=UTC), 0)


@dataclass
class Row:
    customer: Customer
    last_body: str
    last_direction: str  # who spoke last (reactions and notices aside): "needs reply" follows it
    last_type: str
    last_body_direction: str  # whose is the message previewed: "You:" follows it
    unread: int
    window: policy.ServiceWindow
    fep_open: bool
    fep_eligible: bool
    status: str = "open"  # at `now`: a snooze that ended is open (policy.thread_status_at)
    by_deadline: bool = False  # the view sorts by the window's deadline: the cursor follows it

    @property
    def badge(self) -> str:
        """open / closing / closed / fep: what the window badge shows."""
        if self.fep_open:
            return "fep"
        if not self.window.is_open:
            return "closed"
        return "closing" if self.window.closing_soon else "open"

    @property
    def needs_reply(self) -> bool:
        return self.last_direction == Message.Direction.INBOUND and self.window.is_open

    @property
    def lost(self) -> bool:
        """Wrote, never answered, and the window closed: only a template reaches them now."""
        return (
            self.last_direction == Message.Direction.INBOUND
            and not self.window.is_open
            and self.status != ThreadStatus.RESOLVED
        )

    @property
    def cursor(self) -> Cursor:
        c = self.customer
        return Cursor(c.last_inbound_at if self.by_deadline else c.last_activity_at, c.pk)

    @property
    def fingerprint(self) -> str:
        """What the row shows, as data and never as time: the same fingerprint renders the same row
        whatever the clock says (the browser ticks countdowns and flips badges at zero from the row's
        `datetime` attributes), so a poll can tell "nothing new" without rendering anything."""
        c = self.customer
        assignee = c.assigned_to
        facts = (
            c.pk,
            str(c),
            c.last_activity_at,
            c.last_inbound_at,
            c.platform_window_closed_at,
            c.fep_referral_at,
            assignee.pk if assignee else None,
            (assignee.get_full_name() or assignee.get_username()) if assignee else None,
            self.last_body,
            self.last_direction,
            self.last_body_direction,
            self.last_type,
            self.unread,
            self.fep_open,
            self.fep_eligible,
            c.status,
            c.snoozed_until,
            c.status_changed_at,
            # Flips once, at a snooze's end (when the filter counts change too): the poll then replaces
            # the row without its "Snoozed until" badge. "Lost" at a window's end is the browser's
            # (static/inbox/inbox.js shows the row's hidden label at zero, as it hides "Needs reply").
            self.status,
            c.team.name if c.team_id else None,
            tuple((label.pk, label.name, label.colour) for label in c.labels.all()),
        )
        return hashlib.blake2b(repr(facts).encode(), digest_size=8).hexdigest()


ALERT_UNREAD_LIMIT = 99  # the title says "99+" past it
ALERT_EVENTS = 10
# The longest lead an agent may choose for "a window closes within N minutes" (static/inbox/alerts.js).
ALERT_CLOSING_WITHIN = timedelta(hours=4)


@dataclass(frozen=True)
class Alerts:
    """What the browser alerts on (static/inbox/alerts.js), as facts: the threads assigned to the agent
    or unassigned, not resolved or snoozed, where the customer spoke last in messages the agent has not
    read (how many, and the latest few with the instant of their latest message: a new instant is a new
    message; a thread a colleague answered is no alert), and the agent's own threads
    still unanswered whose window closes within ALERT_CLOSING_WITHIN (earliest first). The browser
    notifies once per event; the server only tells what is."""

    unread: int = 0
    new: tuple[tuple[int, str, str], ...] = ()  # (customer id, name, latest message's instant)
    closing: tuple[tuple[int, str, str], ...] = ()  # (customer id, name, the window's end)

    @property
    def as_json(self) -> str:
        return json.dumps(
            {"unread": self.unread, "new": self.new, "closing": self.closing}, separators=(",", ":")
        )


# What an alert shows of a customer: who (str(customer): the name, else the handle) and when they wrote;
# up to a hundred rows are read for the count, so not their every column.
_ALERT_FIELDS = ("id", "name", "phone_e164", "wa_id", "username", "user_id", "last_inbound_at")


def alerts(*, user, now: datetime) -> Alerts:
    """Two queries, whatever the number of customers."""
    seen = CustomerSeen.objects.filter(agent=user.pk, customer=OuterRef("pk")).values("seen_at")[:1]
    unread = list(
        Customer.objects.filter(in_queue(now), Q(assigned_to=user.pk) | Q(assigned_to__isnull=True))
        .filter(last_turn_direction=Message.Direction.INBOUND, last_inbound_at__lte=now)
        .annotate(seen_at=Subquery(seen))
        .filter(last_inbound_at__gt=Coalesce(F("seen_at"), Value(NEVER)))
        .only(*_ALERT_FIELDS)
        .order_by("-last_inbound_at", "-pk")[: ALERT_UNREAD_LIMIT + 1]
    )
    closing = (
        Customer.objects.filter(
            in_queue(now),
            domain.window_open_at(now),
            assigned_to=user.pk,
            last_turn_direction=Message.Direction.INBOUND,
            last_inbound_at__lte=now - policy.SERVICE_WINDOW + ALERT_CLOSING_WITHIN,
        )
        .only(*_ALERT_FIELDS, "platform_window_closed_at")
        .order_by("last_inbound_at", "pk")[:ALERT_EVENTS]
    )
    return Alerts(
        unread=len(unread),
        new=tuple((c.pk, str(c), c.last_inbound_at.isoformat()) for c in unread[:ALERT_EVENTS]),
        closing=tuple((c.pk, str(c), window_of(c, now).closes_at.isoformat()) for c in closing),
    )


@dataclass
class Page:
    rows: list[Row]
    next_cursor: Cursor | None
    counts: dict[str, int] = field(default_factory=dict)
    alerts: Alerts = field(default_factory=Alerts)

    def version(self, *extra) -> str:
        """A digest of everything the list shows (rows, their order, the filter counts, the alerts' facts,
        plus `extra`: the view, the search, the selected customer, the agent's day): equal versions,
        equal screens."""
        facts = (tuple(row.fingerprint for row in self.rows), sorted(self.counts.items()), self.alerts, extra)
        return hashlib.blake2b(repr(facts).encode(), digest_size=8).hexdigest()


def inbox_page(
    *,
    user,
    view: Filter,
    search: str = "",
    cursor: Cursor | None = None,
    through: Cursor | None = None,
    now: datetime,
    limit: int = PAGE_SIZE,
    label: int | None = None,
    team: int | None = None,
) -> Page:
    """One page of customers, latest activity first (two queries: the rows, and the filter counts).
    `cursor`: the page after that position ("Older customers"). `through`: every row from the top down
    to that position included (at most THROUGH_LIMIT): what a list that loaded older pages shows, so its
    poll covers all of it. Unread counts are `user`'s own: the customer's messages since that agent last
    opened the thread. `label`, `team`: only the threads carrying that label, of that team (the filter
    counts are the views' over every thread). Labels are one more query, whatever the number of rows."""
    if through is not None:
        limit = THROUGH_LIMIT
    queryset = _filtered(
        Customer.objects.all(),
        user=user,
        view=view,
        search=search,
        now=now,
        cursor=cursor,
        through=through,
        limit=limit,
        label=label,
        team=team,
    )
    latest = Message.objects.filter(customer=OuterRef("pk")).order_by("-occurred_at", "-pk")
    fep_open = Conversation.objects.filter(
        domain.open_at(now), customer=OuterRef("pk"), category=Conversation.Category.FREE_ENTRY_POINT
    )
    fep_since_referral = Conversation.objects.filter(
        customer=OuterRef("pk"),
        category=Conversation.Category.FREE_ENTRY_POINT,
        opened_at__gte=OuterRef("fep_referral_at"),
    ).exclude(status=Conversation.Status.VOIDED)
    seen = CustomerSeen.objects.filter(agent=user.pk, customer=OuterRef("pk")).values("seen_at")[:1]
    unread = (
        Message.objects.filter(
            customer=OuterRef("pk"),
            direction=Message.Direction.INBOUND,
            occurred_at__gt=Coalesce(OuterRef("seen_at"), Value(NEVER)),
        )
        .order_by()
        .values("customer")
        .annotate(n=Count("customer"))  # an index-only count (message_latest_dir_idx)
        .values("n")
    )
    customers = list(
        queryset.select_related("assigned_to", "team")
        .prefetch_related(Prefetch("labels", queryset=Label.objects.order_by("name")))
        .annotate(seen_at=Subquery(seen))
        .annotate(
            last_body=Subquery(latest.values("body")[:1]),
            last_body_direction=Subquery(latest.values("direction")[:1]),
            last_type=Subquery(latest.values("wa_type")[:1]),
            unread=Coalesce(Subquery(unread), 0),
            fep_open=Exists(fep_open),
            fep_used=Exists(fep_since_referral),
        )
        .order_by(*_ordering(view))[: limit + 1]
    )
    more = len(customers) > limit
    customers = customers[:limit]
    rows = [_row(c, now, by_deadline=view.by_deadline) for c in customers]
    next_cursor = rows[-1].cursor if (more and rows) else None
    return Page(
        rows=rows,
        next_cursor=next_cursor,
        counts=filter_counts(user=user, now=now),
        alerts=alerts(user=user, now=now),
    )


def window_of(customer: Customer, now: datetime) -> policy.ServiceWindow:
    """The customer's window at `now`, from the row alone (no query)."""
    return policy.service_window(
        last_inbound_at=customer.last_inbound_at if _at_or_before(customer.last_inbound_at, now) else None,
        now=now,
        platform_closed_at=customer.platform_window_closed_at,
    )


def _ordering(view: Filter) -> tuple[str, str]:
    return ("last_inbound_at", "pk") if view.by_deadline else ("-last_activity_at", "-pk")


def _row(customer: Customer, now: datetime, *, by_deadline: bool = False) -> Row:
    window = window_of(customer, now)
    referral = customer.fep_referral_at
    eligible = policy.fep_eligible(referral_at=referral, used_up=customer.fep_used, now=now)
    return Row(
        customer=customer,
        last_body=customer.last_body or "",
        last_direction=customer.last_turn_direction,
        last_type=customer.last_type or "",
        last_body_direction=customer.last_body_direction or "",
        unread=customer.unread,
        window=window,
        fep_open=customer.fep_open,
        fep_eligible=eligible,
        status=policy.thread_status_at(customer.status, customer.snoozed_until, now),
        by_deadline=by_deadline,
    )


def _at_or_before(moment: datetime | None, now: datetime) -> bool:
    return moment is not None and moment <= now


def _filtered(
    queryset,
    *,
    user,
    view: Filter,
    search: str,
    now: datetime,
    cursor: Cursor | None = None,
    through: Cursor | None = None,
    limit=PAGE_SIZE,
    label: int | None = None,
    team: int | None = None,
):
    """The customers `view` and `search` show (with `label`, of `team` when given), after `cursor` or
    down to `through` included (keyset, latest activity first; by deadline, earliest first, for
    Filter.by_deadline)."""
    search = search.strip()
    if label is not None:
        # An index-only probe per row (customer_label_once) while the activity order is walked.
        queryset = queryset.filter(Exists(CustomerLabel.objects.filter(customer=OuterRef("pk"), label=label)))
    if team is not None:
        queryset = queryset.filter(team=team)  # customer_team_idx: the team's threads by activity
    queryset = queryset.filter(_view_matches(view, user=user, now=now, search=search))
    key = "last_inbound_at" if view.by_deadline else "last_activity_at"
    # The keyset's direction: "after" is later in the list (older activity, or a later deadline).
    after, before = ("gt", "lt") if view.by_deadline else ("lt", "gt")
    if cursor is not None:
        # The first condition alone is what an index range can start from; the rest breaks ties.
        queryset = queryset.filter(
            Q(**{f"{key}__{after}e": cursor.activity})
            & (
                Q(**{f"{key}__{after}": cursor.activity})
                | Q(**{key: cursor.activity, f"pk__{after}": cursor.pk})
            )
        )
    if through is not None and through is not Cursor.END:
        queryset = queryset.filter(
            Q(**{f"{key}__{before}": through.activity})
            | Q(**{key: through.activity, f"pk__{before}e": through.pk})
        )
    if not search:
        return queryset
    by_customer, by_message = _customer_matches(search), _message_matches(search)
    if not connection.features.supports_slicing_ordering_in_compound:
        return queryset.filter(by_customer | by_message)  # SQLite: no index would serve it anyway
    # PostgreSQL: each way of matching is its own top of the list, so the planner picks for each the
    # index that answers it (a trigram index for a rare name or word, the activity order for a common
    # one); the page is the top of both.
    top = limit + 1
    ordered = _ordering(view)
    arms = [
        queryset.filter(match).order_by(*ordered).values("pk")[:top] for match in (by_customer, by_message)
    ]
    return queryset.filter(pk__in=arms[0].union(arms[1], all=True))


def in_queue(now: datetime) -> Q:
    """The working views' threads: not resolved, and not snoozed at `now` (a snooze that ended is open
    again, policy.thread_status_at, whether or not the sweep tidied the column)."""
    return Q(status__in=[ThreadStatus.OPEN, ThreadStatus.PENDING]) | Q(
        status=ThreadStatus.SNOOZED, snoozed_until__lte=now
    )


def lost_at(now: datetime) -> Q:
    """Wrote, never answered, window closed at `now`, not resolved: needs a template now (Row.lost)."""
    return (
        Q(last_turn_direction=Message.Direction.INBOUND, last_inbound_at__isnull=False)
        & ~domain.window_open_at(now)
        & ~Q(status=ThreadStatus.RESOLVED)
    )


def _view_matches(view: Filter, *, user, now: datetime, search: str = "") -> Q:
    """Which customers `view` lists at `now`. Resolved and snoozed threads leave the working views
    (needs reply, closing soon, mine, unassigned, all) and have their own; "lost" keeps a snoozed one
    (nobody drops out of sight when the window closes); a search in "all" looks through every thread."""
    if view is Filter.LOST:
        return lost_at(now)
    if view is Filter.RESOLVED:
        return Q(status=ThreadStatus.RESOLVED)
    if view is Filter.SNOOZED:
        return Q(status=ThreadStatus.SNOOZED, snoozed_until__gt=now)
    if view is Filter.PENDING:
        return Q(status=ThreadStatus.PENDING)
    if view is Filter.OPEN:
        return Q(status=ThreadStatus.OPEN) | Q(status=ThreadStatus.SNOOZED, snoozed_until__lte=now)
    if view is Filter.ALL:
        return Q() if search else in_queue(now)
    working = in_queue(now)
    if view is Filter.NEEDS_REPLY:
        # Who spoke last, reactions and platform notices aside (policy.NOT_A_TURN), is kept on the
        # customer by the services that record messages.
        return working & domain.window_open_at(now) & Q(last_turn_direction=Message.Direction.INBOUND)
    if view is Filter.CLOSING_SOON:
        return working & domain.closing_soon_at(now)
    if view is Filter.MINE:
        return working & Q(assigned_to=user.pk)
    return working & Q(assigned_to__isnull=True)  # Filter.UNASSIGNED


def _customer_matches(search: str) -> Q:
    """A customer whose name or username contains what was typed (accents and case aside), whose phone
    number it is (however typed: E.164, spaced, national for the business's country), or whose user id
    it is. PostgreSQL answers each with an index (trigrams for "contains")."""
    folded = {search_module.fold(search), search_module.fold(search.lstrip("@"))} - {""}
    matches = Q(pk__in=[])
    for term in folded:
        matches |= Q(search_name__contains=term)
    for digits in search_module.phone_digits(search, country=settings.BUSINESS_COUNTRY):
        matches |= Q(wa_id__contains=digits)
    if identifiers.looks_like_user_id(search):
        matches |= Q(user_id=search) | Q(parent_user_id=search)
    return matches


def _message_matches(search: str) -> Q:
    """A customer who wrote or was sent what was typed (case aside; a trigram index on PostgreSQL)."""
    return Q(Exists(Message.objects.filter(customer=OuterRef("pk"), body__icontains=search)))


COUNT_LIMIT = 1000


def filter_counts(*, user, now: datetime) -> dict[str, int]:
    """How many customers each filter shows, counted up to COUNT_LIMIT + 1 (the page says "1,000+"):
    one query, each count an index range that stops at the limit, whatever the number of customers."""
    parts, params = [], []
    for view in Filter:
        rows = _filtered(Customer.objects.all(), user=user, view=view, search="", now=now)
        sql, view_params = rows.order_by().values("pk")[: COUNT_LIMIT + 1].query.sql_with_params()
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS counted_{len(parts)})")  # noqa: S608 — Django's SQL
        params.extend(view_params)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(parts)}", params)
        return dict(zip([view.value for view in Filter], cursor.fetchone(), strict=True))


# --- One customer: thread, side panel, compose ----------------------------------------------------------


class Line(StrEnum):
    MESSAGE = "message"
    DAY = "day"
    SYSTEM = "system"
    NOTE = "note"  # a private note (inbox.notes): colleagues only


@dataclass
class TimelineItem:
    kind: Line
    at: datetime
    message: Message | None = None
    text: str = ""
    tone: str = ""  # for system lines: window / conversation / closed / voided
    html: str = ""  # a message's bubble, already rendered (inbox.rendering)
    note: object | None = None  # inbox.models.Note, for Line.NOTE


@dataclass
class Thread:
    customer: Customer
    items: list[TimelineItem]
    earlier_cursor: str | None
    since: str | None = None  # the first message shown: polls render from it onward, so nothing is skipped

    def version(self, *extra) -> str:
        """A digest of what the thread shows, as data (plus `extra`: the agent's day, the window's data):
        equal versions, equal threads, so the poll answers 204 without rendering anything."""
        facts: list = [extra, self.since]
        for item in self.items:
            m = item.message
            if item.note is not None:
                note = item.note
                facts.append((item.kind, note.pk, note.author_id, note.created_at, note.body))
                continue
            if m is None:
                facts.append((item.kind, item.at, item.text, item.tone))
                continue
            facts.append(message_facts(m))
        return hashlib.blake2b(repr(facts).encode(), digest_size=8).hexdigest()


def message_facts(m: Message) -> tuple:
    """Everything a message's bubble shows, as data (Thread.version, inbox.rendering's keys): a file's
    state too, so the bubble changes (and the poll swaps it) when the file arrives or is refused."""
    return (
        *(getattr(m, name) for name in MESSAGE_SHOWN),
        getattr(m, "quote", ""),
        getattr(m, "reaction", ""),
        getattr(m, "our_reaction", None),
        getattr(m, "reaction_to", ""),
        getattr(m, "attachment", None),
    )


# What the thread calls the file types we keep (whatsapp.media_types' allow-list).
FILE_TYPE_LABELS = {
    "application/pdf": "PDF",
    "text/plain": "Text",
    "application/msword": "Word document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word document",
    "application/vnd.ms-excel": "Excel spreadsheet",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel spreadsheet",
    "application/vnd.ms-powerpoint": "PowerPoint presentation",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PowerPoint presentation",
}
FILE_NOUNS = {"image": "photo", "sticker": "sticker", "video": "video", "audio": "recording"}


@dataclass(frozen=True)
class Attachment:
    """A media message's file as its bubble shows it: a picture, a player or a download, its state
    ("Fetching…", or why it is not there) and its caption."""

    kind: str
    status: str
    shows_as: str  # image, audio, video or download
    name: str
    type_label: str
    size: int | None
    caption: str
    error: str
    voice: bool
    outbound: bool = False  # an agent's file (ours): "The photo we sent", not "The customer's photo"

    @property
    def noun(self) -> str:
        return FILE_NOUNS.get(self.kind, "file")

    @classmethod
    def of(cls, message: Message, media: MessageMedia) -> Attachment:
        details = (message.details or {}).get("media") or {}
        content_type = media.content_type or media.announced_type
        major = content_type.split("/")[0]
        if media.kind in ("image", "sticker") and major == "image":
            shows_as = "image"
        elif media.kind in ("audio", "video") and major in ("audio", "video"):
            shows_as = major
        else:
            shows_as = "download"
        return cls(
            kind=media.kind,
            status=media.status,
            shows_as=shows_as,
            name=media.filename or f"{FILE_NOUNS.get(media.kind, 'file')}",
            type_label=FILE_TYPE_LABELS.get(content_type, content_type or "File"),
            size=media.size if media.size is not None else media.announced_size,
            caption=str(details.get("caption") or ""),
            error=media.error if media.status != MessageMedia.Status.PENDING else "",
            voice=details.get("voice") is True,
            outbound=message.direction == Message.Direction.OUTBOUND,
        )


def stored_media(*, customer_id: int, message_id: int) -> MessageMedia | None:
    """A customer's file as kept, for the media view: None unless this customer's message has one
    stored (a message of another customer, or a file not there, is nothing to serve)."""
    return (
        MessageMedia.objects.filter(
            message_id=message_id, message__customer_id=customer_id, status=MessageMedia.Status.STORED
        )
        .select_related("message")
        .first()
    )


# Every Message field the thread's bubble shows (inbox.html#timeline-items): Thread.version follows them.
MESSAGE_SHOWN = (
    "pk",
    "wamid",  # a message WhatsApp knows by its id can be replied and reacted to
    "direction",
    "kind",
    "wa_type",
    "body",
    "template_id",
    "template_params",
    "template_extras",
    "template_category",
    "occurred_at",
    "status",
    "sent_at",
    "delivered_at",
    "read_at",
    "error_code",
    "error_text",
    "agent_id",
    "referral",
    "context_wamid",
    "details",
)


SINCE_LIMIT = 1000


def thread(
    customer: Customer,
    *,
    now: datetime,
    tz,
    before: str | None = None,
    since: str | None = None,
    limit: int = THREAD_PAGE_SIZE,
) -> Thread:
    """The latest `limit` messages, or those before a keyset cursor (`before`: "Earlier messages"), or all
    from a cursor on (`since`: the poll), with day separators and system lines for windows and
    conversations: four queries whatever the history's length."""
    messages = Message.objects.filter(customer=customer).select_related("agent", "template", "media")
    start, origin = Cursor.decode(before), Cursor.decode(since)
    if start is not None:
        messages = messages.filter(
            Q(occurred_at__lt=start.activity) | Q(occurred_at=start.activity, pk__lt=start.pk)
        )
    if origin is not None:
        messages = messages.filter(
            Q(occurred_at__gt=origin.activity) | Q(occurred_at=origin.activity, pk__gte=origin.pk)
        )
        page = list(messages.order_by("occurred_at", "pk")[:SINCE_LIMIT])
        earlier = False
    else:
        page = list(messages.order_by("-occurred_at", "-pk")[: limit + 1])
        earlier = len(page) > limit
        page = list(reversed(page[:limit]))
    if not page:
        notes = [] if start is not None else _note_items(customer, after=None, before=None, origin=origin)
        return Thread(customer, _with_days(notes, tz), None, since)
    first, last = page[0].occurred_at, (now if start is None else page[-1].occurred_at)
    items = _message_items(customer, page)
    # Private notes from the page's first message on (up to the next page's, for "Earlier messages"; the
    # oldest page holds those written before the first message too).
    oldest = start is not None and not earlier
    items += _note_items(customer, after=None if oldest else first, before=start, origin=origin)
    items += _window_lines(customer, first, last, now)
    items += _conversation_lines(customer, first, last, now)
    items.sort(key=lambda item: (item.at, 0 if item.kind is Line.SYSTEM else 1))
    cursor = Cursor(page[0].occurred_at, page[0].pk).encode() if earlier else None
    return Thread(
        customer, _with_days(items, tz), cursor, since or Cursor(page[0].occurred_at, page[0].pk).encode()
    )


def _with_days(items: list[TimelineItem], tz) -> list[TimelineItem]:
    with_days: list[TimelineItem] = []
    day = None
    for item in items:
        local_day = item.at.astimezone(tz).date()
        if local_day != day:
            with_days.append(TimelineItem(Line.DAY, item.at))
            day = local_day
        with_days.append(item)
    return with_days


def _note_items(customer, *, after, before: Cursor | None, origin: Cursor | None) -> list[TimelineItem]:
    """Private notes at their time in the thread: from `after` (the page's first message; None on a
    thread's first page that holds its whole history) or the poll's origin, to `before` (exclusive)."""
    if origin is not None:
        after = origin.activity
    found = notes.notes_between(customer, after=after, before=before.activity if before else None)
    return [TimelineItem(Line.NOTE, note.created_at, note=note) for note in found]


QUOTE_LENGTH = 120


def _message_items(customer, page: list[Message]) -> list[TimelineItem]:
    """The page's messages as the thread shows them: a customer's reaction beside the message it is
    about (their latest; an empty one removed it), a reply with a quote of what it answers, a platform
    notice (an identity change) as a line. One query, whatever the page holds."""
    wamids = {m.wamid for m in page if m.wamid}
    quoted_wamids = {m.context_wamid for m in page if m.context_wamid}
    # One query, always (an empty list would skip it): reactions to the page, and what the page quotes.
    related = Message.objects.filter(customer=customer).filter(
        Q(wa_type="reaction", context_wamid__in=wamids or {"-"}) | Q(wamid__in=quoted_wamids or {"-"})
    )
    theirs: dict[str, Message] = {}
    ours: dict[str, OurReaction] = {}
    quoted: dict[str, Message] = {}
    for other in related.order_by("occurred_at", "pk"):
        if other.wa_type == "reaction" and other.context_wamid in wamids:
            # The latest of each side wins: a later one replaces or removes it.
            if other.direction == Message.Direction.INBOUND:
                theirs[other.context_wamid] = other
            else:
                ours[other.context_wamid] = OurReaction.after(ours.get(other.context_wamid), other)
        if other.wamid in quoted_wamids:
            quoted[other.wamid] = other
    items = []
    for message in page:
        if message.wa_type == "reaction" and message.context_wamid in wamids:
            continue  # shown beside the message it is about
        if message.direction == Message.Direction.INBOUND and message.wa_type in policy.NOT_FROM_THE_CUSTOMER:
            items.append(TimelineItem(Line.SYSTEM, message.occurred_at, text=message.body, tone="identity"))
            continue
        reaction = theirs.get(message.wamid) if message.wamid else None
        message.reaction = reaction.details.get("reaction", "") if reaction and reaction.details else ""
        mine = ours.get(message.wamid) if message.wamid else None
        message.our_reaction = mine if mine is not None and (mine.emoji or mine.failure) else None
        # Set on every message, so the template never looks up a missing attribute (Django's template
        # engine then lists the model's attributes: a tenth of a long thread's rendering time).
        message.quote = message.reaction_to = ""
        media = getattr(message, "media", None)  # joined above: no query, None without a file
        message.attachment = Attachment.of(message, media) if media is not None else None
        if message.wa_type == "reaction":
            message.reaction_to = _quote(quoted.get(message.context_wamid)) or "an earlier message"
        elif message.context_wamid:
            message.quote = _quote(quoted.get(message.context_wamid)) or "a message that is not in this inbox"
        items.append(TimelineItem(Line.MESSAGE, message.occurred_at, message=message))
    return items


@dataclass(frozen=True)
class OurReaction:
    """Our reaction beside a customer's message: the emoji the customer sees (our latest reaction that
    did not fail; "" when we removed it), whether WhatsApp has it yet, and why our latest attempt failed
    when it did (the customer still sees the one before)."""

    emoji: str = ""
    status: str = ""
    failure: str = ""

    @classmethod
    def after(cls, current: OurReaction | None, reaction: Message) -> OurReaction:
        current = current or cls()
        emoji = (reaction.details or {}).get("reaction", "")
        if reaction.status == Message.Status.FAILED:
            what = f"Your reaction {emoji}" if emoji else "Removing your reaction"
            failure = f"{what} was not delivered. {reaction.error_text}".strip()
            return cls(current.emoji, current.status, failure)
        return cls(emoji, reaction.status)

    @property
    def pending(self) -> bool:
        return self.status in (Message.Status.QUEUED, Message.Status.SENDING)


def quote_author(message: Message) -> str:
    return "You" if message.direction == Message.Direction.OUTBOUND else "Customer"


def first_line(text: str, limit: int = QUOTE_LENGTH) -> str:
    """What a quote shows of a message: its first line with words, at most `limit` characters."""
    line = next((part.strip() for part in (text or "").splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _quote(message: Message | None) -> str:
    if message is None:
        return ""
    return f"{quote_author(message)}: {first_line(message.body)}"


def reply_preview(customer: Customer, message_id) -> dict | None:
    """What the compose area shows of the message a reply quotes (a refused send comes back with it):
    its id, author and first line; None unless it is a message of this customer's thread."""
    pk = str(message_id or "")
    message = Message.objects.filter(pk=pk, customer=customer).first() if pk.isdigit() else None
    if message is None:
        return None
    return {"pk": message.pk, "author": quote_author(message), "text": first_line(message.body)}


def _window_lines(customer, first: datetime, last: datetime, now: datetime) -> list[TimelineItem]:
    inbound = Message.objects.filter(
        customer=customer,
        direction=Message.Direction.INBOUND,
        occurred_at__gte=first - policy.SERVICE_WINDOW,
        occurred_at__lte=last,
    ).exclude(wa_type__in=policy.NOT_FROM_THE_CUSTOMER)
    windows = policy.service_windows(
        inbound.values_list("occurred_at", flat=True), platform_closed_at=customer.platform_window_closed_at
    )
    lines = []
    for opened, closes in windows:
        if first <= opened <= last:
            lines.append(
                TimelineItem(Line.SYSTEM, opened, text="Customer service window opened", tone="window")
            )
        if first <= closes <= min(last, now):
            lines.append(
                TimelineItem(
                    Line.SYSTEM, closes, text="Customer service window closed: templates only", tone="closed"
                )
            )
    return lines


def _conversation_lines(customer, first: datetime, last: datetime, now: datetime) -> list[TimelineItem]:
    conversations = Conversation.objects.filter(customer=customer, opened_at__lte=last).filter(
        Q(opened_at__gte=first) | Q(expires_at__gte=first) | Q(closed_at__gte=first)
    )
    lines = []
    for c in conversations:
        label = c.get_category_display().lower()
        if c.status == Conversation.Status.VOIDED:
            if first <= c.opened_at <= last:
                lines.append(
                    TimelineItem(
                        Line.SYSTEM,
                        c.opened_at,
                        text=f"{label.capitalize()} conversation voided: its "
                        "message failed, so it cost nothing",
                        tone="voided",
                    )
                )
            continue
        if first <= c.opened_at <= last:
            duration = "72 h" if c.category == Conversation.Category.FREE_ENTRY_POINT else "24 h"
            lines.append(
                TimelineItem(
                    Line.SYSTEM,
                    c.opened_at,
                    text=f"{label.capitalize()} conversation opened ({duration})",
                    tone="conversation",
                )
            )
        if c.closed_at is not None and first <= c.closed_at <= min(last, now):
            lines.append(
                TimelineItem(
                    Line.SYSTEM,
                    c.closed_at,
                    text=f"{label.capitalize()} conversation closed by a free-entry point",
                    tone="closed",
                )
            )
        elif c.closed_at is None and first <= c.expires_at <= min(last, now):
            lines.append(
                TimelineItem(
                    Line.SYSTEM,
                    c.expires_at,
                    text=f"{label.capitalize()} conversation expired",
                    tone="closed",
                )
            )
    return lines


@dataclass
class Compose:
    """What the compose area shows: the server's own view of what may be sent now."""

    customer: Customer
    now: datetime
    window: policy.ServiceWindow
    free_form_decision: policy.SendDecision
    open_conversations: list[Conversation]
    templates: list[MessageTemplate]  # every approved template
    # Approved but of a kind the compose view cannot fill (a carousel, a product header…), each with why.
    not_sendable_here: list[tuple[MessageTemplate, str]] = field(default_factory=list)

    @property
    def sendable_templates(self) -> list[MessageTemplate]:
        """The approved templates the compose view can fill: what the picker offers."""
        blocked = {template.pk for template, _ in self.not_sendable_here}
        return [template for template in self.templates if template.pk not in blocked]

    @property
    def mode(self) -> str:
        return "free-form" if self.window.is_open else "template-only"

    @property
    def refusals(self) -> list[str]:
        """Why some approved templates cannot be sent to this customer, each reason once."""
        return list(dict.fromkeys(t.refusal for t in self.templates if t.refusal))

    @property
    def last_wrote_ago(self) -> timedelta | None:
        return self.now - self.window.opened_at if self.window.opened_at else None


def compose(customer: Customer, *, now: datetime) -> Compose:
    state, rows = domain.customer_state(customer, now)
    window = state.window(now)
    templates = list(approved_templates())
    return Compose(
        customer=customer,
        now=now,
        window=window,
        free_form_decision=policy.decide_send(state, policy.Outbound.free_form(), now),
        open_conversations=[rows[c.key] for c in state.open_conversations(now)],
        templates=_with_refusals(customer, templates, now),
        not_sendable_here=[(t, t.not_sendable_from_inbox) for t in templates if t.not_sendable_from_inbox],
    )


def _with_refusals(customer: Customer, templates, now: datetime) -> list[MessageTemplate]:
    """The approved templates, each with `.refusal`: why this customer cannot be sent it (the platform
    would refuse it: a marketing opt-out, a code button without a phone number), or ""."""
    listed = list(templates)
    for template in listed:
        template.refusal = domain.template_refusal(customer, template, now=now) or ""
    return listed


def approved_templates():
    return MessageTemplate.objects.filter(status=policy.SENDABLE_TEMPLATE_STATUS).order_by(
        "category", "name", "language"
    )


def labels():
    """The labels admins defined, by name (the list's filter, the side panel's "Add label")."""
    return Label.objects.order_by("name")


def teams():
    return Team.objects.order_by("name")


def agents():
    """Who a customer can be assigned to: active members of the agents group."""
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name=roles.AGENTS)
        .order_by("first_name", "username")
    )
