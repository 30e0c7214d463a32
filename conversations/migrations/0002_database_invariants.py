"""Invariants the database itself refuses to break, whatever code (or person) writes the rows.

1. Never two conversations of one category for one customer open at the same instant (R3, R4, R6, R7).
   A conversation occupies the half-open range [opened_at, coalesce(closed_at, expires_at)); ranges of
   one (customer, category) must not overlap. A voided conversation (closed_at = opened_at) occupies an
   empty range and overlaps nothing.
   - PostgreSQL: an exclusion constraint over tstzrange (btree_gist for the equality parts).
   - SQLite (the embedded default): triggers that abort the insert or update.
2. A WhatsApp id is digits only.
"""

from django.db import migrations

PG_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    """
    ALTER TABLE conversations_conversation
    ADD CONSTRAINT conversation_one_open_per_category
    EXCLUDE USING gist (
        customer_id WITH =,
        category WITH =,
        tstzrange(opened_at, COALESCE(closed_at, expires_at), '[)') WITH &&
    )
    """,
    """
    ALTER TABLE conversations_customer
    ADD CONSTRAINT customer_wa_id_digits CHECK (wa_id ~ '^[0-9]{1,20}$')
    """,
]
PG_BACKWARD = [
    "ALTER TABLE conversations_customer DROP CONSTRAINT IF EXISTS customer_wa_id_digits",
    "ALTER TABLE conversations_conversation DROP CONSTRAINT IF EXISTS conversation_one_open_per_category",
]

# Two ranges [a1, b1) and [a2, b2) overlap iff a1 < b2 and a2 < b1 (and neither is empty).
_SQLITE_OVERLAP = """
    EXISTS (
        SELECT 1 FROM conversations_conversation AS other
        WHERE other.customer_id = NEW.customer_id
          AND other.category = NEW.category
          AND other.id IS NOT NEW.id
          AND other.opened_at < COALESCE(other.closed_at, other.expires_at)
          AND NEW.opened_at < COALESCE(NEW.closed_at, NEW.expires_at)
          AND other.opened_at < COALESCE(NEW.closed_at, NEW.expires_at)
          AND NEW.opened_at < COALESCE(other.closed_at, other.expires_at)
    )
"""
_SQLITE_BAD_WA_ID = "NEW.wa_id GLOB '*[^0-9]*' OR length(NEW.wa_id) NOT BETWEEN 1 AND 20"
SQLITE_FORWARD = [
    f"""
    CREATE TRIGGER conversation_one_open_per_category_insert
    BEFORE INSERT ON conversations_conversation
    WHEN {_SQLITE_OVERLAP}
    BEGIN SELECT RAISE(ABORT, 'conversation_one_open_per_category: overlapping conversation'); END
    """,
    f"""
    CREATE TRIGGER conversation_one_open_per_category_update
    BEFORE UPDATE OF customer_id, category, opened_at, expires_at, closed_at ON conversations_conversation
    WHEN {_SQLITE_OVERLAP}
    BEGIN SELECT RAISE(ABORT, 'conversation_one_open_per_category: overlapping conversation'); END
    """,
    f"""
    CREATE TRIGGER customer_wa_id_digits_insert BEFORE INSERT ON conversations_customer
    WHEN {_SQLITE_BAD_WA_ID}
    BEGIN SELECT RAISE(ABORT, 'customer_wa_id_digits: wa_id must be digits'); END
    """,
    f"""
    CREATE TRIGGER customer_wa_id_digits_update BEFORE UPDATE OF wa_id ON conversations_customer
    WHEN {_SQLITE_BAD_WA_ID}
    BEGIN SELECT RAISE(ABORT, 'customer_wa_id_digits: wa_id must be digits'); END
    """,
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS conversation_one_open_per_category_insert",
    "DROP TRIGGER IF EXISTS conversation_one_open_per_category_update",
    "DROP TRIGGER IF EXISTS customer_wa_id_digits_insert",
    "DROP TRIGGER IF EXISTS customer_wa_id_digits_update",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor)
        if statements is None:
            raise NotImplementedError(
                f"no invariants for database {schema_editor.connection.vendor!r}: use PostgreSQL or SQLite"
            )
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("conversations", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": PG_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
    ]
