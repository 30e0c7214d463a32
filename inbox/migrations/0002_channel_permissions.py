from django.db import migrations


def sync(apps, schema_editor):
    from inbox.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0001_roles"),
        ("conversations", "0004_channel_fields_and_discrepancies"),
        ("templates_app", "0003_templateevent"),
        ("whatsapp", "0001_initial"),
    ]

    operations = [migrations.RunPython(sync, migrations.RunPython.noop)]
