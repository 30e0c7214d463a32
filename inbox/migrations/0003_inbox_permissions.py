from django.db import migrations


def sync(apps, schema_editor):
    from inbox.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0002_channel_permissions"),
        ("conversations", "0005_inbox_assignment_and_send_tokens"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
