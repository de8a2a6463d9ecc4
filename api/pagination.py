"""Cursor pagination with a fixed, unique ordering: `next` and `previous` links, no total count.

Querysets are read by keyset: the cursor holds the ordering values of the row it continues from,
and a page is one query with `WHERE (a, b, id) > (…)` spelled out, so its cost grows with neither
the list nor the cursor's position (OFFSET would).  Every ordering ends in a unique key (`id`, or
a unique name).  Lists built in memory (a namespace's paths, the rules, backends, a timeline) are
paged by keyset too, over the same keys: a cursor names the item it continues from, never a
position, so a list that changes between two pages neither repeats nor skips an item.

A view names its orderings: `orderings = {"name": (Key(...), ...)}` and `default_ordering`.
"""

import base64
import binascii
import functools
import json
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils.dateparse import parse_datetime
from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

NOT_A_CURSOR = "Not a cursor this list gave."
NOT_OFFERED = "Not one of the values offered here."


@dataclass(frozen=True)
class Key:
    """One ordering field: its name in the queryset (a field or an annotation), its direction, and
    the type its values have in a cursor."""

    field: str
    descending: bool = False
    kind: type = int  # int, str or datetime

    def encode(self, value):
        return value.isoformat() if isinstance(value, datetime) else value

    def decode(self, value):
        if self.kind is datetime:
            parsed = parse_datetime(value) if isinstance(value, str) else None
            if parsed is None or parsed.tzinfo is None:  # the cursors this API writes are aware
                raise ValueError(value)
            return parsed
        if not isinstance(value, self.kind) or isinstance(value, bool):
            raise ValueError(value)
        return value


def _beyond(keys: tuple[Key, ...], values: list, backwards: bool) -> Q:
    """Rows after `values` in the ordering `keys` (before them when `backwards`)."""
    condition = Q(pk__in=[])
    equal = Q()
    for key, value in zip(keys, values, strict=True):
        later = key.descending == backwards  # ascending and forwards: greater
        condition |= equal & Q(**{f"{key.field}__{'gt' if later else 'lt'}": value})
        equal &= Q(**{key.field: value})
    return condition


def _order(keys: tuple[Key, ...], backwards: bool) -> list[str]:
    return [("-" if key.descending != backwards else "") + key.field for key in keys]


class CursorPagination(BasePagination):
    page_size = 50
    max_page_size = 500
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    ordering_query_param = "ordering"

    # --- request --------------------------------------------------------------------------------

    def _page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise serializers.ValidationError(
                {self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def _cursor(self, request) -> dict | None:
        raw = request.query_params.get(self.cursor_query_param)
        if raw is None:
            return None
        try:
            cursor = json.loads(base64.urlsafe_b64decode(raw.encode("ascii") + b"=" * (-len(raw) % 4)))
        except (ValueError, UnicodeError, binascii.Error):
            raise self._bad_cursor() from None
        if not isinstance(cursor, dict):
            raise self._bad_cursor()
        return cursor

    def _bad_cursor(self):
        return serializers.ValidationError({self.cursor_query_param: [NOT_A_CURSOR]})

    def ordering_name(self, request, view) -> str:
        name = request.query_params.get(self.ordering_query_param) or view.default_ordering
        if name not in view.orderings:
            raise serializers.ValidationError({self.ordering_query_param: [NOT_OFFERED]})
        return name

    # --- paging ---------------------------------------------------------------------------------

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        size = self._page_size(request)
        cursor = self._cursor(request)
        name = self.ordering_name(request, view)
        keys = view.orderings[name]
        values, backwards = None, False
        if cursor is not None:
            try:
                if cursor.get("o") != name:
                    raise ValueError("another ordering")
                values = [key.decode(value) for key, value in zip(keys, cursor["k"], strict=True)]
                backwards = cursor.get("b") is True
            except (KeyError, TypeError, ValueError):
                raise self._bad_cursor() from None
        if hasattr(queryset, "filter"):
            if values is not None:
                queryset = queryset.filter(_beyond(keys, values, backwards))
            rows = list(queryset.order_by(*_order(keys, backwards))[: size + 1])
        else:  # a list made in memory: the same keyset, compared here
            rows = _beyond_in_memory(list(queryset), keys, values, backwards)[: size + 1]
        more = len(rows) > size
        rows = rows[:size]
        if backwards:
            rows.reverse()

        def key_of(row):
            return [key.encode(_value(row, key.field)) for key in keys]

        self.next = self.previous = None
        if rows:
            if more or backwards:
                self.next = {"o": name, "k": key_of(rows[-1])}
            if (more and backwards) or (cursor is not None and not backwards):
                self.previous = {"o": name, "k": key_of(rows[0]), "b": True}
        return rows

    # --- response -------------------------------------------------------------------------------

    def _link(self, cursor: dict | None) -> str | None:
        if cursor is None:
            return None
        url = self.request.build_absolute_uri()
        encoded = base64.urlsafe_b64encode(json.dumps(cursor, separators=(",", ":")).encode()).decode()
        return replace_query_param(url, self.cursor_query_param, encoded.rstrip("="))

    def get_paginated_response(self, data):
        return Response(
            {"next": self._link(self.next), "previous": self._link(self.previous), "results": data}
        )

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {**link, "description": "The next page; null on the last."},
                "previous": {**link, "description": "The previous page; null on the first."},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        parameters = [
            {
                "name": self.cursor_query_param,
                "in": "query",
                "required": False,
                "description": "Where to continue: taken from a `next` or `previous` link, never made up.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "in": "query",
                "required": False,
                "description": f"Items per page (default {self.page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]
        orderings = getattr(view, "orderings", None)
        if orderings and len(orderings) > 1:
            parameters.append(
                {
                    "name": self.ordering_query_param,
                    "in": "query",
                    "required": False,
                    "description": f"The order of the list (default `{view.default_ordering}`); ties are "
                    "broken by a unique key, so the order is fixed.",
                    "schema": {"type": "string", "enum": list(orderings)},
                }
            )
        return parameters


def _value(row, field: str):
    return row[field] if isinstance(row, dict) else getattr(row, field)


def _beyond_in_memory(items: list, keys: tuple[Key, ...], values: list | None, backwards: bool) -> list:
    """`items` in the ordering `keys` (reversed when `backwards`), only those after `values` (before
    them when `backwards`): what `_beyond` and `_order` ask of the database, for a list."""

    def compare(a, b) -> int:
        for key in keys:
            x, y = _value(a, key.field), _value(b, key.field)
            if x != y:
                return (1 if x > y else -1) * (-1 if key.descending else 1)
        return 0

    ordered = sorted(items, key=functools.cmp_to_key(compare), reverse=backwards)
    if values is None:
        return ordered
    mark = dict(zip((key.field for key in keys), values, strict=True))
    if backwards:
        return [item for item in ordered if compare(item, mark) < 0]
    return [item for item in ordered if compare(item, mark) > 0]
