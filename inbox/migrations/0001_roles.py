from django.db import migrations


def create_roles(apps, schema_editor):
    from inbox.roles import sync_roles

    sync_roles(apps)


def remove_roles(apps, schema_editor):
    from inbox.roles import ROLE_PERMISSIONS

    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLE_PERMISSIONS)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("conversations", "0002_database_invariants"),
        ("templates_app", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
