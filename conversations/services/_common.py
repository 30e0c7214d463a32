# ruff: noqa: S608 — only quoted table and column names of our models are interpolated; values are parameters
"""What more than one kind of write needs: the customer row lock every decision is taken under, and who
spoke last (kept by inbound and outbound messages alike)."""

from __future__ import annotations

import functools
from datetime import datetime

from django.db import IntegrityError, connections, models, transaction

from conversations import policy, prepared
from conversations.models import Customer


def lock_customer(customer: Customer | int) -> Customer:
    pk = customer.pk if isinstance(customer, Customer) else customer
    if connections[Customer.objects.db].vendor != "postgresql":
        return Customer.objects.select_for_update().get(pk=pk)
    found = select_instances(_LOCK_CUSTOMER, [pk], Customer)  # the ORM's query, without compiling it
    if found is None:
        raise Customer.DoesNotExist(f"Customer matching query does not exist (id {pk}).")
    return found[0]


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
    connection = connections[instance._state.db or type(instance).objects.db]
    sql, params = _update_sql(instance, fields, connection)
    with prepared.cursor(connection) as cursor:
        cursor.execute(sql, params)


def insert_instance(
    instance: models.Model,
    *,
    then_update: tuple[models.Model, list[str]] | None = None,
    unless_taken: str | None = None,
):
    """`instance.save(force_insert=True)` as one plain INSERT … RETURNING its id, for the hot paths (the
    models it serves have no save() of their own and no signals). `then_update`: (another instance,
    fields) also written, as update_columns would, in the same statement (a WITH clause: one round trip
    instead of two). `unless_taken`: a unique field; when a row already holds the instance's value of it,
    nothing is written and None returned (ON CONFLICT DO NOTHING: no error, so no savepoint needed).
    Elsewhere than on PostgreSQL, the ORM's save (and update_columns), with a savepoint for
    `unless_taken`."""
    if then_update is not None and unless_taken is not None:
        raise ValueError("insert_instance: the update would be made even when nothing is inserted")
    model = type(instance)
    connection = connections[model.objects.db]
    if connection.vendor != "postgresql":
        return _save_instance(instance, then_update, unless_taken)
    fields, sql = _insert_sql(model, connection.alias, unless_taken)
    params = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]
    if then_update is not None:
        update, update_params = _update_sql(*then_update, connection)
        sql = f"WITH inserted AS ({sql}) {update} RETURNING (SELECT * FROM inserted)"
        params += update_params
    with prepared.cursor(connection) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    instance.pk = row[0]
    instance._state.adding, instance._state.db = False, connection.alias
    return instance


@functools.cache
def _insert_sql(model: type[models.Model], alias: str, unless_taken: str | None) -> tuple[list, str]:
    """The fields insert_instance writes and its statement, built once per model (PostgreSQL)."""
    quote = connections[alias].ops.quote_name
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    conflict = ""
    if unless_taken is not None:
        conflict = f" ON CONFLICT ({quote(model._meta.get_field(unless_taken).column)}) DO NOTHING"
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"
        f" VALUES ({', '.join(['%s'] * len(fields))}){conflict} RETURNING {quote(model._meta.pk.column)}"
    )
    return fields, sql


def _save_instance(instance, then_update, unless_taken):
    if unless_taken is not None:
        value = getattr(instance, type(instance)._meta.get_field(unless_taken).attname)
        try:
            with transaction.atomic():
                instance.save(force_insert=True)
        except IntegrityError:
            if value is not None and type(instance)._default_manager.filter(**{unless_taken: value}).exists():
                return None
            raise
        return instance
    instance.save(force_insert=True)
    if then_update is not None:
        update_columns(*then_update)
    return instance


def _update_sql(instance: models.Model, fields, connection) -> tuple[str, list]:
    model = type(instance)
    quote = connection.ops.quote_name
    assignments, params = [], []
    for name in sorted(fields):
        field = model._meta.get_field(name)
        assignments.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_save(getattr(instance, field.attname), connection))
    sql = (
        f"UPDATE {quote(model._meta.db_table)} SET {', '.join(assignments)}"
        f" WHERE {quote(model._meta.pk.column)} = %s"
    )
    return sql, [*params, instance.pk]


def select_instances(sql: str, params, *model_classes: type[models.Model]) -> tuple | None:
    """The first row of `sql` (which selects `prepared.columns()` of each model in turn) as one instance
    of each, as the ORM would build them; None: no row. For the hot paths, where compiling the ORM's
    query costs more than running it."""
    connection = connections[model_classes[0].objects.db]
    with prepared.cursor(connection) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else prepared.instances(row, connection, *model_classes)


_LOCK_CUSTOMER = (
    f"SELECT {prepared.columns(Customer, 'c')} FROM conversations_customer c WHERE c.id = %s FOR UPDATE"
)
