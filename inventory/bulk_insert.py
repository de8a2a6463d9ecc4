"""Inserting many rows of one model at once: `COPY` on PostgreSQL, `bulk_create` elsewhere.

A first snapshot writes every object it read.  Through `INSERT` every row is rendered into a SQL
string on the client (psycopg's client-side binding: a Python pass over each placeholder and an
escaped copy of each JSON document); `COPY ... FROM STDIN` streams the rows in psycopg's C
encoder instead, at a fraction of the cost.  The copy runs through the connection's execute
wrappers, so the cluster lease's fence (inventory/lease.py) guards it like any other statement.
"""

import json
from functools import partial

import orjson
from django.db import connection, models

from inventory.json_column import SerialisedJSON


def insert_rows(model: type[models.Model], rows: list[models.Model]) -> None:
    """Insert `rows` (unsaved instances; their primary keys are not read back)."""
    fields = _fields(model)
    insert_values(model, [{f.attname: getattr(row, f.attname) for f in fields} for row in rows])


def insert_keyed(model: type[models.Model], rows: list[models.Model]) -> None:
    """Insert `rows` (unsaved instances) and give each its primary key, so that rows referring to
    them can follow: on PostgreSQL the keys are drawn from the table's sequence, then the rows
    copied; elsewhere `bulk_create` reads them back."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(rows)
        return
    meta = model._meta
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(rows)],
        )
        keys = [key for (key,) in cursor.fetchall()]
    fields = [meta.pk, *_fields(model)]
    for row, key in zip(rows, keys, strict=True):
        row.pk = key
        row._state.adding, row._state.db = False, connection.alias  # as bulk_create leaves them
    insert_values(model, [{f.attname: getattr(row, f.attname) for f in fields} for row in rows], keyed=True)


def insert_values(model: type[models.Model], rows: list[dict], keyed: bool = False) -> None:
    """Insert rows given as {field attname: value} (a field left out takes its default): thousands
    of model instances would cost more to make than the copy itself.  `keyed`: the rows carry their
    primary keys (`insert_keyed`)."""
    if not rows:
        return
    fields = [model._meta.pk, *_fields(model)] if keyed else _fields(model)
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**row) for row in rows])
        return
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
    named = [(f.attname, f.get_default()) for f in fields]
    json_at = [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
    values = []
    for row in rows:
        value = [row.get(name, default) for name, default in named]
        for i in json_at:
            value[i] = _json(fields[i], value[i])
        values.append(value)

    def copy(sql, params, many, context):
        with context["cursor"].cursor.copy(sql) as copying:
            for row in params:
                copying.write_row(row)

    executor = copy
    with connection.cursor() as cursor:
        for wrapper in reversed(connection.execute_wrappers):
            executor = partial(wrapper, executor)
        executor(sql, values, True, {"connection": connection, "cursor": cursor})


def _fields(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def _json(field: models.JSONField, value):
    if value is None:
        return value
    if isinstance(value, SerialisedJSON):
        return value.json.decode()
    try:
        return orjson.dumps(value).decode()  # COPY's text format takes the document as text
    except TypeError:  # what orjson refuses (an integer beyond 64 bits) the standard encoder writes
        return json.dumps(value, cls=field.encoder)
