from datetime import UTC, datetime

import pytest
import time_machine

from conversations import services
from conversations.models import Message
from tests import factories
from tests.whatsapp.fake_graph import FakeGraph

SENT_AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def fake_graph():
    """A Graph API stand-in on 127.0.0.1, fresh for each test."""
    with FakeGraph() as fake:
        yield fake


@pytest.fixture
def sent_message():
    """A utility template we sent on Mon 5 Jan 2026 09:00 UTC to +1 650-555-1234, accepted by the platform
    as wamid.OURS (the statuses' tests)."""
    customer = factories.customer(wa_id="16505551234")
    template = factories.template(category="UTILITY")
    with time_machine.travel(SENT_AT, tick=False):
        message = services.send_template(customer=customer, template=template, params=["Ann"])
    Message.objects.filter(pk=message.pk).update(status="sending")
    services.record_accepted(message=message, wamid="wamid.OURS")
    return Message.objects.get(pk=message.pk)
