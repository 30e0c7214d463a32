"""Joins the two 0014s of issue 14 (agents' replies and reactions; agents' attachments), which touch
different tables and are independent."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0014_agent_replies"),
        ("conversations", "0014_outbound_media"),
    ]
    operations = []
