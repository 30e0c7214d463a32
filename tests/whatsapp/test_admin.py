"""Admins read webhook deliveries as received and process a failed one again; agents cannot."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from conversations.models import Message
from tests.whatsapp import deliveries as d
from whatsapp import services as channel
from whatsapp.models import WebhookDelivery

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def user(role, **fields):
    account = User.objects.create_user(role, password="x", **fields)
    account.groups.set([Group.objects.get(name=role)])
    return account


def stored(delivery):
    body, header = d.signed(delivery, "secret")
    return channel.ingest(body, signature=header)


def test_admins_list_and_read_deliveries_as_received(client):
    client.force_login(user("admins", is_staff=True))
    delivery = stored(d.inbound_delivery("16505551234", "Olá", timestamp=T0))
    listing = client.get(reverse("admin:whatsapp_webhookdelivery_changelist"))
    assert listing.status_code == 200 and f">{delivery.pk}<" in listing.text
    page = client.get(reverse("admin:whatsapp_webhookdelivery_change", args=[delivery.pk]))
    assert page.status_code == 200 and "Olá" in page.text and "whatsapp_business_account" in page.text
    assert 'name="_save"' not in page.text  # read-only


def test_process_again_replays_a_failed_delivery(client):
    client.force_login(user("admins", is_staff=True))
    delivery = stored(d.inbound_delivery("16505551234", "hi", timestamp=T0))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="dead", error="earlier bug")
    response = client.post(
        reverse("admin:whatsapp_webhookdelivery_changelist"),
        {"action": "process_again", "_selected_action": [delivery.pk]},
    )
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == "processed" and Message.objects.count() == 1


def test_agents_cannot_see_deliveries(client):
    client.force_login(user("agents"))
    response = client.get(reverse("admin:whatsapp_webhookdelivery_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
