"""Customers known by a business-scoped user id (BSUID), a phone number, or both (issue 10).

Every existing customer keeps its phone number and everything else; the phone number becomes optional,
and the database refuses a customer with neither identifier (and, as before, two customers with one
phone number; now also two with one BSUID). Messages gain what they reply or react to, structured
details, and the platform's pricing per message in columns the reports can group by (filled here from
the pricing object already stored).

SQLite rebuilds a table to change a column, which drops its triggers: the digits-only check on the phone
number (migration 0002) is created again after the rebuild. Self-contained: no app code is imported.
"""

import django.core.validators
import django.db.models.deletion
import re
from django.conf import settings
from django.db import migrations, models

_SQLITE_BAD_WA_ID = "NEW.wa_id GLOB '*[^0-9]*' OR length(NEW.wa_id) NOT BETWEEN 1 AND 20"


def _restore_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return  # PostgreSQL keeps its CHECK constraint (NULL passes it) through ALTER COLUMN
    for when, event in (("insert", "INSERT"), ("update", "UPDATE OF wa_id")):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS customer_wa_id_digits_{when}")
        schema_editor.execute(
            f"""CREATE TRIGGER customer_wa_id_digits_{when} BEFORE {event} ON conversations_customer
            WHEN {_SQLITE_BAD_WA_ID}
            BEGIN SELECT RAISE(ABORT, 'customer_wa_id_digits: wa_id must be digits'); END"""
        )


def _fill_pricing_parts(apps, schema_editor):
    Message = apps.get_model("conversations", "Message")
    batch = []
    for message in Message.objects.filter(pricing__isnull=False).only("pk", "pricing").iterator(2000):
        pricing = message.pricing if isinstance(message.pricing, dict) else {}
        model = pricing.get("pricing_model")
        message.pricing_model = str(model)[:8] if isinstance(model, str) else ""
        message.pricing_category = str(pricing.get("category") or "")[:40]
        message.pricing_type = str(pricing.get("type") or "")[:40]
        billable = pricing.get("billable")
        message.billable = billable if isinstance(billable, bool) else None
        batch.append(message)
        if len(batch) >= 2000:
            Message.objects.bulk_update(batch, ["pricing_model", "pricing_category", "pricing_type", "billable"])
            batch = []
    if batch:
        Message.objects.bulk_update(batch, ["pricing_model", "pricing_category", "pricing_type", "billable"])


class Migration(migrations.Migration):

    dependencies = [
        ('conversations', '0008_change_indexes'),
        ('templates_app', '0004_template_admin_fields'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='customer',
            name='identity_changed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='customer',
            name='marketing_stopped_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='customer',
            name='parent_user_id',
            field=models.CharField(blank=True, max_length=160, verbose_name='parent business-scoped user id'),
        ),
        migrations.AddField(
            model_name='customer',
            name='user_id',
            field=models.CharField(blank=True, help_text="The platform's id for this user in our business portfolio (BSUID), e.g. US.1349….", max_length=160, null=True, unique=True, validators=[django.core.validators.RegexValidator(re.compile('[A-Za-z0-9][A-Za-z0-9._:-]{0,159}'), 'A business-scoped user id is one word of letters and digits, e.g. US.1349….')], verbose_name='business-scoped user id'),
        ),
        migrations.AddField(
            model_name='customer',
            name='username',
            field=models.CharField(blank=True, help_text='The WhatsApp username (display only).', max_length=100),
        ),
        migrations.AddField(
            model_name='message',
            name='billable',
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='message',
            name='context_wamid',
            field=models.CharField(blank=True, max_length=128, verbose_name='replies or reacts to'),
        ),
        migrations.AddField(
            model_name='message',
            name='details',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='message',
            name='pricing_category',
            field=models.CharField(blank=True, max_length=40),
        ),
        migrations.AddField(
            model_name='message',
            name='pricing_model',
            field=models.CharField(blank=True, help_text='CBP or PMP.', max_length=8),
        ),
        migrations.AddField(
            model_name='message',
            name='pricing_type',
            field=models.CharField(blank=True, help_text='regular, free_customer_service or free_entry_point.', max_length=40),
        ),
        migrations.AlterField(
            model_name='customer',
            name='wa_id',
            field=models.CharField(blank=True, help_text="The customer's phone number in digits, when the platform shares it.", max_length=20, null=True, unique=True, validators=[django.core.validators.RegexValidator('^[0-9]{1,20}$', 'A WhatsApp id is the phone number in digits only.')], verbose_name='phone number (WhatsApp id)'),
        ),
        migrations.AddIndex(
            model_name='message',
            index=models.Index(condition=models.Q(('context_wamid', ''), _negated=True), fields=['context_wamid'], name='message_context_idx'),
        ),
        migrations.AddConstraint(
            model_name='customer',
            constraint=models.CheckConstraint(condition=models.Q(('wa_id__isnull', False), ('user_id__isnull', False), _connector='OR'), name='customer_has_identifier'),
        ),
        migrations.AddConstraint(
            model_name='customer',
            constraint=models.CheckConstraint(condition=models.Q(('user_id', ''), _negated=True), name='customer_user_id_not_empty'),
        ),
        migrations.CreateModel(
            name='PreviousIdentifier',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('wa_id', 'Phone number'), ('user_id', 'Business-scoped user id')], max_length=8)),
                ('value', models.CharField(max_length=160)),
                ('replaced_at', models.DateTimeField()),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='previous_identifiers', to='conversations.customer')),
            ],
            options={
                'ordering': ['-replaced_at', '-id'],
                'indexes': [models.Index(fields=['kind', 'value'], name='previous_identifier_idx')],
                'constraints': [models.UniqueConstraint(fields=('kind', 'value', 'customer'), name='previous_identifier_once'), models.CheckConstraint(condition=models.Q(('kind__in', ['wa_id', 'user_id'])), name='previous_identifier_kind')],
            },
        ),
        migrations.RunPython(_restore_sqlite_triggers, migrations.RunPython.noop),
        migrations.RunPython(_fill_pricing_parts, migrations.RunPython.noop),
    ]
