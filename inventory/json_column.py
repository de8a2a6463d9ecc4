"""`JSONColumn`: the JSON field of the tables a snapshot writes and reads in bulk.

Two costs of Django's JSONField that only show at scale, removed without changing the column:
- On PostgreSQL, Django 5.2 bulk-inserts through `UNNEST(%s::jsonb[])`, so psycopg renders every
  document as an element of an array literal, escaping each quote with a Python regex: at 40,000
  rows that was a third of a first snapshot.  A placeholder of its own makes Django insert rows as
  plain parameters (escaped by libpq, in C).
- Reading, the documents are parsed by orjson (several times faster than `json`), falling back to
  Django's own parse for what orjson refuses (an integer beyond 64 bits).
- Writing, a document may come serialised already (`SerialisedJSON`): the bulk copy writes it as it
  is, rather than serialising it once more (inventory/bulk_insert.py).
It deconstructs as a plain JSONField: the schema and the migrations are Django's.
"""

import orjson
from django.db import models
from django.db.models.fields.json import KeyTransform


class SerialisedJSON:
    """A JSON document, serialised: what a writer that made the JSON itself (to digest it) stores."""

    __slots__ = ("json",)

    def __init__(self, json: bytes):
        self.json = json


class JSONColumn(models.JSONField):
    def get_db_prep_value(self, value, connection, prepared=False):
        if isinstance(value, SerialisedJSON):  # Django's own paths (bulk_create on SQLite) take the value
            value = orjson.loads(value.json)
        return super().get_db_prep_value(value, connection, prepared)

    def get_placeholder(self, value, compiler, connection):
        return "%s"

    def from_db_value(self, value, expression, connection):
        if (
            isinstance(value, str | bytes)
            and self.decoder is None
            and not isinstance(expression, KeyTransform)
        ):
            try:
                return orjson.loads(value)
            except orjson.JSONDecodeError:
                pass
        return super().from_db_value(value, expression, connection)

    def deconstruct(self):
        name, _, args, kwargs = super().deconstruct()
        return name, "django.db.models.JSONField", args, kwargs
