# ruff: noqa: S608 — only quoted table and column names of our models are interpolated; values are parameters
"""What more than one kind of write needs: the customer row lock every decision is taken under, and who
spoke last (kept by inbound and outbound messages alike)."""

from __future__ import annotations

from datetime import datetime

from django.db import connections, models

from conversations import policy
from conversations.models import Customer


def lock_customer(customer: Customer | int) -> Customer:
    pk = customer.pk if isinstance(customer, Customer) else customer
    return Customer.objects.select_for_update().get(pk=pk)


def record_turn(customer: Customer, wa_type: str, direction: str, at: datetime) -> set[str]:
    """Keep who spoke last (Customer.last_turn_direction, the inbox's "needs reply") when a message at
    `at` is the customer's latest turn: a reaction or a notice is none, and a late delivery stamped
    before the latest turn changes nothing (a later row wins a tie, as in the thread's order). Returns
    the fields it changed, for the caller's `update_fields`."""
    if not policy.is_turn(wa_type) or (customer.last_turn_at is not None and at < customer.last_turn_at):
        return set()
    customer.last_turn_at, customer.last_turn_direction = at, direction
    return {"last_turn_at", "last_turn_direction"}


def update_columns(instance: models.Model, fields: set[str] | list[str]) -> None:
    """`instance.save(update_fields=fields)` in one plain UPDATE of those columns: the same row written,
    without compiling the ORM's query (for the hot paths; the models it serves have no save() of their
    own, no signals and no auto_now fields among those written)."""
    model = type(instance)
    connection = connections[instance._state.db or model.objects.db]
    quote = connection.ops.quote_name
    assignments, params = [], []
    for name in sorted(fields):
        field = model._meta.get_field(name)
        assignments.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_save(getattr(instance, field.attname), connection))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(model._meta.db_table)} SET {', '.join(assignments)}"
            f" WHERE {quote(model._meta.pk.column)} = %s",
            [*params, instance.pk],
        )
