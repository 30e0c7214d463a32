"""Gave admins the kept items, previous identifiers and free-message rules.

The role groups and their permissions are kept by accounts.roles.sync_roles after every migrate (a
post_migrate handler): migrations import no app code, so this one no longer does anything."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0003_inbox_permissions"),
        ("conversations", "0009_customer_identities_and_message_pricing"),
        ("whatsapp", "0002_kept_items"),
        ("reports", "0006_free_message_rules_and_platform_pricing"),
    ]

    operations = []
