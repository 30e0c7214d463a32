"""Webhook deliveries, decoded, as typed events. Pure Python (no Django, no I/O, no clock).

`parse_delivery(data)` takes one decoded delivery (whatsapp-cloud-api.md) and returns every event in it,
in order: each entry, each change, each message, then each status. One delivery can batch many of each.

A whole delivery is refused (`MalformedDelivery`) only when it is not a WhatsApp delivery at all: not a
JSON object, another `object`, or no `entry` list. Below that, nothing one item does can cost the others:
an entry, change, message or status that cannot be understood becomes a `Kept` event saying where and
why (the caller keeps it with the delivery for an admin), and what the inbox keeps apart on purpose (a
group's message, a change it has no use for) becomes `Kept` too. Unknown keys are ignored, an unknown
message type becomes an `InboundMessage` that says so, and an optional part in an unexpected shape (a
conversation's expiry, a caption that is not text) is treated as absent. Text is cleaned of what no
database keeps (NUL characters, lone surrogates).

Customers are named by a phone number (`from`, `wa_id`), a business-scoped user id (`from_user_id`,
`user_id`), or both (late 2026): a message's `contacts[]` item adds what the message itself leaves out
(the username, the other identifier).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

OBJECT = "whatsapp_business_account"
MESSAGES_FIELD = "messages"
TEMPLATE_STATUS_FIELD = "message_template_status_update"
TEMPLATE_CATEGORY_FIELD = "template_category_update"
TEMPLATE_QUALITY_FIELD = "message_template_quality_update"
USER_PREFERENCES_FIELD = "user_preferences"
USER_ID_UPDATE_FIELD = "user_id_update"

# What kind of Kept item: the caller stores it with the delivery under this kind.
NOT_UNDERSTOOD = "not_understood"
KEPT_APART = "kept_apart"

# system.type values that change who the customer is (current names, then the pre-2024 ones).
IDENTITY_CHANGES = frozenset({"user_changed_number", "user_changed_user_id", "customer_changed_number"})

WAMID_MAX = 128
NAME_MAX = 256
TYPE_MAX = 32

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class MalformedDelivery(ValueError):
    """The delivery is not a WhatsApp delivery at all; the message says why, for a person to read."""


class _Refused(ValueError):
    """One item cannot be understood: becomes a `Kept` event, never the whole delivery's refusal."""


@dataclass(frozen=True)
class InboundMessage:
    """A customer's message. `body` is the text, or a one-line summary of anything that is not text.

    The sender is named by `wa_id` (the phone number, "" when the platform does not share it),
    `user_id` (the business-scoped user id, "" on older payloads), or both."""

    wamid: str
    wa_id: str
    name: str
    timestamp: datetime
    type: str
    body: str
    referral: dict | None
    context_wamid: str | None
    raw: dict = field(repr=False)
    user_id: str = ""
    parent_user_id: str = ""
    username: str = ""
    details: dict | None = None


@dataclass(frozen=True)
class IdentityChange:
    """A `system` message: the user changed phone number or business-scoped user id. `previous_*` is
    who they were (the sender of the notice and what it says they were), `new_*` who they are now."""

    wamid: str
    timestamp: datetime
    change: str
    body: str
    previous_wa_id: str
    previous_user_id: str
    new_wa_id: str
    new_user_id: str
    new_parent_user_id: str
    raw: dict = field(repr=False)


@dataclass(frozen=True)
class PlatformErrorDetail:
    code: int | None
    title: str
    message: str
    details: str


@dataclass(frozen=True)
class StatusUpdate:
    """What happened to one of our messages: sent, delivered, read or failed. Matched to our message by
    its id; the recipient's identifiers (`recipient_id`, `recipient_user_id`, a `contacts[]` item) only
    teach us who the customer is."""

    wamid: str
    status: str
    timestamp: datetime
    recipient_id: str
    callback_data: str | None
    conversation_id: str | None
    conversation_expires_at: datetime | None
    conversation_category: str | None
    pricing: dict | None
    errors: tuple[PlatformErrorDetail, ...]
    raw: dict = field(repr=False)
    recipient_user_id: str = ""
    recipient_parent_user_id: str = ""
    recipient_username: str = ""


@dataclass(frozen=True)
class MarketingPreference:
    """`user_preferences`: the customer stopped (or resumed) marketing messages from the business."""

    wa_id: str
    user_id: str
    name: str
    stopped: bool
    timestamp: datetime
    detail: str
    raw: dict = field(repr=False)


@dataclass(frozen=True)
class TemplateStatusChange:
    template_id: str
    name: str
    language: str
    event: str
    reason: str | None
    raw: dict = field(repr=False)


@dataclass(frozen=True)
class TemplateCategoryChange:
    template_id: str
    name: str
    language: str
    previous_category: str | None
    new_category: str
    raw: dict = field(repr=False)


@dataclass(frozen=True)
class TemplateQualityChange:
    template_id: str
    name: str
    language: str
    previous_score: str
    new_score: str
    raw: dict = field(repr=False)


@dataclass(frozen=True)
class Ignored:
    """A change the inbox has no use for (another webhook field): kept apart, with the reason."""

    field: str
    reason: str
    where: str = field(default="", compare=False)
    raw: object = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Kept:
    """An item not applied: `kind` NOT_UNDERSTOOD (with `reason`: where and what is wrong) or KEPT_APART
    (a group's message, say). The caller keeps it, as received (`raw`), with the delivery."""

    where: str
    field: str
    kind: str
    reason: str
    raw: object = field(default=None, repr=False, compare=False)


Event = (
    InboundMessage
    | IdentityChange
    | StatusUpdate
    | MarketingPreference
    | TemplateStatusChange
    | TemplateCategoryChange
    | TemplateQualityChange
    | Ignored
    | Kept
)


def parse_timestamp(value: str | int) -> datetime:
    """Unix seconds (the platform sends them as a string) as an aware UTC datetime; ValueError otherwise."""
    if isinstance(value, str) and _UNIX_SECONDS.fullmatch(value):
        seconds = int(value)
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        seconds = value
    else:
        raise ValueError(f"not Unix seconds: {value!r}")
    try:
        return _EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"Unix seconds out of range: {value!r}") from None


def clean(value: object) -> object:
    """`value` with every string cleaned of what no database keeps (NUL, lone surrogates), keys too."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {clean(key): clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean(item) for item in value]
    return value


def parse_delivery(data: object) -> list[Event]:
    """Every event of one decoded webhook delivery, in the order the platform listed them."""
    if not isinstance(data, dict):
        raise MalformedDelivery(f"the delivery is not a JSON object (it is {_kind(data)})")
    if "object" not in data:
        raise MalformedDelivery(f"missing 'object' (expected {OBJECT!r})")
    if data["object"] != OBJECT:
        raise MalformedDelivery(f"'object' is {data['object']!r}, not {OBJECT!r}")
    try:
        entries = _required_list(data, "entry", "")
    except _Refused as error:
        raise MalformedDelivery(str(error)) from None
    events: list[Event] = []
    for i, entry in enumerate(entries):
        where = f"entry[{i}]"
        try:
            entry = _as_object(entry, where)
            changes = _required_list(entry, "changes", where)
        except _Refused as error:
            events.append(Kept(where, "", NOT_UNDERSTOOD, str(error), entry))
            continue
        for j, change in enumerate(changes):
            change_where = f"{where}.changes[{j}]"
            try:
                change = _as_object(change, change_where)
                field_name = _required_string(change, "field", change_where)
                value = _required_object(change, "value", change_where)
            except _Refused as error:
                events.append(Kept(change_where, _field_of(change), NOT_UNDERSTOOD, str(error), change))
                continue
            events.extend(_parse_change(field_name, value, f"{change_where}.value"))
    return events


def _field_of(change: object) -> str:
    name = change.get("field") if isinstance(change, dict) else None
    return name[:64] if isinstance(name, str) else ""


def _parse_change(field_name: str, value: dict, where: str) -> list[Event]:
    try:
        if field_name == MESSAGES_FIELD:
            return _parse_messages_change(value, where)
        if field_name == TEMPLATE_STATUS_FIELD:
            return [_parse_template_status(value, where)]
        if field_name == TEMPLATE_CATEGORY_FIELD:
            return [_parse_template_category(value, where)]
        if field_name == TEMPLATE_QUALITY_FIELD:
            return [_parse_template_quality(value, where)]
        if field_name == USER_PREFERENCES_FIELD:
            return _parse_user_preferences(value, where)
        if field_name == USER_ID_UPDATE_FIELD:
            return _parse_user_id_updates(value, where)
    except _Refused as error:
        return [Kept(where, field_name, NOT_UNDERSTOOD, str(error), value)]
    return [
        Ignored(
            field=field_name,
            reason=f"the inbox does not handle {field_name!r} changes",
            where=where,
            raw=value,
        )
    ]


# --- messages and statuses -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Contact:
    wa_id: str
    user_id: str
    parent_user_id: str
    name: str
    username: str


def _parse_messages_change(value: dict, where: str) -> list[Event]:
    if value.get("messages") is None and value.get("statuses") is None:
        reason = "a 'messages' change with neither messages nor statuses"
        problem = _describe_error(_errors(value.get("errors")))
        return [
            Ignored(
                field=MESSAGES_FIELD,
                reason=f"{reason}; the platform reports: {problem}" if problem else reason,
                where=where,
                raw=value,
            )
        ]
    contacts = _contacts(value.get("contacts"))
    events: list[Event] = []
    for key, parse in (("messages", _parse_message), ("statuses", _parse_status)):
        try:
            items = _optional_list(value, key, where)
        except _Refused as error:
            events.append(Kept(f"{where}.{key}", MESSAGES_FIELD, NOT_UNDERSTOOD, str(error), value.get(key)))
            continue
        for k, item in enumerate(items):
            item_where = f"{where}.{key}[{k}]"
            try:
                events.append(parse(item, contacts, item_where))
            except _Refused as error:
                events.append(Kept(item_where, MESSAGES_FIELD, NOT_UNDERSTOOD, str(error), item))
    problem = _describe_error(_errors(value.get("errors")))
    if problem:  # the platform's own notice beside the messages (e.g. a payload it could not pass on)
        events.append(
            Kept(
                f"{where}.errors",
                MESSAGES_FIELD,
                KEPT_APART,
                f"the platform reports: {problem}",
                value["errors"],
            )
        )
    return events


def _contacts(contacts: object) -> list[_Contact]:
    """The `contacts[]` items. Contacts are a courtesy: any odd shape just means less is known."""
    found = []
    for contact in contacts if isinstance(contacts, list) else []:
        if not isinstance(contact, dict):
            continue
        profile = _obj(contact, "profile")
        found.append(
            _Contact(
                wa_id=_identifier(contact.get("wa_id")),
                user_id=_text(contact, "user_id"),
                parent_user_id=_text(contact, "parent_user_id"),
                name=_text(profile, "name")[:NAME_MAX],
                username=_text(profile, "username") or _text(contact, "username"),
            )
        )
    return found


def _contact_for(contacts: list[_Contact], wa_id: str, user_id: str) -> _Contact | None:
    """The `contacts[]` item of this sender: by phone number, else by BSUID, else the only one."""
    for contact in contacts:
        if wa_id and contact.wa_id == wa_id:
            return contact
    for contact in contacts:
        if user_id and contact.user_id == user_id:
            return contact
    if len(contacts) == 1:
        only = contacts[0]
        if (not wa_id or not only.wa_id or only.wa_id == wa_id) and (
            not user_id or not only.user_id or only.user_id == user_id
        ):
            return only
    return None


def _identifier(value: object) -> str:
    """A phone number or id as text: the platform writes strings, some relays numbers."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    return _text_value(value).strip()


def _parse_message(message: object, contacts: list[_Contact], where: str) -> Event:
    message = _as_object(message, where)
    wamid = _required_string(message, "id", where)
    if len(wamid) > WAMID_MAX:
        raise _Refused(f"{where}: 'id' is longer than {WAMID_MAX} characters")
    timestamp = _required_timestamp(message, "timestamp", where)
    message_type = _required_string(message, "type", where)[:TYPE_MAX]
    wa_id = _identifier(message.get("from"))
    user_id = _text(message, "from_user_id").strip()
    contact = _contact_for(contacts, wa_id, user_id)
    if contact is not None:
        wa_id, user_id = wa_id or contact.wa_id, user_id or contact.user_id
    if message_type == "system" and _text(_obj(message, "system"), "type") in IDENTITY_CHANGES:
        return _identity_change(message, wamid, timestamp, wa_id, user_id)
    if not wa_id and not user_id:
        raise _Refused(f"{where}: names no sender: neither 'from' (a phone number) nor 'from_user_id'")
    group_id = message.get("group_id")
    if group_id not in (None, ""):
        return Kept(
            where,
            MESSAGES_FIELD,
            KEPT_APART,
            f"a message in the WhatsApp group {_identifier(group_id) or '?'}: group conversations are kept "
            "apart from one-to-one threads and open no customer service window",
            message,
        )
    summarise = _SUMMARIES.get(message_type, _summarise_unsupported)
    context_wamid = _text(_obj(message, "context"), "id") or None
    if message_type == "reaction":
        context_wamid = _text(_obj(message, "reaction"), "message_id") or context_wamid
    referral = message.get("referral")
    describe = _DETAILS.get(message_type)
    return InboundMessage(
        wamid=wamid,
        wa_id=wa_id,
        user_id=user_id,
        parent_user_id=_text(message, "from_parent_user_id") or (contact.parent_user_id if contact else ""),
        username=contact.username if contact else "",
        name=contact.name if contact else "",
        timestamp=timestamp,
        type=message_type,
        body=clean(summarise(message)),
        referral=clean(referral) if isinstance(referral, dict) else None,
        context_wamid=clean(context_wamid[:WAMID_MAX]) if context_wamid else None,
        details=clean(describe(message)) if describe else None,
        raw=message,
    )


_CHANGED = re.compile(r"changed from\s+(\S+)\s+to\s+(\S+)")
_MARKS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")  # direction marks around numbers


def _identity_change(message: dict, wamid: str, timestamp: datetime, wa_id: str, user_id: str) -> Event:
    """`user_changed_number`: the sender (`from`) is the old number, `system.wa_id` the new one (older
    payloads: `new_wa_id`, `customer`, type `customer_changed_number`). `user_changed_user_id`: only the
    BSUID changed. Both may carry `user_id`, `parent_user_id` and the `previous_…` values (August 2026);
    where an identifier is missing, the notice's own text ("… changed from A to B") says it."""
    system = _obj(message, "system")
    change = _text(system, "type")
    body = _text(system, "body")
    said = _CHANGED.search(_MARKS.sub("", body))
    said_old, said_new = (said.group(1), said.group(2)) if said else ("", "")
    new_user_id = _text(system, "user_id") or (said_new if _looks_like_user_id(said_new) else "")
    previous_user_id = (
        _text(system, "previous_user_id")
        or (said_old if _looks_like_user_id(said_old) else "")
        or (user_id if user_id != new_user_id else "")
    )
    if change == "user_changed_user_id":
        new_wa_id = ""
    else:
        new_wa_id = _identifier(system.get("wa_id") or system.get("new_wa_id")) or (
            said_new if said_new.isdigit() else ""
        )
    previous_wa_id = wa_id or _identifier(system.get("customer")) or (said_old if said_old.isdigit() else "")
    return IdentityChange(
        wamid=wamid,
        timestamp=timestamp,
        change=change,
        body=body,
        previous_wa_id=previous_wa_id,
        previous_user_id=previous_user_id,
        new_wa_id=new_wa_id,
        new_user_id=new_user_id,
        new_parent_user_id=_text(system, "parent_user_id"),
        raw=message,
    )


def _looks_like_user_id(value: str) -> bool:
    return bool(re.fullmatch(r"[A-Z]{2}\.[A-Za-z0-9.]+", value))


def _parse_status(status: object, contacts: list[_Contact], where: str) -> StatusUpdate:
    status = _as_object(status, where)
    wamid = _required_string(status, "id", where)
    state = _required_string(status, "status", where)
    timestamp = _required_timestamp(status, "timestamp", where)
    conversation = _obj(status, "conversation")
    pricing = status.get("pricing")
    pricing = clean(pricing) if isinstance(pricing, dict) else None
    category = _text(_obj(conversation, "origin"), "type") or _text(pricing or {}, "category")
    recipient_id = _identifier(status.get("recipient_id"))
    recipient_user_id = _text(status, "recipient_user_id")
    if not recipient_user_id and _looks_like_user_id(recipient_id):
        recipient_id, recipient_user_id = "", recipient_id  # a BSUID where a phone number belongs
    contact = _contact_for(_contacts(status.get("contacts")) or contacts, recipient_id, recipient_user_id)
    return StatusUpdate(
        wamid=wamid,
        status=state,
        timestamp=timestamp,
        recipient_id=recipient_id or (contact.wa_id if contact else ""),
        recipient_user_id=recipient_user_id or (contact.user_id if contact else ""),
        recipient_parent_user_id=_text(status, "recipient_parent_user_id")
        or (contact.parent_user_id if contact else ""),
        recipient_username=contact.username if contact else "",
        callback_data=_text(status, "biz_opaque_callback_data") or None,
        conversation_id=_text(conversation, "id") or None,
        conversation_expires_at=_optional_timestamp(conversation.get("expiration_timestamp")),
        conversation_category=category or None,
        pricing=pricing,
        errors=_errors(status.get("errors")),
        raw=status,
    )


def _errors(errors: object) -> tuple[PlatformErrorDetail, ...]:
    """`errors: [{code, title, message, error_data: {details}}]`; older payloads put `details` beside
    `title`. Entries in another shape are skipped."""
    found = []
    for error in errors if isinstance(errors, list) else []:
        if not isinstance(error, dict):
            continue
        found.append(
            PlatformErrorDetail(
                code=_code(error.get("code")),
                title=clean(_text(error, "title")),
                message=clean(_text(error, "message")),
                details=clean(_text(_obj(error, "error_data"), "details") or _text(error, "details")),
            )
        )
    return tuple(found)


def _code(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _describe_error(errors: tuple[PlatformErrorDetail, ...]) -> str:
    if not errors:
        return ""
    first = errors[0]
    return " — ".join(part for part in (first.title or first.message, first.details) if part)


def _parse_user_id_updates(value: dict, where: str) -> list[Event]:
    """`user_id_update` (announced in 2026, then replaced by `user_changed_user_id` system messages):
    `{wa_id, user_id: {previous, current}, parent_user_id: {previous, current}, timestamp}`."""
    events: list[Event] = []
    for k, item in enumerate(_required_list(value, USER_ID_UPDATE_FIELD, where)):
        item_where = f"{where}.{USER_ID_UPDATE_FIELD}[{k}]"
        try:
            item = _as_object(item, item_where)
            ids, parents = _obj(item, "user_id"), _obj(item, "parent_user_id")
            if not _text(ids, "current"):
                raise _Refused(f"{item_where}: missing 'user_id.current'")
            events.append(
                IdentityChange(
                    wamid="",
                    timestamp=_required_timestamp(item, "timestamp", item_where),
                    change=USER_ID_UPDATE_FIELD,
                    body=_text(item, "detail"),
                    previous_wa_id=_identifier(item.get("wa_id")),
                    previous_user_id=_text(ids, "previous"),
                    new_wa_id="",
                    new_user_id=_text(ids, "current"),
                    new_parent_user_id=_text(parents, "current"),
                    raw=item,
                )
            )
        except _Refused as error:
            events.append(Kept(item_where, USER_ID_UPDATE_FIELD, NOT_UNDERSTOOD, str(error), item))
    return events


def _parse_user_preferences(value: dict, where: str) -> list[Event]:
    contacts = _contacts(value.get("contacts"))
    events: list[Event] = []
    for k, item in enumerate(_required_list(value, "user_preferences", where)):
        item_where = f"{where}.user_preferences[{k}]"
        try:
            item = _as_object(item, item_where)
            wa_id, user_id = _identifier(item.get("wa_id")), _text(item, "user_id")
            contact = _contact_for(contacts, wa_id, user_id)
            if contact is not None:
                wa_id, user_id = wa_id or contact.wa_id, user_id or contact.user_id
            if not wa_id and not user_id:
                raise _Refused(f"{item_where}: names no customer: neither 'wa_id' nor 'user_id'")
            choice = _required_string(item, "value", item_where).lower()
            category = _text(item, "category") or "marketing_messages"
            if category != "marketing_messages" or choice not in ("stop", "resume"):
                events.append(
                    Kept(
                        item_where,
                        USER_PREFERENCES_FIELD,
                        KEPT_APART,
                        f"a preference the inbox does not track: {category} = {choice}",
                        item,
                    )
                )
                continue
            events.append(
                MarketingPreference(
                    wa_id=wa_id,
                    user_id=user_id,
                    name=contact.name if contact else "",
                    stopped=choice == "stop",
                    timestamp=_required_timestamp(item, "timestamp", item_where),
                    detail=clean(_text(item, "detail")),
                    raw=item,
                )
            )
        except _Refused as error:
            events.append(Kept(item_where, USER_PREFERENCES_FIELD, NOT_UNDERSTOOD, str(error), item))
    return events


# --- one-line summaries of what the customer sent --------------------------------------------------


def _labelled(label: str, *parts: str, separator: str = " — ") -> str:
    present = [part for part in parts if part]
    return f"{label} {separator.join(present)}" if present else label


def _summarise_text(message: dict) -> str:
    return _text(_obj(message, "text"), "body")


def _summarise_media(label: str, *keys: str) -> Callable[[dict], str]:
    def summarise(message: dict) -> str:
        media = _obj(message, message["type"])
        return _labelled(label, *(_text(media, key).strip() for key in keys))

    return summarise


def _summarise_audio(message: dict) -> str:
    return "[Voice message]" if _obj(message, "audio").get("voice") is True else "[Audio]"


def _summarise_location(message: dict) -> str:
    location = _obj(message, "location")
    place = ", ".join(part for part in (_text(location, "name"), _text(location, "address")) if part)
    latitude, longitude = _coordinate(location.get("latitude")), _coordinate(location.get("longitude"))
    coordinates = f"({latitude}, {longitude})" if latitude and longitude else ""
    return _labelled("[Location]", place, coordinates, separator=" ")


def _coordinate(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) else ""


def _summarise_contacts(message: dict) -> str:
    cards = (_contacts_details(message) or {}).get("contacts", [])
    shown = (", ".join(part for part in (card["name"], *card["phones"][:1]) if part) for card in cards)
    return _labelled("[Contact]", "; ".join(card for card in shown if card))


def _summarise_interactive(message: dict) -> str:
    interactive = _obj(message, "interactive")
    if isinstance(interactive.get("button_reply"), dict):
        return _text(interactive["button_reply"], "title") or "[Button reply]"
    if isinstance(interactive.get("list_reply"), dict):
        reply = interactive["list_reply"]
        return " — ".join(part for part in (_text(reply, "title"), _text(reply, "description")) if part) or (
            "[List reply]"
        )
    if isinstance(interactive.get("nfm_reply"), dict):
        answers = _form_answers(interactive["nfm_reply"])
        shown = "; ".join(f"{_label(key)}: {_answer(value)}" for key, value in answers.items())
        return _labelled("[Form reply]", shown[:2000])
    if isinstance(interactive.get("call_permission_reply"), dict):
        return _call_permission_summary(interactive["call_permission_reply"])
    kind = _text(interactive, "type")
    return f"[Interactive reply: {kind}]" if kind else "[Interactive reply]"


def _form_answers(reply: dict) -> dict:
    """A Flow's answers: `response_json` is a JSON string (an object); the flow token is no answer."""
    raw = reply.get("response_json")
    try:
        answers = json.loads(raw) if isinstance(raw, str) else raw
    except (ValueError, RecursionError):
        answers = None
    if not isinstance(answers, dict):
        return {}
    return {str(key): value for key, value in answers.items() if key != "flow_token"}


def _label(key: str) -> str:
    return re.sub(r"^screen_\d+_|_\d+$", "", key).replace("_", " ").strip().capitalize() or key


def _answer(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(_answer(item) for item in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)[:200]
    text = str(value) if value is not None else ""
    # Flow answers from a list or radio button come as "<id>_<label>": the label is what was chosen.
    return re.sub(r"^\d+_", "", text)


def _call_permission_summary(reply: dict) -> str:
    response = _text(reply, "response").lower()
    if response in ("accept", "accepted"):
        if reply.get("is_permanent") is True:
            return "[Call permission] Allowed the business to call them, with no end date"
        until = _optional_timestamp(reply.get("expiration_timestamp"))
        if until is not None:
            return f"[Call permission] Allowed the business to call them until {until:%Y-%m-%d %H:%M} UTC"
        return "[Call permission] Allowed the business to call them"
    if response in ("reject", "rejected", "decline", "declined"):
        return "[Call permission] Refused calls from the business"
    return _labelled("[Call permission]", response)


def _summarise_button(message: dict) -> str:
    button = _obj(message, "button")
    return _text(button, "text") or _text(button, "payload") or "[Button]"


def _summarise_reaction(message: dict) -> str:
    emoji = _text(_obj(message, "reaction"), "emoji")
    return f"[Reaction] {emoji}" if emoji else "[Reaction removed]"


def _summarise_order(message: dict) -> str:
    order = _obj(message, "order")
    items = order.get("product_items")
    count = len(items) if isinstance(items, list) else 0
    catalog = _text(order, "catalog_id")
    what = f"{count} item{'' if count == 1 else 's'}" + (f" from catalog {catalog}" if catalog else "")
    return _labelled("[Order]", what, _text(order, "text").strip())


def _summarise_system(message: dict) -> str:
    return _text(_obj(message, "system"), "body") or "[System message]"


# What the platform says a customer did when it passes the message on as `unsupported` (late 2026).
UNSUPPORTED_KINDS = {
    "edit": "the customer edited an earlier message; WhatsApp does not pass edits on to businesses",
    "poll": "the customer sent a poll, which WhatsApp does not pass on to businesses",
    "view_once": "the customer sent a view-once photo or video, which businesses cannot open",
    "video_note": "the customer sent a video note, which WhatsApp does not pass on to businesses",
    "event": "the customer sent an event invitation, which WhatsApp does not pass on to businesses",
    "unknown": "WhatsApp did not say what the customer sent",
}


def _summarise_unsupported(message: dict) -> str:
    problem = _describe_error(_errors(message.get("errors")))
    kind = _text(_obj(message, "unsupported"), "type") if message["type"] == "unsupported" else ""
    label = f"[Unsupported message: {kind or message['type']}]"
    explained = UNSUPPORTED_KINDS.get(kind, "")
    return " ".join(
        part for part in (label, explained, f"({problem})" if problem and explained else problem) if part
    )


_SUMMARIES: dict[str, Callable[[dict], str]] = {
    "text": _summarise_text,
    "image": _summarise_media("[Image]", "caption"),
    "video": _summarise_media("[Video]", "caption"),
    "audio": _summarise_audio,
    "document": _summarise_media("[Document]", "filename", "caption"),
    "sticker": _summarise_media("[Sticker]"),
    "location": _summarise_location,
    "contacts": _summarise_contacts,
    "interactive": _summarise_interactive,
    "button": _summarise_button,
    "reaction": _summarise_reaction,
    "order": _summarise_order,
    "system": _summarise_system,
    "request_welcome": lambda message: "[Opened the chat]",
    "unsupported": _summarise_unsupported,
}


# --- structured details beside the summary --------------------------------------------------------

MEDIA_KEYS = ("id", "mime_type", "sha256", "filename", "caption", "voice", "animated", "url", "file_size")


def _media_details(message: dict) -> dict | None:
    media = _obj(message, message["type"])
    kept = {key: media[key] for key in MEDIA_KEYS if isinstance(media.get(key), str | bool | int)}
    return {"media": kept} if kept else None


def _interactive_details(message: dict) -> dict | None:
    interactive = _obj(message, "interactive")
    if isinstance(interactive.get("nfm_reply"), dict):
        reply = interactive["nfm_reply"]
        answers = _form_answers(reply)
        shown = [[_label(key), _answer(value)] for key, value in answers.items()]
        return {"form": {"name": _text(reply, "name"), "answers": answers, "shown": shown}}
    if isinstance(interactive.get("call_permission_reply"), dict):
        reply = interactive["call_permission_reply"]
        until = _optional_timestamp(reply.get("expiration_timestamp"))
        return {
            "call_permission": {
                "response": _text(reply, "response").lower(),
                "permanent": reply.get("is_permanent") is True,
                "until": until.isoformat() if until else None,
                "source": _text(reply, "response_source"),
            }
        }
    for key in ("button_reply", "list_reply"):
        if isinstance(interactive.get(key), dict):
            return {
                key: {
                    k: _text(interactive[key], k)
                    for k in ("id", "title", "description")
                    if _text(interactive[key], k)
                }
            }
    return None


def _location_details(message: dict) -> dict | None:
    location = _obj(message, "location")
    kept = {
        key: location[key] for key in ("latitude", "longitude", "name", "address", "url") if key in location
    }
    return {"location": kept} if kept else None


def _contacts_details(message: dict) -> dict | None:
    """The contact cards a customer shared: names, phone numbers and email addresses, shown as cards."""
    cards = []
    for contact in message.get("contacts") if isinstance(message.get("contacts"), list) else []:
        if not isinstance(contact, dict):
            continue
        name = _obj(contact, "name")
        full_name = _text(name, "formatted_name") or " ".join(
            part for part in (_text(name, "first_name"), _text(name, "last_name")) if part
        )
        phones = [_text(p, "phone") or _text(p, "wa_id") for p in _dicts(contact.get("phones"))]
        emails = [_text(e, "email") for e in _dicts(contact.get("emails"))]
        card = {"name": full_name, "phones": [p for p in phones if p], "emails": [e for e in emails if e]}
        if any(card.values()):
            cards.append(card)
    return {"contacts": cards} if cards else None


def _dicts(value: object) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _reaction_details(message: dict) -> dict:
    return {"reaction": _text(_obj(message, "reaction"), "emoji")}


def _unsupported_details(message: dict) -> dict | None:
    kind = _text(_obj(message, "unsupported"), "type")
    return {"unsupported_type": kind} if kind else None


_DETAILS: dict[str, Callable[[dict], dict | None]] = {
    "image": _media_details,
    "video": _media_details,
    "audio": _media_details,
    "document": _media_details,
    "sticker": _media_details,
    "interactive": _interactive_details,
    "location": _location_details,
    "contacts": _contacts_details,
    "reaction": _reaction_details,
    "unsupported": _unsupported_details,
}


# --- templates -------------------------------------------------------------------------------------


def _template_identity(value: dict, where: str) -> tuple[str, str, str]:
    raw_id = value.get("message_template_id")
    template_id = str(raw_id) if isinstance(raw_id, int | str) and not isinstance(raw_id, bool) else ""
    name = _text(value, "message_template_name")
    language = _text(value, "message_template_language")
    if not template_id and not (name and language):
        raise _Refused(
            f"{where}: missing 'message_template_id' (or 'message_template_name' and "
            "'message_template_language'): which template is meant?"
        )
    return template_id, name, language


def _parse_template_status(value: dict, where: str) -> TemplateStatusChange:
    template_id, name, language = _template_identity(value, where)
    event = _required_string(value, "event", where)
    reason = _text(value, "reason").strip()
    return TemplateStatusChange(
        template_id=template_id,
        name=name,
        language=language,
        event=event,
        reason=None if reason.upper() in {"", "NONE"} else reason,
        raw=value,
    )


def _parse_template_quality(value: dict, where: str) -> TemplateQualityChange:
    """message_template_quality_update: no `event`, a quality score from previous to new."""
    template_id, name, language = _template_identity(value, where)
    new_score = _text(value, "new_quality_score")
    if not new_score:
        raise _Refused(f"{where}: missing 'new_quality_score'")
    return TemplateQualityChange(
        template_id=template_id,
        name=name,
        language=language,
        previous_score=_text(value, "previous_quality_score"),
        new_score=new_score,
        raw=value,
    )


def _parse_template_category(value: dict, where: str) -> TemplateCategoryChange:
    template_id, name, language = _template_identity(value, where)
    new_category = _text(value, "new_category") or _text(value, "correct_category")
    if not new_category:
        raise _Refused(f"{where}: missing 'new_category'")
    return TemplateCategoryChange(
        template_id=template_id,
        name=name,
        language=language,
        previous_category=_text(value, "previous_category") or None,
        new_category=new_category,
        raw=value,
    )


# --- reading the JSON ------------------------------------------------------------------------------


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _at(where: str) -> str:
    return f"{where}: " if where else ""


def _as_object(value: object, where: str) -> dict:
    if not isinstance(value, dict):
        raise _Refused(f"{where}: not an object (it is {_kind(value)})")
    return value


def _required_object(container: dict, key: str, where: str) -> dict:
    if container.get(key) is None:
        raise _Refused(f"{_at(where)}missing '{key}'")
    if not isinstance(container[key], dict):
        raise _Refused(f"{_at(where)}'{key}' is not an object (it is {_kind(container[key])})")
    return container[key]


def _required_list(container: dict, key: str, where: str) -> list:
    if container.get(key) is None:
        raise _Refused(f"{_at(where)}missing '{key}'")
    return _optional_list(container, key, where)


def _optional_list(container: dict, key: str, where: str) -> list:
    value = container.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Refused(f"{_at(where)}'{key}' is not a list (it is {_kind(value)})")
    return value


def _required_string(container: dict, key: str, where: str) -> str:
    value = container.get(key)
    if value is None:
        raise _Refused(f"{_at(where)}missing '{key}'")
    if not isinstance(value, str):
        raise _Refused(f"{_at(where)}'{key}' is not a string (it is {_kind(value)})")
    if not value:
        raise _Refused(f"{_at(where)}'{key}' is empty")
    return value


def _required_timestamp(container: dict, key: str, where: str) -> datetime:
    if container.get(key) is None:
        raise _Refused(f"{_at(where)}missing '{key}'")
    try:
        return parse_timestamp(container[key])
    except ValueError:
        raise _Refused(f"{_at(where)}'{key}' is not a time in Unix seconds: {container[key]!r}") from None


def _optional_timestamp(value: object) -> datetime | None:
    try:
        return parse_timestamp(value) if value is not None else None
    except ValueError:
        return None


def _obj(container: dict, key: str) -> dict:
    """`container[key]` when it is an object, else {}: for the optional parts of a payload."""
    value = container.get(key)
    return value if isinstance(value, dict) else {}


def _text(container: dict, key: str) -> str:
    """`container[key]` when it is a string (cleaned of what no database keeps), else ""."""
    return _text_value(container.get(key))


def _text_value(value: object) -> str:
    return _UNSTORABLE.sub("\ufffd", value) if isinstance(value, str) else ""
