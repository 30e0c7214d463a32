"""Migrations conversations 0011 and inbox 0005 (issue 11) from the schema as it was
(0010) with data in it: who spoke last and the search name are filled from what is stored, what the team
had read becomes every agent's and supervisor's own, and the phone number is still digits only."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from tests.conversations.test_migration_0009 import migrate

BEFORE = [("conversations", "0010_message_pricing_changed_at"), ("inbox", "0004_late_2026_permissions")]
AFTER = [("conversations", "0011_inbox_turns_and_search"), ("inbox", "0005_customerseen")]
T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.django_db(transaction=True)
def test_turns_search_names_and_what_was_read_are_filled_from_the_data():
    old = migrate(BEFORE)
    try:
        Customer = old.get_model("conversations", "Customer")
        Message = old.get_model("conversations", "Message")
        User = old.get_model("auth", "User")
        Group = old.get_model("auth", "Group")
        alex = User.objects.create(username="alex")
        alex.groups.add(Group.objects.get_or_create(name="agents")[0])
        outsider = User.objects.create(username="outsider")
        sofia = Customer.objects.create(
            wa_id="5215512345678", name="Sofía Núñez", last_activity_at=T, agent_last_seen_at=T
        )
        quiet = Customer.objects.create(wa_id="5215500000000", username="@Zoë", last_activity_at=T)

        def message(direction, at, wa_type="text"):
            Message.objects.create(
                customer=sofia,
                direction=direction,
                kind="free_form",
                wa_type=wa_type,
                occurred_at=at,
                status="received" if direction == "inbound" else "read",
            )

        message("outbound", T - timedelta(hours=2))
        message("inbound", T - timedelta(hours=1))
        message("inbound", T, wa_type="reaction")  # no turn

        new = migrate(AFTER)
        Customer = new.get_model("conversations", "Customer")
        CustomerSeen = new.get_model("inbox", "CustomerSeen")
        sofia, quiet = Customer.objects.get(pk=sofia.pk), Customer.objects.get(pk=quiet.pk)
        assert (sofia.last_turn_direction, sofia.last_turn_at) == ("inbound", T - timedelta(hours=1))
        assert (quiet.last_turn_direction, quiet.last_turn_at) == ("", None)
        assert (sofia.search_name, quiet.search_name) == ("sofia nunez", "@zoe")
        seen = {(s.agent_id, s.customer_id, s.seen_at) for s in CustomerSeen.objects.all()}
        assert seen == {(alex.pk, sofia.pk, T)}
        assert outsider.pk not in {agent for agent, _, _ in seen}
        with pytest.raises(IntegrityError), transaction.atomic():
            Customer.objects.create(wa_id="12ab", last_activity_at=T)
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
