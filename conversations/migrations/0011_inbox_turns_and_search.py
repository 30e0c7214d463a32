"""The inbox at 100,000 customers (issue 11): who spoke last and a search name kept on the customer, and
the indexes its list, filter counts and search read.

- `platform_read_*`: what was last marked read on WhatsApp (whatsapp.reading), empty until then.
- `last_turn_at` / `last_turn_direction`: the latest message that is a turn (reactions and platform
  notices aside), filled here from the messages; the services keep it from now on.
- `search_name`: the name and username folded (NFKD, accents dropped, casefold), filled here in Python
  with the same folding as conversations.search (copied: migrations import no app code).
- The list's free-entry-point state: open free-entry-point conversations by expiry.
- PostgreSQL: pg_trgm (a trusted extension) and trigram indexes for "contains" searches on the search
  name, the phone number and message text. SQLite searches with LIKE, without them.

SQLite rebuilds the customer table to add a column, which drops its triggers: the digits-only check on
the phone number (migration 0002) is created again after the rebuild.
"""

import unicodedata

from django.db import migrations, models

_SQLITE_BAD_WA_ID = "NEW.wa_id GLOB '*[^0-9]*' OR length(NEW.wa_id) NOT BETWEEN 1 AND 20"


def restore_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for when, event in (("insert", "INSERT"), ("update", "UPDATE OF wa_id")):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS customer_wa_id_digits_{when}")
        schema_editor.execute(
            f"""CREATE TRIGGER customer_wa_id_digits_{when} BEFORE {event} ON conversations_customer
            WHEN {_SQLITE_BAD_WA_ID}
            BEGIN SELECT RAISE(ABORT, 'customer_wa_id_digits: wa_id must be digits'); END"""
        )


def _fold(text):
    decomposed = unicodedata.normalize("NFKD", text or "")
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFKC", stripped.casefold())


def fill_search_names(apps, schema_editor):
    Customer = apps.get_model("conversations", "Customer")
    batch = []
    for customer in Customer.objects.only("pk", "name", "username").iterator(5000):
        customer.search_name = " ".join(p for p in (_fold(customer.name), _fold(customer.username)) if p)
        if customer.search_name:
            batch.append(customer)
        if len(batch) >= 5000:
            Customer.objects.bulk_update(batch, ["search_name"])
            batch = []
    Customer.objects.bulk_update(batch, ["search_name"])


# The latest turn of each customer: messages ordered as the thread orders them, reactions and platform
# notices ('system') aside.
FILL_LATEST_TURNS = """
UPDATE conversations_customer SET
    last_turn_at = (
        SELECT m.occurred_at FROM conversations_message m
        WHERE m.customer_id = conversations_customer.id AND m.wa_type NOT IN ('reaction', 'system')
        ORDER BY m.occurred_at DESC, m.id DESC LIMIT 1),
    last_turn_direction = COALESCE((
        SELECT m.direction FROM conversations_message m
        WHERE m.customer_id = conversations_customer.id AND m.wa_type NOT IN ('reaction', 'system')
        ORDER BY m.occurred_at DESC, m.id DESC LIMIT 1), '')
"""

PG_SEARCH_INDEXES = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS customer_search_name_trgm ON conversations_customer "
    "USING gin (search_name gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS customer_wa_id_trgm ON conversations_customer USING gin (wa_id gin_trgm_ops)",
    # Django's icontains compares UPPER(body): the index is on that expression.
    "CREATE INDEX IF NOT EXISTS message_body_trgm ON conversations_message "
    "USING gin (UPPER(body) gin_trgm_ops)",
]
PG_SEARCH_INDEXES_BACKWARD = [
    "DROP INDEX IF EXISTS message_body_trgm",
    "DROP INDEX IF EXISTS customer_wa_id_trgm",
    "DROP INDEX IF EXISTS customer_search_name_trgm",
]


def create_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in PG_SEARCH_INDEXES:
            schema_editor.execute(statement)


def drop_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in PG_SEARCH_INDEXES_BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0010_message_pricing_changed_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="last_turn_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="customer",
            name="last_turn_direction",
            field=models.CharField(blank=True, max_length=8),
        ),
        migrations.AddField(
            model_name="customer",
            name="search_name",
            field=models.CharField(blank=True, editable=False, max_length=400),
        ),
        # What was last marked read on WhatsApp (whatsapp.reading), added here so the SQLite table is
        # rebuilt once, before its triggers are restored.
        migrations.AddField(
            model_name="customer",
            name="platform_read_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="WhatsApp accepted the read mark at"),
        ),
        migrations.AddField(
            model_name="customer",
            name="platform_read_through",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="customer",
            name="platform_read_wamid",
            field=models.CharField(blank=True, max_length=128, verbose_name="marked read on WhatsApp"),
        ),
        migrations.RunPython(restore_sqlite_triggers, migrations.RunPython.noop),
        migrations.RunSQL(FILL_LATEST_TURNS, migrations.RunSQL.noop),
        migrations.RunPython(fill_search_names, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                condition=models.Q(("last_turn_direction", "inbound")),
                fields=["last_inbound_at"],
                name="customer_needs_reply_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                condition=models.Q(("parent_user_id", ""), _negated=True),
                fields=["parent_user_id"],
                name="customer_parent_user_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                condition=models.Q(("category", "free_entry_point")),
                fields=["expires_at", "customer"],
                name="conversation_fep_open_idx",
            ),
        ),
        migrations.RunPython(create_search_indexes, drop_search_indexes),
    ]
