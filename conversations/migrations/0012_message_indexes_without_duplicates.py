"""Three indexes of conversations_message that no query needs: every index is one more write for each
status a message receives (a non-HOT update), and a campaign brings three per message.
The customer's messages are found through message_thread_idx and message_latest_dir_idx (both start with
customer_id), an agent's through message_agent_idx (agent_id, occurred_at); nothing looks a wamid up by
prefix (the `_like` index Django adds beside a unique CharField; the admin's search is a substring).
Only the indexes go: the foreign keys stay as they are (AlterField would drop and re-validate them,
scanning the table)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

UNNEEDED = {
    "conversations_message_customer_id_d9e88a27": "customer_id",
    "conversations_message_agent_id_c92fbb99": "agent_id",
    "conversations_message_wamid_b13bcaa3_like": "wamid varchar_pattern_ops",  # PostgreSQL only
}


def drop(apps, schema_editor):
    for name in UNNEEDED:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def restore(apps, schema_editor):
    for name, columns in UNNEEDED.items():
        if "varchar_pattern_ops" in columns and schema_editor.connection.vendor != "postgresql":
            continue  # Django makes this index on PostgreSQL only
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON conversations_message ({columns})")


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0011_inbox_turns_and_search"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="message",
                    name="agent",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="sent_messages",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="messages",
                        to="conversations.customer",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop, restore)],
        ),
    ]
