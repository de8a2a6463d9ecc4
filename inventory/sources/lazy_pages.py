"""A list page read without building the objects whose kept forms the reader already holds.

Every snapshot lists every object again, and in a quiet cluster nearly all of them are the very
objects the worker read last time: the same uid and resourceVersion (inventory/kept_reuse.py).
orjson builds each of them whole only for it to be dropped: 25 µs a pod of the bench's
simulator.  simdjson parses the page into its own tape (2 µs a pod) and builds Python objects only
for what is asked of it: of a reused object its namespace, name, uid and resourceVersion; every
other object is built whole (`as_dict`) and reduced the ordinary way.

Where the two parsers could read a page differently, the ordinary path decides: a page simdjson
refuses (it refuses integers beyond 64 bits, which orjson reads as floats) or that is not shaped
as a list (not an object, `items` not an array, `metadata` not an object) is left to orjson
(`None`).  One difference is not checked: a key repeated in one object, which simdjson's lookups
read first-wins and orjson last-wins.  An API server never sends one (it encodes its own typed objects), and a
reused form is only ever one the worker built from an earlier, whole read of the same object.
"""

from collections.abc import Callable

import simdjson

# ((namespace, name), uid, resourceVersion) of an object of the page's kind -> the kept form read
# last time, or None
Reused = Callable[[tuple[str, str], str, str], object]


def read_page(
    body: bytes, reused: Reused, reduce_item: Callable[[object], object]
) -> tuple[list, object] | None:
    """(what each item reduces to, the page's continue token), or None when orjson must read it."""
    try:
        document = simdjson.Parser().parse(body)
    except (ValueError, RuntimeError):  # refused: orjson reads it, or says why it is not JSON
        return None
    if not isinstance(document, simdjson.Object):
        return None
    items, metadata = document.get("items"), document.get("metadata")
    if not isinstance(items, simdjson.Array | None) or not isinstance(metadata, simdjson.Object | None):
        return None
    reduced = []
    for item in items or ():
        form = _reused_form(item, reused) if isinstance(item, simdjson.Object) else None
        reduced.append(form if form is not None else reduce_item(_python(item)))
    return reduced, _python(metadata.get("continue")) if metadata is not None else None


def _reused_form(item: simdjson.Object, reused: Reused) -> object:
    metadata = item.get("metadata")
    if type(metadata) is not simdjson.Object:
        return None
    get = metadata.get  # this runs for every object listed (373,058 at the bench scale)
    namespace, name, uid, version = get("namespace") or "", get("name"), get("uid"), get("resourceVersion")
    if type(namespace) is str and type(name) is str and type(uid) is str and type(version) is str:
        return reused((namespace, name), uid, version)
    return None  # read whole: the ordinary path reads odd metadata as it always has


def _python(value: object) -> object:
    """A value of the page as orjson would have built it."""
    if isinstance(value, simdjson.Object):
        return value.as_dict()
    if isinstance(value, simdjson.Array):
        return value.as_list()
    return value
