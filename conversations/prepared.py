"""Queries of the hot paths, without the ORM's per-call cost: a queryset compiled once and run again with
new arguments (`Prepared`), rows turned into model instances as the ORM would (`instances`), and a cursor
whose statements PostgreSQL parses and plans once per connection (`cursor`).

Compiling a queryset (lookups, joins, ordering) costs more CPU than PostgreSQL takes to run a small
query; the SQL is the ORM's own, so no rule is written twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from django.db import connections, models

_LOADERS: dict[tuple, tuple[list[str], list]] = {}


def instances(row, connection, *model_classes: type[models.Model]) -> tuple:
    """`row` (the concrete columns of each model in turn, in their order) as one instance of each, each
    value converted by its field as the ORM would (JSON decoded, a naive datetime made aware…)."""
    built, start = [], 0
    for model in model_classes:
        names, converters = _loader(model, connection)
        values = row[start : start + len(names)]
        values = [convert(value) for convert, value in zip(converters, values, strict=True)]
        built.append(model.from_db(connection.alias, names, values))
        start += len(names)
    return tuple(built)


@contextmanager
def cursor(connection) -> Iterator:
    """`connection.cursor()`, whose statements are bound on the server and prepared on first use
    (PostgreSQL): the webhook and the send path run the same few statements thousands of times on each
    connection, and a prepared statement skips their parse and plan, and psycopg's quoting of every
    value. Django's own cursors bind on the client and never prepare (so a pooler in transaction mode
    keeps working); these statements are ours alone. The cursor is Django's wrapper around it, so errors
    are Django's and a test's query count sees them. Elsewhere than on PostgreSQL, the usual cursor."""
    if connection.vendor != "postgresql":
        with connection.cursor() as plain:
            yield plain
        return
    from django.db.backends.postgresql.base import ServerBindingCursor  # psycopg 3 only

    connection.validate_thread_sharing()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    kept = getattr(connection, "_prepared_cursor", None)
    if kept is None or kept.connection is not connection.connection:  # one per (new) connection
        with connection.wrap_database_errors:
            kept = _PreparingCursor(ServerBindingCursor(connection.connection))
        connection._prepared_cursor = kept
    # Django's own wrapping, as connection.cursor() makes it: its errors, the query log of DEBUG and tests.
    with connection._prepare_cursor(kept) as wrapped:
        yield wrapped


class _PreparingCursor:
    """A psycopg cursor whose `execute` always asks for a prepared statement (Django's wrapper passes
    no `prepare=` of its own). One is kept per connection and used again (closing the wrapper leaves it
    open; it ends with its connection)."""

    def __init__(self, raw):
        self._raw = raw
        self._last: tuple = ("", None)
        self.connection = raw.connection

    def close(self):
        """Kept for the next statement on this connection."""

    def execute(self, query, params=None):
        self._last = (query, params)
        return self._raw.execute(query, params, prepare=True)

    @property
    def _query(self):
        """The last statement with its values in place, as Django's query log shows a statement (read
        only when queries are logged: DEBUG, or a test counting them)."""
        return _Logged(self._raw.connection, *self._last)

    def __getattr__(self, name):
        return getattr(self._raw, name)

    def __iter__(self):
        return iter(self._raw)


class _Logged:
    def __init__(self, connection, query, params):
        self._connection, self._statement, self._params = connection, query, params

    @property
    def query(self) -> bytes:
        from psycopg import ClientCursor

        return ClientCursor(self._connection).mogrify(self._statement, self._params).encode()


def fetch(connection, sql: str, params, model: type[models.Model]) -> list[models.Model]:
    """Every row of `sql` (which selects the concrete columns of `model`, in order) as an instance, as
    the ORM would build it, through the preparing `cursor`."""
    with cursor(connection) as bound:
        bound.execute(sql, params)
        return [instances(row, connection, model)[0] for row in bound.fetchall()]


def columns(model: type[models.Model], alias: str) -> str:
    """Every column of `model` (its concrete fields, in order), qualified by `alias`: what `fetch` and
    `instances` read."""
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


def partial_instance(row, connection, model: type[models.Model], attnames: tuple[str, ...]) -> models.Model:
    """`row` (the columns of `attnames`, which name fields of `model` in its order, as Model.from_db
    takes them) as an instance of `model` whose other fields are deferred (read on first access, as the
    ORM's `.only()`), each value converted as the ORM would."""
    names, converters = _loader(model, connection, attnames)
    values = [convert(value) for convert, value in zip(converters, row, strict=True)]
    return model.from_db(connection.alias, names, values)


def _loader(model, connection, attnames: tuple[str, ...] | None = None) -> tuple[list[str], list]:
    key = (model, connection.alias, attnames)
    if key not in _LOADERS:
        names, converters = [], []
        fields = model._meta.concrete_fields
        if attnames is not None:
            fields = [field for field in fields if field.attname in attnames]
            if tuple(field.attname for field in fields) != attnames:
                raise ValueError(f"{attnames} are not fields of {model.__name__} in its order")
        for field in fields:
            column = field.get_col(model._meta.db_table)
            chain = [*connection.ops.get_db_converters(column), *field.get_db_converters(connection)]
            names.append(field.attname)
            converters.append(partial(_convert, chain, column, connection) if chain else _same)
        _LOADERS[key] = names, converters
    return _LOADERS[key]


def _same(value):
    return value


def _convert(chain, expression, connection, value):
    for converter in chain:
        value = converter(value, expression, connection)
    return value


class Prepared:
    """`build(**arguments)` (a queryset of whole rows of its model, e.g. `Model.objects.filter(...)`)
    compiled once per shape (which arguments are None) and run with each call's arguments.

    The arguments must be datetimes or ints, each used as a value in the query: compiled twice with two
    sets of stand-in values, the parameters that differ are the arguments' places. A query that uses an
    argument otherwise (`now - 24 h`), or selects other than whole rows, is run through the ORM."""

    def __init__(self, build: Callable[..., models.QuerySet]):
        self.build = build
        self.compiled: dict[tuple, _Compiled | None] = {}

    def rows(self, **arguments) -> list:
        shape = tuple(sorted(name for name, value in arguments.items() if value is None))
        if shape not in self.compiled:
            self.compiled[shape] = _compile(self.build, arguments)
        compiled = self.compiled[shape]
        if compiled is None:
            return list(self.build(**arguments))
        params = [arguments[name] if name else value for name, value in compiled.slots]
        return fetch(connections[compiled.alias], compiled.sql, params, compiled.model)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    slots: list[tuple[str | None, object]]  # (argument name, None) or (None, constant)
    model: type[models.Model]
    alias: str


def _stand_ins(arguments: dict, variant: int) -> dict:
    values = {}
    for number, (name, value) in enumerate(sorted(arguments.items())):
        if value is None:
            values[name] = None
        elif isinstance(value, datetime):
            values[name] = datetime(1901 + variant, 2, 3, 4, 5, 6, 100 + number, tzinfo=UTC)
        elif isinstance(value, int) and not isinstance(value, bool):
            values[name] = -(10**12) - 1000 * variant - number
        else:
            raise TypeError(f"Prepared takes datetimes and ints, not {type(value).__name__} ({name})")
    return values


def _compile(build, arguments: dict) -> _Compiled | None:
    first, second = _stand_ins(arguments, 0), _stand_ins(arguments, 1)
    queryset = build(**first)
    query = queryset.query
    if not query.default_cols or query.select_related or query.annotation_select or query.extra_select:
        return None  # not whole rows of the model: the ORM builds them
    sql, params = query.sql_with_params()
    sql_again, params_again = build(**second).query.sql_with_params()
    if sql != sql_again or len(params) != len(params_again):
        return None
    names = {(first[name], second[name]): name for name in first if first[name] is not None}
    slots: list[tuple[str | None, object]] = []
    for value, again in zip(params, params_again, strict=True):
        if value == again:
            slots.append((None, value))
        elif (value, again) in names:
            slots.append((names[(value, again)], None))
        else:  # an argument used otherwise than as a value
            return None
    return _Compiled(sql, slots, queryset.model, queryset.db)
