"""Admins see the items kept from deliveries and customers' previous identifiers, and manage the dated
rules of what is free under per-message pricing beside the rate card."""

from django.db import migrations


def sync(apps, schema_editor):
    from inbox.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0003_inbox_permissions"),
        ("conversations", "0009_customer_identities_and_message_pricing"),
        ("whatsapp", "0002_kept_items"),
        ("reports", "0006_free_message_rules_and_platform_pricing"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
