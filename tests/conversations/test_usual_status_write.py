"""The usual status as one statement (conversations.services.usual_status_write) writes what
record_status writes: for every status a message can be in, each plain status the platform reports (sent,
delivered, read), stamps already set or not, pricing absent, new, the same again or different, retry notes
pending, a timestamp from the future: two identical messages, one through each, end up identical, field
by field (rules.md R9: statuses only move forward, the platform's pricing is recorded per message; issue 13:
the webhook's campaign-scale path)."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from conversations import policy
from conversations import services as s
from conversations.identifiers import Identity
from conversations.models import Customer, Message
from tests import factories

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(hours=2)
WA_ID = "16505551234"
PMP = {"billable": True, "pricing_model": "PMP", "category": "utility", "type": "regular"}
CBP = {"billable": False, "pricing_model": "CBP", "category": "marketing", "note": "kept"}
IGNORED = {"id", "wamid", "customer", "created_at"}  # what differs between the two copies by construction


def make(
    customer: Customer, wamid: str, status: str, *, stamped=False, pricing=None, note=False, inbound=False
) -> Message:
    fields = {"sent_at": EARLIER, "delivered_at": EARLIER, "read_at": EARLIER} if stamped else {}
    if pricing is not None:
        parts = policy.pricing_parts(pricing)
        fields |= {
            "pricing": pricing,
            "pricing_model": parts.model,
            "pricing_category": parts.category,
            "pricing_type": parts.type,
            "billable": parts.billable,
            "pricing_changed_at": EARLIER,
        }
    if note:  # a retry note, an outcome not known yet
        fields |= {
            "error_code": 131000,
            "error_text": "will retry",
            "next_attempt_at": NOW + timedelta(minutes=5),
        }
    return Message.objects.create(
        customer=customer,
        direction=Message.Direction.INBOUND if inbound else Message.Direction.OUTBOUND,
        kind=Message.Kind.FREE_FORM,
        wa_type="text",
        body="Your order has shipped.",
        occurred_at=EARLIER,
        status=status,
        status_changed_at=EARLIER,
        wamid=wamid,
        **fields,
    )


def through_one_statement(**kwargs) -> list:
    write = s.usual_status_write(**kwargs)
    assert write is not None
    with connection.cursor() as cursor:
        cursor.execute(write.sql, write.params)
        return cursor.fetchall()


def row(message: Message) -> dict:
    message.refresh_from_db()
    return {
        f.attname: getattr(message, f.attname) for f in Message._meta.concrete_fields if f.name not in IGNORED
    }


OUTBOUND_STATUSES = [status for status in Message.Status.values if status != Message.Status.RECEIVED]
CASES = list(
    itertools.product(
        OUTBOUND_STATUSES,  # where the message is
        ["sent", "delivered", "read"],  # what the platform reports
        [False, True],  # its stamps already set
        [None, PMP, CBP],  # the pricing stored
        [None, PMP],  # the pricing the status carries
        [False, True],  # a retry note pending
    )
)


def test_every_case_writes_what_record_status_writes():
    customer = factories.customer(wa_id=WA_ID)
    differences = []
    for number, (current, reported, stamped, stored, carried, note) in enumerate(CASES):
        usual = make(customer, f"wamid.U{number}", current, stamped=stamped, pricing=stored, note=note)
        fast = make(customer, f"wamid.F{number}", current, stamped=stamped, pricing=stored, note=note)
        at = NOW - timedelta(minutes=1)
        with time_machine.travel(NOW, tick=False):
            s.record_status(wamid=usual.wamid, status=reported, timestamp=at, pricing=carried,
                            recipient=Identity.of(wa_id=WA_ID))  # fmt: skip
            written = through_one_statement(wamid=fast.wamid, status=reported, timestamp=at, pricing=carried,
                                            recipient=Identity.of(wa_id=WA_ID), now=NOW)  # fmt: skip
        assert written == [(fast.pk,)]
        if row(usual) != row(fast):
            differences.append((current, reported, stamped, stored, carried, note, row(usual), row(fast)))
    assert not differences, differences[:3]
    assert len(CASES) == 6 * 3 * 2 * 3 * 2 * 2


def test_a_tick_from_the_future_is_put_at_our_clock_as_record_status_does():
    customer = factories.customer(wa_id=WA_ID)
    usual = make(customer, "wamid.U", "sent", stamped=False, pricing=None, note=False)
    fast = make(customer, "wamid.F", "sent", stamped=False, pricing=None, note=False)
    future = NOW + timedelta(days=400)
    with time_machine.travel(NOW, tick=False):
        s.record_status(wamid=usual.wamid, status="read", timestamp=future)
        through_one_statement(wamid=fast.wamid, status="read", timestamp=future, pricing=None, recipient=None,
                              now=NOW)  # fmt: skip
    assert row(usual) == row(fast)
    assert row(fast)["read_at"] == NOW


def test_what_is_not_the_usual_status_is_left_to_record_status():
    common = {"wamid": "wamid.X", "timestamp": NOW, "recipient": None, "now": NOW}
    assert s.usual_status_write(status="failed", pricing=None, **common) is None
    assert s.usual_status_write(status="deleted", pricing=None, **common) is None
    # Parts of the pricing missing: they would come from what is stored, which record_status merges.
    assert s.usual_status_write(status="sent", pricing={"category": "utility"}, **common) is None
    assert s.usual_status_write(status="sent", pricing=PMP, **common) is not None


def test_it_writes_nothing_for_a_message_not_ours_or_a_customer_named_anew():
    """No row: the caller applies the status the usual way (kept for reconciliation, or linked)."""
    customer = factories.customer(wa_id=WA_ID)
    ours = make(customer, "wamid.OURS", "sent", stamped=False, pricing=None, note=False)
    common = {"status": "delivered", "timestamp": NOW, "pricing": None, "now": NOW}

    assert through_one_statement(wamid="wamid.UNKNOWN", recipient=Identity.of(wa_id=WA_ID), **common) == []
    anew = Identity.of(wa_id=WA_ID, user_id="US.13491208655302741918")
    assert through_one_statement(wamid="wamid.OURS", recipient=anew, **common) == []
    other = Identity.of(wa_id="16505550000")
    assert through_one_statement(wamid="wamid.OURS", recipient=other, **common) == []
    assert row(ours)["status"] == "sent"

    assert through_one_statement(wamid="wamid.OURS", recipient=Identity.of(wa_id=WA_ID), **common) == [
        (ours.pk,)
    ]
    assert row(ours)["status"] == "delivered"


def test_an_inbound_message_with_that_wamid_is_not_written():
    customer = factories.customer(wa_id=WA_ID)
    make(customer, "wamid.IN", "received", inbound=True)
    assert (
        through_one_statement(
            wamid="wamid.IN", status="read", timestamp=NOW, pricing=None, recipient=None, now=NOW
        )
        == []
    )
