"""Migration conversations 0016 (issue 15) from the schema as it was (0015) with data in it: who holds a
thread now counts as having held it since always, so the reports attribute past windows as before."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.conversations.test_migration_0009 import migrate

BEFORE = [("conversations", "0015_merge_replies_and_outbound_media")]
AFTER = [("conversations", "0016_teams_labels_history")]
T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.django_db(transaction=True)
def test_current_assignees_become_the_first_rows_of_the_history():
    old = migrate(BEFORE)
    try:
        Customer = old.get_model("conversations", "Customer")
        User = old.get_model("auth", "User")
        alex = User.objects.create(username="alex")
        held = Customer.objects.create(wa_id="4915112345678", last_activity_at=T, assigned_to=alex)
        free = Customer.objects.create(wa_id="4915112345679", last_activity_at=T)

        new = migrate(AFTER)
        Assignment = new.get_model("conversations", "Assignment")
        rows = list(
            Assignment.objects.values_list("customer_id", "agent_id", "started_at", "ended_at", "how")
        )
        assert rows == [(held.pk, alex.pk, datetime(1970, 1, 1, tzinfo=UTC), None, "history")]
        assert not Assignment.objects.filter(customer_id=free.pk).exists()
        assert new.get_model("conversations", "Customer").objects.get(pk=held.pk).team_id is None
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
