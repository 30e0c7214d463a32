"""`manage.py seed_demo`: users of each role, templates of each category, customers in every state, and
weeks of history for the reports."""

import io
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db.models import Q
from django.utils import timezone

from config.demo import DEMO_CUSTOMERS, DEMO_USERS
from conversations import selectors
from conversations.models import Conversation, Customer, Message, MessageMedia
from conversations.services import media as media_services
from conversations.services import outbound
from reports.periods import Preset, preset_period
from reports.selectors import Scope, conversation_report, window_report
from templates_app.models import MessageTemplate

pytestmark = pytest.mark.django_db


def window_and_conversations(wa_id):
    customer = Customer.objects.get(wa_id=wa_id)
    now = timezone.now()
    window = selectors.service_window(customer, now=now)
    open_now = [c.category for c in selectors.open_conversations(customer, now=now)]
    return customer, window, open_now, now


def test_seed_demo_creates_every_interesting_state():
    call_command("seed_demo", "--force", "--history-days", "0")

    for username, password, role, _name, is_staff in DEMO_USERS:
        user = authenticate(username=username, password=password)
        assert user is not None and user.groups.filter(name=role).exists() and user.is_staff == is_staff

    approved = MessageTemplate.objects.filter(status="APPROVED")
    assert set(approved.values_list("category", flat=True)) == {"MARKETING", "UTILITY", "AUTHENTICATION"}
    assert set(approved.values_list("parameter_format", flat=True)) == {"POSITIONAL", "NAMED"}
    assert MessageTemplate.objects.exclude(status="APPROVED").exists()  # so agents see what they cannot send

    _, window, open_now, now = window_and_conversations("5511987654321")
    assert window.is_open and window.closes_at - now > timedelta(hours=12) and open_now == ["service"]

    _, window, _, now = window_and_conversations("447400123456")
    assert window.is_open and window.closes_at - now < timedelta(minutes=10)

    lukas, window, open_now, _ = window_and_conversations("4915112345678")
    assert not window.is_open and open_now == [] and lukas.marketing_stopped_at is not None

    # Late 2026: a username and no phone number, known by the BSUID; reacted to the reply.
    noa = Customer.objects.get(user_id="IL.70260000000000000001")
    assert (noa.wa_id, noa.username, noa.country) == (None, "@noa.levi", "IL")
    reply = noa.messages.get(direction="outbound")
    assert noa.messages.get(wa_type="reaction").context_wamid == reply.wamid

    _, window, open_now, now = window_and_conversations("6591234567")
    assert window.is_open and open_now == ["free_entry_point"]

    omar, window, open_now, now = window_and_conversations("971501234567")
    assert window.is_open and open_now == [] and selectors.fep_eligibility(omar, now=now).is_eligible

    _, window, open_now, _ = window_and_conversations("2348012345678")
    assert not window.is_open and window.opened_at is None and open_now == ["utility"]


def test_seed_demo_is_repeatable_and_refreshes_the_windows():
    call_command("seed_demo", "--force", "--history-days", "3")
    first = Customer.objects.count()
    call_command("seed_demo", "--force", "--history-days", "3")
    assert Customer.objects.count() == first > 7  # the history's customers replaced, not added again
    assert Customer.objects.get(wa_id="16505551234").messages.count() == 2


def test_the_demo_history_follows_the_rules_and_gives_the_reports_something_to_show(
    django_capture_on_commit_callbacks,
):
    with time_machine.travel(datetime(2026, 3, 12, 15, 0, tzinfo=UTC), tick=False):
        with django_capture_on_commit_callbacks() as dispatched:
            call_command("seed_demo", "--force", "--history-days", "21", stdout=io.StringIO())
        now = timezone.now()
        history = Customer.objects.exclude(
            Q(wa_id__in=[c.wa_id for c in DEMO_CUSTOMERS if c.wa_id])
            | Q(user_id__in=[c.user_id for c in DEMO_CUSTOMERS if c.user_id])
        )

        # Ten countries; every kind of conversation (R3-R6), some voided by a refused send (R9).
        assert history.values("country").distinct().count() == 10
        conversations = Conversation.objects.filter(customer__in=history)
        assert set(conversations.values_list("category", flat=True)) == set(Conversation.Category.values)
        assert conversations.filter(status=Conversation.Status.VOIDED).exists()
        assert conversations.filter(opened_at__lt=now - timedelta(days=20)).exists()
        # Replayed at their own instants: R1/R2 hold for every free-form reply, as the services enforce.
        for reply in Message.objects.filter(customer__in=history, kind=Message.Kind.FREE_FORM,
                                            direction=Message.Direction.OUTBOUND):  # fmt: skip
            wrote = Message.objects.filter(
                customer=reply.customer_id,
                direction=Message.Direction.INBOUND,
                occurred_at__lte=reply.occurred_at,
                occurred_at__gt=reply.occurred_at - timedelta(hours=24),
            )
            assert wrote.exists(), reply
        # The platform's answers recorded, nothing handed to it: only the demo's own 3 sends go out.
        sent = Message.objects.filter(customer__in=history, direction=Message.Direction.OUTBOUND)
        assert not sent.filter(status=Message.Status.QUEUED).exists()
        assert sent.filter(status=Message.Status.READ).exists() and sent.filter(status="failed").exists()
        # And the fetch of each file the demo's customers sent (fetched at once too: nothing pending).
        assert Counter(callback.func for callback in dispatched) == {
            outbound._dispatch_outbound: 3,
            media_services._dispatch_fetch: 4,  # Ravi: a photo, a PDF, a voice note; Pablo: a photo
        }
        assert set(MessageMedia.objects.values_list("status", flat=True)) == {"stored"}

        # The reports: marketing conversations, windows answered and lost, from the rollup for past days.
        period = preset_period(Preset.LAST_7_DAYS, tz=ZoneInfo(settings.BUSINESS_TIME_ZONE), now=now)
        team = Scope()
        conversations_page = conversation_report(period=period, scope=team, now=now)
        cards = {card.label: card.value for card in conversations_page.cards}
        assert cards["Marketing"] > 0 and cards["Service"] > 0
        windows_page = window_report(period=period, scope=team, now=now)
        cards = {card.label: card.value for card in windows_page.cards}
        assert cards["Answered in time"] > 0 and cards["Lost"] > 0
        assert windows_page.rolled_up_through == (now - timedelta(days=4)).date()


def test_seed_demo_refuses_to_run_without_debug():
    with pytest.raises(CommandError, match="public passwords"):
        call_command("seed_demo")
