"""What agents have read is per agent now (inbox.CustomerSeen, filled from this column by inbox 0005).

SQLite may rebuild the customer table to drop a column, which drops its triggers: the digits-only check
on the phone number (migration 0002) is created again after it."""

from django.db import migrations

_SQLITE_BAD_WA_ID = "NEW.wa_id GLOB '*[^0-9]*' OR length(NEW.wa_id) NOT BETWEEN 1 AND 20"


def restore_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for when, event in (("insert", "INSERT"), ("update", "UPDATE OF wa_id")):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS customer_wa_id_digits_{when}")
        schema_editor.execute(
            f"""CREATE TRIGGER customer_wa_id_digits_{when} BEFORE {event} ON conversations_customer
            WHEN {_SQLITE_BAD_WA_ID}
            BEGIN SELECT RAISE(ABORT, 'customer_wa_id_digits: wa_id must be digits'); END"""
        )


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0011_inbox_turns_and_search"),
        ("inbox", "0005_customerseen"),
    ]

    operations = [
        migrations.RemoveField(model_name="customer", name="agent_last_seen_at"),
        migrations.RunPython(restore_sqlite_triggers, migrations.RunPython.noop),
    ]
