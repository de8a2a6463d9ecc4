"""Text every database can store: NUL characters (U+0000) replaced by U+FFFD.

JSON allows U+0000 and a cluster, an array or a dump may hand one over (in a label, a
`resourceNames` entry, an object's name), but PostgreSQL's text and jsonb refuse it: one such
character used to fail the whole snapshot.  Stored strings, mapping keys included, carry U+FFFD
(the Unicode replacement character, visible on pages) in its place on every database, so SQLite
and PostgreSQL store, digest and judge the same thing.  The snapshot says how many objects of
each kind were affected, once per kind, never once per object.
"""

NUL = "\x00"
REPLACEMENT = "\ufffd"
# How orjson (and any JSON encoder) writes U+0000: a scan for it spares the walk in the common case.
NUL_IN_JSON = b"\\u0000"


def storable(value):
    """`value` (any JSON value) with NUL replaced in every string and mapping key."""
    if isinstance(value, str):
        return value.replace(NUL, REPLACEMENT) if NUL in value else value
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value


def nul_warning(what: str, count: int) -> str:
    return f"{count} {what} object(s) held NUL characters (U+0000), stored as U+FFFD"
