"""Gave the roles the report permissions.

The role groups and their permissions are kept by accounts.roles.sync_roles after every migrate (a
post_migrate handler): migrations import no app code, so this one no longer does anything."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_initial"),
        ("inbox", "0003_inbox_permissions"),
    ]

    operations = []
