"""What is free under per-message pricing becomes dated rows an admin manages (FreeMessageRule), started
with the platform's published schedule; per-message rates may price service (free-form) messages; the
messages' rollup keeps where each message was sent and what the platform's pricing said instead of a
verdict, so the rules are applied when a page is read.

The rollup's rows are computed from conversations and messages: they are emptied here, the pages count
every day live until the next `reports.refresh_rollup` run (every 5 minutes) rolls them up again."""

import datetime

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# The platform's schedule as of this migration (reports/fixtures/free_message_rules.json keeps it
# current). Meta, "Upcoming pricing updates for Meta Business Agent, service and utility messages"
# (updated 2026-07-01): from 2026-10-01 service messages (free since November 2024) and utility templates
# sent inside an open customer service window (free since July 2025) are charged; the 72 h free-entry
# point is unchanged.
SCHEDULE = [
    (
        "free_entry_point",
        "",
        datetime.date(2024, 1, 1),
        None,
        "WhatsApp: every message inside a free-entry point is free for 72 h (unchanged on 2026-10-01)",
    ),
    (
        "customer_service_window",
        "service",
        datetime.date(2024, 1, 1),
        datetime.date(2026, 10, 1),
        "WhatsApp: free-form (service) messages inside the window are free (since 2024-11-01) until "
        "2026-09-30, charged from 2026-10-01",
    ),
    (
        "customer_service_window",
        "utility",
        datetime.date(2024, 1, 1),
        datetime.date(2026, 10, 1),
        "WhatsApp: utility templates inside the window are free (since 2025-07-01) until 2026-09-30, "
        "charged from 2026-10-01",
    ),
]


def start_with_the_platforms_schedule(apps, schema_editor):
    FreeMessageRule = apps.get_model("reports", "FreeMessageRule")
    if FreeMessageRule.objects.exists():
        return
    FreeMessageRule.objects.bulk_create(
        FreeMessageRule(inside=inside, category=category, effective_from=start, effective_until=until, note=note)
        for inside, category, start, until, note in SCHEDULE
    )


def empty_the_rollup(apps, schema_editor):
    for name in (
        "ConversationDay",
        "ConversationLengthDay",
        "ClosedEarlyDay",
        "FirstResponseDay",
        "UnansweredWindow",
        "RollupDay",
        "RollupState",
    ):
        apps.get_model("reports", name).objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0005_rollup_state"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="FreeMessageRule",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "inside",
                    models.CharField(
                        choices=[
                            ("free_entry_point", "Inside a free-entry point (72 h)"),
                            ("customer_service_window", "Inside an open customer service window"),
                        ],
                        max_length=32,
                    ),
                ),
                (
                    "category",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("marketing", "Marketing"),
                            ("utility", "Utility"),
                            ("authentication", "Authentication"),
                            ("service", "Service"),
                        ],
                        help_text="Service = free-form messages (anything but a template); the others are "
                        "template categories. Blank: every message.",
                        max_length=24,
                    ),
                ),
                (
                    "effective_from",
                    models.DateField(help_text="The first day (business time zone) the rule applies."),
                ),
                (
                    "effective_until",
                    models.DateField(
                        blank=True,
                        help_text="The first day it no longer applies. Blank: until further notice.",
                        null=True,
                    ),
                ),
                ("note", models.CharField(blank=True, help_text="Where the rule comes from.", max_length=200)),
            ],
            options={
                "verbose_name": "what is free (per-message pricing)",
                "verbose_name_plural": "what is free (per-message pricing)",
                "ordering": ["inside", "category", "-effective_from"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("inside", "category", "effective_from"), name="free_rule_unique_start"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("effective_until__isnull", True))
                        | models.Q(("effective_until__gt", models.F("effective_from"))),
                        name="free_rule_until_after_from",
                    ),
                ],
            },
        ),
        migrations.RunPython(start_with_the_platforms_schedule, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="rate",
            name="pricing_model",
            field=models.CharField(
                choices=[
                    ("conversation", "Per conversation (24 h billing buckets, until June 2025)"),
                    ("message", "Per message (since July 2025)"),
                ],
                max_length=16,
            ),
        ),
        migrations.RunPython(empty_the_rollup, migrations.RunPython.noop),
        migrations.DeleteModel(name="MessageDay"),
        migrations.CreateModel(
            name="MessageDay",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField()),
                (
                    "category",
                    models.CharField(
                        help_text="The template's category; service for a free-form message.", max_length=24
                    ),
                ),
                ("country", models.CharField(blank=True, max_length=2)),
                (
                    "in_free_entry_point",
                    models.BooleanField(help_text="Joined a free-entry-point conversation (R6)."),
                ),
                (
                    "in_window",
                    models.BooleanField(
                        help_text="The customer service window was open (R1); free-form messages always (R2)."
                    ),
                ),
                (
                    "after_closed_window",
                    models.BooleanField(
                        help_text="Templates answering the customer's last message (nothing of ours in "
                        "between) after their window had closed: replies that had to be templates."
                    ),
                ),
                (
                    "pricing_model",
                    models.CharField(
                        blank=True,
                        help_text="CBP or PMP, as the platform priced them; blank: no pricing yet.",
                        max_length=8,
                    ),
                ),
                (
                    "pricing_category",
                    models.CharField(blank=True, help_text="The platform's category.", max_length=40),
                ),
                (
                    "pricing_type",
                    models.CharField(blank=True, help_text="The platform's type (PMP).", max_length=40),
                ),
                (
                    "charged_by_platform",
                    models.BooleanField(
                        help_text="The platform charged them: type regular, or billable without a type (CBP)."
                    ),
                ),
                ("messages", models.PositiveIntegerField()),
                (
                    "agent",
                    models.ForeignKey(
                        blank=True,
                        help_text="Who sent them (none: the system).",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=(
                            "day",
                            "agent",
                            "category",
                            "country",
                            "in_free_entry_point",
                            "in_window",
                            "after_closed_window",
                            "pricing_model",
                            "pricing_category",
                            "pricing_type",
                            "charged_by_platform",
                        ),
                        name="rollup_message_day_key",
                    )
                ],
            },
        ),
    ]
