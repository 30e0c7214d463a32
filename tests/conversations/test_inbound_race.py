"""A customer's message whose wamid another delivery recorded between our check and our insert (two
deliveries naming one message, for two customers, at once): the first record wins, nothing raises and
nothing of the second is written. On PostgreSQL the INSERT says ON CONFLICT DO NOTHING (no savepoint);
elsewhere a savepoint catches the IntegrityError. Both are run here, each on its database."""

import pytest

from conversations import services
from conversations.models import Customer, Message
from conversations.services import inbound
from tests import factories
from tests.factories import at


@pytest.mark.django_db
def test_a_wamid_taken_meanwhile_returns_the_first_record_and_changes_nothing(monkeypatch):
    first = services.receive_message(
        wa_id="15550001111", body="hi", wamid="wamid.SAME", timestamp=at(0, "09:00")
    )
    other = factories.customer(wa_id="15550002222", name="Bo")
    checks = []
    real = inbound._recorded

    def unseen_once(wamid):  # our check ran before the other delivery committed its row
        checks.append(wamid)
        return None if len(checks) == 1 else real(wamid)

    monkeypatch.setattr(inbound, "_recorded", unseen_once)
    returned = services.receive_message(
        wa_id=other.wa_id, body="hi", wamid="wamid.SAME", timestamp=at(0, "09:05"), name="Bo Changed"
    )

    assert returned.pk == first.pk and checks == ["wamid.SAME", "wamid.SAME"]
    assert Message.objects.filter(wamid="wamid.SAME").count() == 1
    other = Customer.objects.get(pk=other.pk)
    assert (other.name, other.last_inbound_at) == ("Bo", None)  # the second's changes were not written
    # The transaction is still usable: the next message of that customer is recorded.
    services.receive_message(wa_id=other.wa_id, body="again", wamid="wamid.NEXT", timestamp=at(0, "09:06"))
    assert Customer.objects.get(pk=other.pk).last_inbound_at == at(0, "09:06")


@pytest.mark.django_db
def test_a_message_without_a_wamid_is_recorded_each_time():
    customer = factories.customer()
    for minute in ("09:00", "09:01"):
        services.receive_message(wa_id=customer.wa_id, body="hi", wamid=None, timestamp=at(0, minute))
    assert Message.objects.filter(customer=customer).count() == 2


@pytest.mark.django_db
def test_a_wamid_taken_then_gone_again_is_an_error_not_a_silent_none(monkeypatch):
    """Taken meanwhile, yet not readable back (deleted again): the delivery fails (and is retried), rather
    than the service answering None for a message."""
    monkeypatch.setattr(inbound, "insert_instance", lambda message, **options: None)
    with pytest.raises(RuntimeError, match="recorded meanwhile"):
        services.receive_message(wa_id="15550003333", body="hi", wamid="wamid.GONE", timestamp=at(0, "09:00"))
    assert not Message.objects.filter(wamid="wamid.GONE").exists()
