"""Webhook deliveries, decoded, as typed events. Pure Python (no Django, no I/O, no clock).

`parse_delivery(data)` takes one decoded delivery (whatsapp-cloud-api.md) and returns every event in it,
in order: each entry, each change, each message, then each status. One delivery can batch many of each.

What it refuses (`MalformedDelivery`, with where and what in plain words) is only what makes the delivery
meaningless: the wrong envelope, a change without `field`/`value`, a message or status without the keys
that identify it. Everything else is tolerated: unknown keys are ignored, an unknown message type becomes
an `InboundMessage` that says so, an unknown change field becomes `Ignored`, and an optional part in an
unexpected shape (a conversation's expiry, a caption that is not text) is treated as absent, so one odd
detail never costs the customer messages batched alongside it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

OBJECT = "whatsapp_business_account"
MESSAGES_FIELD = "messages"
TEMPLATE_STATUS_FIELD = "message_template_status_update"
TEMPLATE_CATEGORY_FIELD = "template_category_update"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


class MalformedDelivery(ValueError):
    """The delivery cannot be understood; the message says where and why, for a person to read."""


@dataclass(frozen=True)
class InboundMessage:
    """A customer's message. `body` is the text, or a one-line summary of anything that is not text."""

    wamid: str
    wa_id: str
    name: str
    timestamp: datetime
    type: str
    body: str
    referral: dict | None
    context_wamid: str | None
    raw: dict = field(repr=False)


@dataclass(frozen=True)
class PlatformErrorDetail:
    code: int | None
    title: str
    message: str
    details: str


@dataclass(frozen=True)
class StatusUpdate:
    """What happened to one of our messages: sent, delivered, read or failed."""

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
class Ignored:
    """A change the inbox has no use for: the caller logs it, nothing more."""

    field: str
    reason: str


Event = InboundMessage | StatusUpdate | TemplateStatusChange | TemplateCategoryChange | Ignored


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


def parse_delivery(data: object) -> list[Event]:
    """Every event of one decoded webhook delivery, in the order the platform listed them."""
    if not isinstance(data, dict):
        raise MalformedDelivery(f"the delivery is not a JSON object (it is {_kind(data)})")
    if "object" not in data:
        raise MalformedDelivery(f"missing 'object' (expected {OBJECT!r})")
    if data["object"] != OBJECT:
        raise MalformedDelivery(f"'object' is {data['object']!r}, not {OBJECT!r}")
    events: list[Event] = []
    for i, entry in enumerate(_required_list(data, "entry", "")):
        where = f"entry[{i}]"
        entry = _as_object(entry, where)
        for j, change in enumerate(_required_list(entry, "changes", where)):
            change_where = f"{where}.changes[{j}]"
            change = _as_object(change, change_where)
            field_name = _required_string(change, "field", change_where)
            value = _required_object(change, "value", change_where)
            events.extend(_parse_change(field_name, value, f"{change_where}.value"))
    return events


def _parse_change(field_name: str, value: dict, where: str) -> list[Event]:
    if field_name == MESSAGES_FIELD:
        return _parse_messages_change(value, where)
    if field_name == TEMPLATE_STATUS_FIELD:
        return [_parse_template_status(value, where)]
    if field_name == TEMPLATE_CATEGORY_FIELD:
        return [_parse_template_category(value, where)]
    return [Ignored(field=field_name, reason=f"the inbox does not handle {field_name!r} changes")]


# --- messages and statuses -------------------------------------------------------------------------


def _parse_messages_change(value: dict, where: str) -> list[Event]:
    if value.get("messages") is None and value.get("statuses") is None:
        reason = "a 'messages' change with neither messages nor statuses"
        problem = _describe_error(_errors(value.get("errors")))
        return [
            Ignored(
                field=MESSAGES_FIELD,
                reason=f"{reason}; the platform reports: {problem}" if problem else reason,
            )
        ]
    names = _contact_names(value.get("contacts"))
    events: list[Event] = []
    for k, message in enumerate(_optional_list(value, "messages", where)):
        events.append(_parse_message(message, names, f"{where}.messages[{k}]"))
    for k, status in enumerate(_optional_list(value, "statuses", where)):
        events.append(_parse_status(status, f"{where}.statuses[{k}]"))
    return events


def _contact_names(contacts: object) -> dict[str, str]:
    """wa_id -> profile name. Contacts are a courtesy: any odd shape just means no name."""
    names: dict[str, str] = {}
    for contact in contacts if isinstance(contacts, list) else []:
        if isinstance(contact, dict) and isinstance(contact.get("wa_id"), str):
            names.setdefault(contact["wa_id"], _text(_obj(contact, "profile"), "name"))
    return names


def _parse_message(message: object, names: dict[str, str], where: str) -> InboundMessage:
    message = _as_object(message, where)
    wamid = _required_string(message, "id", where)
    wa_id = _required_string(message, "from", where)
    timestamp = _required_timestamp(message, "timestamp", where)
    message_type = _required_string(message, "type", where)
    summarise = _SUMMARIES.get(message_type, _summarise_unsupported)
    context_wamid = _text(_obj(message, "context"), "id") or None
    if message_type == "reaction":
        context_wamid = _text(_obj(message, "reaction"), "message_id") or context_wamid
    referral = message.get("referral")
    return InboundMessage(
        wamid=wamid,
        wa_id=wa_id,
        name=names.get(wa_id, ""),
        timestamp=timestamp,
        type=message_type,
        body=summarise(message),
        referral=referral if isinstance(referral, dict) else None,
        context_wamid=context_wamid,
        raw=message,
    )


def _parse_status(status: object, where: str) -> StatusUpdate:
    status = _as_object(status, where)
    wamid = _required_string(status, "id", where)
    state = _required_string(status, "status", where)
    timestamp = _required_timestamp(status, "timestamp", where)
    conversation = _obj(status, "conversation")
    pricing = status.get("pricing")
    pricing = pricing if isinstance(pricing, dict) else None
    category = _text(_obj(conversation, "origin"), "type") or _text(pricing or {}, "category")
    return StatusUpdate(
        wamid=wamid,
        status=state,
        timestamp=timestamp,
        recipient_id=_text(status, "recipient_id"),
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
                title=_text(error, "title"),
                message=_text(error, "message"),
                details=_text(_obj(error, "error_data"), "details") or _text(error, "details"),
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
    cards = []
    for contact in message.get("contacts") if isinstance(message.get("contacts"), list) else []:
        if not isinstance(contact, dict):
            continue
        name = _obj(contact, "name")
        full_name = _text(name, "formatted_name") or " ".join(
            part for part in (_text(name, "first_name"), _text(name, "last_name")) if part
        )
        phones = contact.get("phones")
        first_phone = phones[0] if isinstance(phones, list) and phones else {}
        phone = (
            (_text(first_phone, "phone") or _text(first_phone, "wa_id"))
            if isinstance(first_phone, dict)
            else ""
        )
        card = ", ".join(part for part in (full_name, phone) if part)
        if card:
            cards.append(card)
    return _labelled("[Contact]", "; ".join(cards))


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
        return "[Form reply]"
    return "[Interactive reply]"


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


def _summarise_unsupported(message: dict) -> str:
    problem = _describe_error(_errors(message.get("errors")))
    label = f"[Unsupported message: {message['type']}]"
    return f"{label} {problem}" if problem else label


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


# --- templates -------------------------------------------------------------------------------------


def _template_identity(value: dict, where: str) -> tuple[str, str, str]:
    raw_id = value.get("message_template_id")
    template_id = str(raw_id) if isinstance(raw_id, int | str) and not isinstance(raw_id, bool) else ""
    name = _text(value, "message_template_name")
    language = _text(value, "message_template_language")
    if not template_id and not (name and language):
        raise MalformedDelivery(
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


def _parse_template_category(value: dict, where: str) -> TemplateCategoryChange:
    template_id, name, language = _template_identity(value, where)
    new_category = _text(value, "new_category") or _text(value, "correct_category")
    if not new_category:
        raise MalformedDelivery(f"{where}: missing 'new_category'")
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
        raise MalformedDelivery(f"{where}: not an object (it is {_kind(value)})")
    return value


def _required_object(container: dict, key: str, where: str) -> dict:
    if container.get(key) is None:
        raise MalformedDelivery(f"{_at(where)}missing '{key}'")
    if not isinstance(container[key], dict):
        raise MalformedDelivery(f"{_at(where)}'{key}' is not an object (it is {_kind(container[key])})")
    return container[key]


def _required_list(container: dict, key: str, where: str) -> list:
    if container.get(key) is None:
        raise MalformedDelivery(f"{_at(where)}missing '{key}'")
    return _optional_list(container, key, where)


def _optional_list(container: dict, key: str, where: str) -> list:
    value = container.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedDelivery(f"{_at(where)}'{key}' is not a list (it is {_kind(value)})")
    return value


def _required_string(container: dict, key: str, where: str) -> str:
    value = container.get(key)
    if value is None:
        raise MalformedDelivery(f"{_at(where)}missing '{key}'")
    if not isinstance(value, str):
        raise MalformedDelivery(f"{_at(where)}'{key}' is not a string (it is {_kind(value)})")
    if not value:
        raise MalformedDelivery(f"{_at(where)}'{key}' is empty")
    return value


def _required_timestamp(container: dict, key: str, where: str) -> datetime:
    if container.get(key) is None:
        raise MalformedDelivery(f"{_at(where)}missing '{key}'")
    try:
        return parse_timestamp(container[key])
    except ValueError:
        raise MalformedDelivery(
            f"{_at(where)}'{key}' is not a time in Unix seconds: {container[key]!r}"
        ) from None


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
    """`container[key]` when it is a string, else ""."""
    value = container.get(key)
    return value if isinstance(value, str) else ""
