"""Our own corpus of real-shaped webhook deliveries (tests/whatsapp/webhook_corpus/, see its README),
each posted through the signed webhook exactly as the platform posts it (compact JSON, non-ASCII, NUL and
lone surrogates as \\u escapes, signed over those bytes).

1. Every delivery is accepted (200) and processed (never failed, dead or rejected), and a replay of the
   same body changes nothing: the platform's duplicates are certain (whatsapp-cloud-api.md).
2. EXPECTED says, file by file, what the inbox makes of it, citing the rules (rules.md R1, R5, R6, R9).
   Some files need a past first (our outbound message with the status's wamid, a template, a customer
   who wrote before): `prepare` builds it through the public services, never around them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.test import Client

from conversations import selectors, services
from conversations.models import Conversation, ConversationDiscrepancy, Customer, Message, PreviousIdentifier
from templates_app.models import MessageTemplate, TemplateEvent
from tests import factories
from tests.whatsapp import deliveries as d
from whatsapp.models import KeptItem, WebhookDelivery

pytestmark = pytest.mark.django_db

URL = "/webhooks/whatsapp/"
CORPUS = Path(__file__).resolve().parent / "webhook_corpus"
FILES = sorted(path.name for path in CORPUS.glob("*.json"))

# Everything a delivery may write. A replay must leave every row of these exactly as it was.
STATE = (
    Customer,
    Message,
    Conversation,
    ConversationDiscrepancy,
    PreviousIdentifier,
    MessageTemplate,
    TemplateEvent,
)

DAY = timedelta(hours=24)


# --- posting a delivery ----------------------------------------------------------------------------


def load(name: str) -> dict:
    return json.loads((CORPUS / name).read_text(encoding="utf-8"))


def post(client, data: dict) -> tuple[int, WebhookDelivery | None]:
    """Post one delivery as the platform does; the status code and the delivery row it stored."""
    body, signature = d.signed(data, settings.WHATSAPP_APP_SECRET)
    before = set(WebhookDelivery.objects.values_list("pk", flat=True))
    response = client.post(
        URL, data=body, content_type="application/json", headers={"X-Hub-Signature-256": signature}
    )
    return response.status_code, WebhookDelivery.objects.exclude(pk__in=before).first()


def state() -> dict[str, list[dict]]:
    """Every row the inbox keeps about customers, messages, conversations and templates."""
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in STATE}


def kept(delivery: WebhookDelivery) -> set[tuple[str, str, str, str]]:
    return set(delivery.kept_items.values_list("where", "kind", "field", "reason"))


def latest_timestamp(data: object) -> int | None:
    """The latest Unix `timestamp` (or entry `time`) anywhere in a delivery."""
    found = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ("timestamp", "time") and str(item).isdigit():
                    found.append(int(item))
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(data)
    return max(found) if found else None


def received_at(data: dict) -> datetime:
    """When we receive it: two minutes after the latest thing in it happened (a little late, as usual)."""
    return datetime.fromtimestamp(latest_timestamp(data) or 1_789_376_400, tz=UTC) + timedelta(minutes=2)


def post_processed(client, data: dict) -> WebhookDelivery:
    status, delivery = post(client, data)
    assert status == 200, f"the webhook answered {status}"
    assert delivery is not None, "the webhook stored nothing"
    assert delivery.status == WebhookDelivery.Status.PROCESSED, (delivery.status, delivery.error)
    return delivery


def post_and_replay(client, data: dict) -> WebhookDelivery:
    """Post a delivery, check it was processed, post the same bytes again and check that the replay
    added its own delivery row (with its own copy of what it keeps apart) and changed nothing else."""
    first = post_processed(client, data)
    before = state()
    second = post_processed(client, data)
    assert state() == before, "a replay of the same delivery changed what the inbox keeps"
    assert (kept(second), second.summary) == (kept(first), first.summary)
    return first


# --- reading our files -----------------------------------------------------------------------------


def value_of(data: dict, change: int = 0) -> dict:
    return data["entry"][0]["changes"][change]["value"]


def raw_message(data: dict) -> dict:
    return value_of(data)["messages"][0]


def raw_status(data: dict) -> dict:
    return value_of(data)["statuses"][0]


def moment(unix: str | int) -> datetime:
    return datetime.fromtimestamp(int(unix), tz=UTC)


# --- the past some files need (through the public services) ----------------------------------------


def customer_wrote(at: datetime, wamid: str, **who) -> Customer:
    """The customer wrote to us at `at` (R1: their window opens then)."""
    with time_machine.travel(at + timedelta(seconds=30), tick=False):
        message = services.receive_message(body="Hello", wamid=wamid, timestamp=at, **who)
    return Customer.objects.get(pk=message.customer_id)


def we_sent(customer: Customer, at: datetime, wamid: str, *, category: str | None = None) -> Message:
    """We sent `customer` a text (category None: needs their window, R2) or a template of `category`
    at `at`, and the platform accepted it as `wamid` (what its status webhooks name)."""
    with time_machine.travel(at, tick=False):
        if category is None:
            message = services.send_text(customer=customer, body="Here is what you asked for")
        else:
            template = factories.template(category=category)
            message = services.send_template(customer=customer, template=template, params=["Ana"])
    # What the send task does (its on-commit hand-off never runs inside a test's transaction): claims it.
    Message.objects.filter(pk=message.pk).update(status=Message.Status.SENDING)
    return services.record_accepted(message=message, wamid=wamid, now=at + timedelta(seconds=1))


def ours_for(category: str | None, before: timedelta = timedelta(seconds=2), **customer_fields):
    """prepare(): our message that the file's first status is about, sent `before` its timestamp."""

    def prepare(data: dict) -> Message:
        status = raw_status(data)
        sent_at = moment(status["timestamp"]) - before
        customer = factories.customer(**customer_fields)
        if category is None:  # free-form needs the customer's window (R2): they wrote an hour earlier
            customer = customer_wrote(
                sent_at - timedelta(hours=1), f"wamid.IN-{customer.pk}", wa_id=customer.wa_id
            )
        return we_sent(customer, sent_at, status["id"], category=category)

    return prepare


# --- outcomes ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """What a check gets: the file, the delivery row it became, and what prepare() returned."""

    data: dict
    delivery: WebhookDelivery
    prepared: object


MEDIA = object()  # details == {"media": <the media object as received>}
LOCATION = object()  # details == {"location": <the location object as received>}


def who(**fields) -> dict:
    return fields


@dataclass(frozen=True)
class Inbound:
    """One customer message stored as an inbound Message of `wa_type` with `body`; its customer has
    `customer`'s fields. R1: the window runs 24 h from the message's own timestamp, not from when we
    received it (E11). R5: it opens no conversation. `context`: the message names the one it replies or
    reacts to. `referral` (R6): the customer is free-entry-point eligible for 24 h."""

    wa_type: str
    body: str | Callable[[str], bool]
    customer: dict
    details: object = None
    context: bool = False
    referral: bool = False
    prepare: Callable[[dict], object] | None = None
    platform_notice: str = ""  # value-level `errors` beside the message: kept apart with their words

    def check(self, seen: Seen) -> None:
        raw = raw_message(seen.data)
        sent_at = moment(raw["timestamp"])
        message = Message.objects.get(wamid=raw["id"])
        assert (message.direction, message.kind, message.status, message.wa_type) == (
            "inbound",
            "free_form",
            "received",
            self.wa_type,
        )
        assert self.body(message.body) if callable(self.body) else message.body == self.body
        assert message.occurred_at == message.platform_timestamp == sent_at
        if self.details is MEDIA:
            assert message.details == {"media": raw[raw["type"]]}
        elif self.details is LOCATION:
            assert message.details == {"location": raw["location"]}
        else:
            assert message.details == self.details
        replied_to = raw.get("reaction", {}).get("message_id") or raw.get("context", {}).get("id", "")
        assert message.context_wamid == (replied_to if self.context else "")
        customer = message.customer
        assert {name: getattr(customer, name) for name in self.customer} == self.customer
        assert Customer.objects.count() == 1  # one customer, whichever identifiers the message carries
        window = selectors.service_window(customer, now=sent_at + DAY - timedelta(seconds=1))  # R1
        assert customer.last_inbound_at == sent_at
        assert window.is_open and window.closes_at == sent_at + DAY
        assert not selectors.service_window(customer, now=sent_at + DAY).is_open
        assert not Conversation.objects.exists()  # R5
        fep = selectors.fep_eligibility(customer, now=sent_at + timedelta(hours=1))
        if self.referral:  # R6
            assert message.referral == raw["referral"]
            assert customer.fep_referral_at == sent_at and fep.is_eligible
        else:
            assert message.referral is None and customer.fep_referral_at is None and not fep.is_eligible
        if not self.platform_notice:
            assert seen.delivery.summary == {"messages": 1} and not seen.delivery.kept_items.exists()
            return
        assert seen.delivery.summary == {"messages": 1, "kept": 1}
        notice = seen.delivery.kept_items.get()
        assert (notice.kind, notice.where) == (KeptItem.Kind.KEPT_APART, "entry[0].changes[0].value.errors")
        assert self.platform_notice in notice.reason


@dataclass(frozen=True)
class KeptApart:
    """Nothing imported (no customer, no message): one KeptItem `kind` for `field`, the reason saying
    why (`reason` is a part of it), counted under `counted` in the delivery's summary."""

    field: str
    reason: str
    counted: str = "ignored"
    kind: str = KeptItem.Kind.KEPT_APART
    where: str = "entry[0].changes[0].value"
    prepare: Callable[[dict], object] | None = None

    def check(self, seen: Seen) -> None:
        item = seen.delivery.kept_items.get()
        assert (item.kind, item.field, item.where) == (self.kind, self.field, self.where)
        assert self.reason in item.reason
        assert item.data is not None  # the item as received, for an admin
        assert seen.delivery.summary == {self.counted: 1}
        assert not Message.objects.exists() and not Customer.objects.exists()


@dataclass(frozen=True)
class StatusApplied:
    """The platform's status on our message: it moves forward to `status`; the pricing parts (model,
    category, type, billable) are recorded per message (R9: the platform's word on what it charged).
    `conversation`: "kept" (ours untouched, no platform id: under per-message pricing the platform's
    conversation, if any, is no 24 h bucket), "reconciled" (its id, and expiry when given, adopted), or
    "voided" (R9: a failed message's conversation never happened). `discrepancies`: the records kept."""

    prepare: Callable[[dict], Message]
    status: str
    pricing: tuple[str, str, str, bool | None] = ("", "", "", None)
    conversation: str = "kept"
    discrepancies: tuple[tuple[str, bool], ...] = ()
    also: Callable[[Seen, Message], None] | None = None

    def check(self, seen: Seen) -> None:
        raw = raw_status(seen.data)
        message = Message.objects.select_related("conversation", "customer").get(pk=seen.prepared.pk)
        assert (message.wamid, message.status) == (raw["id"], self.status)
        stamp = {"sent": "sent_at", "delivered": "delivered_at", "read": "read_at"}.get(raw["status"])
        if stamp:
            assert getattr(message, stamp) == moment(raw["timestamp"])
        parts = (message.pricing_model, message.pricing_category, message.pricing_type, message.billable)
        assert parts == self.pricing
        assert message.pricing == raw.get("pricing")
        conversation = message.conversation
        duration = timedelta(hours=72) if conversation.category == "free_entry_point" else DAY
        if self.conversation == "reconciled":
            platform = raw["conversation"]
            assert conversation.platform_id == platform["id"]
            expected = platform.get("expiration_timestamp")
            assert conversation.expires_at == (
                moment(expected) if expected else conversation.opened_at + duration
            )
        else:
            assert conversation.platform_id == ""
        if self.conversation == "kept":
            assert (
                conversation.status == "open" and conversation.expires_at == conversation.opened_at + duration
            )
        if self.conversation == "voided":
            assert conversation.status == "voided"
            assert not selectors.open_conversations(message.customer, now=conversation.opened_at).exists()
        found = list(ConversationDiscrepancy.objects.order_by("pk").values_list("field", "adopted"))
        assert found == list(self.discrepancies)
        assert Customer.objects.count() == 1
        assert seen.delivery.summary == {"statuses": 1} and not seen.delivery.kept_items.exists()
        if self.also is not None:
            self.also(seen, message)


@dataclass(frozen=True)
class IdentityChanged:
    """The platform says the customer changed phone number or BSUID: the same customer (never a second
    one, never a lost thread) is now known by `customer`'s identifiers, the old ones kept as previous,
    with one system line in the thread. R1: a platform notice opens no window; the customer's stays
    what their last message made it."""

    prepare: Callable[[dict], Customer]
    customer: dict
    previous: set[tuple[str, str]]
    line: str
    event: str

    def check(self, seen: Seen) -> None:
        before = seen.prepared
        customer = Customer.objects.get()
        assert customer.pk == before.pk
        assert {name: getattr(customer, name) for name in self.customer} == self.customer
        assert set(PreviousIdentifier.objects.values_list("kind", "value")) == self.previous
        line = customer.messages.get(wa_type="system")
        assert self.line in line.body and line.details["event"] == self.event
        assert line.details["platform_text"] == _system_text(seen.data)
        assert customer.last_inbound_at == before.last_inbound_at  # R1
        notice_at = line.occurred_at
        assert selectors.service_window(customer, now=notice_at).closes_at == before.last_inbound_at + DAY
        assert customer.identity_changed_at == notice_at
        assert seen.delivery.summary == {"identity_changes": 1} and not seen.delivery.kept_items.exists()


def _system_text(data: dict) -> str:
    value = value_of(data)
    if "user_id_update" in value:
        return value["user_id_update"][0]["detail"]
    return raw_message(data)["system"]["body"]


@dataclass(frozen=True)
class TemplateChanged:
    """A template webhook applied to the template we hold (`template`: its fields before): it ends up
    with `after`'s fields, and its history records `events` (kind, old, new)."""

    template: dict
    after: dict
    events: list[tuple[str, str, str]]
    counted: str

    def prepare(self, data: dict) -> MessageTemplate:
        fields = dict(self.template)
        return factories.template(fields.pop("category"), fields.pop("status"), **fields)

    def check(self, seen: Seen) -> None:
        template = MessageTemplate.objects.get(pk=seen.prepared.pk)
        assert {name: getattr(template, name) for name in self.after} == self.after
        assert list(template.events.order_by("pk").values_list("kind", "old", "new")) == self.events
        assert seen.delivery.summary == {self.counted: 1} and not seen.delivery.kept_items.exists()


@dataclass(frozen=True)
class Checked:
    """Anything else: a check function (and what it needs prepared)."""

    check: Callable[[Seen], None]
    prepare: Callable[[dict], object] | None = None


# --- identifiers of our corpus (see the README) ----------------------------------------------------------

ANA = "15550101234"
BEN, BEN_ID = "15550101877", "US.71234500000000000011"
MARISOL_ID = "US.71234500000000000001"
HOLLIS_ID, HOLLIS_PARENT = "GB.71234500000000000002", "GB.ENT.71234500000000009002"
CARLA, CARLA_ID = "15550102345", "US.71234500000000000003"
DEV, DEV_ID, DEV_PARENT = "15550103456", "US.71234500000000000004", "US.ENT.71234500000000009004"
ELIF_ID = "US.71234500000000000005"
FARID, FARID_ID = "15550104567", "US.71234500000000000006"
GRETA = "15550105678"
HUGO, HUGO_ID = "15550106789", "US.71234500000000000008"
IDA, IDA_NEW = "15550107890", "15550107891"
JONAS, JONAS_NEW = "15550108901", "15550108902"
JONAS_ID, JONAS_NEW_ID = "US.71234500000000000010", "US.71234500000000000110"
JONAS_PARENT, JONAS_NEW_PARENT = "US.ENT.71234500000000009010", "US.ENT.71234500000000009110"
KAI_ID, KAI_NEW_ID = "US.71234500000000000012", "US.71234500000000000112"
KAI_PARENT, KAI_NEW_PARENT = "US.ENT.71234500000000009012", "US.ENT.71234500000000009112"
LEA_ID, LEA_NEW_ID = "DE.71234500000000000013", "DE.71234500000000000113"
LEA_PARENT = "DE.ENT.71234500000000009013"
MILO, MILO_ID, MILO_NEW_ID = "15550109012", "US.71234500000000000014", "US.71234500000000000114"
MILO_PARENT, MILO_NEW_PARENT = "US.ENT.71234500000000009014", "US.ENT.71234500000000009114"
NINA, NINA_NEW = "15550110123", "15550110124"
OMAR, OMAR_ID = "15550111234", "US.71234500000000000016"
PIA, PIA_ID = "15550112345", "US.71234500000000000017"
QUINN_ID, QUINN_PARENT = "US.71234500000000000018", "US.ENT.71234500000000009018"
RUI, RUI_ID = "15550113456", "US.71234500000000000019"
SOFIA, SOFIA_ID = "15550114567", "US.71234500000000000020"
TOM = "15550115678"
UMA, UMA_ID = "15550116789", "US.71234500000000000022"
WES, WES_ID = "15550118901", "US.71234500000000000024"
XENA, XENA_ID = "15550119012", "US.71234500000000000025"
YUSUF, YUSUF_ID = "15550119123", "US.71234500000000000026"
ZOE, ZOE_ID = "15550119234", "US.71234500000000000027"
FELIX_ID, GIL_ID, HANA_ID = "US.71234500000000000203", "US.71234500000000000204", "US.71234500000000000205"
IVAN, IVAN_ID = "15550120006", "US.71234500000000000206"
KARL, KARL_ID = "15550120008", "US.71234500000000000208"
OLGA, OLGA_ID = "15550120011", "US.71234500000000000211"

UNSUPPORTED_DETAILS = "(Message type unknown — Message type is currently not supported.)"


# --- checks that need more than one shape ----------------------------------------------------------------


def before_the_change(**who) -> Callable[[dict], Customer]:
    """prepare(): the customer wrote to us an hour before the identity-change notice."""

    def prepare(data: dict) -> Customer:
        value = value_of(data)
        notice_at = moment(
            value["user_id_update"][0]["timestamp"]
            if "user_id_update" in value
            else raw_message(data)["timestamp"]
        )
        return customer_wrote(notice_at - timedelta(hours=1), "wamid.BEFORE-THE-CHANGE", **who)

    return prepare


def known_by_bsuid_first(data: dict) -> Customer:
    """Ben wrote from an account we knew only by its BSUID."""
    return customer_wrote(
        moment(raw_message(data)["timestamp"]) - timedelta(hours=2), "wamid.BEN-1", user_id=BEN_ID
    )


def linked_into_the_first_customer(seen: Seen) -> None:
    """A message with both identifiers: the phone number and the BSUID are one customer, the one we knew
    by the BSUID, now known by both (rules.md, "Customer"), one thread and one window (R1)."""
    raw = raw_message(seen.data)
    customer = Customer.objects.get()
    assert customer.pk == seen.prepared.pk
    assert (customer.wa_id, customer.user_id, customer.name, customer.country) == (
        BEN,
        BEN_ID,
        "Ben Okafor",
        "US",
    )
    assert list(customer.messages.values_list("wamid", flat=True)) == ["wamid.BEN-1", raw["id"]]
    assert customer.last_inbound_at == moment(raw["timestamp"])
    assert seen.delivery.summary == {"messages": 1}


def cleaned_of_nul_and_lone_surrogates(seen: Seen) -> None:
    """NUL and lone surrogates (which no database keeps) become U+FFFD: the message is stored, not lost."""
    raw = raw_message(seen.data)
    message = Message.objects.get(wamid=raw["id"])
    assert message.body == "Parcel 4471\ufffd arrived broken \ufffd please help"
    assert message.customer.name == "Jo\ufffdrge \ufffdM."
    assert message.referral["headline"] == "Spring\ufffd sale \ufffd"
    assert message.referral["source_id"] == "120231000000000099"
    assert message.customer.fep_referral_at == moment(raw["timestamp"])  # R6 all the same
    assert b"\\u0000" in bytes(seen.delivery.body) and b"\\ud800" in bytes(seen.delivery.body)  # kept as sent


def two_messages_one_customer(seen: Seen) -> None:
    first, second = (value_of(seen.data, change)["messages"][0] for change in (0, 1))
    customer = Customer.objects.get()
    assert list(customer.messages.values_list("body", flat=True)) == [
        "First question: do you gift wrap?",
        "Second: can I pay on delivery?",
    ]
    assert customer.last_inbound_at == moment(second["timestamp"]) > moment(first["timestamp"])  # R1
    assert seen.delivery.summary == {"messages": 2}


def mixed_batch(seen: Seen) -> None:
    """One malformed message, one group message, two good ones from two customers: the good ones are
    applied, the others kept with the reason and where they were."""
    assert sorted(Message.objects.values_list("customer__wa_id", "body")) == [
        (ANA, "Sorry, sent twice: where is my parcel?"),
        (BEN, "And mine?"),
    ]
    assert Customer.objects.count() == 2 and not Customer.objects.filter(wa_id=TOM).exists()
    items = {item.kind: item for item in seen.delivery.kept_items.all()}
    assert set(items) == {"not_understood", "kept_apart"}
    malformed = items["not_understood"]
    assert malformed.where == "entry[0].changes[0].value.messages[0]"
    assert malformed.reason == "entry[0].changes[0].value.messages[0]: missing 'id'"
    assert malformed.data["text"] == {"body": "This one lost its id on the way"}
    group = items["kept_apart"]
    assert group.where == "entry[0].changes[0].value.messages[1]" and "WhatsApp group" in group.reason
    assert seen.delivery.summary == {"messages": 2, "kept": 2}


def group_message_kept_apart(seen: Seen) -> None:
    """A group's message is not a 1:1 message: no customer, no message, no window."""
    KeptApart(
        "messages",
        "group conversations are kept apart from one-to-one threads and open no customer service window",
        counted="kept",
        where="entry[0].changes[0].value.messages[0]",
    ).check(seen)
    assert raw_message(seen.data)["group_id"] in seen.delivery.kept_items.get().reason


def status_of_a_message_we_never_sent(seen: Seen) -> None:
    raw = raw_status(seen.data)
    item = seen.delivery.kept_items.get()
    assert (item.kind, item.field) == ("unknown_message", "messages")
    assert raw["id"] in item.reason and repr(raw["status"]) in item.reason
    assert not Message.objects.exists() and not Customer.objects.exists()
    assert seen.delivery.summary == {"statuses_unknown_message": 1}


def customer_by_bsuid(data: dict) -> Message:
    """Marisol (no phone number) wrote; we sent her a marketing template, addressed by her BSUID."""
    status = raw_status(data)
    sent_at = moment(status["timestamp"]) - timedelta(seconds=4)
    customer = customer_wrote(
        sent_at - timedelta(minutes=10), "wamid.MARISOL-1", user_id=MARISOL_ID, username="@marisol.k"
    )
    return we_sent(customer, sent_at, status["id"], category="MARKETING")


def came_from_an_ad(data: dict) -> Message:
    """Hana came from a click-to-WhatsApp ad an hour earlier (R6); our reply opened a free-entry point."""
    status = raw_status(data)
    sent_at = moment(status["timestamp"]) - timedelta(seconds=2)
    with time_machine.travel(sent_at - timedelta(minutes=59), tick=False):
        services.receive_message(
            wa_id="15550120005",
            body="Saw your ad",
            wamid="wamid.HANA-1",
            timestamp=sent_at - timedelta(hours=1),
            referral={"source_type": "ad", "source_id": "120231000000000041"},
        )
    message = we_sent(Customer.objects.get(), sent_at, status["id"])
    assert message.conversation.category == "free_entry_point"
    return message


def window_closed_by_the_platform(seen: Seen, message: Message) -> None:
    """131047: the platform says the window is closed, so it is, from the failure on (R1, R9)."""
    failed_at = moment(raw_status(seen.data)["timestamp"])
    customer = message.customer
    assert (message.error_code, customer.platform_window_closed_at) == (131047, failed_at)
    assert not selectors.service_window(customer, now=failed_at + timedelta(minutes=1)).is_open
    assert customer.user_id == KARL_ID  # the status's contacts[] and recipient_user_id link the BSUID


def failed_with(code: int, quoting: str) -> Callable[[Seen, Message], None]:
    def check(seen: Seen, message: Message) -> None:
        assert message.error_code == code and quoting in message.error_text
        assert message.failed_at == moment(raw_status(seen.data)["timestamp"])

    return check


def learned(**fields) -> Callable[[Seen, Message], None]:
    def check(seen: Seen, message: Message) -> None:
        customer = Customer.objects.get(pk=message.customer_id)
        assert {name: getattr(customer, name) for name in fields} == fields

    return check


def olga(data: dict) -> Customer:
    return factories.customer(wa_id=OLGA, name="Olga")


def marketing_stopped(seen: Seen) -> None:
    customer = Customer.objects.get(pk=seen.prepared.pk)
    stopped_at = moment(value_of(seen.data)["user_preferences"][0]["timestamp"])
    assert (customer.marketing_stopped_at, customer.user_id) == (stopped_at, OLGA_ID)
    marketing = factories.template(category="MARKETING")
    assert "stopped marketing messages" in selectors.template_refusal(customer, marketing, now=stopped_at)
    assert seen.delivery.summary == {"marketing_preferences": 1} and not seen.delivery.kept_items.exists()


def olga_who_had_stopped(data: dict) -> Customer:
    """Olga stopped marketing messages the day before (the stop delivery, through the webhook)."""
    customer = olga(data)
    stop = load("user-preferences-stop.json")
    with time_machine.travel(received_at(stop), tick=False):
        post_processed(Client(), stop)
    customer.refresh_from_db()
    assert customer.marketing_stopped_at is not None
    return customer


def marketing_resumed(seen: Seen) -> None:
    customer = Customer.objects.get(pk=seen.prepared.pk)
    assert customer.marketing_stopped_at is None
    assert (
        selectors.template_refusal(
            customer, factories.template(category="MARKETING"), now=received_at(seen.data)
        )
        is None
    )


def preference_not_tracked(seen: Seen) -> None:
    item = seen.delivery.kept_items.get()
    assert (item.kind, item.field, item.where) == (
        "kept_apart",
        "user_preferences",
        "entry[0].changes[0].value.user_preferences[0]",
    )
    assert item.reason == "a preference the inbox does not track: marketing_messages = signup"
    assert Customer.objects.get().marketing_stopped_at is None
    assert seen.delivery.summary == {"kept": 1}


def identity_notice_is_a_line(seen: Seen) -> None:
    """customer_identity_changed (a security code change) changes no identifier: a line in the thread
    that opens no window (R1)."""
    raw = raw_message(seen.data)
    notice = Message.objects.get(wamid=raw["id"])
    assert (notice.wa_type, notice.body) == ("system", "Hugo's security code changed")
    assert notice.customer.pk == seen.prepared.pk and Customer.objects.count() == 1
    assert notice.customer.last_inbound_at == seen.prepared.last_inbound_at
    assert not PreviousIdentifier.objects.exists()


# --- the table -----------------------------------------------------------------------------------------

EXPECTED: dict[str, object] = {
    # Customers' messages: R1 (window from the message's own timestamp), R5 (no conversation).
    "text-phone-only-classic.json": Inbound(
        "text",
        "Hi! Is the blue jacket still in stock in size M?",
        who(wa_id=ANA, user_id=None, name="Ana Lima", country="US", phone_e164="+15550101234"),
    ),
    "text-username-only.json": Inbound(
        "text",
        "Hello, can I change my delivery address?",
        who(
            wa_id=None,
            user_id=MARISOL_ID,
            username="@marisol.k",
            name="Marisol K.",
            country="US",
            phone_e164="",
            handle="@marisol.k",
        ),
    ),
    "text-username-only-parent-ids.json": Inbound(
        "text",
        "Do you ship to Manchester?",
        who(wa_id=None, user_id=HOLLIS_ID, parent_user_id=HOLLIS_PARENT, username="@hollis", country="GB"),
    ),
    "text-from-and-from-user-id.json": Checked(linked_into_the_first_customer, prepare=known_by_bsuid_first),
    "text-empty-from.json": Inbound(
        "text", "Is anyone there?", who(wa_id=None, user_id=ELIF_ID, username="@elif_d", name="Elif")
    ),
    "text-contact-without-profile.json": Inbound(
        "text", "482913 is my order number", who(wa_id=GRETA, name="", username="")
    ),
    "text-integer-timestamp-forwarded.json": Inbound(
        "text", "Forwarding what my sister sent me about your sale", who(name="Nina Park")
    ),
    "text-click-to-whatsapp-ad.json": Inbound(  # R6
        "text",
        "The camel one, do you have it in L?",
        who(wa_id=CARLA, user_id=CARLA_ID, name="Carla Ruiz"),
        referral=True,
    ),
    "text-referral-video-ad.json": Inbound(  # R6
        "text", "Are the boots true to size?", who(wa_id=TOM, name="Tom Becker"), referral=True
    ),
    "text-reply-with-context.json": Inbound(
        "text", "Yes, the second option please", who(wa_id=ANA), context=True
    ),
    "text-frequently-forwarded.json": Inbound(
        "text", "Is this giveaway real??", who(wa_id=RUI, user_id=RUI_ID)
    ),
    "text-referred-product.json": Inbound(
        "text", "Is this one available in green?", who(wa_id=SOFIA, user_id=SOFIA_ID), context=True
    ),
    "text-nul-and-lone-surrogates.json": Checked(cleaned_of_nul_and_lone_surrogates),
    "text-profile-name-300-characters.json": Inbound(
        "text",
        "Hi, quick question",
        who(name=("Maximiliana Alexandra Konstantinopoulou-Vanderbilt " * 6)[:256], user_id=UMA_ID),
    ),
    "text-two-changes-one-entry.json": Checked(two_messages_one_customer),
    "image-caption.json": Inbound(
        "image", "[Image] The scratch on the lid", who(wa_id=BEN, user_id=BEN_ID), details=MEDIA
    ),
    "image-with-url.json": Inbound("image", "[Image]", who(wa_id=BEN, user_id=BEN_ID), details=MEDIA),
    "video-forwarded.json": Inbound(
        "video", "[Video] How it rattles", who(wa_id=FARID, user_id=FARID_ID), details=MEDIA
    ),
    "audio-file.json": Inbound("audio", "[Audio]", who(wa_id=FARID), details=MEDIA),
    "audio-voice.json": Inbound("audio", "[Voice message]", who(wa_id=FARID), details=MEDIA),
    "document-filename-caption.json": Inbound(
        "document", "[Document] invoice-2026-0917.pdf — My invoice", who(wa_id=GRETA), details=MEDIA
    ),
    "sticker-static.json": Inbound("sticker", "[Sticker]", who(wa_id=HUGO, user_id=HUGO_ID), details=MEDIA),
    "sticker-animated.json": Inbound("sticker", "[Sticker]", who(wa_id=HUGO), details=MEDIA),
    "location-chosen-place.json": Inbound(
        "location",
        "[Location] Flatiron Pickup Point, 175 5th Ave, New York, NY 10010 (40.7411231, -73.9897427)",
        who(wa_id=PIA, user_id=PIA_ID),
        details=LOCATION,
    ),
    "location-current.json": Inbound(
        "location", "[Location] (40.7306, -73.9866)", who(wa_id=PIA), details=LOCATION
    ),
    "contacts-card.json": Inbound(
        "contacts",
        "[Contact] Lena Ortiz, +1 555-0119-345",
        who(wa_id=OMAR, user_id=OMAR_ID),
        details={
            "contacts": [
                {"name": "Lena Ortiz", "phones": ["+1 555-0119-345"], "emails": ["lena.ortiz@example.com"]}
            ]
        },
    ),
    "contacts-several-cards.json": Inbound(
        "contacts",
        "[Contact] Ivo Brandt, +1 555-0119-456; Mae, +1 555-0119-567",
        who(wa_id=OMAR),
        details={
            "contacts": [
                {"name": "Ivo Brandt", "phones": ["+1 555-0119-456"], "emails": []},
                {"name": "Mae", "phones": ["+1 555-0119-567"], "emails": []},
            ]
        },
    ),
    "contacts-request-username-only.json": Inbound(  # no `from` at all: the contacts[] item names her
        "contacts",
        lambda body: body.startswith("[Contact]") and "15550119678" in body,
        who(wa_id=None, user_id=QUINN_ID, parent_user_id=QUINN_PARENT, username="@quinn.rides"),
        details={"contacts": [{"name": "", "phones": ["15550119678"], "emails": []}]},
    ),
    "button-template-quick-reply.json": Inbound("button", "Confirm delivery", who(wa_id=ANA), context=True),
    "button-quick-reply-without-context.json": Inbound(
        "button", "Stop promotions", who(wa_id=DEV, user_id=DEV_ID, parent_user_id=DEV_PARENT)
    ),
    "interactive-button-reply.json": Inbound(
        "interactive",
        "Reschedule",
        who(wa_id=ANA),
        details={"button_reply": {"id": "reschedule", "title": "Reschedule"}},
        context=True,
    ),
    "interactive-list-reply.json": Inbound(
        "interactive",
        "Thursday morning — 8:00 to 12:00",
        who(wa_id=ANA),
        details={
            "list_reply": {"id": "slot_thu_am", "title": "Thursday morning", "description": "8:00 to 12:00"}
        },
        context=True,
    ),
    "interactive-nfm-reply-flow.json": Inbound(  # a Flow's answers, as a JSON string: details.form
        "interactive",
        "[Form reply] Return reason: Damaged; Order number: OR-88213; Wants refund: yes; "
        "Contact times: Morning, Evening",
        who(wa_id=DEV),
        details={
            "form": {
                "name": "flow",
                "answers": {
                    "return_reason": "1_Damaged",
                    "order_number": "OR-88213",
                    "wants_refund": True,
                    "contact_times": ["0_Morning", "2_Evening"],
                },
                "shown": [
                    ["Return reason", "Damaged"],
                    ["Order number", "OR-88213"],
                    ["Wants refund", "yes"],
                    ["Contact times", "Morning, Evening"],
                ],
            }
        },
        context=True,
    ),
    "interactive-nfm-reply-screen-keys.json": Inbound(
        "interactive",
        "[Form reply] Email: dev@example.com; Rating: Good",
        who(wa_id=DEV),
        details={
            "form": {
                "name": "flow",
                "answers": {"screen_0_Email_0": "dev@example.com", "screen_0_Rating_1": "4_Good"},
                "shown": [["Email", "dev@example.com"], ["Rating", "Good"]],
            }
        },
    ),
    "interactive-call-permission-accept.json": Inbound(
        "interactive",
        "[Call permission] Allowed the business to call them until 2026-09-21 09:52 UTC",
        who(wa_id=XENA, user_id=XENA_ID),
        details={
            "call_permission": {
                "response": "accept",
                "permanent": False,
                "until": "2026-09-21T09:52:00+00:00",
                "source": "user_action",
            }
        },
        context=True,
    ),
    "interactive-call-permission-reject.json": Inbound(
        "interactive",
        "[Call permission] Refused calls from the business",
        who(wa_id=XENA),
        details={
            "call_permission": {
                "response": "reject",
                "permanent": False,
                "until": None,
                "source": "user_action",
            }
        },
        context=True,
    ),
    "interactive-without-content-value-errors.json": Inbound(
        "interactive",
        "[Interactive reply]",
        who(wa_id=XENA),
        context=True,
        platform_notice="the platform reports: Something went wrong — Unsupported webhook payload",
    ),
    "reaction.json": Inbound(
        "reaction", "[Reaction] 👍🏽", who(wa_id=ANA), details={"reaction": "👍🏽"}, context=True
    ),
    "reaction-removed-empty-emoji.json": Inbound(
        "reaction", "[Reaction removed]", who(wa_id=ANA), details={"reaction": ""}, context=True
    ),
    "reaction-removed-no-emoji-key.json": Inbound(
        "reaction", "[Reaction removed]", who(wa_id=ANA), details={"reaction": ""}, context=True
    ),
    "order-with-text.json": Inbound(
        "order",
        "[Order] 2 items from catalog 731000000000421 — Please deliver after 6pm",
        who(wa_id=WES, user_id=WES_ID),
    ),
    "order-single-item.json": Inbound("order", "[Order] 1 item from catalog 731000000000421", who(wa_id=WES)),
    "request-welcome.json": Inbound(
        "request_welcome", "[Opened the chat]", who(wa_id=YUSUF, user_id=YUSUF_ID)
    ),
    "unsupported-edit.json": Inbound(
        "unsupported",
        "[Unsupported message: edit] the customer edited an earlier message; WhatsApp does not pass edits on "
        f"to businesses {UNSUPPORTED_DETAILS}",
        who(wa_id=ZOE, user_id=ZOE_ID),
        details={"unsupported_type": "edit"},
    ),
    "unsupported-poll.json": Inbound(
        "unsupported",
        "[Unsupported message: poll] the customer sent a poll, which WhatsApp does not pass on to businesses "
        f"{UNSUPPORTED_DETAILS}",
        who(wa_id=ZOE),
        details={"unsupported_type": "poll"},
    ),
    "unsupported-without-type.json": Inbound(
        "unsupported",
        "[Unsupported message: unsupported] Message type unknown — Message type is currently not supported.",
        who(wa_id=ZOE),
    ),
    "unknown-type-errors-details-beside-title.json": Inbound(
        "unknown",
        "[Unsupported message: unknown] Unsupported message type — Message type is not currently supported",
        who(wa_id=ZOE),
    ),
    "unknown-new-type.json": Inbound(
        "hologram", "[Unsupported message: hologram]", who(wa_id=ZOE, user_id=ZOE_ID)
    ),
    "revoke.json": Inbound("revoke", "[Unsupported message: revoke]", who(wa_id=ZOE)),
    # Groups are kept apart: not a 1:1 message, no customer, no window.
    "group-text.json": Checked(group_message_kept_apart),
    "group-text-username-only.json": Checked(group_message_kept_apart),
    "batch-malformed-group-and-two-customers.json": Checked(mixed_batch),
    # Identity changes: one customer with the new identifiers, a system line, the window unchanged (R1).
    "system-user-changed-number.json": IdentityChanged(
        before_the_change(wa_id=IDA, name="Ida Moreau"),
        who(wa_id=IDA_NEW, user_id=None, name="Ida Moreau"),
        {("wa_id", IDA)},
        "phone number +15550107890 → +15550107891",
        "user_changed_number",
    ),
    "system-user-changed-number-with-user-ids.json": IdentityChanged(
        before_the_change(wa_id=JONAS, user_id=JONAS_ID, parent_user_id=JONAS_PARENT),
        who(wa_id=JONAS_NEW, user_id=JONAS_NEW_ID, parent_user_id=JONAS_NEW_PARENT),
        {("wa_id", JONAS), ("user_id", JONAS_ID)},
        "phone number +15550108901 → +15550108902; WhatsApp user id US.71234500000000000010 → "
        "US.71234500000000000110",
        "user_changed_number",
    ),
    "system-user-changed-number-direction-marks.json": IdentityChanged(
        before_the_change(wa_id=NINA),
        who(wa_id=NINA_NEW),
        {("wa_id", NINA)},
        "phone number +15550110123 → +15550110124",
        "user_changed_number",
    ),
    "system-user-changed-user-id.json": IdentityChanged(
        before_the_change(user_id=KAI_ID, parent_user_id=KAI_PARENT, username="@kai"),
        who(wa_id=None, user_id=KAI_NEW_ID, parent_user_id=KAI_NEW_PARENT, username="@kai"),
        {("user_id", KAI_ID)},
        "WhatsApp user id US.71234500000000000012 → US.71234500000000000112",
        "user_changed_user_id",
    ),
    "system-user-changed-user-id-text-only.json": IdentityChanged(  # the ids read from the notice's text
        before_the_change(user_id=LEA_ID),
        who(wa_id=None, user_id=LEA_NEW_ID, parent_user_id=LEA_PARENT, country="DE"),
        {("user_id", LEA_ID)},
        "WhatsApp user id DE.71234500000000000013 → DE.71234500000000000113",
        "user_changed_user_id",
    ),
    "system-customer-identity-changed.json": Checked(
        identity_notice_is_a_line, prepare=before_the_change(wa_id=HUGO)
    ),
    "user-id-update.json": IdentityChanged(
        before_the_change(wa_id=MILO, user_id=MILO_ID, parent_user_id=MILO_PARENT),
        who(wa_id=MILO, user_id=MILO_NEW_ID, parent_user_id=MILO_NEW_PARENT),
        {("user_id", MILO_ID)},
        "WhatsApp user id US.71234500000000000014 → US.71234500000000000114",
        "user_id_update",
    ),
    # Statuses of our messages (R9). Conversation-based pricing (v23 era): the conversation is reconciled.
    "status-cbp-sent.json": StatusApplied(
        ours_for("UTILITY", wa_id="15550120001"), "sent", ("CBP", "utility", "", True), "reconciled"
    ),
    "status-cbp-delivered.json": StatusApplied(
        ours_for("UTILITY", timedelta(seconds=4), wa_id="15550120001"),
        "delivered",
        ("CBP", "utility", "", True),
        "reconciled",
    ),
    "status-cbp-read.json": StatusApplied(
        ours_for("UTILITY", timedelta(minutes=12), wa_id="15550120001"),
        "read",
        ("CBP", "utility", "", True),
        "reconciled",
    ),
    "status-cbp-failed.json": StatusApplied(
        ours_for("UTILITY", timedelta(seconds=3), wa_id="15550120001"),
        "failed",
        conversation="voided",
        also=failed_with(131026, "WhatsApp said: “Message Undeliverable”"),
    ),
    "status-cbp-sent-expiry-disagrees.json": StatusApplied(  # theirs adopted, the disagreement recorded
        ours_for("UTILITY", wa_id="15550120001"),
        "sent",
        ("CBP", "utility", "", True),
        "reconciled",
        discrepancies=(("expires_at", True),),
    ),
    # Per-message pricing on v23: a conversation per message, no 24 h bucket: ours is not touched.
    "status-pmp-v23-sent-service-conversation-per-message.json": StatusApplied(
        ours_for(None, wa_id="15550120002"), "sent", ("PMP", "service", "free_customer_service", False)
    ),
    "status-pmp-v23-sent-marketing-conversation-per-message.json": StatusApplied(
        ours_for("MARKETING", wa_id="15550120002"), "sent", ("PMP", "marketing", "regular", True)
    ),
    # Per-message pricing on v24+: no conversation (or one without expiry): pricing per message only.
    "status-pmp-v24-sent.json": StatusApplied(
        ours_for("MARKETING", wa_id="15550120003"),
        "sent",
        ("PMP", "marketing", "regular", True),
        also=learned(user_id=FELIX_ID),
    ),
    "status-pmp-v24-delivered.json": StatusApplied(
        ours_for("MARKETING", timedelta(seconds=5), wa_id="15550120003"),
        "delivered",
        ("PMP", "marketing", "regular", True),
    ),
    "status-pmp-v24-read-without-pricing.json": StatusApplied(
        ours_for("MARKETING", timedelta(minutes=40), wa_id="15550120003"), "read"
    ),
    "status-pmp-v24-utility-template-id-conversation-without-expiry.json": StatusApplied(
        ours_for("UTILITY", timedelta(minutes=5), wa_id="15550120004"),
        "delivered",
        ("PMP", "utility", "regular", True),
        also=learned(user_id=GIL_ID),
    ),
    # A free-entry point (R6): the platform still reports a 72 h conversation, reconciled (R9).
    "status-pmp-free-entry-point-sent.json": StatusApplied(
        came_from_an_ad,
        "sent",
        ("PMP", "referral_conversion", "free_entry_point", False),
        "reconciled",
        also=learned(user_id=HANA_ID),
    ),
    "status-recipient-user-id-only.json": StatusApplied(
        customer_by_bsuid,
        "delivered",
        ("PMP", "marketing", "regular", True),
        also=learned(wa_id=None, user_id=MARISOL_ID, parent_user_id="US.ENT.71234500000000009001"),
    ),
    "status-contacts-wa-id-and-user-id.json": StatusApplied(
        ours_for("UTILITY", timedelta(minutes=30), wa_id=IVAN),
        "delivered",
        ("PMP", "utility", "regular", True),
        also=learned(wa_id=IVAN, user_id=IVAN_ID),
    ),
    "status-failed-unsupported-mime-type.json": StatusApplied(
        ours_for("UTILITY", timedelta(seconds=3), wa_id="15550120007"),
        "failed",
        conversation="voided",
        also=failed_with(131053, "Unsupported Video mime type video/webm"),
    ),
    "status-failed-131047-with-contacts.json": StatusApplied(
        ours_for(None, timedelta(seconds=3), wa_id=KARL),
        "failed",
        conversation="voided",
        also=window_closed_by_the_platform,
    ),
    "status-failed-code-and-title-only.json": StatusApplied(
        ours_for("UTILITY", timedelta(minutes=1), wa_id="15550120009"),
        "failed",
        conversation="voided",
        also=failed_with(131026, "Message undeliverable"),
    ),
    "status-played.json": StatusApplied(  # not a step of sent < delivered < read: the status stays
        ours_for(None, timedelta(minutes=10), wa_id="15550120010"),
        "sent",
        ("PMP", "service", "free_customer_service", False),
    ),
    "status-for-a-message-we-never-sent.json": Checked(status_of_a_message_we_never_sent),
    "status-group-read.json": Checked(status_of_a_message_we_never_sent),
    # A `messages` change with only the platform's errors: kept apart with them.
    "errors-value-level-only.json": KeptApart(
        "messages",
        "the platform reports: Rate limit hit — Message failed to send because there were too many",
    ),
    # Marketing preferences.
    "user-preferences-stop.json": Checked(marketing_stopped, prepare=olga),
    "user-preferences-resume.json": Checked(marketing_resumed, prepare=olga_who_had_stopped),
    "user-preferences-signup.json": Checked(preference_not_tracked, prepare=olga),
    # Templates.
    "template-status-approved-integer-id-dash-language.json": TemplateChanged(
        {
            "category": "UTILITY",
            "status": "PENDING",
            "name": "order_ready",
            "platform_id": "1190000000000101",
        },
        {"status": "APPROVED", "is_sendable": True},
        [("status", "PENDING", "APPROVED")],
        "template_status_updates",
    ),
    "template-status-rejected-with-reason.json": TemplateChanged(
        {
            "category": "MARKETING",
            "status": "PENDING",
            "name": "flash_sale",
            "platform_id": "1190000000000102",
        },
        {"status": "REJECTED", "rejected_reason": "INVALID_FORMAT", "is_sendable": False},
        [("status", "PENDING", "REJECTED")],
        "template_status_updates",
    ),
    "template-status-paused-no-reason.json": TemplateChanged(
        {
            "category": "MARKETING",
            "status": "APPROVED",
            "name": "winback_offer",
            "platform_id": "1190000000000103",
        },
        {"status": "PAUSED", "rejected_reason": "", "is_sendable": False},
        [("status", "APPROVED", "PAUSED")],
        "template_status_updates",
    ),
    "template-status-flagged-disable-info.json": TemplateChanged(
        {
            "category": "UTILITY",
            "status": "APPROVED",
            "name": "weekly_digest",
            "platform_id": "1190000000000104",
        },
        {"status": "FLAGGED", "is_sendable": False},
        [("status", "APPROVED", "FLAGGED")],
        "template_status_updates",
    ),
    "template-category-update.json": TemplateChanged(
        {
            "category": "UTILITY",
            "status": "APPROVED",
            "name": "loyalty_points",
            "platform_id": "1190000000000105",
        },
        {"category": "MARKETING"},
        [("category", "UTILITY", "MARKETING")],
        "template_category_updates",
    ),
    "template-category-update-impending.json": TemplateChanged(  # new_category is today's: nothing yet
        {
            "category": "UTILITY",
            "status": "APPROVED",
            "name": "renewal_notice",
            "platform_id": "1190000000000106",
        },
        {"category": "UTILITY"},
        [],
        "template_category_updates",
    ),
    "template-quality-update.json": TemplateChanged(
        {
            "category": "MARKETING",
            "status": "APPROVED",
            "name": "back_in_stock",
            "platform_id": "1190000000000107",
        },
        {"status": "APPROVED"},
        [("quality", "GREEN", "YELLOW")],
        "template_quality_updates",
    ),
    # Fields the inbox keeps apart: never imported as customers or messages.
    "account-update.json": KeptApart("account_update", "the inbox does not handle 'account_update' changes"),
    "phone-number-quality-update.json": KeptApart(
        "phone_number_quality_update", "the inbox does not handle 'phone_number_quality_update' changes"
    ),
    "calls-connect.json": KeptApart("calls", "the inbox does not handle 'calls' changes"),
    "calls-status-ringing.json": KeptApart("calls", "the inbox does not handle 'calls' changes"),
    "smb-message-echoes.json": KeptApart(
        "smb_message_echoes", "the inbox does not handle 'smb_message_echoes' changes"
    ),
    "history-threads.json": KeptApart("history", "the inbox does not handle 'history' changes"),
    "history-message-on-history-field.json": KeptApart(
        "history", "the inbox does not handle 'history' changes"
    ),
}


def prepare(name: str, data: dict) -> object:
    """What the file's outcome needs to have happened before it arrives, if anything."""
    build = getattr(EXPECTED.get(name), "prepare", None)
    return build(data) if build is not None else None


def _params() -> list:
    return [pytest.param(name, id=name) for name in FILES]


# --- the tests -------------------------------------------------------------------------------------------


def test_every_file_of_the_corpus_has_an_expected_outcome():
    assert sorted(EXPECTED) == FILES
    assert len(FILES) >= 70


@pytest.mark.parametrize("name", _params())
def test_every_delivery_is_processed_and_a_replay_changes_nothing(client, name):
    data = load(name)
    prepare(name, data)
    with time_machine.travel(received_at(data), tick=False):
        post_and_replay(client, data)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_what_the_inbox_makes_of_it(client, name):
    data = load(name)
    prepared = prepare(name, data)
    with time_machine.travel(received_at(data), tick=False):
        delivery = post_processed(client, data)
    EXPECTED[name].check(Seen(data=data, delivery=delivery, prepared=prepared))


# --- bugs the corpus found, fixed ------------------------------------------------------------------------


def test_a_replayed_user_id_update_changes_nothing(client):
    """A notice without a wamid replayed by the platform: found by who the customer was, never linked
    back to it, so nothing changes twice."""
    data = load("user-id-update.json")
    customer = before_the_change(wa_id=MILO, user_id=MILO_ID, parent_user_id=MILO_PARENT)(data)
    with time_machine.travel(received_at(data), tick=False):
        post_processed(client, data)
        post_processed(client, data)  # the platform's retry
    customer.refresh_from_db()
    assert (customer.user_id, customer.parent_user_id) == (MILO_NEW_ID, MILO_NEW_PARENT)
    assert customer.messages.filter(wa_type="system").count() == 1
    assert set(PreviousIdentifier.objects.values_list("kind", "value")) == {("user_id", MILO_ID)}


def test_a_status_update_in_dash_language_finds_the_template_known_by_name(client):
    """Meta's status webhooks write 'en-US' where listings say 'en_US'."""
    data = load("template-status-approved-integer-id-dash-language.json")
    template = factories.template(category="UTILITY", status="PENDING", name="order_ready", language="en_US")
    with time_machine.travel(received_at(data), tick=False):
        post_processed(client, data)
    template.refresh_from_db()
    assert (template.status, template.platform_id) == ("APPROVED", "1190000000000101")
