"""Migration conversations 0009 (customers by BSUID, phone or both; pricing per message) from the
schema as it was (0008) with data in it: every customer keeps everything, the phone number becomes
optional, a customer with neither identifier is refused, and pricing objects already stored are split
into the new columns."""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("conversations", "0008_change_indexes")]
AFTER = [("conversations", "0009_customer_identities_and_message_pricing")]
T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_existing_customers_and_messages_keep_everything():
    old = migrate(BEFORE)
    try:
        Customer = old.get_model("conversations", "Customer")
        Message = old.get_model("conversations", "Message")
        ana = Customer.objects.create(
            wa_id="4915112345678", name="Ana", phone_e164="+4915112345678", country="DE", last_inbound_at=T
        )
        sent = Message.objects.create(
            customer=ana,
            direction="outbound",
            kind="free_form",
            body="Hello",
            occurred_at=T,
            status="read",
            pricing={
                "billable": False,
                "pricing_model": "PMP",
                "type": "free_customer_service",
                "category": "service",
            },
        )
        older = Message.objects.create(
            customer=ana,
            direction="outbound",
            kind="free_form",
            body="Earlier",
            occurred_at=T,
            status="read",
            pricing={"billable": True, "pricing_model": "CBP", "category": "marketing"},
        )

        new = migrate(AFTER)
        Customer = new.get_model("conversations", "Customer")
        Message = new.get_model("conversations", "Message")
        ana = Customer.objects.get(pk=ana.pk)
        assert (ana.wa_id, ana.name, ana.phone_e164, ana.country, ana.last_inbound_at) == (
            "4915112345678",
            "Ana",
            "+4915112345678",
            "DE",
            T,
        )
        assert (ana.user_id, ana.username, ana.parent_user_id) == (None, "", "")
        parts = {
            m.pk: (m.pricing_model, m.pricing_category, m.pricing_type, m.billable)
            for m in Message.objects.all()
        }
        assert parts == {
            sent.pk: ("PMP", "service", "free_customer_service", False),
            older.pk: ("CBP", "marketing", "", True),
        }
        # The new invariants hold on the migrated table: a BSUID-only customer is fine, nobody is not,
        # and the phone number is still digits only.
        Customer.objects.create(user_id="US.13491208655302741918", country="US", last_activity_at=T)
        for fields in (
            {},
            {"wa_id": "4915112345678"},
            {"user_id": "US.13491208655302741918"},
            {"wa_id": "12ab"},
        ):
            with pytest.raises(IntegrityError), transaction.atomic():
                Customer.objects.create(last_activity_at=T, **fields)
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
