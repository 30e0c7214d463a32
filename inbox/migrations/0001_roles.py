"""Created the role groups (agents, supervisors, admins).

The role groups and their permissions are kept by accounts.roles.sync_roles after every migrate (a
post_migrate handler): migrations import no app code, so this one no longer does anything."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("conversations", "0002_database_invariants"),
        ("templates_app", "0001_initial"),
    ]

    operations = []
