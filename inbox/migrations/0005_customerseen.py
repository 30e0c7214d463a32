"""Unread counts per agent (issue 11): what each agent has read, in its own row. Until now the team shared
one instant per customer (Customer.agent_last_seen_at, removed by conversations 0012): every member of
the agents and supervisors groups starts from it, so nothing read becomes unread again."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

COPY_TEAM_SEEN = """
INSERT INTO inbox_customerseen (agent_id, customer_id, seen_at)
SELECT members.user_id, c.id, c.agent_last_seen_at
FROM conversations_customer c
CROSS JOIN (SELECT DISTINCT ug.user_id FROM auth_user_groups ug
            JOIN auth_group g ON g.id = ug.group_id WHERE g.name IN ('agents', 'supervisors')) members
WHERE c.agent_last_seen_at IS NOT NULL
"""


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0011_inbox_turns_and_search"),
        ("inbox", "0004_late_2026_permissions"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="CustomerSeen",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("seen_at", models.DateTimeField()),
                (
                    "agent",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "customer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="conversations.customer",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("agent", "customer"), name="customer_seen_once")
                ],
            },
        ),
        migrations.RunSQL(COPY_TEAM_SEEN, migrations.RunSQL.noop),
    ]
