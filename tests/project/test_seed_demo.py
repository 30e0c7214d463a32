"""`manage.py seed_demo`: users of each role, templates of each category, customers in every state."""

from datetime import timedelta

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.utils import timezone

from conversations import selectors
from conversations.models import Customer
from inbox.demo import DEMO_USERS
from templates_app.models import MessageTemplate

pytestmark = pytest.mark.django_db


def window_and_conversations(wa_id):
    customer = Customer.objects.get(wa_id=wa_id)
    now = timezone.now()
    window = selectors.service_window(customer, now=now)
    open_now = [c.category for c in selectors.open_conversations(customer, now=now)]
    return customer, window, open_now, now


def test_seed_demo_creates_every_interesting_state():
    call_command("seed_demo", "--force")

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

    _, window, open_now, _ = window_and_conversations("4915112345678")
    assert not window.is_open and open_now == []

    _, window, open_now, now = window_and_conversations("6591234567")
    assert window.is_open and open_now == ["free_entry_point"]

    omar, window, open_now, now = window_and_conversations("971501234567")
    assert window.is_open and open_now == [] and selectors.fep_eligibility(omar, now=now).is_eligible

    _, window, open_now, _ = window_and_conversations("2348012345678")
    assert not window.is_open and window.opened_at is None and open_now == ["utility"]


def test_seed_demo_is_repeatable_and_refreshes_the_windows():
    call_command("seed_demo", "--force")
    call_command("seed_demo", "--force")
    assert Customer.objects.count() == 7
    assert Customer.objects.get(wa_id="16505551234").messages.count() == 2


def test_seed_demo_refuses_to_run_without_debug():
    with pytest.raises(CommandError, match="public passwords"):
        call_command("seed_demo")
