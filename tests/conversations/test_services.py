"""The worked examples of rules.md (E1–E11) and the rules R1–R9, run through the public services on the
database, with the clock controlled by time-machine. Services read the clock themselves."""

from datetime import UTC, datetime

import pytest
import time_machine

from conversations import selectors, services
from conversations.exceptions import InvalidMessage, TemplateNotSendable, TemplateParamsInvalid, WindowClosed
from conversations.models import Conversation, Customer, Message
from tests import factories
from tests.factories import at

pytestmark = pytest.mark.django_db

AD = {
    "source_type": "ad",
    "source_id": "120226305854810726",
    "source_url": "https://fb.me/x",
    "ctwa_clid": "A",
}


class Timeline:
    """Plays one customer's timeline through the services: C = customer message, B = our message."""

    def __init__(self):
        self.wa_id = factories.new_wa_id()
        self.templates = {}
        self._inbound = 0

    @property
    def customer(self) -> Customer:
        return Customer.objects.get_or_create(wa_id=self.wa_id, defaults={"name": "Sheena Nelson"})[0]

    def c(self, when, *, referral=None, delivered_at=None, body="hello"):
        self._inbound += 1
        with time_machine.travel(delivered_at or when, tick=False):
            return services.receive_message(
                wa_id=self.wa_id,
                body=body,
                wamid=f"wamid.{self.wa_id}.{self._inbound}",
                timestamp=when,
                name="Sheena Nelson",
                referral=referral,
            )

    def text(self, when, body="Hi there"):
        with time_machine.travel(when, tick=False):
            return services.send_text(customer=self.customer, body=body)

    def template(self, when, category):
        if category not in self.templates:
            self.templates[category] = factories.template(
                category=category.upper(), body="Hello {{1}}, news."
            )
        with time_machine.travel(when, tick=False):
            return services.send_template(
                customer=self.customer, template=self.templates[category], params=["Ann"]
            )

    def open_categories(self, when):
        return sorted(c.category for c in selectors.open_conversations(self.customer, now=when))


def assert_opened(message, category, opened_at, expires_at):
    conversation = message.conversation
    assert conversation.category == category
    assert conversation.opening_message_id == message.pk
    assert (conversation.opened_at, conversation.expires_at) == (opened_at, expires_at)
    return conversation


def test_E1_service_conversations_and_the_window_reset():
    t = Timeline()
    t.c(at(0, "09:00"))
    s1 = assert_opened(t.text(at(0, "09:10")), "service", at(0, "09:10"), at(1, "09:10"))
    assert t.text(at(0, "15:00")).conversation == s1  # joins S1
    t.c(at(0, "20:00"))  # the window now ends Tue 20:00
    assert selectors.service_window(t.customer, now=at(0, "20:00")).closes_at == at(1, "20:00")
    assert_opened(t.text(at(1, "10:00")), "service", at(1, "10:00"), at(2, "10:00"))  # S1 ended Tue 09:10
    with pytest.raises(WindowClosed):
        t.text(at(1, "20:00"))
    assert Conversation.objects.filter(customer=t.customer).count() == 2


def test_E2_marketing_conversation_ends_exactly_at_24h():
    t = Timeline()
    m1 = assert_opened(t.template(at(0, "10:00"), "marketing"), "marketing", at(0, "10:00"), at(1, "10:00"))
    assert t.template(at(1, "09:59"), "marketing").conversation == m1
    m2 = assert_opened(t.template(at(1, "10:00"), "marketing"), "marketing", at(1, "10:00"), at(2, "10:00"))
    assert t.template(at(1, "10:30"), "marketing").conversation == m2


def test_E3_three_categories_open_together():
    t = Timeline()
    t.template(at(0, "10:00"), "marketing")
    u1 = t.template(at(0, "14:00"), "utility").conversation
    t.template(at(0, "15:00"), "authentication")
    assert t.template(at(0, "18:00"), "utility").conversation == u1
    assert t.open_categories(at(0, "18:00")) == ["authentication", "marketing", "utility"]


def test_E4_free_form_needs_the_window_and_then_joins_the_utility_conversation():
    t = Timeline()
    u1 = t.template(at(0, "10:00"), "utility").conversation
    with pytest.raises(WindowClosed):
        t.text(at(0, "11:00"))
    assert Message.objects.filter(customer=t.customer, direction="outbound").count() == 1  # nothing created
    t.c(at(0, "12:00"))
    assert t.text(at(0, "12:05")).conversation == u1  # R4: no service conversation
    assert not Conversation.objects.filter(category="service").exists()


def test_E5_service_and_marketing_open_together():
    t = Timeline()
    t.c(at(0, "09:00"))
    t.text(at(0, "09:05"))
    t.template(at(0, "11:00"), "marketing")
    assert t.open_categories(at(0, "11:00")) == ["marketing", "service"]


def test_E6_window_over_even_though_service_conversation_is_open():
    t = Timeline()
    m1 = t.template(at(0, "10:00"), "marketing").conversation
    t.c(at(0, "13:00"))
    assert Conversation.objects.filter(customer=t.customer).count() == 1  # R5: inbound opens nothing
    assert t.text(at(0, "13:05")).conversation == m1
    assert_opened(t.text(at(1, "11:00")), "service", at(1, "11:00"), at(2, "11:00"))
    with pytest.raises(WindowClosed):
        t.text(at(1, "13:00"))
    assert t.open_categories(at(1, "13:00")) == ["service"]


def test_E7_exact_window_boundary():
    t = Timeline()
    t.c(at(0, "08:00:00"))
    t.text(at(1, "07:59:59"))
    with pytest.raises(WindowClosed):
        t.text(at(1, "08:00:00"))
    t.c(at(1, "08:00:30"))
    t.text(at(1, "08:01"))


def test_E8_free_entry_point_closes_others_and_lasts_72h():
    t = Timeline()
    u1 = t.template(at(0, "08:00"), "utility").conversation
    t.c(at(0, "10:00"), referral=AD)
    f1 = assert_opened(t.text(at(0, "10:20")), "free_entry_point", at(0, "10:20"), at(3, "10:20"))
    u1.refresh_from_db()
    assert (u1.closed_at, u1.closed_by, u1.status) == (at(0, "10:20"), f1, "closed")
    assert t.open_categories(at(0, "10:20")) == ["free_entry_point"]
    with pytest.raises(WindowClosed):  # the CSW ended Tue 10:00: a free-entry point does not widen it
        t.text(at(1, "11:00"))
    assert t.template(at(1, "15:00"), "marketing").conversation == f1
    assert_opened(t.template(at(3, "11:00"), "marketing"), "marketing", at(3, "11:00"), at(4, "11:00"))


def test_E9_eligibility_lasts_24h_from_the_referral():
    t = Timeline()
    t.c(at(0, "10:00"), referral=AD)
    assert_opened(t.template(at(1, "10:30"), "utility"), "utility", at(1, "10:30"), at(2, "10:30"))


def test_E9_boundary_eligible_at_23_59_59_not_at_24_00_00():
    early, late = Timeline(), Timeline()
    early.c(at(0, "10:00"), referral=AD)
    late.c(at(0, "10:00"), referral=AD)
    assert early.template(at(1, "09:59:59"), "utility").conversation.category == "free_entry_point"
    assert late.template(at(1, "10:00:00"), "utility").conversation.category == "utility"


def test_E10_template_opens_the_free_entry_point_free_form_still_needs_the_window():
    t = Timeline()
    t.c(at(0, "10:00"), referral=AD)
    f1 = assert_opened(
        t.template(at(0, "22:00"), "utility"), "free_entry_point", at(0, "22:00"), at(3, "22:00")
    )
    assert t.text(at(1, "09:59:59")).conversation == f1
    with pytest.raises(WindowClosed):
        t.text(at(1, "10:00"))


def test_E11_window_counts_from_the_platform_timestamp_not_delivery():
    t = Timeline()
    t.c(at(0, "09:00"), delivered_at=at(0, "15:00"))
    window = selectors.service_window(t.customer, now=at(0, "15:00"))
    assert (window.is_open, window.closes_at) == (True, at(1, "09:00"))
    assert not selectors.service_window(t.customer, now=at(1, "09:00")).is_open


def test_R1_late_message_never_moves_the_window_back():
    t = Timeline()
    t.c(at(0, "12:00"))
    t.c(at(0, "09:00"), delivered_at=at(0, "12:30"))  # late, older timestamp
    customer = t.customer
    assert customer.last_inbound_at == at(0, "12:00")
    assert selectors.service_window(customer, now=at(0, "13:00")).closes_at == at(1, "12:00")


def test_R1_window_at_an_earlier_instant_uses_the_messages_before_it():
    t = Timeline()
    t.c(at(0, "09:00"))
    t.c(at(2, "09:00"))
    assert selectors.service_window(t.customer, now=at(0, "10:00")).closes_at == at(1, "09:00")
    assert not selectors.service_window(t.customer, now=at(1, "10:00")).is_open
    assert not selectors.service_window(t.customer, now=at(0, "08:59")).is_open


def test_R1_outbound_never_opens_or_extends_the_window():
    t = Timeline()
    t.c(at(0, "09:00"))
    t.text(at(0, "20:00"))
    t.template(at(0, "21:00"), "utility")
    assert selectors.service_window(t.customer, now=at(0, "21:00")).closes_at == at(1, "09:00")


def test_R1_selector_reads_the_clock_when_now_is_not_given():
    t = Timeline()
    t.c(at(0, "09:00"))
    with time_machine.travel(at(1, "08:59:59"), tick=False):
        assert selectors.service_window(t.customer).is_open
        assert [c.category for c in selectors.open_conversations(t.customer)] == []
    with time_machine.travel(at(1, "09:00"), tick=False):
        assert not selectors.service_window(t.customer).is_open


def test_R2_template_statuses_other_than_approved_are_refused_and_create_nothing():
    customer = factories.customer()
    for status in ["PENDING", "REJECTED", "PAUSED", "DISABLED", "IN_APPEAL", "LIMIT_EXCEEDED"]:
        template = factories.template(status=status)
        with pytest.raises(TemplateNotSendable, match=status.lower()):
            services.send_template(customer=customer, template=template, params=["Ann"])
    assert not Message.objects.exists() and not Conversation.objects.exists()


def test_R2_template_status_is_read_at_send_time_not_from_the_callers_object():
    customer = factories.customer()
    template = factories.template(status="APPROVED")
    type(template).objects.filter(pk=template.pk).update(status="PAUSED")  # paused since the page loaded
    with pytest.raises(TemplateNotSendable):
        services.send_template(customer=customer, template=template, params=["Ann"])


def test_send_template_params_must_fit_and_nothing_is_created_when_they_do_not():
    customer = factories.customer()
    positional = factories.template(body="Hi {{1}}, order {{2}} ships today.")
    named = factories.template(
        body="Hi {{first_name}}, order {{order_number}} ships.", parameter_format="NAMED", category="UTILITY"
    )
    with pytest.raises(TemplateParamsInvalid, match="takes 2 parameters, got 1"):
        services.send_template(customer=customer, template=positional, params=["Ann"])
    with pytest.raises(TemplateParamsInvalid, match="missing parameter: order_number"):
        services.send_template(customer=customer, template=named, params={"first_name": "Ann"})
    assert not Message.objects.exists() and not Conversation.objects.exists()

    sent = services.send_template(
        customer=customer, template=named, params={"first_name": "Ann", "order_number": 42}
    )
    assert sent.body == "Hi Ann, order 42 ships."
    assert sent.template_params == {"first_name": "Ann", "order_number": "42"}
    assert (sent.kind, sent.template_category, sent.status) == ("template", "UTILITY", "queued")


def test_send_text_rejects_empty_and_overlong_bodies():
    t = Timeline()
    t.c(at(0, "09:00"))
    for body in ["", "   \n"]:
        with pytest.raises(InvalidMessage, match="empty"):
            t.text(at(0, "09:01"), body=body)
    with pytest.raises(InvalidMessage, match="4096"):
        t.text(at(0, "09:01"), body="x" * 4097)
    assert t.text(at(0, "09:01"), body="x" * 4096).status == "queued"


def test_window_closed_error_says_why_in_plain_words():
    never = factories.customer()
    with pytest.raises(WindowClosed, match="never written"):
        services.send_text(customer=never, body="hi")
    t = Timeline()
    t.c(at(0, "09:00"))
    with pytest.raises(WindowClosed, match="closed at 2026-01-06 09:00:00 UTC"):
        t.text(at(1, "09:00"))


def test_outbound_message_is_recorded_queued_with_agent_and_conversation(django_user_model):
    agent = django_user_model.objects.create_user("agent1")
    t = Timeline()
    t.c(at(0, "09:00"))
    with time_machine.travel(at(0, "09:05"), tick=False):
        message = services.send_text(customer=t.customer, body="On it!", agent=agent)
    assert (message.direction, message.kind, message.status, message.agent) == (
        "outbound",
        "free_form",
        "queued",
        agent,
    )
    assert message.occurred_at == at(0, "09:05") and message.wamid is None
    assert t.customer.last_activity_at == at(0, "09:05")


def test_receive_message_creates_the_customer_with_derived_phone_and_country():
    message = services.receive_message(
        wa_id="16505551234",
        body="Can I get more info?",
        wamid="wamid.A",
        timestamp=at(0, "09:00"),
        name="Sheena",
    )
    customer = message.customer
    assert (customer.name, customer.phone_e164, customer.country) == ("Sheena", "+16505551234", "US")
    assert (message.direction, message.status, message.occurred_at) == ("inbound", "received", at(0, "09:00"))
    assert customer.last_inbound_at == at(0, "09:00")


def test_receive_message_is_idempotent_on_wamid():
    first = services.receive_message(
        wa_id="4915112345678", body="Hallo", wamid="wamid.dup", timestamp=at(0, "09:00")
    )
    again = services.receive_message(
        wa_id="4915112345678",
        body="changed",
        wamid="wamid.dup",
        timestamp=at(0, "11:00"),
        name="Other",
        referral=AD,
    )
    assert again.pk == first.pk and again.body == "Hallo"
    customer = Customer.objects.get()
    assert (customer.last_inbound_at, customer.name, customer.fep_referral_at) == (at(0, "09:00"), "", None)
    assert Message.objects.count() == 1


def test_receive_message_rejects_naive_timestamps_and_bad_wa_ids():
    with pytest.raises(ValueError, match="timezone-aware"):
        services.receive_message(wa_id="15551230000", body="x", wamid="w1", timestamp=datetime(2026, 1, 5, 9))
    with pytest.raises(InvalidMessage, match="digits"):
        services.receive_message(wa_id="555-ABC", body="x", wamid="w2", timestamp=at(0, "09:00"))
    assert services.receive_message(
        wa_id="+15551230000", body="x", wamid="w3", timestamp=at(0, "9:00")
    ).customer.wa_id == ("15551230000")


def test_receive_message_accepts_other_timezones_as_the_same_instant():
    from zoneinfo import ZoneInfo

    sao_paulo = datetime(2026, 1, 5, 6, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))  # = 09:00 UTC
    message = services.receive_message(wa_id="5511987654321", body="Oi", wamid="w-br", timestamp=sao_paulo)
    assert message.customer.country == "BR"
    assert selectors.service_window(message.customer, now=at(1, "08:59:59")).is_open
    assert not selectors.service_window(message.customer, now=at(1, "09:00")).is_open


def test_R6_referral_while_a_free_entry_point_is_open_grants_nothing():
    t = Timeline()
    t.c(at(0, "10:00"), referral=AD)
    f1 = t.text(at(0, "10:05")).conversation
    t.c(at(2, "12:00"), referral=AD)  # F1 is open until Thu 10:05
    assert t.customer.fep_referral_at == at(0, "10:00")
    # After F1 ends, the window (from Wed 12:00) is still open, and a service conversation opens.
    assert t.text(at(3, "10:05")).conversation.category == "service"
    assert f1.expires_at == at(3, "10:05")


def test_R6_referral_after_the_free_entry_point_ended_grants_a_new_one():
    t = Timeline()
    t.c(at(0, "10:00"), referral=AD)
    t.text(at(0, "10:05"))
    t.c(at(3, "10:05"), referral=AD)  # exactly when F1 ends: it is no longer open
    assert t.text(at(3, "10:10")).conversation.category == "free_entry_point"


def test_R6_eligibility_is_used_up_by_the_first_outbound_message():
    t = Timeline()
    t.c(at(0, "10:00"), referral=AD)
    assert selectors.fep_eligibility(t.customer, now=at(0, "10:01")).until == at(1, "10:00")
    f1 = t.template(at(0, "10:05"), "marketing").conversation
    assert not selectors.fep_eligibility(t.customer, now=at(0, "10:06")).is_eligible
    assert t.template(at(0, "11:00"), "utility").conversation == f1


def test_R8_open_conversations_never_wait_for_the_sweep():
    t = Timeline()
    m1 = t.template(at(0, "10:00"), "marketing").conversation
    assert list(selectors.open_conversations(t.customer, now=at(1, "09:59:59"))) == [m1]
    assert list(selectors.open_conversations(t.customer, now=at(1, "10:00"))) == []
    m1.refresh_from_db()
    assert m1.status == "open"  # no sweep has run: the status is stale, the answer is not


def test_R8_sweep_marks_due_conversations_expired_exactly_once():
    t = Timeline()
    t.c(at(0, "09:00"))
    s1 = t.text(at(0, "09:10")).conversation
    m1 = t.template(at(0, "10:00"), "marketing").conversation
    assert services.expire_due_conversations(now=at(1, "09:09:59")) == 0
    assert services.expire_due_conversations(now=at(1, "09:10")) == 1
    assert services.expire_due_conversations(now=at(1, "09:10")) == 0  # idempotent
    with time_machine.travel(at(1, "10:00"), tick=False):
        assert services.expire_due_conversations() == 1
    s1.refresh_from_db()
    m1.refresh_from_db()
    assert (s1.status, s1.status_changed_at, m1.status) == ("expired", at(1, "09:10"), "expired")


def test_R8_sweep_leaves_closed_and_voided_conversations_alone():
    t = Timeline()
    u1 = t.template(at(0, "08:00"), "utility").conversation
    t.c(at(0, "10:00"), referral=AD)
    t.text(at(0, "10:20"))
    assert services.expire_due_conversations(now=at(5, "00:00")) == 1  # only F1; U1 was closed
    u1.refresh_from_db()
    assert u1.status == "closed"


def test_sweep_works_in_batches():
    for _ in range(5):
        t = Timeline()
        t.template(at(0, "10:00"), "marketing")
    assert services.expire_due_conversations(now=at(1, "10:00"), batch_size=2) == 5
    assert not Conversation.objects.filter(status="open").exists()


def test_R9_failed_message_voids_the_conversation_it_alone_opened():
    t = Timeline()
    m1_msg = t.template(at(0, "10:00"), "marketing")
    services.mark_message_failed(
        message=m1_msg, error_code=131049, error_text="held back", now=at(0, "10:01")
    )
    m1 = Conversation.objects.get(pk=m1_msg.conversation_id)
    assert (m1.status, m1.voided_at, m1.closed_at) == ("voided", at(0, "10:01"), m1.opened_at)
    assert list(selectors.open_conversations(t.customer, now=at(0, "10:02"))) == []
    # The next marketing template opens a fresh conversation: the voided one never existed.
    assert t.template(at(0, "11:00"), "marketing").conversation != m1
    # A repeat changes nothing.
    again = services.mark_message_failed(message=m1_msg, error_code=1, now=at(0, "12:00"))
    assert again.error_code == 131049


def test_R9_conversation_joined_by_a_good_message_is_not_voided():
    t = Timeline()
    first = t.template(at(0, "10:00"), "marketing")
    t.template(at(0, "10:30"), "marketing")
    services.mark_message_failed(message=first, error_code=131026, now=at(0, "10:31"))
    conversation = Conversation.objects.get(pk=first.conversation_id)
    assert conversation.status == "open"
    assert list(selectors.open_conversations(t.customer, now=at(0, "11:00"))) == [conversation]


def test_R9_voided_free_entry_point_reopens_what_it_closed_and_restores_eligibility():
    t = Timeline()
    u1 = t.template(at(0, "08:00"), "utility").conversation
    t.c(at(0, "10:00"), referral=AD)
    fep_message = t.text(at(0, "10:20"))
    services.mark_message_failed(message=fep_message, error_code=131026, now=at(0, "10:25"))
    u1.refresh_from_db()
    assert (u1.closed_at, u1.closed_by, u1.status) == (None, None, "open")
    assert t.open_categories(at(0, "10:30")) == ["utility"]
    assert selectors.fep_eligibility(t.customer, now=at(0, "10:30")).is_eligible
    assert t.text(at(0, "10:40")).conversation.category == "free_entry_point"


def test_preview_send_describes_what_the_send_will_do_without_writing():
    t = Timeline()
    t.c(at(0, "09:00"))
    template = factories.template(category="MARKETING")
    t.templates["marketing"] = template
    assert selectors.preview_send(t.customer, template=template, now=at(0, "10:00")).describe() == (
        "opens a new marketing conversation"
    )
    assert (
        selectors.preview_send(t.customer, now=at(0, "10:00")).describe()
        == "opens a new service conversation"
    )
    assert not Conversation.objects.exists()
    t.template(at(0, "10:00"), "marketing")
    assert selectors.preview_send(t.customer, template=template, now=at(0, "11:00")).describe() == (
        "joins the open marketing conversation"
    )
    assert not selectors.preview_send(t.customer, now=at(1, "09:00")).allowed  # free-form, window closed


def test_customer_created_with_only_wa_id_and_name():
    customer = Customer.objects.create(wa_id="447911123456", name="Ann")
    assert customer.phone_e164 == "+447911123456" and customer.country
    assert customer.last_inbound_at is None and customer.fep_referral_at is None
    assert not selectors.service_window(customer, now=datetime(2026, 1, 1, tzinfo=UTC)).is_open
    customer.wa_id = "16505551234"
    customer.save(update_fields=["wa_id"])
    customer.refresh_from_db()
    assert (customer.phone_e164, customer.country) == ("+16505551234", "US")


def test_a_message_sent_elsewhere_follows_the_rules_and_is_recorded_as_accepted(
    django_capture_on_commit_callbacks,
):
    """R2/R4/R3 decide history the way they decide a send (E1's start: Mon 09:00 C, 09:10 B text opens
    S1), but the message is recorded as the platform accepted it, and nothing is handed over."""
    t = Timeline()
    t.c(at(0, "09:00"))
    template = factories.template(category="UTILITY", body="Hello {{1}}, news.")
    with django_capture_on_commit_callbacks(execute=True) as handed_over:
        text = services.record_sent_elsewhere(
            customer=t.customer, wamid="wamid.ELSEWHERE-1", now=at(0, "09:10"), body="Hi there"
        )
        utility = services.record_sent_elsewhere(
            customer=t.customer,
            wamid="wamid.ELSEWHERE-2",
            now=at(0, "09:20"),
            template=template,
            params=["Ann"],
        )
        with pytest.raises(WindowClosed):  # R2: Tue 09:00 is outside the window, as for a send
            services.record_sent_elsewhere(
                customer=t.customer, wamid="wamid.ELSEWHERE-3", now=at(1, "09:00"), body="Too late"
            )
    assert handed_over == []
    assert (text.status, text.wamid, text.occurred_at) == ("sent", "wamid.ELSEWHERE-1", at(0, "09:10"))
    assert (text.conversation.category, text.conversation.opened_at) == ("service", at(0, "09:10"))
    assert (utility.status, utility.kind, utility.body) == ("sent", "template", "Hello Ann, news.")
    assert utility.conversation.category == "utility"  # R3: a template opens its own category's
    assert Message.objects.filter(direction="outbound").count() == 2
    # The platform's later word applies to it as to any message it accepted.
    services.record_status(wamid="wamid.ELSEWHERE-1", status="delivered", timestamp=at(0, "09:11"))
    text.refresh_from_db()
    assert (text.status, text.delivered_at) == ("delivered", at(0, "09:11"))
