"""Customers known by a phone number, a business-scoped user id (BSUID), or both (rules.md, "Customer"):
one customer, one window, one set of conversations, whichever identifier a message carries. Run through
the public services on the database, the clock controlled by time-machine."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction

from conversations import selectors, services
from conversations.exceptions import InvalidMessage, TemplateNotSendable, WindowClosed
from conversations.identifiers import Identity, country_of_user_id
from conversations.models import Conversation, ConversationDiscrepancy, Customer, Message, PreviousIdentifier
from tests import factories
from tests.factories import at

pytestmark = pytest.mark.django_db

BSUID = "US.13491208655302741918"
NEW_BSUID = "US.88812208655302749999"
PHONE = "16505551234"
NEW_PHONE = "16505559876"


def write(when, *, wamid, delivered_at=None, **who):
    with time_machine.travel(delivered_at or when, tick=False):
        return services.receive_message(body="hello", wamid=wamid, timestamp=when, **who)


def text(customer, when, body="Hi there"):
    with time_machine.travel(when, tick=False):
        return services.send_text(customer=customer, body=body)


def template(customer, when, category="MARKETING", **fields):
    tpl = factories.template(category=category, body="Hello {{1}}, news.", **fields)
    with time_machine.travel(when, tick=False):
        return services.send_template(customer=customer, template=tpl, params=["Ann"])


# --- Who a customer is ---------------------------------------------------------------------------------


def test_a_customer_with_a_username_and_no_phone_number_is_known_by_the_bsuid():
    message = write(at(0, "09:00"), wamid="w1", user_id=BSUID, username="@sheena", name="Sheena Nelson")
    customer = message.customer
    assert (customer.wa_id, customer.user_id, customer.username) == (None, BSUID, "@sheena")
    # The country comes from the BSUID's prefix when there is no phone number; the handle shows the username.
    assert (customer.country, customer.phone_e164, customer.handle, str(customer)) == (
        "US",
        "",
        "@sheena",
        "Sheena Nelson",
    )
    assert selectors.service_window(customer, now=at(0, "10:00")).is_open  # R1 works the same


def test_the_public_contract_by_phone_number_is_unchanged():
    message = services.receive_message(
        wa_id="+4915112345678", body="Hallo", wamid="w1", timestamp=at(0, "09:00")
    )
    assert (message.customer.wa_id, message.customer.country, message.customer.user_id) == (
        "4915112345678",
        "DE",
        None,
    )


def test_a_message_naming_nobody_is_refused_in_plain_words():
    with pytest.raises(InvalidMessage, match="neither by a phone number"):
        services.receive_message(body="?", wamid="w1", timestamp=at(0, "09:00"))
    with pytest.raises(InvalidMessage, match="not a business-scoped user id"):
        services.receive_message(user_id="not an id", body="?", wamid="w2", timestamp=at(0, "09:00"))
    assert not Customer.objects.exists()


def test_the_bsuid_first_then_a_message_with_both_links_them_into_one_customer():
    first = write(at(0, "09:00"), wamid="w1", user_id=BSUID)
    second = write(at(0, "10:00"), wamid="w2", user_id=BSUID, wa_id=PHONE)
    customer = Customer.objects.get()
    assert first.customer == second.customer == customer
    assert (customer.wa_id, customer.user_id, customer.country) == (PHONE, BSUID, "US")
    # Later messages by either identifier alone find the same customer.
    write(at(0, "11:00"), wamid="w3", wa_id=PHONE)
    write(at(0, "12:00"), wamid="w4", user_id=BSUID)
    assert Customer.objects.count() == 1 and customer.messages.count() == 4


def test_the_phone_number_first_then_the_bsuid():
    write(at(0, "09:00"), wamid="w1", wa_id=PHONE)
    write(at(0, "10:00"), wamid="w2", user_id=BSUID, wa_id=PHONE, username="@sheena")
    customer = Customer.objects.get()
    assert (customer.wa_id, customer.user_id, customer.username) == (PHONE, BSUID, "@sheena")


def test_two_customers_who_turn_out_to_be_one_become_one_thread_window_and_set_of_conversations():
    # Known apart so far: one by phone (a marketing template, then they wrote), one by BSUID (wrote).
    by_phone = write(at(0, "08:00"), wamid="w1", wa_id=PHONE).customer
    m1 = template(by_phone, at(0, "08:30"))
    by_bsuid = write(at(0, "09:00"), wamid="w2", user_id=BSUID, username="@sheena").customer
    s1 = text(by_bsuid, at(0, "09:05"))  # a service conversation in the BSUID's thread
    m2 = template(by_bsuid, at(0, "10:00"))  # a second marketing conversation overlapping M1
    assert Customer.objects.count() == 2
    # A message carrying both: the same person.
    write(at(0, "11:00"), wamid="w3", wa_id=PHONE, user_id=BSUID)
    customer = Customer.objects.get()
    assert customer.pk == by_phone.pk  # the older row is kept
    assert (customer.wa_id, customer.user_id, customer.username) == (PHONE, BSUID, "@sheena")
    assert customer.messages.filter(direction="inbound").exclude(wa_type="system").count() == 3
    assert customer.last_inbound_at == at(0, "11:00")  # R1 over both histories
    # R3: one marketing conversation at a time; the later one's message joined the earlier, it is voided.
    m2.refresh_from_db()
    assert m2.conversation == m1.conversation
    voided = Conversation.objects.get(status="voided")
    assert voided.category == "marketing" and voided.customer == customer
    assert ConversationDiscrepancy.objects.get(conversation=voided).note.startswith("two threads")
    assert sorted(c.category for c in selectors.open_conversations(customer, now=at(0, "12:00"))) == [
        "marketing",
        "service",
    ]
    s1.refresh_from_db()
    assert s1.conversation.customer == customer
    line = customer.messages.get(wa_type="system")
    assert "same person" in line.body and not selectors.service_window(customer, now=at(1, "11:00")).is_open


def test_statuses_and_their_contacts_link_identifiers_to_the_customer_of_the_message():
    customer = write(at(0, "09:00"), wamid="w1", wa_id=PHONE).customer
    ours = text(customer, at(0, "09:05"))
    services.record_status(
        wamid="wamid.OURS",
        status="sent",
        timestamp=at(0, "09:05"),
        callback=services.callback_data(ours),
        recipient=Identity.of(wa_id=PHONE, user_id=BSUID, username="@sheena"),
    )
    customer.refresh_from_db()
    assert (customer.user_id, customer.username) == (BSUID, "@sheena")


# --- Identity changes (system messages) ----------------------------------------------------------------


def test_a_number_change_updates_the_identifiers_never_the_customer_window_or_conversations():
    customer = write(at(0, "09:00"), wamid="w1", wa_id=PHONE, user_id=BSUID).customer
    service = text(customer, at(0, "09:05")).conversation
    notice = services.record_identity_change(
        previous=Identity.of(wa_id=PHONE, user_id=BSUID),
        current=Identity.of(wa_id=NEW_PHONE, user_id=NEW_BSUID),
        wamid="w-system",
        timestamp=at(0, "10:00"),
        change="user_changed_number",
        body="User Sheena changed from 16505551234 to 16505559876",
    )
    customer.refresh_from_db()
    assert notice.customer == customer and Customer.objects.count() == 1
    assert (customer.wa_id, customer.user_id, customer.identity_changed_at) == (
        NEW_PHONE,
        NEW_BSUID,
        at(0, "10:00"),
    )
    assert notice.wa_type == "system" and "+16505551234 → +16505559876" in notice.body
    # R1: a notice is not the customer writing; the window is the one their 09:00 message opened.
    assert customer.last_inbound_at == at(0, "09:00")
    assert selectors.service_window(customer, now=at(1, "08:59:59")).is_open
    assert [c.pk for c in selectors.open_conversations(customer, now=at(0, "11:00"))] == [service.pk]
    # Messages by the new identifiers find the customer; a late one carrying the old BSUID too.
    write(at(0, "11:00"), wamid="w2", wa_id=NEW_PHONE)
    write(at(0, "09:30"), wamid="w-late", user_id=BSUID, delivered_at=at(0, "12:00"))
    assert Customer.objects.count() == 1 and customer.messages.count() == 5  # 3 inbound, ours, the notice
    customer.refresh_from_db()
    assert customer.user_id == NEW_BSUID  # the stale message did not bring the old id back
    assert set(PreviousIdentifier.objects.values_list("kind", "value")) == {
        ("wa_id", PHONE),
        ("user_id", BSUID),
    }


def test_a_recycled_phone_number_is_someone_new_after_the_change_but_the_old_owner_before_it():
    old_owner = write(at(0, "09:00"), wamid="w1", wa_id=PHONE).customer
    services.record_identity_change(
        previous=Identity.of(wa_id=PHONE),
        current=Identity.of(wa_id=NEW_PHONE),
        wamid="w-system",
        timestamp=at(1, "09:00"),
        change="user_changed_number",
    )
    assert (
        write(at(0, "20:00"), wamid="w-late", wa_id=PHONE, delivered_at=at(2, "09:00")).customer == old_owner
    )
    newcomer = write(at(5, "09:00"), wamid="w-new", wa_id=PHONE).customer
    assert newcomer != old_owner and newcomer.wa_id == PHONE


def test_a_bsuid_change_keeps_the_thread_and_is_idempotent():
    customer = write(at(0, "09:00"), wamid="w1", user_id=BSUID, username="@sheena").customer
    for _ in range(2):  # the platform's duplicates change nothing twice
        services.record_identity_change(
            previous=Identity.of(user_id=BSUID),
            current=Identity.of(user_id=NEW_BSUID),
            wamid="w-system",
            timestamp=at(0, "10:00"),
            change="user_changed_user_id",
        )
    customer.refresh_from_db()
    assert (customer.user_id, customer.username, customer.messages.count()) == (NEW_BSUID, "@sheena", 2)


def test_a_number_change_to_a_number_that_already_wrote_merges_the_two():
    customer = write(at(0, "09:00"), wamid="w1", wa_id=PHONE).customer
    already = write(at(0, "09:30"), wamid="w2", wa_id=NEW_PHONE).customer  # wrote from the new number first
    services.record_identity_change(
        previous=Identity.of(wa_id=PHONE),
        current=Identity.of(wa_id=NEW_PHONE),
        wamid="w-system",
        timestamp=at(0, "10:00"),
        change="user_changed_number",
    )
    assert list(Customer.objects.values_list("pk", "wa_id")) == [(customer.pk, NEW_PHONE)]
    assert not Customer.objects.filter(pk=already.pk).exists()


# --- Sending to a customer known only by BSUID -----------------------------------------------------------


def test_the_rules_hold_for_a_customer_known_only_by_bsuid():
    """E7 with a BSUID-only customer: 23:59:59 allowed, 24:00:00 refused, a new message reopens."""
    customer = write(at(0, "08:00:00"), wamid="w1", user_id=BSUID).customer
    assert text(customer, at(1, "07:59:59")).conversation.category == "service"
    with pytest.raises(WindowClosed):
        text(customer, at(1, "08:00:00"))
    write(at(1, "08:00:30"), wamid="w2", user_id=BSUID)
    text(customer, at(1, "08:01"))


def test_a_code_template_needs_a_phone_number_and_the_refusal_says_what_can_still_be_sent():
    customer = write(at(0, "09:00"), wamid="w1", user_id=BSUID).customer
    otp = [
        {"type": "BODY", "text": "{{1}} is your verification code."},
        {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy code"}]},
    ]
    code = factories.template(category="AUTHENTICATION", body="x")
    type(code).objects.filter(pk=code.pk).update(components=otp)
    code.refresh_from_db()
    with time_machine.travel(at(0, "09:05"), tick=False), pytest.raises(TemplateNotSendable, match="131062"):
        services.send_template(customer=customer, template=code, params=["123456"])
    assert not Message.objects.filter(direction="outbound").exists()
    # A utility template reaches them; with a phone number the code template does too.
    template(customer, at(0, "09:06"), category="UTILITY")
    write(at(0, "09:10"), wamid="w2", user_id=BSUID, wa_id=PHONE)
    customer.refresh_from_db()
    with time_machine.travel(at(0, "09:11"), tick=False):
        assert services.send_template(customer=customer, template=code, params=["123456"]).conversation


def test_a_customer_who_stopped_marketing_messages_is_not_sent_marketing_templates():
    customer = write(at(0, "09:00"), wamid="w1", wa_id=PHONE).customer
    services.record_marketing_preference(
        identity=Identity.of(wa_id=PHONE), stopped=True, timestamp=at(0, "10:00")
    )
    with pytest.raises(TemplateNotSendable, match="stopped marketing messages"):
        template(customer, at(0, "11:00"))
    template(customer, at(0, "11:01"), category="UTILITY")  # utility still works
    # An older notice changes nothing; a later "resume" lifts it.
    services.record_marketing_preference(
        identity=Identity.of(wa_id=PHONE), stopped=False, timestamp=at(0, "09:30")
    )
    assert Customer.objects.get().marketing_stopped_at == at(0, "10:00")
    services.record_marketing_preference(
        identity=Identity.of(wa_id=PHONE), stopped=False, timestamp=at(0, "12:00")
    )
    assert Customer.objects.get().marketing_stopped_at is None
    template(Customer.objects.get(), at(0, "12:01"))


# --- The database refuses what must never be ---------------------------------------------------------------


def test_the_database_refuses_a_customer_without_identifier_or_with_a_taken_one():
    Customer.objects.create(wa_id=PHONE, user_id=BSUID)
    for fields in ({}, {"wa_id": PHONE}, {"user_id": BSUID}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Customer.objects.bulk_create([Customer(name="x", last_activity_at=datetime.now(UTC), **fields)])
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.bulk_create([Customer(user_id="", last_activity_at=datetime.now(UTC))])
    assert Customer.objects.count() == 1


def test_country_of_a_bsuid():
    assert [country_of_user_id(v) for v in (BSUID, "GB.abc", "", None, "nodot")] == ["US", "GB", "", "", ""]


def test_reads_by_now_are_unaffected_by_identifiers():
    customer = write(at(0, "09:00"), wamid="w1", user_id=BSUID).customer
    assert selectors.service_window(customer, now=at(0, "09:00") + timedelta(hours=24)).is_open is False


def test_a_marketing_preference_that_arrives_late_never_undoes_a_newer_one():
    """Webhooks arrive in any order: a stop sent before a resume, delivered after it, changes nothing."""
    write(at(0, "09:00"), wamid="w1", wa_id=PHONE)
    services.record_marketing_preference(
        identity=Identity.of(wa_id=PHONE), stopped=False, timestamp=at(0, "12:00")
    )
    services.record_marketing_preference(
        identity=Identity.of(wa_id=PHONE), stopped=True, timestamp=at(0, "10:00")
    )
    customer = Customer.objects.get()
    assert (customer.marketing_stopped_at, customer.marketing_preference_at) == (None, at(0, "12:00"))
