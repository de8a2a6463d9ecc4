"""Which kept fields of a Kubernetes object changed between two of its versions, and which rules read
each: the change set at the grain of a field, so that a pod's new `runAsUser` re-runs the rule that
reads it, not every rule that reads pods (exposure/analyse.py).

A field is a root of inventory/kept_fields.py's paths: the path up to its first list or filtered
mapping (`spec.containers`, `metadata.annotations`, `spec.nodeName`); a root inside another root is
part of it.  What a field `serves` is the declaration: rule slugs only, and only those rules read it;
any purpose besides (identity, trust, display...), and every rule reading the kind may.
tests/test_rule_inputs.py checks, field by field, that no rule reads a field that does not serve it.
"""

from collections.abc import Container
from functools import cache

from inventory.kept_fields import _SEGMENT, KEPT_FIELDS, PURPOSES, _split_path

# A change set's entry for one field of a kind: `Pod:spec.securityContext` (a bare kind: any change).
FIELD_SEPARATOR = ":"


def field_change(kind: str, root: str) -> str:
    return f"{kind}{FIELD_SEPARATOR}{root}"


@cache
def fields_of(kind: str) -> dict[str, frozenset[str] | None]:
    """Each field (root) of `kind` -> the rules that read it, or None when any rule reading the kind may."""
    served: dict[tuple[str, ...], set[str]] = {}
    for field in sorted(KEPT_FIELDS[kind], key=lambda f: len(_root(f.path))):
        root = _root(field.path)
        outer = next((r for r in served if root[: len(r)] == r), root)  # a root inside another
        served.setdefault(outer, set()).update(field.serves)
    return {
        ".".join(root): None if serves & PURPOSES else frozenset(serves) for root, serves in served.items()
    }


def readers_of(kind: str, root: str) -> frozenset[str] | None:
    """The readers of `kind`'s field `root` (rule slugs, and the access records' derivation: JOIN);
    None: any rule reading the kind may (or not a field)."""
    return fields_of(kind).get(root) if kind in KEPT_FIELDS else None


def kind_reached(change: str, kinds: Container[str], reader: str) -> str:
    """The kind of a change-set entry (`Kind`, or `Kind:field`) when it touches what `reader` (a
    rule's slug, or JOIN) reads of `kinds`: the kind whole, or a field serving that reader or every
    reader; else ""."""
    kind, _, root = change.partition(FIELD_SEPARATOR)
    if kind not in kinds:
        return ""
    readers = readers_of(kind, root) if root else None
    return kind if readers is None or reader in readers else ""


def _root(path: str) -> tuple[str, ...]:
    root = []
    for segment in _split_path(path):
        match = _SEGMENT.match(segment)
        root.append(match["key"])
        if match["list"] or match["globs"] is not None:
            break
    return tuple(root)


@cache
def _prefixes(kind: str) -> frozenset[str]:
    """The paths that lead to a field without being one (`spec`, `metadata`)."""
    return frozenset(
        ".".join(parts[:i]) for parts in (r.split(".") for r in fields_of(kind)) for i in range(1, len(parts))
    )


def changed_fields(kind: str, old: object, new: object) -> set[str] | None:
    """The fields of `kind` whose values differ between two kept versions of one object; None when
    the two cannot be told apart field by field (a shape no kept path has, a kind not listed)."""
    if kind not in KEPT_FIELDS:
        return None
    changed: set[str] = set()
    return changed if _compare(kind, "", old, new, changed) else None


def _compare(kind: str, path: str, old: object, new: object, changed: set[str]) -> bool:
    if path in fields_of(kind):
        if old != new:
            changed.add(path)
        return True
    if path and path not in _prefixes(kind):
        return old == new  # not a kept path: stored only under another schema, told apart whole
    if old == new:
        return True
    old, new = {} if old is None else old, {} if new is None else new  # a mapping absent: empty
    if not isinstance(old, dict) or not isinstance(new, dict):
        return False
    for key in old.keys() | new.keys():
        if not _compare(kind, f"{path}.{key}" if path else key, old.get(key), new.get(key), changed):
            return False
    return True
