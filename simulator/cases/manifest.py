"""The case manifest: which objects make each rule fire, and which must not."""

import orjson


def ref(obj: dict) -> str:
    m = obj["metadata"]
    return f"{obj['kind']}/{m['namespace']}/{m['name']}" if "namespace" in m else f"{obj['kind']}/{m['name']}"


class Cases:
    def __init__(self):
        self._entries: dict[str, dict[str, list]] = {}
        self._transient: dict[str, tuple[str, str, dict]] = {}

    def fire(self, slug: str, namespace: str | None, objects: list, why: str, **extra) -> None:
        self._add(slug, "fires", namespace, objects, why, extra)

    def near_miss(self, slug: str, namespace: str | None, objects: list, why: str, **extra) -> None:
        self._add(slug, "near_misses", namespace, objects, why, extra)

    def _add(self, slug, outcome, namespace, objects, why, extra, transient_key=None) -> dict:
        entry = {
            "namespace": namespace,
            "objects": [o if isinstance(o, str) else ref(o) for o in objects],
            "why": why,
            **extra,
        }
        self._entries.setdefault(slug, {"fires": [], "near_misses": []})[outcome].append(entry)
        if transient_key:
            self._transient[transient_key] = (slug, outcome, entry)
        return entry

    def add_transient(self, key: str, slug: str, outcome: str, namespace, objects, why) -> None:
        """A case that exists only for part of the timeline; `drop_transient` ends it."""
        self._add(slug, outcome, namespace, objects, why, {}, key)

    def drop_transient(self, key: str) -> None:
        slug, outcome, entry = self._transient.pop(key)
        self._entries[slug][outcome].remove(entry)

    def manifest(self) -> dict:
        return orjson.loads(orjson.dumps(self._entries))
