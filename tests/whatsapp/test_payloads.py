"""`whatsapp/payloads.py`: webhook deliveries in the documented shapes → typed events (pure: no Django).

Deliveries come from tests/whatsapp/deliveries.py, whose builders are themselves checked against the
doc's examples, verbatim, at the top of this file.
"""

from __future__ import annotations

import ast
import copy
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.whatsapp import deliveries as d
from whatsapp.payloads import (
    NOT_UNDERSTOOD,
    Event,
    Ignored,
    InboundMessage,
    Kept,
    MalformedDelivery,
    PlatformErrorDetail,
    StatusUpdate,
    TemplateCategoryChange,
    TemplateStatusChange,
    parse_delivery,
    parse_timestamp,
)

T = datetime(2025, 6, 18, 19, 46, 32, tzinfo=UTC)  # "1750275992"
WA_ID = "16505551234"
OTHER_WA_ID = "447700900123"
OUR_WAMID = "wamid.HBgLOURS0001"

# The doc's examples, verbatim (whatsapp-cloud-api.md).
DOC_INBOUND = json.loads("""
{"object": "whatsapp_business_account",
 "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
   "messaging_product": "whatsapp",
   "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
   "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
   "messages": [{"from": "16505551234", "id": "wamid.HBgL...", "timestamp": "1750275992",
                 "type": "text", "text": {"body": "Can I get more info?"},
                 "referral": {"source_url": "https://fb.me/...", "source_id": "120226305854810726",
                              "source_type": "ad", "headline": "Chat with us", "body": "Summer sale",
                              "media_type": "image", "ctwa_clid": "Aff-..."}}]}}]}]}
""")
DOC_STATUS = json.loads("""
{"id": "wamid.HBgL...", "status": "sent", "timestamp": "1750030073", "recipient_id": "16505551234",
 "biz_opaque_callback_data": "msg-4812",
 "conversation": {"id": "72b14d6bd5407799e66f64d1b338e567", "expiration_timestamp": "1750116480",
                  "origin": {"type": "marketing"}},
 "pricing": {"billable": true, "pricing_model": "CBP", "category": "marketing"}}
""")


def only(events: list[Event]) -> Event:
    assert len(events) == 1, events
    return events[0]


def parse_one(inbound: d.Inbound) -> InboundMessage:
    return only(parse_delivery(d.delivery(d.messages_change(inbound))))


# --- the documented shapes -------------------------------------------------------------------------


def test_the_doc_inbound_example_parses_to_one_message():
    assert parse_delivery(DOC_INBOUND) == [
        InboundMessage(
            wamid="wamid.HBgL...",
            wa_id="16505551234",
            name="Sheena Nelson",
            timestamp=T,
            type="text",
            body="Can I get more info?",
            referral=d.AD_REFERRAL,
            context_wamid=None,
            raw=DOC_INBOUND["entry"][0]["changes"][0]["value"]["messages"][0],
        )
    ]


def test_the_doc_status_example_parses_to_one_status():
    assert parse_delivery(d.delivery(d.statuses_change(DOC_STATUS))) == [
        StatusUpdate(
            wamid="wamid.HBgL...",
            status="sent",
            timestamp=datetime(2025, 6, 15, 23, 27, 53, tzinfo=UTC),
            recipient_id="16505551234",
            callback_data="msg-4812",
            conversation_id="72b14d6bd5407799e66f64d1b338e567",
            conversation_expires_at=datetime(2025, 6, 16, 23, 28, tzinfo=UTC),
            conversation_category="marketing",
            pricing={"billable": True, "pricing_model": "CBP", "category": "marketing"},
            errors=(),
            raw=DOC_STATUS,
        )
    ]


def test_the_builders_produce_the_doc_examples_exactly():
    built = d.inbound_delivery(
        WA_ID,
        "Can I get more info?",
        timestamp=T,
        wamid="wamid.HBgL...",
        name="Sheena Nelson",
        referral=d.AD_REFERRAL,
    )
    assert built == DOC_INBOUND
    status = d.status(
        "wamid.HBgL...",
        "sent",
        "1750030073",
        recipient_id=WA_ID,
        callback_data="msg-4812",
        conversation_id="72b14d6bd5407799e66f64d1b338e567",
        expires_at=datetime(2025, 6, 16, 23, 28, tzinfo=UTC),
        category="marketing",
    )
    assert status == DOC_STATUS


def test_the_builders_refuse_naive_timestamps():
    with pytest.raises(ValueError, match="naive"):
        d.text_message(WA_ID, "hi", timestamp=datetime(2025, 6, 18, 19, 46, 32))


# --- parse_timestamp -------------------------------------------------------------------------------

TIMESTAMPS = [
    ("doc-message-example", "1750275992", T),
    ("doc-status-example", "1750030073", datetime(2025, 6, 15, 23, 27, 53, tzinfo=UTC)),
    ("epoch", "0", datetime(1970, 1, 1, tzinfo=UTC)),
    ("leading-zero", "01750275992", T),
    ("an-int-is-accepted-too", 1750275992, T),
    ("last-second-of-9999", "253402300799", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
]


@pytest.mark.parametrize(("value", "expected"), [r[1:] for r in TIMESTAMPS], ids=[r[0] for r in TIMESTAMPS])
def test_parse_timestamp(value, expected):
    parsed = parse_timestamp(value)
    assert parsed == expected
    assert parsed.tzinfo is UTC


BAD_TIMESTAMPS = [
    ("words", "yesterday"),
    ("empty", ""),
    ("decimal", "1750275992.5"),
    ("negative-string", "-1"),
    ("negative-int", -1),
    ("surrounding-space", " 1750275992"),
    ("milliseconds-out-of-range", "1750275992000000"),
    ("beyond-year-9999", "253402300800"),
    ("non-ascii-digits", "١٧٥٠٢٧٥٩٩٢"),
    ("float", 1750275992.0),
    ("bool", True),
    ("none", None),
    ("huge-int", 10**20),
]


@pytest.mark.parametrize("value", [r[1] for r in BAD_TIMESTAMPS], ids=[r[0] for r in BAD_TIMESTAMPS])
def test_parse_timestamp_refuses_anything_but_unix_seconds(value):
    with pytest.raises(ValueError, match="Unix seconds"):
        parse_timestamp(value)


# --- every message type → (type, body, context) ----------------------------------------------------

ctx = {"timestamp": T, "context": OUR_WAMID}  # replying to one of our messages
UNSUPPORTED_ERRORS = [
    d.error(131051, "Message type unknown", details="Message type is not currently supported")
]

MESSAGE_ROWS = [
    # (id, inbound, type, body, context_wamid)
    (
        "text",
        d.text_message(WA_ID, "Can I get more info?", timestamp=T),
        "text",
        "Can I get more info?",
        None,
    ),
    ("text-keeps-whitespace-and-lines", d.text_message(WA_ID, " a\nb ", timestamp=T), "text", " a\nb ", None),
    ("text-reply-has-context", d.text_message(WA_ID, "Yes", **ctx), "text", "Yes", OUR_WAMID),
    (
        "image-with-caption",
        d.image_message(WA_ID, caption="My receipt", timestamp=T),
        "image",
        "[Image] My receipt",
        None,
    ),
    ("image-without-caption", d.image_message(WA_ID, timestamp=T), "image", "[Image]", None),
    ("image-reply", d.image_message(WA_ID, **ctx), "image", "[Image]", OUR_WAMID),
    (
        "video-with-caption",
        d.video_message(WA_ID, caption="Unboxing", timestamp=T),
        "video",
        "[Video] Unboxing",
        None,
    ),
    ("video-without-caption", d.video_message(WA_ID, timestamp=T), "video", "[Video]", None),
    ("audio-voice-note", d.audio_message(WA_ID, voice=True, timestamp=T), "audio", "[Voice message]", None),
    ("audio-file", d.audio_message(WA_ID, voice=False, timestamp=T), "audio", "[Audio]", None),
    (
        "document-filename-and-caption",
        d.document_message(WA_ID, filename="invoice.pdf", caption="March", timestamp=T),
        "document",
        "[Document] invoice.pdf — March",
        None,
    ),
    (
        "document-filename-only",
        d.document_message(WA_ID, filename="invoice.pdf", timestamp=T),
        "document",
        "[Document] invoice.pdf",
        None,
    ),
    (
        "document-caption-only",
        d.document_message(WA_ID, caption="March", timestamp=T),
        "document",
        "[Document] March",
        None,
    ),
    ("document-bare", d.document_message(WA_ID, timestamp=T), "document", "[Document]", None),
    ("sticker", d.sticker_message(WA_ID, timestamp=T), "sticker", "[Sticker]", None),
    ("sticker-animated", d.sticker_message(WA_ID, animated=True, timestamp=T), "sticker", "[Sticker]", None),
    (
        "location-name-address-coordinates",
        d.location_message(
            WA_ID, 37.483307, -122.148981, place="Main St Café", address="1 Main St", timestamp=T
        ),
        "location",
        "[Location] Main St Café, 1 Main St (37.483307, -122.148981)",
        None,
    ),
    (
        "location-coordinates-only",
        d.location_message(WA_ID, 51.5, -0.12, timestamp=T),
        "location",
        "[Location] (51.5, -0.12)",
        None,
    ),
    (
        "location-address-only",
        d.location_message(WA_ID, 51.5, -0.12, address="10 Downing St", timestamp=T),
        "location",
        "[Location] 10 Downing St (51.5, -0.12)",
        None,
    ),
    (
        "contacts-one",
        d.contacts_message(WA_ID, d.contact_card("Barbara Johnson", "+1 (940) 555-1234"), timestamp=T),
        "contacts",
        "[Contact] Barbara Johnson, +1 (940) 555-1234",
        None,
    ),
    (
        "contacts-several-joined",
        d.contacts_message(
            WA_ID,
            d.contact_card("Barbara Johnson", "+1 (940) 555-1234"),
            d.contact_card("Ana Silva", "+55 11 91234-5678"),
            timestamp=T,
        ),
        "contacts",
        "[Contact] Barbara Johnson, +1 (940) 555-1234; Ana Silva, +55 11 91234-5678",
        None,
    ),
    (
        "contacts-without-phone",
        d.contacts_message(WA_ID, d.contact_card("Barbara Johnson"), timestamp=T),
        "contacts",
        "[Contact] Barbara Johnson",
        None,
    ),
    (
        "interactive-button-reply",
        d.button_reply_message(WA_ID, "Track my order", **ctx),
        "interactive",
        "Track my order",
        OUR_WAMID,
    ),
    (
        "interactive-list-reply-with-description",
        d.list_reply_message(WA_ID, "Returns", description="Send an item back", **ctx),
        "interactive",
        "Returns — Send an item back",
        OUR_WAMID,
    ),
    (
        "interactive-list-reply-without-description",
        d.list_reply_message(WA_ID, "Returns", **ctx),
        "interactive",
        "Returns",
        OUR_WAMID,
    ),
    ("interactive-form-reply", d.form_reply_message(WA_ID, **ctx), "interactive", "[Form reply]", OUR_WAMID),
    (
        "button-template-quick-reply",
        d.button_message(WA_ID, "Stop promotions", **ctx),
        "button",
        "Stop promotions",
        OUR_WAMID,
    ),
    (
        "reaction-keeps-the-reacted-message",
        d.reaction_message(WA_ID, OUR_WAMID, "👍", timestamp=T),
        "reaction",
        "[Reaction] 👍",
        OUR_WAMID,
    ),
    (
        "reaction-removed",
        d.reaction_message(WA_ID, OUR_WAMID, "", timestamp=T),
        "reaction",
        "[Reaction removed]",
        OUR_WAMID,
    ),
    (
        "order-several-items-with-catalog",
        d.order_message(
            WA_ID, "194836987003835", d.product_item("sku-1", 2), d.product_item("sku-2"), timestamp=T
        ),
        "order",
        "[Order] 2 items from catalog 194836987003835",
        None,
    ),
    (
        "order-one-item-with-note",
        d.order_message(WA_ID, "194836987003835", d.product_item("sku-1"), text="Gift wrap", timestamp=T),
        "order",
        "[Order] 1 item from catalog 194836987003835 — Gift wrap",
        None,
    ),
    (
        "system-other-notice",
        d.system_message(
            WA_ID, "Your security code with Sheena changed", kind="customer_identity_changed", timestamp=T
        ),
        "system",
        "Your security code with Sheena changed",
        None,
    ),
    (
        "request-welcome",
        d.request_welcome_message(WA_ID, timestamp=T),
        "request_welcome",
        "[Opened the chat]",
        None,
    ),
    (
        "unsupported-with-error-title-and-details",
        d.unsupported_message(WA_ID, timestamp=T),
        "unsupported",
        "[Unsupported message: unsupported] Message type unknown — Message type is not currently supported",
        None,
    ),
    (
        "unsupported-old-style-details-beside-title",
        d.unsupported_message(
            WA_ID,
            errors=[{"code": 131051, "title": "Unsupported message type", "details": "Not supported"}],
            timestamp=T,
        ),
        "unsupported",
        "[Unsupported message: unsupported] Unsupported message type — Not supported",
        None,
    ),
    (
        "unsupported-without-errors",
        d.unsupported_message(WA_ID, errors=[], timestamp=T),
        "unsupported",
        "[Unsupported message: unsupported]",
        None,
    ),
    (
        "unknown-type-is-kept",
        d.message(WA_ID, "hologram", {"frames": 3}, timestamp=T),
        "hologram",
        "[Unsupported message: hologram]",
        None,
    ),
    (
        "unknown-type-with-errors",
        d.unsupported_message(WA_ID, type="edit", errors=UNSUPPORTED_ERRORS, timestamp=T),
        "edit",
        "[Unsupported message: edit] Message type unknown — Message type is not currently supported",
        None,
    ),
]


@pytest.mark.parametrize(
    ("inbound", "type_", "body", "context_wamid"),
    [r[1:] for r in MESSAGE_ROWS],
    ids=[r[0] for r in MESSAGE_ROWS],
)
def test_message_types(inbound, type_, body, context_wamid):
    event = parse_one(inbound)
    assert isinstance(event, InboundMessage)
    assert (event.type, event.body, event.context_wamid) == (type_, body, context_wamid)
    assert event.wamid == inbound.message["id"]
    assert event.wa_id == WA_ID
    assert event.timestamp == T
    assert event.raw == inbound.message


def test_every_documented_message_type_has_a_row():
    documented = {
        "text", "image", "audio", "video", "document", "sticker", "location", "contacts", "interactive",
        "button", "reaction", "order", "system", "request_welcome", "unsupported",
    }  # fmt: skip
    assert documented <= {row[2] for row in MESSAGE_ROWS}


ODD_SHAPES = [
    # A known type whose content is not in the documented shape is summarised from what is there.
    ("text-without-text-object", "text", None, ""),
    ("text-body-not-a-string", "text", {"body": 42}, ""),
    ("image-content-is-a-list", "image", ["x"], "[Image]"),
    ("image-caption-not-a-string", "image", {"caption": {"a": 1}}, "[Image]"),
    ("audio-voice-as-string-is-not-voice", "audio", {"voice": "true"}, "[Audio]"),
    ("location-empty", "location", {}, "[Location]"),
    (
        "location-coordinates-as-strings",
        "location",
        {"latitude": "1.5", "longitude": "2"},
        "[Location] (1.5, 2)",
    ),
    ("contacts-not-a-list", "contacts", {"name": "x"}, "[Contact]"),
    (
        "contacts-first-and-last-name-only",
        "contacts",
        [{"name": {"first_name": "Ana", "last_name": "Silva"}}],
        "[Contact] Ana Silva",
    ),
    (
        "contacts-phone-wa-id-only",
        "contacts",
        [{"name": {"formatted_name": "Ana"}, "phones": [{"wa_id": "5511"}]}],
        "[Contact] Ana, 5511",
    ),
    ("contacts-items-not-objects", "contacts", ["Ana", None], "[Contact]"),
    ("interactive-unknown-kind", "interactive", {"type": "hologram"}, "[Interactive reply: hologram]"),
    ("interactive-without-kind", "interactive", {}, "[Interactive reply]"),
    (
        "interactive-button-reply-without-title",
        "interactive",
        {"button_reply": {"id": "b1"}},
        "[Button reply]",
    ),
    ("button-payload-only", "button", {"payload": "STOP"}, "STOP"),
    ("button-empty", "button", {}, "[Button]"),
    ("reaction-without-emoji-key", "reaction", {"message_id": OUR_WAMID}, "[Reaction removed]"),
    ("order-without-items", "order", {"catalog_id": "1"}, "[Order] 0 items from catalog 1"),
    ("system-without-body", "system", {"type": "customer_identity_changed"}, "[System message]"),
]


@pytest.mark.parametrize(
    ("type_", "content", "body"), [r[1:] for r in ODD_SHAPES], ids=[r[0] for r in ODD_SHAPES]
)
def test_odd_content_never_raises(type_, content, body):
    event = parse_one(d.message(WA_ID, type_, content, timestamp=T))
    assert (event.type, event.body) == (type_, body)


def test_context_from_is_not_needed_and_reaction_falls_back_to_context():
    event = parse_one(d.message(WA_ID, "reaction", {"emoji": "❤️"}, timestamp=T, context={"id": OUR_WAMID}))
    assert (event.body, event.context_wamid) == ("[Reaction] ❤️", OUR_WAMID)


# --- contacts, referral ----------------------------------------------------------------------------


def test_each_message_gets_the_name_of_its_own_sender():
    change = d.messages_change(
        d.text_message(WA_ID, "one", timestamp=T, name="Sheena Nelson"),
        d.text_message(OTHER_WA_ID, "two", timestamp=T, name="Ada Lovelace"),
        d.text_message("15550001111", "three", timestamp=T, name=None),  # not in contacts[]
    )
    change["value"]["contacts"].reverse()  # matched by wa_id, not by position
    events = parse_delivery(d.delivery(change))
    assert [(e.wa_id, e.name) for e in events] == [
        (WA_ID, "Sheena Nelson"),
        (OTHER_WA_ID, "Ada Lovelace"),
        ("15550001111", ""),
    ]


CONTACTS_ROWS = [
    ("no-contacts-key", None, ""),
    ("empty-contacts", [], ""),
    ("contacts-not-a-list", {"wa_id": WA_ID}, ""),
    ("contact-without-profile", [{"wa_id": WA_ID}], ""),
    ("profile-name-not-a-string", [{"wa_id": WA_ID, "profile": {"name": 7}}], ""),
    ("junk-items-skipped", ["x", None, {"profile": {"name": "X"}}, d.contact(WA_ID, "Sheena")], "Sheena"),
    ("only-other-senders", [d.contact(OTHER_WA_ID, "Ada")], ""),
    ("empty-profile-name", [d.contact(WA_ID, "")], ""),
]


@pytest.mark.parametrize(
    ("contacts", "name"), [r[1:] for r in CONTACTS_ROWS], ids=[r[0] for r in CONTACTS_ROWS]
)
def test_contact_name_is_empty_when_absent(contacts, name):
    change = d.messages_change(d.text_message(WA_ID, "hi", timestamp=T), contacts=contacts)
    assert only(parse_delivery(d.delivery(change))).name == name


def test_referral_is_kept_as_sent_and_absent_otherwise():
    from_ad = parse_one(d.text_message(WA_ID, "Hi", timestamp=T, referral=d.AD_REFERRAL))
    plain = parse_one(d.text_message(WA_ID, "Hi", timestamp=T))
    post = {**d.AD_REFERRAL, "source_type": "post"}
    from_post = parse_one(d.image_message(WA_ID, timestamp=T, referral=post))
    garbled = parse_one(d.text_message(WA_ID, "Hi", timestamp=T, referral="ad"))
    assert from_ad.referral == d.AD_REFERRAL
    assert from_post.referral == post
    assert plain.referral is None
    assert garbled.referral is None


# --- batches ---------------------------------------------------------------------------------------


def test_a_batch_yields_every_event_of_every_entry_and_change_in_order():
    def text(wamid):
        return d.text_message(WA_ID, wamid, timestamp=T, wamid=wamid)

    def sent(wamid):
        return d.status(wamid, "sent", T, recipient_id=WA_ID)

    data = d.delivery_entries(
        d.entry(
            d.messages_change(text("m1"), text("m2"), text("m3")),
            d.statuses_change(sent("s1"), sent("s2")),
        ),
        d.entry(
            d.statuses_change(sent("s3")),
            d.messages_change(text("m4"), d.image_message(OTHER_WA_ID, timestamp=T, wamid="m5")),
            d.template_status_update("806312974732579", "order_update", "en_US", "APPROVED"),
            waba_id="102290129340399",
        ),
    )
    events = parse_delivery(data)
    assert [(type(e).__name__, getattr(e, "wamid", None)) for e in events] == [
        ("InboundMessage", "m1"),
        ("InboundMessage", "m2"),
        ("InboundMessage", "m3"),
        ("StatusUpdate", "s1"),
        ("StatusUpdate", "s2"),
        ("StatusUpdate", "s3"),
        ("InboundMessage", "m4"),
        ("InboundMessage", "m5"),
        ("TemplateStatusChange", None),
    ]


def test_messages_and_statuses_in_one_change_give_messages_first():
    change = d.messages_change(d.text_message(WA_ID, "hi", timestamp=T, wamid="m1"))
    change["value"]["statuses"] = [d.status("s1", "read", T, recipient_id=WA_ID)]
    assert [e.wamid for e in parse_delivery(d.delivery(change))] == ["m1", "s1"]


EMPTY_ROWS = [
    ("no-entries", d.delivery_entries(), []),
    ("entry-without-changes", d.delivery_entries(d.entry()), []),
    ("empty-messages-list", d.delivery(d.messages_change(contacts=None)), []),
    ("empty-statuses-list", d.delivery(d.statuses_change()), []),
]


@pytest.mark.parametrize(("data", "expected"), [r[1:] for r in EMPTY_ROWS], ids=[r[0] for r in EMPTY_ROWS])
def test_empty_levels_are_simply_empty(data, expected):
    assert parse_delivery(data) == expected


# --- statuses --------------------------------------------------------------------------------------

EXPIRES = datetime(2025, 6, 19, 19, 46, 32, tzinfo=UTC)
NO_ENTRY = d.error(
    131047, "Re-engagement message", message="Re-engagement message", details="More than 24 hours"
)
NO_ENTRY_DETAIL = PlatformErrorDetail(
    131047, "Re-engagement message", "Re-engagement message", "More than 24 hours"
)
UNDELIVERABLE_DETAIL = PlatformErrorDetail(
    131026, "Message undeliverable", "Message undeliverable", "Message undeliverable"
)

STATUS_ROWS = [
    # (id, status item, expected fields)
    (
        "sent-with-conversation-and-pricing",
        d.status(
            "w1",
            "sent",
            T,
            recipient_id=WA_ID,
            callback_data="msg-1",
            conversation_id="c1",
            expires_at=EXPIRES,
            category="utility",
        ),
        {
            "status": "sent",
            "callback_data": "msg-1",
            "conversation_id": "c1",
            "conversation_expires_at": EXPIRES,
            "conversation_category": "utility",
            "pricing": {"billable": True, "pricing_model": "CBP", "category": "utility"},
            "errors": (),
        },
    ),
    (
        "delivered-bare",
        d.status("w1", "delivered", T, recipient_id=WA_ID),
        {
            "status": "delivered",
            "callback_data": None,
            "conversation_id": None,
            "conversation_expires_at": None,
            "conversation_category": None,
            "pricing": None,
            "errors": (),
        },
    ),
    (
        "read-conversation-without-expiry",
        d.status("w1", "read", T, recipient_id=WA_ID, conversation_id="c1", category="service"),
        {"conversation_id": "c1", "conversation_expires_at": None, "conversation_category": "service"},
    ),
    (
        "free-entry-point-not-billable",
        d.status(
            "w1",
            "sent",
            T,
            recipient_id=WA_ID,
            conversation_id="c1",
            expires_at=EXPIRES,
            category="referral_conversion",
        ),
        {
            "conversation_category": "referral_conversion",
            "pricing": {"billable": False, "pricing_model": "CBP", "category": "referral_conversion"},
        },
    ),
    (
        "category-falls-back-to-pricing",
        d.status("w1", "delivered", T, recipient_id=WA_ID, category="authentication"),
        {"conversation_id": None, "conversation_category": "authentication"},
    ),
    (
        "per-message-pricing-type-kept",
        d.status(
            "w1", "delivered", T, recipient_id=WA_ID, category="service", pricing_type="free_customer_service"
        ),
        {
            "pricing": {
                "billable": False,
                "pricing_model": "CBP",
                "category": "service",
                "type": "free_customer_service",
            }
        },
    ),
    (
        "failed-with-error",
        d.status("w1", "failed", T, recipient_id=WA_ID, callback_data="msg-9", errors=[NO_ENTRY]),
        {
            "status": "failed",
            "callback_data": "msg-9",
            "errors": (NO_ENTRY_DETAIL,),
        },
    ),
    (
        "failed-with-several-errors-in-order",
        d.status(
            "w1", "failed", T, recipient_id=WA_ID, errors=[d.error(131026, "Message undeliverable"), NO_ENTRY]
        ),
        {"errors": (UNDELIVERABLE_DETAIL, NO_ENTRY_DETAIL)},
    ),
]


@pytest.mark.parametrize(("item", "expected"), [r[1:] for r in STATUS_ROWS], ids=[r[0] for r in STATUS_ROWS])
def test_statuses(item, expected):
    event = only(parse_delivery(d.delivery(d.statuses_change(item))))
    assert isinstance(event, StatusUpdate)
    assert (event.wamid, event.timestamp, event.recipient_id, event.raw) == ("w1", T, WA_ID, item)
    assert {name: getattr(event, name) for name in expected} == expected


ODD_STATUS_PARTS = [
    # Optional parts in an odd shape are treated as absent: the status itself still counts.
    (
        "expiry-not-unix-seconds",
        {"conversation": {"id": "c1", "expiration_timestamp": "soon"}},
        "conversation_expires_at",
        None,
    ),
    ("conversation-not-an-object", {"conversation": "c1"}, "conversation_id", None),
    ("pricing-not-an-object", {"pricing": "CBP"}, "pricing", None),
    (
        "origin-not-an-object",
        {"conversation": {"id": "c1", "origin": "marketing"}},
        "conversation_category",
        None,
    ),
    ("no-recipient-id", {"recipient_id": None}, "recipient_id", ""),
    ("callback-empty", {"biz_opaque_callback_data": ""}, "callback_data", None),
    ("errors-not-a-list", {"errors": {"code": 1}}, "errors", ()),
    (
        "error-items-not-objects-skipped",
        {"errors": ["boom", d.error(131026, "x")]},
        "errors",
        (PlatformErrorDetail(131026, "x", "x", "x"),),
    ),
    (
        "error-code-as-string",
        {"errors": [{"code": "131047", "title": "t"}]},
        "errors",
        (PlatformErrorDetail(131047, "t", "", ""),),
    ),
    (
        "error-code-missing",
        {"errors": [{"title": "t", "message": "m"}]},
        "errors",
        (PlatformErrorDetail(None, "t", "m", ""),),
    ),
    (
        "error-code-garbled",
        {"errors": [{"code": "E1", "title": "t"}]},
        "errors",
        (PlatformErrorDetail(None, "t", "", ""),),
    ),
]


@pytest.mark.parametrize(
    ("patch", "name", "value"), [r[1:] for r in ODD_STATUS_PARTS], ids=[r[0] for r in ODD_STATUS_PARTS]
)
def test_odd_optional_status_parts_are_treated_as_absent(patch, name, value):
    item = {**d.status("w1", "sent", T, recipient_id=WA_ID), **patch}
    item = {k: v for k, v in item.items() if v is not None}
    event = only(parse_delivery(d.delivery(d.statuses_change(item))))
    assert getattr(event, name) == value
    assert (event.wamid, event.status) == ("w1", "sent")


# --- templates -------------------------------------------------------------------------------------


def test_template_status_update():
    change = d.template_status_update(
        "806312974732579", "order_update", "en_US", "REJECTED", reason="INCORRECT_CATEGORY"
    )
    assert change["value"]["message_template_id"] == 806312974732579  # a JSON number, as the platform sends
    assert parse_delivery(d.delivery(change)) == [
        TemplateStatusChange(
            template_id="806312974732579",
            name="order_update",
            language="en_US",
            event="REJECTED",
            reason="INCORRECT_CATEGORY",
            raw=change["value"],
        )
    ]


@pytest.mark.parametrize(
    "reason", ["NONE", "none", None, "", "  "], ids=["NONE", "lowercase-none", "null", "empty", "blank"]
)
def test_template_status_reason_none_means_no_reason(reason):
    change = d.template_status_update("806312974732579", "order_update", "en_US", "APPROVED", reason=reason)
    assert only(parse_delivery(d.delivery(change))).reason is None


def test_template_status_reason_key_may_be_absent():
    change = d.template_status_update("1", "order_update", "en_US", "PAUSED")
    del change["value"]["reason"]
    change["value"]["other_info"] = {"title": "FIRST_PAUSE", "description": "low quality"}  # extra: ignored
    event = only(parse_delivery(d.delivery(change)))
    assert (event.event, event.reason, event.template_id) == ("PAUSED", None, "1")


def test_template_category_update():
    change = d.template_category_update(
        "806312974732579", "order_update", "en_US", "MARKETING", previous_category="UTILITY"
    )
    assert parse_delivery(d.delivery(change)) == [
        TemplateCategoryChange(
            template_id="806312974732579",
            name="order_update",
            language="en_US",
            previous_category="UTILITY",
            new_category="MARKETING",
            raw=change["value"],
        )
    ]


def test_template_category_update_accepts_correct_category_and_no_previous():
    change = d.template_category_update("806312974732579", "order_update", "en_US", "UTILITY")
    change["value"]["correct_category"] = change["value"].pop("new_category")
    event = only(parse_delivery(d.delivery(change)))
    assert (event.new_category, event.previous_category) == ("UTILITY", None)


def test_a_template_is_found_by_name_and_language_when_the_id_is_missing():
    change = d.template_status_update("1", "order_update", "en_US", "APPROVED")
    del change["value"]["message_template_id"]
    event = only(parse_delivery(d.delivery(change)))
    assert (event.template_id, event.name, event.language) == ("", "order_update", "en_US")


# --- fields the inbox does not handle --------------------------------------------------------------

IGNORED_ROWS = [
    (
        "account-update",
        d.change("account_update", {"phone_number": "15550783881", "event": "VERIFIED_ACCOUNT"}),
        Ignored("account_update", "the inbox does not handle 'account_update' changes"),
    ),
    (
        "phone-number-quality-update",
        d.change("phone_number_quality_update", {"event": "FLAGGED"}),
        Ignored(
            "phone_number_quality_update", "the inbox does not handle 'phone_number_quality_update' changes"
        ),
    ),
    (
        "messages-change-with-neither",
        d.change("messages", {"messaging_product": "whatsapp", "metadata": {}}),
        Ignored("messages", "a 'messages' change with neither messages nor statuses"),
    ),
    (
        "messages-change-with-only-a-platform-error",
        d.change("messages", {"errors": [d.error(131000, "Something went wrong", details="Try again")]}),
        Ignored(
            "messages",
            "a 'messages' change with neither messages nor statuses; "
            "the platform reports: Something went wrong — Try again",
        ),
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"), [r[1:] for r in IGNORED_ROWS], ids=[r[0] for r in IGNORED_ROWS]
)
def test_changes_the_inbox_does_not_handle_are_ignored_not_errors(change, expected):
    assert parse_delivery(d.delivery(change)) == [expected]


def test_an_ignored_change_does_not_stop_the_others():
    data = d.delivery(
        d.change("account_update", {}),
        d.messages_change(d.text_message(WA_ID, "hi", timestamp=T, wamid="m1")),
    )
    assert [type(e) for e in parse_delivery(data)] == [Ignored, InboundMessage]


# --- malformed deliveries --------------------------------------------------------------------------


def good() -> dict:
    """Entry 0 has a statuses change then a messages change; entry 1 a template change."""
    return d.delivery_entries(
        d.entry(
            d.statuses_change(d.status("s1", "sent", T, recipient_id=WA_ID)),
            d.messages_change(
                d.text_message(WA_ID, "one", timestamp=T, wamid="m1"),
                d.text_message(WA_ID, "two", timestamp=T, wamid="m2"),
                d.text_message(WA_ID, "three", timestamp=T, wamid="m3"),
            ),
        ),
        d.entry(d.template_category_update("1", "order_update", "en_US", "MARKETING")),
    )


def value(data, i=0, j=1):
    return data["entry"][i]["changes"][j]["value"]


def message_2(data):
    return value(data)["messages"][2]


def status_0(data):
    return value(data, 0, 0)["statuses"][0]


def _set(getter, key, new):
    def mutate(data):
        target = getter(data)
        if new is DELETE:
            del target[key]
        else:
            target[key] = new

    return mutate


def _template_without_identity(data):
    template = value(data, 1, 0)
    del template["message_template_id"], template["message_template_language"]


DELETE = object()
TEMPLATE_IDENTITY = (
    "entry[1].changes[0].value: missing 'message_template_id' (or 'message_template_name' and "
    "'message_template_language'): which template is meant?"
)
M2 = "entry[0].changes[1].value.messages[2]"
S0 = "entry[0].changes[0].value.statuses[0]"

MALFORMED_ROWS = [
    # (id, mutate the good delivery, or a replacement, expected message)
    ("not-an-object-list", [], "the delivery is not a JSON object (it is a list)"),
    ("not-an-object-string", "hello", "the delivery is not a JSON object (it is a string)"),
    ("not-an-object-null", None, "the delivery is not a JSON object (it is null)"),
    (
        "object-missing",
        _set(lambda x: x, "object", DELETE),
        "missing 'object' (expected 'whatsapp_business_account')",
    ),
    (
        "object-wrong",
        _set(lambda x: x, "object", "page"),
        "'object' is 'page', not 'whatsapp_business_account'",
    ),
    ("entry-missing", _set(lambda x: x, "entry", DELETE), "missing 'entry'"),
    ("entry-null", _set(lambda x: x, "entry", None), "missing 'entry'"),
    ("entry-not-a-list", _set(lambda x: x, "entry", {"id": "1"}), "'entry' is not a list (it is an object)"),
    (
        "entry-item-not-an-object",
        _set(lambda x: x["entry"], 1, "x"),
        "entry[1]: not an object (it is a string)",
    ),
    ("changes-missing", _set(lambda x: x["entry"][1], "changes", DELETE), "entry[1]: missing 'changes'"),
    (
        "changes-not-a-list",
        _set(lambda x: x["entry"][1], "changes", "x"),
        "entry[1]: 'changes' is not a list (it is a string)",
    ),
    (
        "change-not-an-object",
        _set(lambda x: x["entry"][0]["changes"], 1, 5),
        "entry[0].changes[1]: not an object (it is a number)",
    ),
    (
        "change-field-missing",
        _set(lambda x: x["entry"][0]["changes"][1], "field", DELETE),
        "entry[0].changes[1]: missing 'field'",
    ),
    (
        "change-field-not-a-string",
        _set(lambda x: x["entry"][0]["changes"][1], "field", ["messages"]),
        "entry[0].changes[1]: 'field' is not a string (it is a list)",
    ),
    (
        "change-value-missing",
        _set(lambda x: x["entry"][0]["changes"][1], "value", DELETE),
        "entry[0].changes[1]: missing 'value'",
    ),
    (
        "change-value-not-an-object",
        _set(lambda x: x["entry"][0]["changes"][1], "value", "x"),
        "entry[0].changes[1]: 'value' is not an object (it is a string)",
    ),
    (
        "messages-not-a-list",
        _set(value, "messages", {"id": "m1"}),
        "entry[0].changes[1].value: 'messages' is not a list (it is an object)",
    ),
    (
        "message-not-an-object",
        _set(lambda x: value(x)["messages"], 2, "m3"),
        f"{M2}: not an object (it is a string)",
    ),
    ("message-id-missing", _set(message_2, "id", DELETE), f"{M2}: missing 'id'"),
    ("message-id-empty", _set(message_2, "id", ""), f"{M2}: 'id' is empty"),
    ("message-from-missing", _set(message_2, "from", DELETE), f"{M2}: missing 'from'"),
    (
        "message-from-a-number",
        _set(message_2, "from", 16505551234),
        f"{M2}: 'from' is not a string (it is a number)",
    ),
    ("message-timestamp-missing", _set(message_2, "timestamp", DELETE), f"{M2}: missing 'timestamp'"),
    ("message-timestamp-null", _set(message_2, "timestamp", None), f"{M2}: missing 'timestamp'"),
    (
        "message-timestamp-not-numeric",
        _set(message_2, "timestamp", "yesterday"),
        f"{M2}: 'timestamp' is not a time in Unix seconds: 'yesterday'",
    ),
    (
        "message-timestamp-iso",
        _set(message_2, "timestamp", "2025-06-18T19:46:32Z"),
        f"{M2}: 'timestamp' is not a time in Unix seconds: '2025-06-18T19:46:32Z'",
    ),
    ("message-type-missing", _set(message_2, "type", DELETE), f"{M2}: missing 'type'"),
    (
        "statuses-not-a-list",
        _set(lambda x: value(x, 0, 0), "statuses", "sent"),
        "entry[0].changes[0].value: 'statuses' is not a list (it is a string)",
    ),
    (
        "status-not-an-object",
        _set(lambda x: value(x, 0, 0)["statuses"], 0, None),
        f"{S0}: not an object (it is null)",
    ),
    ("status-id-missing", _set(status_0, "id", DELETE), f"{S0}: missing 'id'"),
    ("status-status-missing", _set(status_0, "status", DELETE), f"{S0}: missing 'status'"),
    ("status-timestamp-missing", _set(status_0, "timestamp", DELETE), f"{S0}: missing 'timestamp'"),
    (
        "status-timestamp-not-numeric",
        _set(status_0, "timestamp", "1750030073.2"),
        f"{S0}: 'timestamp' is not a time in Unix seconds: '1750030073.2'",
    ),
    ("template-change-without-any-identity", _template_without_identity, TEMPLATE_IDENTITY),
    (
        "template-category-missing",
        _set(lambda x: value(x, 1, 0), "new_category", DELETE),
        "entry[1].changes[0].value: missing 'new_category'",
    ),
]


# Only what is not a WhatsApp delivery at all refuses the whole delivery.
REFUSED = {
    "not-an-object-list",
    "not-an-object-string",
    "not-an-object-null",
    "object-missing",
    "object-wrong",
}
REFUSED |= {"entry-missing", "entry-null", "entry-not-a-list"}
# Tolerated now: a number where the platform writes a string of digits is the same phone number.
# A message without `from` is from the change's only contact (contacts[] lists the senders).
TOLERATED = {"message-from-a-number", "message-from-missing"}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [r[1:] for r in MALFORMED_ROWS if r[0] in REFUSED],
    ids=[r[0] for r in MALFORMED_ROWS if r[0] in REFUSED],
)
def test_only_what_is_not_a_whatsapp_delivery_is_refused_whole(mutate, message):
    if callable(mutate):
        data = good()
        mutate(data)
    else:
        data = mutate
    with pytest.raises(MalformedDelivery) as raised:
        parse_delivery(data)
    assert str(raised.value) == message
    assert isinstance(raised.value, ValueError)


KEPT_ROWS = [r for r in MALFORMED_ROWS if r[0] not in REFUSED | TOLERATED]


@pytest.mark.parametrize(("mutate", "message"), [r[1:] for r in KEPT_ROWS], ids=[r[0] for r in KEPT_ROWS])
def test_an_item_that_cannot_be_understood_is_kept_with_where_and_why_and_the_rest_parses(mutate, message):
    data = good()
    mutate(data)
    events = parse_delivery(data)
    kept = [e for e in events if isinstance(e, Kept)]
    assert [(k.kind, k.reason) for k in kept] == [(NOT_UNDERSTOOD, message)]
    assert kept[0].where.startswith(kept[0].reason.split(":")[0])
    # Everything else of the delivery is still there: at most the broken part is missing.
    good_events = parse_delivery(good())
    parsed = [e for e in events if not isinstance(e, Kept)]
    assert all(e in good_events for e in parsed) and len(parsed) >= 1


def test_a_phone_number_sent_as_a_number_is_read_as_digits():
    data = good()
    message_2(data)["from"] = 16505551234
    assert [e.wa_id for e in parse_delivery(data) if isinstance(e, InboundMessage)] == [WA_ID] * 3


def test_a_message_without_from_is_from_the_only_contact_and_kept_when_nobody_names_its_sender():
    data = good()
    del message_2(data)["from"]
    assert [e.wa_id for e in parse_delivery(data) if isinstance(e, InboundMessage)] == [WA_ID] * 3
    value(data)["contacts"].append(d.contact(OTHER_WA_ID, "Someone else"))
    kept = [e for e in parse_delivery(data) if isinstance(e, Kept)]
    assert [(k.where, k.reason) for k in kept] == [
        (M2, f"{M2}: names no sender: neither 'from' (a phone number) nor 'from_user_id'")
    ]


def test_the_good_delivery_of_the_malformed_table_parses():
    assert [type(e).__name__ for e in parse_delivery(good())] == [
        "StatusUpdate",
        "InboundMessage",
        "InboundMessage",
        "InboundMessage",
        "TemplateCategoryChange",
    ]


def test_template_status_without_event_is_kept_not_refused():
    change = d.template_status_update("1", "order_update", "en_US", "APPROVED")
    del change["value"]["event"]
    kept = only(parse_delivery(d.delivery(change)))
    assert isinstance(kept, Kept)
    assert kept.reason == "entry[0].changes[0].value: missing 'event'"


# --- unknown keys ----------------------------------------------------------------------------------


def with_extra_keys(data: dict) -> dict:
    """The same delivery with an unknown key added to every object in it."""
    data = copy.deepcopy(data)

    def add(node):
        if isinstance(node, dict):
            for child in list(node.values()):
                add(child)
            node["x_future_key"] = {"nested": [1, "two"]}
        elif isinstance(node, list):
            for child in node:
                add(child)

    add(data)
    return data


def test_unknown_extra_keys_anywhere_are_ignored():
    data = good()
    data["entry"][0]["changes"].append(
        d.statuses_change(d.status("s2", "failed", T, recipient_id=WA_ID, errors=[NO_ENTRY]))
    )
    data["entry"][1]["changes"].append(d.template_status_update("1", "order_update", "en_US", "APPROVED"))
    plain = parse_delivery(data)
    extra = parse_delivery(with_extra_keys(data))
    assert [(type(e), e.__dict__ | {"raw": None}) for e in extra] == [
        (type(e), e.__dict__ | {"raw": None}) for e in plain
    ]
    assert all("x_future_key" in e.raw for e in extra)  # raw keeps everything, for the record


def test_parsing_does_not_change_the_delivery():
    data = with_extra_keys(good())
    before = copy.deepcopy(data)
    parse_delivery(data)
    assert data == before


def test_events_are_frozen():
    event = parse_one(d.text_message(WA_ID, "hi", timestamp=T))
    with pytest.raises(AttributeError):
        event.body = "changed"


# --- purity ----------------------------------------------------------------------------------------

REPO_ROOT = Path(__file__).resolve().parents[2]
PURE = {
    "whatsapp.payloads": REPO_ROOT / "whatsapp" / "payloads.py",
    "whatsapp.signature": REPO_ROOT / "whatsapp" / "signature.py",
    "whatsapp": REPO_ROOT / "whatsapp" / "__init__.py",
}
# Nothing that reads the clock or does I/O (time, os, socket, logging…) is on this list.
ALLOWED_IMPORTS = {
    "__future__",
    "collections.abc",
    "dataclasses",
    "datetime",
    "hashlib",
    "hmac",
    "json",
    "re",
}
CLOCK_READS = {"now", "utcnow", "today", "time", "monotonic"}


# That they import no Django, directly or through another module, is an import-linter contract
# (pyproject.toml; tests/conversations/test_policy_purity.py runs it).


@pytest.mark.parametrize("path", list(PURE.values()), ids=list(PURE))
def test_pure_modules_import_only_side_effect_free_standard_library(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
    assert imported <= ALLOWED_IMPORTS
    called = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert not called & CLOCK_READS


def test_importing_the_pure_modules_loads_no_django():
    code = (
        "import json, sys; import whatsapp.payloads, whatsapp.signature; "
        "print(json.dumps(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
