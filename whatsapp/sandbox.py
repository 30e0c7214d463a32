"""A local stand-in for the WhatsApp Cloud API, used when no credentials are configured.

It behaves like the platform where the inbox can tell: it accepts a message and answers with a wamid,
then feeds `sent`, `delivered` and `read` status webhooks back through the same processing as the real
ones (signed, stored, parsed); it takes read marks of the customers' messages, refusing an unknown wamid
with 131009; and it refuses a free-form message outside the customer service window with error 131047, a
template that is not approved with 132001, a number that is not a customer with 131026. It keeps the
files customers send (whatsapp.sandbox_media) and answers GET /{media_id} and the download; it takes an
agent's file by upload (POST /{PHONE_NUMBER_ID}/media, with the platform's types and size limits) and a
photo, video, recording or document sent by the media id the upload answered. Deliveries are
built in the platform's documented shapes (whatsapp-cloud-api.md), so `simulate_inbound` can play the
customer against a running app. It lists the demo catalogue (config.demo) as the account's templates, in
pages, so "Sync with WhatsApp" works locally.
ones (signed, stored, parsed); it takes read marks of the customers' messages (with a typing indicator or
without), refusing an unknown wamid with 131009, as it refuses a reply or a reaction naming a message
that is not in the chat; and it refuses a free-form message (a reaction too) outside the customer service
window with error 131047, a template that is not approved with 132001, a number that is not a customer
with 131026. It keeps the files customers send (whatsapp.sandbox_media) and answers GET /{media_id} and
the download. Deliveries are built in the platform's documented shapes (whatsapp-cloud-api.md), so
`simulate_inbound` can play the customer against a running app. It lists the demo catalogue (config.demo)
as the account's templates, in pages, so "Sync with WhatsApp" works locally.
"""

from __future__ import annotations

import json
import logging
import uuid
import zlib
from collections import deque
from datetime import date, datetime

from django.conf import settings
from django.utils import timezone

from conversations import selectors
from conversations.models import Customer, Message
from templates_app.models import MessageTemplate
from whatsapp import sandbox_media, signature
from whatsapp.client import MediaInfo, MediaTooLarge, PlatformError, SendResult
from whatsapp.sandbox_catalogue import platform_templates

logger = logging.getLogger(__name__)

SANDBOX_WABA_ID = "sandbox-waba"
SANDBOX_PHONE_NUMBER_ID = "sandbox-phone-number"
SANDBOX_DISPLAY_NUMBER = "15550000000"
# (status, seconds after acceptance): like the platform, a little later each.
STATUS_SCHEDULE = (("sent", 1), ("delivered", 2), ("read", 6))
READ_MARK_KEYS = frozenset({"messaging_product", "status", "message_id", "typing_indicator"})
# The wamids this process's sandbox marked read, latest last (for a look in a shell or a test).
read_marks: deque[str] = deque(maxlen=1000)
# The wamids it showed a typing indicator on (a read mark with `typing_indicator`), latest last.
typing_indicators: deque[str] = deque(maxlen=1000)


def encode(delivery: dict) -> bytes:
    """Serialise like the platform: compact JSON, non-ASCII escaped as \\uXXXX."""
    return json.dumps(delivery, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _unix(moment: datetime) -> str:
    return str(int(moment.timestamp()))


def _envelope(value: dict) -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": settings.WHATSAPP_BUSINESS_ACCOUNT_ID or SANDBOX_WABA_ID,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": SANDBOX_DISPLAY_NUMBER,
                                "phone_number_id": settings.WHATSAPP_PHONE_NUMBER_ID
                                or SANDBOX_PHONE_NUMBER_ID,
                            },
                            **value,
                        },
                    }
                ],
            }
        ],
    }


def inbound_delivery(
    *,
    wa_id: str | None = None,
    body: str,
    name: str = "",
    timestamp: datetime,
    wamid: str | None = None,
    ad: bool = False,
    user_id: str | None = None,
    username: str = "",
) -> dict:
    """A text message from a customer, as the platform delivers it (with a click-to-WhatsApp referral
    when `ad`). A customer with a username and no shared phone number comes with `user_id` only."""
    message: dict = {
        "id": wamid or f"wamid.SANDBOX{uuid.uuid4().hex.upper()}",
        "timestamp": _unix(timestamp),
        "type": "text",
        "text": {"body": body},
    }
    if ad:
        message["referral"] = {
            "source_url": "https://fb.me/sandbox-ad",
            "source_id": "120226305854810726",
            "source_type": "ad",
            "headline": "Chat with us",
            "body": "Sandbox ad",
            "media_type": "image",
            "ctwa_clid": f"sandbox-{uuid.uuid4().hex[:12]}",
        }
    return _from_customer(message, wa_id=wa_id, user_id=user_id, name=name, username=username)


def inbound_media_delivery(
    *,
    wa_id: str | None = None,
    user_id: str | None = None,
    username: str = "",
    name: str = "",
    timestamp: datetime,
    kind: str,
    kept: sandbox_media.SandboxFile,
    caption: str = "",
    filename: str = "",
    voice: bool = False,
    wamid: str | None = None,
) -> dict:
    """An image, document or voice note (`kind`: image, document, audio…) from a customer, whose file the
    sandbox keeps (`kept`: sandbox_media.keep) and serves by its media id, like the platform."""
    media: dict = {"id": kept.media_id, "mime_type": kept.mime_type, "sha256": kept.sha256}
    if caption and kind in ("image", "video", "document"):
        media["caption"] = caption
    if filename and kind == "document":
        media["filename"] = filename
    if kind == "audio":
        media["voice"] = voice
    message = {
        "id": wamid or f"wamid.SANDBOX{uuid.uuid4().hex.upper()}",
        "timestamp": _unix(timestamp),
        "type": kind,
        kind: media,
    }
    return _from_customer(message, wa_id=wa_id, user_id=user_id, name=name, username=username)


def _from_customer(message: dict, *, wa_id, user_id, name: str, username: str) -> dict:
    """A customer's message in its delivery: who sent it in the message and in `contacts[]`."""
    if wa_id:
        message["from"] = wa_id
    if user_id:
        message["from_user_id"] = user_id
    profile = {"name": name} | ({"username": username} if username else {})
    contact: dict = {"profile": profile}
    if wa_id:
        contact["wa_id"] = wa_id
    if user_id:
        contact["user_id"] = user_id
    return _envelope({"contacts": [contact], "messages": [message]})


# Until this day, free-form messages and utility templates inside the customer service window were free
# (pricing type free_customer_service); the platform charges them from the next day on.
FREE_IN_WINDOW_UNTIL = date(2026, 9, 30)


def platform_pricing(message: Message) -> dict:
    """The per-message pricing the platform reports for `message` (API v24+ shapes)."""
    conversation = message.conversation
    if conversation is not None and conversation.category == "free_entry_point":
        category, type_ = "referral_conversion", "free_entry_point"
    else:
        category = (message.template_category or "service").lower()
        in_window = selectors.service_window(message.customer, now=message.occurred_at).is_open
        free = (
            in_window
            and category in ("service", "utility")
            and message.occurred_at.date() <= FREE_IN_WINDOW_UNTIL
        )
        type_ = "free_customer_service" if free else "regular"
    return {"billable": type_ == "regular", "pricing_model": "PMP", "type": type_, "category": category}


def status_delivery(message: Message, *, wamid: str, status: str, timestamp: datetime) -> dict:
    """A status webhook for one of our messages as the platform sends it today (API v24+, per-message
    pricing): the recipient's identifiers, the pricing on `sent` and `delivered`, and a conversation
    object only inside a free-entry point."""
    customer = message.customer
    entry: dict = {"id": wamid, "status": status, "timestamp": _unix(timestamp)}
    if customer.wa_id:
        entry["recipient_id"] = customer.wa_id
    if customer.user_id:
        entry["recipient_user_id"] = customer.user_id
    entry["biz_opaque_callback_data"] = f"msg-{message.pk}"
    conversation = message.conversation
    if status in ("sent", "delivered"):
        pricing = platform_pricing(message)
        if pricing["type"] == "free_entry_point":
            entry["conversation"] = {
                "id": f"sandbox-conversation-{conversation.pk}",
                "origin": {"type": "referral_conversion"},
            }
            if status == "sent":
                entry["conversation"]["expiration_timestamp"] = _unix(conversation.expires_at)
        entry["pricing"] = pricing
    return _envelope({"statuses": [entry]})


def deliver_locally(delivery: dict) -> None:
    """Feed a delivery through the webhook's own path: signed, stored as received, then processed."""
    from whatsapp import services

    body = encode(delivery)
    header = signature.sign(body, settings.WHATSAPP_APP_SECRET)
    if not signature.verify(body, header, settings.WHATSAPP_APP_SECRET):  # pragma: no cover - a bug
        raise RuntimeError("sandbox signature does not verify")
    stored = services.ingest(body, signature=header)
    services.process_delivery(stored.pk)


def emit_status(*, message_id: int, wamid: str, status: str) -> None:
    message = Message.objects.select_related("customer", "conversation").filter(pk=message_id).first()
    if message is None:
        return
    deliver_locally(status_delivery(message, wamid=wamid, status=status, timestamp=timezone.now()))


SANDBOX_TEMPLATE_PAGE_SIZE = 4  # small pages, so a sync of the demo catalogue follows paging.next


SANDBOX_TEMPLATE_ID_PREFIX = "sandbox-template-"
REVIEW_SECONDS = 5  # how long the sandbox's "review" of a submitted template takes


def submitted_templates() -> list[dict]:
    """Templates submitted to the sandbox (their platform ids are its own), as it lists them: what the
    sandbox created is remembered by the ids it issued."""
    return [
        {
            "id": t.platform_id,
            "name": t.name,
            "language": t.language,
            "status": t.status,
            "category": t.category,
            "parameter_format": t.parameter_format,
            "components": t.components,
        }
        for t in MessageTemplate.objects.filter(platform_id__startswith=SANDBOX_TEMPLATE_ID_PREFIX).order_by(
            "pk"
        )
    ]


def template_listing_page(*, after: str | None = None, limit: int = 100) -> dict:
    """One page of `GET /{WABA_ID}/message_templates` over the catalogue (whatsapp.sandbox_catalogue) and
    the templates submitted to the sandbox, in the platform's shape: `{"data": [...], "paging": {...}}`."""
    items = platform_templates() + submitted_templates()
    size = max(1, min(limit, SANDBOX_TEMPLATE_PAGE_SIZE))
    start = int(after) if after and after.isdigit() else 0
    page = items[start : start + size]
    paging: dict = {"cursors": {"before": str(start), "after": str(start + len(page))}}
    if start + size < len(items):
        paging["next"] = f"sandbox://message_templates?limit={size}&after={start + size}"
    return {"data": page, "paging": paging}


class SandboxClient:
    """Same interface as GraphClient (send, mark_read, list_templates), answered locally."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def close(self) -> None:
        pass

    def list_templates(self, waba_id: str, *, limit: int = 100):
        """The demo catalogue as the platform lists it, page after page (paging.next followed)."""
        after = None
        while True:
            page = template_listing_page(after=after, limit=limit)
            yield from page["data"]
            if "next" not in page["paging"]:
                return
            after = page["paging"]["cursors"]["after"]

    def create_template(self, waba_id: str, template: dict) -> dict:
        """Accept a template for review, like the platform: PENDING now, APPROVED a few seconds later
        through a status webhook (the same processing as the platform's)."""
        key = f"{template.get('name')}:{template.get('language')}".encode()
        template_id = f"{SANDBOX_TEMPLATE_ID_PREFIX}{zlib.crc32(key)}"
        _schedule_review(template_id, str(template.get("name")), str(template.get("language")))
        return {"id": template_id, "status": "PENDING", "category": template.get("category")}

    def edit_template(self, template_id: str, changes: dict) -> dict:
        template = MessageTemplate.objects.filter(platform_id=template_id).first()
        if template is None:
            raise _refusal(100, "Invalid parameter: the template does not exist")
        _schedule_review(template_id, template.name, template.language)
        return {"success": True}

    def media_info(self, media_id: str) -> MediaInfo:
        """Like the platform's GET /{media_id}: the file the sandbox keeps, or 100 for an unknown id."""
        kept = sandbox_media.find(media_id)
        if kept is None:
            raise _refusal(100, "Unsupported get request. Object with ID does not exist", http_status=404)
        return MediaInfo(
            url=f"{sandbox_media.URL_SCHEME}{media_id}",
            mime_type=kept.mime_type,
            sha256=kept.sha256,
            file_size=kept.size,
        )

    def download_media(self, url: str, into, *, max_bytes: int) -> int:
        content = sandbox_media.content(url.removeprefix(sandbox_media.URL_SCHEME))
        if content is None:
            raise PlatformError.from_platform(code=None, title="Not Found", http_status=404)
        if len(content) > max_bytes:
            raise MediaTooLarge(len(content), max_bytes)
        into.write(content)
        return len(content)

    def upload_media(self, content, *, filename: str, mime_type: str) -> str:
        """Like the platform's POST /{PHONE_NUMBER_ID}/media: a file of a type it takes, within its size
        limit (sandbox_media.check_upload: error 100 or 131053 otherwise), kept under a new media id."""
        data = content.read()
        refusal = sandbox_media.check_upload(data, mime_type)
        if refusal is not None:
            raise _refusal(*refusal)
        kept = sandbox_media.keep(data, mime_type.split(";")[0].strip().lower())
        logger.info(
            "sandbox: %s (%s, %d bytes) uploaded as media %s", filename, mime_type, len(data), kept.media_id
        )
        return kept.media_id

    def mark_read(self, payload: dict) -> dict:
        """Like the platform: exactly the documented shape, the wamid of a message a customer sent (else
        131009, as the platform answers an unknown id); recorded in `read_marks`, and logged."""
        keys = set(payload) if isinstance(payload, dict) else set()
        well_formed = (
            {"messaging_product", "status", "message_id"} <= keys <= READ_MARK_KEYS
            and payload["messaging_product"] == "whatsapp"
            and payload["status"] == "read"
            and isinstance(payload["message_id"], str)
            and payload.get("typing_indicator", {"type": "text"}) == {"type": "text"}
        )
        if not well_formed:
            raise _refusal(100, f"Invalid parameter: not a read mark in the documented shape: {payload!r}")
        wamid = payload["message_id"]
        if not Message.objects.filter(wamid=wamid, direction=Message.Direction.INBOUND).exists():
            raise _refusal(131009, "Parameter value is not valid")
        read_marks.append(wamid)
        if "typing_indicator" in payload:
            typing_indicators.append(wamid)
        typing = ", typing shown" if "typing_indicator" in payload else ""
        logger.info("sandbox: %s marked read%s", wamid, typing)
        return {"success": True}

    def send(self, payload: dict) -> SendResult:
        """Like the platform: `to` a phone number, or `recipient` a business-scoped user id (`to` wins
        when both are given); the answer names the recipient by what it was addressed with."""
        to = str(payload.get("to") or "").removeprefix("+")
        recipient = str(payload.get("recipient") or "")
        if to and not to.isdigit():
            # The platform silently drops a BSUID in `to`: the sandbox says so instead of pretending.
            raise _refusal(131009, f"Parameter value is not valid: 'to' must be a phone number, not {to!r}")
        customer = (
            Customer.objects.filter(wa_id=to).first()
            if to
            else Customer.objects.filter(user_id=recipient).first()
            if recipient
            else None
        )
        if customer is None:
            raise _refusal(131026, "Message undeliverable")
        if payload.get("type") == "template":
            template = payload.get("template", {})
            known = MessageTemplate.objects.filter(
                name=template.get("name"),
                language=template.get("language", {}).get("code"),
                status="APPROVED",
            ).first()
            if known is None:
                raise _refusal(132001, "Template name does not exist in the translation")
            if not to and known.needs_phone_number:
                raise _refusal(
                    131062, "Business-scoped user ID (BSUID) recipients are not supported for this message"
                )
            if not _components_fit(known, template.get("components") or []):
                raise _refusal(132000, "Number of parameters does not match the expected number of params")
        elif not selectors.service_window(customer).is_open:
            raise _refusal(131047, "Re-engagement message")
        elif (refusal := sandbox_media.check_media_send(payload)) is not None:
            raise _refusal(*refusal)
        _check_referenced_message(payload, customer)
        wamid = f"wamid.SANDBOX{uuid.uuid4().hex.upper()}"
        callback = str(payload.get("biz_opaque_callback_data", ""))
        if callback.startswith("msg-") and callback[4:].isdigit():
            # A reaction gets a `sent` status only (Meta, "Reaction messages"): never delivered or read.
            schedule = STATUS_SCHEDULE[:1] if payload.get("type") == "reaction" else STATUS_SCHEDULE
            _schedule_statuses(int(callback[4:]), wamid, schedule)
        contact = {"input": payload.get("to") or recipient}
        if to:
            contact["wa_id"] = to
        if customer.user_id:
            contact["user_id"] = customer.user_id
        raw = {"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": wamid}]}
        return SendResult(wamid=wamid, wa_id=to or None, raw=raw, user_id=customer.user_id)


def _check_referenced_message(payload: dict, customer: Customer) -> None:
    """As the platform does: a reply's `context.message_id` and a reaction's `reaction.message_id` must
    name a message of this chat (131009 otherwise); a reaction goes on the customer's message, with an
    emoji or "" (removal)."""
    context = payload.get("context")
    if context is not None:
        if not isinstance(context, dict) or set(context) != {"message_id"}:
            raise _refusal(100, f"Invalid parameter: context must be {{'message_id': …}}, not {context!r}")
        if not _in_chat(customer, context["message_id"]):
            raise _refusal(131009, "Parameter value is not valid: context.message_id is not in this chat")
    if payload.get("type") == "reaction":
        reaction = payload.get("reaction")
        if not isinstance(reaction, dict) or set(reaction) != {"message_id", "emoji"}:
            raise _refusal(100, f"Invalid parameter: not a reaction in the documented shape: {reaction!r}")
        if not isinstance(reaction["emoji"], str):
            raise _refusal(100, "Invalid parameter: reaction.emoji must be a string")
        if not _in_chat(customer, reaction["message_id"], inbound=True):
            raise _refusal(131009, "Parameter value is not valid: reaction.message_id is not in this chat")


def _in_chat(customer: Customer, wamid: object, *, inbound: bool = False) -> bool:
    if not isinstance(wamid, str) or not wamid:
        return False
    messages = Message.objects.filter(customer=customer, wamid=wamid)
    if inbound:
        messages = messages.filter(direction=Message.Direction.INBOUND)
    return messages.exists()


def _components_fit(template: MessageTemplate, components: list) -> bool:
    """As the platform checks: a header parameter exactly when the template's header needs one, and one
    for each URL button with a variable, at its index."""
    kinds = [str(c.get("type", "")).lower() for c in components if isinstance(c, dict)]
    inputs = template.send_inputs
    if (inputs.header is not None) != ("header" in kinds):
        return False
    indexes = {
        str(c.get("index"))
        for c in components
        if isinstance(c, dict) and str(c.get("type", "")).lower() == "button" and c.get("parameters")
    }
    return indexes == {str(button.index) for button in inputs.buttons}


def _schedule_review(template_id: str, name: str, language: str) -> None:
    from whatsapp.tasks import sandbox_template_review

    try:
        sandbox_template_review.apply_async((template_id, name, language), countdown=REVIEW_SECONDS)
    except Exception:  # a broker that is down leaves it PENDING, as a slow review would
        logger.exception("sandbox: could not schedule the review of template %s", template_id)


def template_status_delivery(*, template_id: str, name: str, language: str, event: str) -> dict:
    """A message_template_status_update webhook in the platform's shape."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": settings.WHATSAPP_BUSINESS_ACCOUNT_ID or SANDBOX_WABA_ID,
                "time": _unix(timezone.now()),
                "changes": [
                    {
                        "field": "message_template_status_update",
                        "value": {
                            "event": event,
                            "message_template_id": template_id,
                            "message_template_name": name,
                            "message_template_language": language,
                            "reason": "NONE",
                        },
                    }
                ],
            }
        ],
    }


def review_template(*, template_id: str, name: str, language: str) -> None:
    """The sandbox's review: every submitted template is approved."""
    deliver_locally(
        template_status_delivery(template_id=template_id, name=name, language=language, event="APPROVED")
    )


def _schedule_statuses(message_id: int, wamid: str, schedule=STATUS_SCHEDULE) -> None:
    from whatsapp.tasks import sandbox_status

    for status, delay in schedule:
        try:
            sandbox_status.apply_async((message_id, wamid, status), countdown=delay)
        except Exception:  # a broker that is down costs the demo its ticks, never the send
            logger.exception("sandbox: could not schedule the %s status of message %s", status, message_id)


def _refusal(code: int, title: str, *, http_status: int = 400) -> PlatformError:
    return PlatformError.from_platform(code=code, title=title, message=title, http_status=http_status)
