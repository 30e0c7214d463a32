"""Gave admins the channel's permissions.

The role groups and their permissions are kept by accounts.roles.sync_roles after every migrate (a
post_migrate handler): migrations import no app code, so this one no longer does anything."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0001_roles"),
        ("conversations", "0004_channel_fields_and_discrepancies"),
        ("templates_app", "0003_templateevent"),
        ("whatsapp", "0001_initial"),
    ]

    operations = []
