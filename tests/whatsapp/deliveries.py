"""Builders of webhook deliveries in exactly the documented shapes (../shared/docs/whatsapp-cloud-api.md).

One line for the common case:

    data = inbound_delivery("16505551234", "Can I get more info?", timestamp=MON, referral=AD_REFERRAL)
    body, header = signed(data, settings.WHATSAPP_APP_SECRET)    # bytes as the platform sends them

and parts to assemble anything else, level by level as the platform nests them:

    delivery(                                       # {"object": ..., "entry": [one entry]}
        messages_change(                            # {"field": "messages", "value": {... contacts, messages}}
            text_message(WA_ID, "Hi", timestamp=t),
            image_message(WA_ID, caption="Receipt", timestamp=t),
        ),
        statuses_change(status(wamid, "read", t, recipient_id=WA_ID)),
        template_status_update("806312974732579", "order_update", "en_US", "APPROVED"),
    )
    delivery_entries(entry(...), entry(..., waba_id="..."))   # several entries

Message builders return an `Inbound` (the message and its sender's `contacts[]` item); `messages_change`
puts the contacts in for you. Each takes the same keywords: `timestamp` (aware datetime, or Unix seconds),
`wamid` (a fresh one when None), `name` (the profile name; None leaves the sender out of `contacts`),
`context` (the wamid replied to, or a full {from, id} dict) and `referral`.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, NamedTuple

from whatsapp.signature import sign

OBJECT = "whatsapp_business_account"
WABA_ID = "102290129340398"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_PHONE_NUMBER = "15550783881"
WA_ID = "16505551234"
NAME = "Sheena Nelson"

# The doc's click-to-WhatsApp ad referral, verbatim.
AD_REFERRAL = {
    "source_url": "https://fb.me/...",
    "source_id": "120226305854810726",
    "source_type": "ad",
    "headline": "Chat with us",
    "body": "Summer sale",
    "media_type": "image",
    "ctwa_clid": "Aff-...",
}

# Conversation categories that the platform does not bill.
FREE_CATEGORIES = frozenset({"service", "referral_conversion"})


class Inbound(NamedTuple):
    message: dict
    contact: dict | None


def new_wamid() -> str:
    return f"wamid.HBgL{uuid.uuid4().hex.upper()}"


def unix(moment: datetime | str | int) -> str:
    """Unix seconds as the platform writes them: a string. Naive datetimes are refused."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"timestamps must be timezone-aware, got naive {moment.isoformat()}")
        return str(int(moment.timestamp()))
    return str(moment)


# --- the envelope ----------------------------------------------------------------------------------


def delivery_entries(*entries: dict) -> dict:
    return {"object": OBJECT, "entry": list(entries)}


def entry(*changes: dict, waba_id: str = WABA_ID) -> dict:
    return {"id": waba_id, "changes": list(changes)}


def delivery(*changes: dict, waba_id: str = WABA_ID) -> dict:
    """One entry (one business account) with these changes."""
    return delivery_entries(entry(*changes, waba_id=waba_id))


def change(field: str, value: dict) -> dict:
    return {"field": field, "value": value}


def _messages_value(phone_number_id: str, display_phone_number: str) -> dict:
    return {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display_phone_number, "phone_number_id": phone_number_id},
    }


_FROM_MESSAGES: Any = object()


def messages_change(
    *messages: Inbound | dict,
    contacts: list[dict] | None = _FROM_MESSAGES,
    phone_number_id: str = PHONE_NUMBER_ID,
    display_phone_number: str = DISPLAY_PHONE_NUMBER,
) -> dict:
    """A `messages` change with customers' messages. `contacts` defaults to the senders of the
    `Inbound`s given, once each; pass a list to set it, or None to leave the key out."""
    if contacts is _FROM_MESSAGES:
        by_wa_id: dict[str, dict] = {}
        for item in messages:
            if isinstance(item, Inbound) and item.contact is not None:
                by_wa_id.setdefault(item.contact["wa_id"], item.contact)
        contacts = list(by_wa_id.values())
    value = _messages_value(phone_number_id, display_phone_number)
    if contacts is not None:
        value["contacts"] = contacts
    value["messages"] = [item.message if isinstance(item, Inbound) else item for item in messages]
    return change("messages", value)


def statuses_change(
    *statuses: dict, phone_number_id: str = PHONE_NUMBER_ID, display_phone_number: str = DISPLAY_PHONE_NUMBER
) -> dict:
    value = _messages_value(phone_number_id, display_phone_number)
    value["statuses"] = list(statuses)
    return change("messages", value)


# --- customers' messages ---------------------------------------------------------------------------


def contact(wa_id: str, name: str = NAME) -> dict:
    return {"profile": {"name": name}, "wa_id": wa_id}


def message(
    wa_id: str,
    type: str,
    content: Any = None,
    *,
    timestamp: datetime | str | int,
    wamid: str | None = None,
    name: str | None = NAME,
    context: str | dict | None = None,
    referral: dict | None = None,
    **extra: Any,
) -> Inbound:
    """Any message type: `content` goes under the key named by the type (as the platform nests it)."""
    built: dict[str, Any] = {"from": wa_id, "id": wamid or new_wamid(), "timestamp": unix(timestamp)}
    if context is not None:
        built["context"] = (
            context if isinstance(context, dict) else {"from": DISPLAY_PHONE_NUMBER, "id": context}
        )
    built["type"] = type
    if content is not None:
        built[type] = content
    built.update(extra)
    if referral is not None:
        built["referral"] = referral
    return Inbound(built, None if name is None else contact(wa_id, name))


def text_message(wa_id: str, body: str, **common: Any) -> Inbound:
    return message(wa_id, "text", {"body": body}, **common)


def inbound_delivery(
    wa_id: str, body: str, *, waba_id: str = WABA_ID, phone_number_id: str = PHONE_NUMBER_ID, **common: Any
) -> dict:
    """A whole delivery with one text message: the doc's first example in one line."""
    return delivery(
        messages_change(text_message(wa_id, body, **common), phone_number_id=phone_number_id),
        waba_id=waba_id,
    )


def _media(mime_type: str, **fields: Any) -> dict:
    media = {key: value for key, value in fields.items() if value is not None}
    media.update({"mime_type": mime_type, "sha256": uuid.uuid4().hex, "id": str(uuid.uuid4().int)[:16]})
    return media


def image_message(wa_id: str, *, caption: str | None = None, **common: Any) -> Inbound:
    return message(wa_id, "image", _media("image/jpeg", caption=caption), **common)


def video_message(wa_id: str, *, caption: str | None = None, **common: Any) -> Inbound:
    return message(wa_id, "video", _media("video/mp4", caption=caption), **common)


def audio_message(wa_id: str, *, voice: bool = False, **common: Any) -> Inbound:
    mime_type = "audio/ogg; codecs=opus" if voice else "audio/mpeg"
    return message(wa_id, "audio", {**_media(mime_type), "voice": voice}, **common)


def document_message(
    wa_id: str, *, filename: str | None = None, caption: str | None = None, **common: Any
) -> Inbound:
    return message(wa_id, "document", _media("application/pdf", caption=caption, filename=filename), **common)


def sticker_message(wa_id: str, *, animated: bool = False, **common: Any) -> Inbound:
    return message(wa_id, "sticker", {**_media("image/webp"), "animated": animated}, **common)


def location_message(
    wa_id: str,
    latitude: float,
    longitude: float,
    *,
    place: str | None = None,
    address: str | None = None,
    **common: Any,
) -> Inbound:
    location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    if place is not None:
        location["name"] = place
    if address is not None:
        location["address"] = address
    return message(wa_id, "location", location, **common)


def contact_card(
    formatted_name: str, phone: str | None = None, *, wa_id: str | None = None, first_name: str | None = None
) -> dict:
    """One shared contact card, as inside a `contacts` message."""
    card: dict[str, Any] = {
        "name": {"formatted_name": formatted_name, "first_name": first_name or formatted_name}
    }
    if phone is not None:
        entry_phone = {"phone": phone, "type": "CELL"}
        if wa_id is not None:
            entry_phone["wa_id"] = wa_id
        card["phones"] = [entry_phone]
    return card


def contacts_message(wa_id: str, *cards: dict, **common: Any) -> Inbound:
    return message(wa_id, "contacts", list(cards), **common)


def button_reply_message(wa_id: str, title: str, *, reply_id: str = "button-1", **common: Any) -> Inbound:
    """A tap on a reply button of our interactive message."""
    interactive = {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}}
    return message(wa_id, "interactive", interactive, **common)


def list_reply_message(
    wa_id: str, title: str, *, description: str | None = None, reply_id: str = "row-1", **common: Any
) -> Inbound:
    reply = {"id": reply_id, "title": title}
    if description is not None:
        reply["description"] = description
    return message(wa_id, "interactive", {"type": "list_reply", "list_reply": reply}, **common)


def form_reply_message(wa_id: str, response: dict | None = None, **common: Any) -> Inbound:
    """A WhatsApp Flow submitted (`nfm_reply`); the answers come as a JSON string."""
    reply = {"name": "flow", "body": "Sent", "response_json": json.dumps(response or {"flow_token": "t"})}
    return message(wa_id, "interactive", {"type": "nfm_reply", "nfm_reply": reply}, **common)


def button_message(wa_id: str, text: str, *, payload: str | None = None, **common: Any) -> Inbound:
    """A tap on a quick-reply button of one of our templates (`context` names the template message)."""
    return message(wa_id, "button", {"payload": payload or text, "text": text}, **common)


def reaction_message(wa_id: str, message_id: str, emoji: str, **common: Any) -> Inbound:
    """A reaction to `message_id`; an empty `emoji` removes it."""
    return message(wa_id, "reaction", {"message_id": message_id, "emoji": emoji}, **common)


def order_message(
    wa_id: str, catalog_id: str, *items: dict, text: str | None = None, **common: Any
) -> Inbound:
    order: dict[str, Any] = {"catalog_id": catalog_id, "product_items": list(items)}
    if text is not None:
        order["text"] = text
    return message(wa_id, "order", order, **common)


def product_item(retailer_id: str, quantity: int = 1, price: float = 10.0, currency: str = "USD") -> dict:
    return {
        "product_retailer_id": retailer_id,
        "quantity": quantity,
        "item_price": price,
        "currency": currency,
    }


def system_message(
    wa_id: str, body: str, *, new_wa_id: str | None = None, kind: str = "user_changed_number", **common: Any
) -> Inbound:
    system: dict[str, Any] = {"body": body, "type": kind}
    if new_wa_id is not None:
        system["wa_id"] = new_wa_id
    common.setdefault("name", None)  # a platform notice comes without the customer's profile
    return message(wa_id, "system", system, **common)


def request_welcome_message(wa_id: str, **common: Any) -> Inbound:
    """The customer opened the chat for the first time (no content object)."""
    return message(wa_id, "request_welcome", **common)


def unsupported_message(
    wa_id: str,
    *,
    type: str = "unsupported",
    errors: list[dict] | None = None,
    **common: Any,
) -> Inbound:
    """A message the platform cannot pass on (or a type this inbox does not know)."""
    if errors is None and type == "unsupported":
        errors = [error(131051, "Message type unknown", details="Message type is not currently supported")]
    if errors is not None:
        common["errors"] = errors
    return message(wa_id, type, **common)


# --- our messages' statuses ------------------------------------------------------------------------


def error(code: int, title: str, *, message: str | None = None, details: str | None = None) -> dict:
    """One item of `errors[]`: {code, title, message, error_data: {details}}."""
    return {
        "code": code,
        "title": title,
        "message": title if message is None else message,
        "error_data": {"details": title if details is None else details},
    }


def status(
    wamid: str,
    status: str,
    timestamp: datetime | str | int,
    *,
    recipient_id: str,
    callback_data: str | None = None,
    conversation_id: str | None = None,
    expires_at: datetime | str | int | None = None,
    category: str | None = None,
    pricing_type: str | None = None,
    errors: list[dict] | None = None,
) -> dict:
    """One `statuses[]` item. `conversation` is present when `conversation_id` or `expires_at` is given
    (origin = `category`); `pricing` when `category` is (billable unless service / referral_conversion,
    CBP, plus per-message `pricing.type` when given)."""
    built: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": unix(timestamp),
        "recipient_id": recipient_id,
    }
    if callback_data is not None:
        built["biz_opaque_callback_data"] = callback_data
    if conversation_id is not None or expires_at is not None:
        conversation: dict[str, Any] = {"id": conversation_id or uuid.uuid4().hex}
        if expires_at is not None:
            conversation["expiration_timestamp"] = unix(expires_at)
        if category is not None:
            conversation["origin"] = {"type": category}
        built["conversation"] = conversation
    if category is not None:
        pricing: dict[str, Any] = {
            "billable": category not in FREE_CATEGORIES,
            "pricing_model": "CBP",
            "category": category,
        }
        if pricing_type is not None:
            pricing["type"] = pricing_type
        built["pricing"] = pricing
    if errors is not None:
        built["errors"] = errors
    return built


def status_delivery(wamid: str, state: str, timestamp: datetime | str | int, **fields: Any) -> dict:
    """A whole delivery with one status: `status(...)`'s arguments."""
    return delivery(statuses_change(status(wamid, state, timestamp, **fields)))


# --- templates -------------------------------------------------------------------------------------


def _template_id(template_id: str | int) -> str | int:
    # The platform sends the id as a JSON number.
    return int(template_id) if isinstance(template_id, str) and template_id.isdigit() else template_id


def template_status_update(
    template_id: str | int, name: str, language: str, event: str, *, reason: str | None = "NONE"
) -> dict:
    value = {
        "event": event,
        "message_template_id": _template_id(template_id),
        "message_template_name": name,
        "message_template_language": language,
        "reason": reason,
    }
    return change("message_template_status_update", value)


def template_category_update(
    template_id: str | int,
    name: str,
    language: str,
    new_category: str,
    *,
    previous_category: str | None = None,
) -> dict:
    value: dict[str, Any] = {
        "message_template_id": _template_id(template_id),
        "message_template_name": name,
        "message_template_language": language,
    }
    if previous_category is not None:
        value["previous_category"] = previous_category
    value["new_category"] = new_category
    return change("template_category_update", value)


# --- the bytes on the wire -------------------------------------------------------------------------


def encode(delivery: dict) -> bytes:
    """Serialise like the platform: compact JSON, non-ASCII escaped as \\uXXXX."""
    return json.dumps(delivery, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def signed(delivery: dict, secret: str) -> tuple[bytes, str]:
    """The body and its `X-Hub-Signature-256` header value."""
    body = encode(delivery)
    return body, sign(body, secret)
