"""The agents' read-only template catalogue in the inbox (/templates/): what can be sent, what cannot and
why; behind a login and the view permission; agents and supervisors never edit templates."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import roles
from tests import factories

pytestmark = pytest.mark.django_db

URL = reverse("inbox:templates")


def member(django_user_model, username, role=None):
    user = django_user_model.objects.create_user(username)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def templates():
    approved = factories.template(
        "UTILITY", "APPROVED", name="order_update", body="Hi {{1}}, your order shipped."
    )
    approved.components = [
        {"type": "HEADER", "format": "TEXT", "text": "Shipped"},
        {"type": "BODY", "text": "Hi {{1}}, your order shipped.", "example": {"body_text": [["Pablo"]]}},
        {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Thanks"}]},
    ]
    approved.save()
    factories.template("MARKETING", "PAUSED", name="winter_promo", body="Hi {{1}}, winter deals.")
    factories.template("MARKETING", "REJECTED", name="free_gift", rejected_reason="PROMOTIONAL")
    factories.template("UTILITY", "PENDING", name="new_feature", body="Hi {{1}}, we added {{2}} for you.")


@pytest.mark.parametrize("role", [roles.AGENTS, roles.SUPERVISORS])
def test_agents_and_supervisors_read_the_catalogue(client, django_user_model, templates, role):
    client.force_login(member(django_user_model, "reader", role))
    response = client.get(URL)

    assert response.status_code == 200
    sendable = [e.template.name for e in response.context["catalogue"].sendable]
    not_sendable = [e.template.name for e in response.context["catalogue"].not_sendable]
    assert sendable == ["order_update"]
    assert not_sendable == ["free_gift", "winter_promo", "new_feature"]  # by category, then name
    text = response.text
    assert '<span class="tpl-part--example">Pablo</span>' in text
    assert "<li>Thanks</li>" in text and "Shipped" in text
    assert "WhatsApp refused it: promotional content in a template that is not MARKETING." in text
    assert "Paused by WhatsApp after customers reported or blocked it" in text
    assert "To fill in: <code>{{1}}</code>, <code>{{2}}</code>" in text
    assert "What the statuses mean" in text
    assert "/static/templates_app/catalogue.css" in text
    assert 'style="' not in text and "<script>" not in text  # the strict CSP holds
    assert "admin/templates_app" not in text  # no way to edit from here


def test_an_approved_template_the_inbox_cannot_fill_is_listed_apart_with_why(client, django_user_model):
    offer = factories.template("MARKETING", "APPROVED", name="caribbean_offer", body="Hi {{1}}, 25% off!")
    offer.components = [
        {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aW..."]}},
        {
            "type": "LIMITED_TIME_OFFER",
            "limited_time_offer": {"text": "Expiring offer!", "has_expiration": True},
        },
        *offer.components,
        {"type": "BUTTONS", "buttons": [{"type": "COPY_CODE", "example": "CARIBE25"}]},
    ]
    offer.save()
    factories.template("UTILITY", "APPROVED", name="order_update")
    client.force_login(member(django_user_model, "reader", roles.AGENTS))
    response = client.get(URL)

    catalogue = response.context["catalogue"]
    assert [e.template.name for e in catalogue.sendable] == ["order_update"]
    assert [e.template.name for e in catalogue.not_sendable_here] == ["caribbean_offer"]
    assert catalogue.not_sendable == ()
    text = response.text
    assert "Approved, but not sendable from the inbox (1)" in text
    assert (
        "Not sendable from the inbox: it is a limited-time offer, whose expiry the inbox cannot set." in text
    )
    assert "[Limited-time offer: Expiring offer!, with a countdown to its expiry]" in text
    assert "<li>Copy code</li>" in text


def test_search_by_name_or_text(client, django_user_model, templates):
    client.force_login(member(django_user_model, "reader", roles.AGENTS))
    catalogue = client.get(URL, {"q": "winter deals"}).context["catalogue"]
    assert [e.template.name for e in (*catalogue.sendable, *catalogue.not_sendable)] == ["winter_promo"]


def test_the_catalogue_runs_a_constant_number_of_queries(client, django_user_model):
    client.force_login(member(django_user_model, "reader", roles.AGENTS))
    factories.template("UTILITY", "APPROVED", name="first")
    client.get(URL)
    with CaptureQueriesContext(connection) as few:
        client.get(URL)
    for n in range(20):
        factories.template("UTILITY", "APPROVED" if n % 2 else "PAUSED", name=f"t_{n}")
    with CaptureQueriesContext(connection) as many:
        client.get(URL)
    assert len(many) == len(few)


def test_the_inbox_links_the_catalogue(client, django_user_model):
    client.force_login(member(django_user_model, "reader", roles.AGENTS))
    assert f'<a href="{URL}">Templates</a>' in client.get(reverse("inbox:home")).text


def test_without_the_permission_the_page_says_what_is_missing(client, django_user_model):
    client.force_login(member(django_user_model, "nobody"))
    response = client.get(URL)
    assert response.status_code == 403
    assert "see the message templates (agents, supervisors and admins)" in response.text


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith(reverse("inbox:login"))
