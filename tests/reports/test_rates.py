"""The rate card: admin-managed, validated, with sample rates shipped as examples."""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management import call_command

from reports.demo import load_sample_rates
from reports.models import Rate
from reports.pricing import RateCard

pytestmark = pytest.mark.django_db


def rate(**fields):
    defaults = {
        "pricing_model": "conversation",
        "category": "marketing",
        "country": "US",
        "price": Decimal("0.025"),
        "effective_from": date(2025, 1, 1),
    }
    return Rate(**(defaults | fields))


def test_overlapping_dates_for_one_price_are_refused():
    rate(effective_until=date(2025, 7, 1)).save()
    with pytest.raises(ValidationError, match="covers some of these days"):
        rate(effective_from=date(2025, 6, 1)).full_clean()
    rate(effective_from=date(2025, 7, 1)).full_clean()  # starts the day the first one stops
    rate(country="GB", effective_from=date(2025, 6, 1)).full_clean()


def test_free_entry_points_are_free_and_service_messages_have_per_message_rates():
    with pytest.raises(ValidationError, match="always free"):
        rate(category="free_entry_point").full_clean()
    with pytest.raises(ValidationError, match="always free"):
        rate(pricing_model="message", category="free_entry_point").full_clean()
    rate(pricing_model="message", category="service").full_clean()  # charged from 2026-10-01


def test_the_country_rate_wins_over_the_default_within_its_dates():
    rate(country="", price=Decimal("0.05")).save()
    rate(price=Decimal("0.02"), effective_until=date(2025, 7, 1)).save()
    card = RateCard.load()
    assert card.rate("conversation", "marketing", "US", date(2025, 6, 30)).price == Decimal("0.02")
    assert card.rate("conversation", "marketing", "US", date(2025, 7, 1)).price == Decimal("0.05")
    assert card.rate("conversation", "marketing", "BR", date(2025, 1, 1)).price == Decimal("0.05")
    assert card.rate("conversation", "marketing", "BR", date(2024, 12, 31)) is None


def test_the_sample_rates_are_examples_and_load_only_into_an_empty_rate_card():
    assert load_sample_rates() > 0
    assert all(r.note.startswith("EXAMPLE") for r in Rate.objects.all())
    assert load_sample_rates() == 0
    changed = Rate.objects.get(pricing_model="message", category="marketing", country="US")
    changed.price = Decimal("9")
    changed.save()
    call_command("loaddata", "sample_rates", verbosity=0)  # by natural key: updates, never duplicates
    assert Rate.objects.filter(pricing_model="message", category="marketing", country="US").count() == 1


def test_roles_get_the_report_permissions():
    def codenames(role):
        return set(Group.objects.get(name=role).permissions.values_list("codename", flat=True))

    assert {"view_reports"} <= codenames("agents") and "view_team_reports" not in codenames("agents")
    assert {"view_reports", "view_team_reports"} <= codenames("supervisors")
    assert "change_rate" not in codenames("supervisors")
    assert {"view_reports", "view_team_reports", "add_rate", "change_rate", "delete_rate"} <= codenames(
        "admins"
    )


def test_admins_manage_rates_in_the_admin(client):
    from django.contrib.auth.models import User

    admin = User.objects.create_user("robin", password="pw", is_staff=True)
    admin.groups.set([Group.objects.get(name="admins")])
    client.force_login(admin)
    assert client.get("/admin/reports/rate/").status_code == 200
    response = client.post(
        "/admin/reports/rate/add/",
        {
            "pricing_model": "message",
            "category": "utility",
            "country": "DE",
            "currency": "EUR",
            "price": "0.05",
            "effective_from": "2025-07-01",
            "note": "contract 2025",
        },
    )
    assert response.status_code == 302
    assert Rate.objects.get(country="DE").currency == "EUR"


NEW_RATE = {
    "pricing_model": "message",
    "category": "utility",
    "country": "IS",  # no sample rate
    "currency": "EUR",
    "price": "0.05",
    "effective_from": "2025-07-01",
    "note": "contract 2025",
}


@pytest.fixture(params=["admins group", "superuser"])
def rate_admin(request, client):
    """A finding (issue 13): adding a rate in the admin answered 500. Both kinds of admin open the form
    and get every refusal back on it, never a server error (the test client raises one)."""
    from django.contrib.auth.models import User

    if request.param == "superuser":
        admin = User.objects.create_superuser("root", "root@example.com", "pw")
    else:
        admin = User.objects.create_user("robin", password="pw", is_staff=True)
        admin.groups.set([Group.objects.get(name="admins")])
    client.force_login(admin)
    return client


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({}, None),
        ({"category": "free_entry_point"}, "Free-entry-point conversations are always free"),
        ({"country": "de"}, "Two capital letters"),
        ({"effective_from": ""}, "This field is required."),
        ({"effective_from": "", "effective_until": "2025-06-01"}, "This field is required."),
        ({"price": "-1"}, "A price cannot be negative."),
        ({"effective_until": "2025-06-01"}, "The rate must end after the day it starts"),
        ({"pricing_model": "", "category": ""}, "This field is required."),
    ],
)
def test_the_add_form_opens_and_answers_every_post_with_the_form_or_the_list(rate_admin, change, refusal):
    call_command("loaddata", "sample_rates", verbosity=0)
    add = "/admin/reports/rate/add/"
    assert rate_admin.get(add).status_code == 200
    response = rate_admin.post(add, NEW_RATE | change)
    if refusal is None:
        assert response.status_code == 302
        again = rate_admin.post(add, NEW_RATE)  # the same days again: refused as overlapping
        assert again.status_code == 200 and "Another rate for this category and country" in again.text
    else:
        assert response.status_code == 200
        assert refusal in response.text
