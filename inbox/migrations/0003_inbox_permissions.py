"""Gave the roles the inbox's permissions.

The role groups and their permissions are kept by accounts.roles.sync_roles after every migrate (a
post_migrate handler): migrations import no app code, so this one no longer does anything."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0002_channel_permissions"),
        ("conversations", "0005_inbox_assignment_and_send_tokens"),
    ]

    operations = []
