from django.db import migrations


def sync(apps, schema_editor):
    from inbox.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    """Give the roles the report permissions: agents their own figures, supervisors and admins the
    team's; admins manage the rate card."""

    dependencies = [
        ("reports", "0001_initial"),
        ("inbox", "0003_inbox_permissions"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
