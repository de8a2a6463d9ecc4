"""Offline import: a directory of `kubectl get … -o json|yaml` output read into a `Collection`.

The dump's `kubernetes/` folder is read recursively: `.json`, `.yaml` and `.yml` files, YAML possibly
multi-document, each document one object or a List of them.  Everything is parsed and checked before
anything is returned, so a bad file stops the import before the caller stores a thing.

Decisions:
- Lists: kubectl writes `kind: List` whose items each carry kind and apiVersion; the API itself
  (`kubectl get --raw`, client libraries) writes typed lists such as `PodList` whose items of built-in
  kinds carry neither, so they are inferred from the list.  A typed list names its kind even when empty
  (read and empty); an empty `kind: List` names none, and a warning says so.
- Kinds are matched on kind *and* apiVersion against `inventory.kinds`: Calico's
  `crd.projectcalico.org/v1` NetworkPolicy is not the NetworkPolicy the rules read.  An object without
  apiVersion is taken to be of the registry's version.
- Duplicates (same kind, namespace, name) are compared without `metadata.resourceVersion` and
  `metadata.managedFields`: kubectl hides managedFields unless `--show-managed-fields`, and a re-read
  may bump resourceVersion without any change a rule could see.  Everything else, generation
  included, must be equal, or the dump is contradictory and refused; the first copy (in path order) is
  kept.
- YAML is read as the JSON kubectl wrote it another way.  Anchors and aliases are refused: kubectl never
  writes them, and an alias bomb ("billion laughs") is small on disk but explodes once the objects are
  walked.  Types JSON lacks (`!!binary`, `!!set`, `.inf`, custom tags) are refused too, and timestamps
  stay strings, so a YAML and a JSON copy of one object compare equal and store the same.
- Only regular files inside the dump folder are read, each up to DUMP_MAX_FILE_BYTES (1 GiB by
  default; see inventory/sources/dump_files.py): a dump of a large cluster is hundreds of megabytes of
  legitimate content (20,000 pods: 278 MB of JSON read in 3.3 s, or 118 MB of YAML in 19 s, about 1 GB
  of memory either way), but a link, a FIFO or a device is refused.
- Secrets are dropped unread whatever their shape; only their count and file names are reported.
"""

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import orjson
import yaml

from inventory.kinds import BY_KIND, FORBIDDEN_KINDS, KINDS
from inventory.sources import Collection
from inventory.sources.dump_files import DumpError, dump_files
from inventory.sources.parsing import gc_paused

KUBERNETES_DIR = "kubernetes"
JSON_SUFFIXES = frozenset({".json"})
YAML_SUFFIXES = frozenset({".yaml", ".yml"})
# Ignored when two copies of one object are compared (see the module docstring).
VOLATILE_METADATA = ("resourceVersion", "managedFields")
# How many file names a warning lists before it summarises.
NAMES_IN_WARNING = 5


def read_dump(directory: str | Path) -> Collection:
    """Read DIR/kubernetes/ into a Collection; raise DumpError on the first bad file or conflict."""
    base = Path(directory)
    root = base / KUBERNETES_DIR
    if not root.is_dir():
        raise DumpError(KUBERNETES_DIR, None, f"no {KUBERNETES_DIR}/ folder in the dump directory {base}")
    reader = _DumpReader()
    with gc_paused():
        for relative, content in dump_files(base, KUBERNETES_DIR, JSON_SUFFIXES | YAML_SUFFIXES):
            if content is None:
                reader.skipped_files.append(relative)
                continue
            for label, document in _documents(content, relative):
                reader.add_document(relative, label, document)
    return reader.collection()


def _documents(content: bytes, relative: str):
    """Yield (label, document) for each non-empty document of a file; label is None for a lone JSON one."""
    text = _decode(content, relative)
    if not text.strip():
        return
    if Path(relative).suffix.lower() in JSON_SUFFIXES:
        try:
            yield None, orjson.loads(text)
        except orjson.JSONDecodeError as error:
            raise DumpError(relative, None, f"invalid JSON: {error}") from None
        return
    yield from _yaml_documents(text, relative)


def _decode(data: bytes, relative: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DumpError(
            relative,
            None,
            "is UTF-16, not UTF-8 (Windows PowerShell's `>` writes UTF-16; use Out-File -Encoding utf8)",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DumpError(relative, None, f"is not UTF-8 text (invalid byte at offset {error.start})") from None


def _describe_yaml_error(error: yaml.MarkedYAMLError) -> str:
    # Only the problem and its position: the libyaml snippet could quote the content of the file.
    mark = error.problem_mark or error.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return f"invalid YAML{where}: {error.problem or error.context}"


# ---------------------------------------------------------------------------------------------- YAML
# Documents are built straight from libyaml's events rather than with yaml.load, which first composes a
# node tree of the whole document: 20,000 pods as one 118 MB `kubectl get pods -o yaml` List took 65 s
# and 4.5 GB that way, 19 s and 1 GB this way.  It is also where an alias can be seen and refused.
# Scalars resolve as in yaml.safe_load, except that timestamps stay strings.

_YAML_EVENTS_PARSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML_RESOLVER = yaml.resolver.Resolver()
_YAML_SCALARS = yaml.constructor.SafeConstructor()
_YAML_STRING_TAGS = frozenset({"tag:yaml.org,2002:str", "tag:yaml.org,2002:timestamp"})
_YAML_CONVERTERS = {
    tag: _YAML_SCALARS.yaml_constructors[tag]
    for tag in (
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
    )
}
_YAML_COLLECTION_TAGS = frozenset({None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})
_NO_KEY = object()


class _OpenMapping:
    __slots__ = ("mapping", "key")

    def __init__(self):
        self.mapping = {}
        self.key = _NO_KEY


def _yaml_documents(text: str, relative: str):
    """Yield ("document N", value) for each non-empty document of a YAML stream, as JSON values."""
    number = 0
    open_collections: list = []
    try:
        for event in yaml.parse(text, Loader=_YAML_EVENTS_PARSER):
            kind = type(event)
            if kind is yaml.ScalarEvent:
                value = _yaml_scalar(event)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                if event.tag not in _YAML_COLLECTION_TAGS and not event.implicit:
                    raise _yaml_refusal(f"the YAML type {event.tag} has no JSON form", event)
                open_collections.append(_OpenMapping() if kind is yaml.MappingStartEvent else [])
                continue
            elif kind is yaml.MappingEndEvent:
                value = open_collections.pop().mapping
            elif kind is yaml.SequenceEndEvent:
                value = open_collections.pop()
            elif kind is yaml.AliasEvent:
                # kubectl never writes aliases; refusing them rules out alias bombs ("billion laughs").
                raise _yaml_refusal("YAML anchors and aliases are not accepted", event)
            elif kind is yaml.DocumentStartEvent:
                number += 1
                continue
            else:
                continue
            if not open_collections:
                if value is not None:
                    yield f"document {number}", value
                continue
            parent = open_collections[-1]
            if type(parent) is list:
                parent.append(value)
            elif parent.key is _NO_KEY:
                if not isinstance(value, str):  # JSON, and so everything downstream, has string keys
                    raise _yaml_refusal("a mapping key must be a string (quote it)", event)
                parent.key = value
            else:
                parent.mapping[parent.key] = value
                parent.key = _NO_KEY
    except yaml.MarkedYAMLError as error:
        raise DumpError(relative, f"document {max(number, 1)}", _describe_yaml_error(error)) from None
    except yaml.YAMLError as error:
        raise DumpError(relative, f"document {max(number, 1)}", f"invalid YAML: {error}") from None


def _yaml_scalar(event: yaml.ScalarEvent):
    tag = event.tag
    if tag is None or tag == "!":
        tag = _YAML_RESOLVER.resolve(yaml.ScalarNode, event.value, event.implicit)
    if tag in _YAML_STRING_TAGS:
        return event.value
    convert = _YAML_CONVERTERS.get(tag)
    if convert is None:
        raise _yaml_refusal(f"the YAML type {tag} has no JSON form", event)
    try:
        value = convert(_YAML_SCALARS, yaml.ScalarNode(tag, event.value))
    except (ValueError, KeyError):  # an explicit tag on a value that is not of its type, e.g. `!!int abc`
        raise _yaml_refusal(f"a value tagged {tag} is not of that type", event) from None
    if isinstance(value, float) and not math.isfinite(value):
        raise _yaml_refusal(f"{event.value} has no JSON form", event)
    return value


def _yaml_refusal(problem: str, event) -> yaml.MarkedYAMLError:
    return yaml.MarkedYAMLError(problem=problem, problem_mark=event.start_mark)


@dataclass
class _Origin:
    path: str
    label: str  # the object as named in errors, with its place in the file


class _DumpReader:
    """Accumulates a dump's documents, one at a time, into what a Collection holds."""

    def __init__(self):
        self.objects: dict[str, list[dict]] = {}
        self.origins: dict[tuple[str, str, str], tuple[_Origin, dict]] = {}
        self.merged_duplicates = 0
        self.unread_kind_counts: Counter[str] = Counter()
        self.secret_files: Counter[str] = Counter()
        self.empty_generic_lists: list[str] = []
        self.skipped_files: list[str] = []

    def add_document(self, path: str, label: str | None, document) -> None:
        where = label or "the document"
        if not isinstance(document, dict):
            raise DumpError(path, where, f"is a {_json_type(document)}, not a Kubernetes object or List")
        kind = _kind_of(document, path, where)
        if _is_list(kind, document):
            self._add_list(path, label, kind, document)
        else:
            self._add_object(path, label or "", document)

    def _add_list(self, path: str, label: str | None, list_kind: str, document: dict) -> None:
        items = document.get("items")
        if items is None:
            items = []
        if not isinstance(items, list):
            raise DumpError(path, label or list_kind, "its items are not a list")
        item_kind = None if list_kind == "List" else list_kind.removesuffix("List")
        if item_kind in FORBIDDEN_KINDS:
            self.secret_files[path] += len(items)
            return
        if item_kind is None and not items:
            self.empty_generic_lists.append(path)
        elif item_kind is not None and _registered(item_kind, document.get("apiVersion")):
            self.objects.setdefault(item_kind, [])  # a typed list names its kind even when empty
        for index, item in enumerate(items):
            place = f"{label}, items[{index}]" if label else f"items[{index}]"
            if not isinstance(item, dict):
                raise DumpError(path, place, f"is a {_json_type(item)}, not a Kubernetes object")
            if item_kind is not None:
                item = self._typed_item(path, place, item, item_kind, document.get("apiVersion"))
            elif _is_list(item.get("kind"), item):
                raise DumpError(path, place, "is a list inside a list; kubectl never nests them")
            self._add_object(path, place, item)

    @staticmethod
    def _typed_item(path: str, place: str, item: dict, item_kind: str, list_api_version) -> dict:
        kind = item.get("kind")
        if kind is not None and kind != item_kind:
            raise DumpError(path, place, f"is a {kind} inside a {item_kind}List")
        if kind is None or "apiVersion" not in item:
            item = {"kind": item_kind, "apiVersion": list_api_version, **item}
        return item

    def _add_object(self, path: str, place: str, obj: dict) -> None:
        kind = _kind_of(obj, path, place or "the document")
        if kind in FORBIDDEN_KINDS:
            # Dropped before it is looked at, so nothing of it can reach an error or the Collection.
            self.secret_files[path] += 1
            return
        api_version = obj.get("apiVersion")
        if not _registered(kind, api_version):
            # A registered kind from another API group is named with it (e.g. Calico's NetworkPolicy).
            self.unread_kind_counts[f"{kind} {api_version}" if kind in BY_KIND else kind] += 1
            return
        info = BY_KIND[kind]
        if api_version is None:
            obj = {**obj, "apiVersion": info.api_version}
        name, namespace = _identity(obj, info.namespaced, path, place)
        label = f"{kind}/{namespace}/{name}" if info.namespaced else f"{kind}/{name}"
        for field in ("spec", "status"):
            if field in obj and not isinstance(obj[field], dict):
                raise DumpError(path, _labelled(label, place), f"its {field} is not a mapping")
        key = (kind, namespace or "", name)
        seen = self.origins.get(key)
        if seen is None:
            self.origins[key] = (_Origin(path, _labelled(label, place)), obj)
            self.objects.setdefault(kind, []).append(obj)
            return
        first_origin, first = seen
        difference = _first_difference(_without_volatile(first), _without_volatile(obj))
        if difference is not None:
            raise DumpError(
                path,
                _labelled(label, place),
                f"conflicts with its copy in {first_origin.path} ({first_origin.label}): "
                f"they differ at {difference}",
            )
        self.merged_duplicates += 1

    def collection(self) -> Collection:
        result = Collection(objects=self.objects)
        for info in KINDS:
            if info.kind not in self.objects:
                result.unread[info.kind] = "not in dump"
        result.warnings.extend(self._warnings())
        return result

    def _warnings(self) -> list[str]:
        warnings = []
        if self.secret_files:
            warnings.append(
                f"dropped {sum(self.secret_files.values())} Secret object(s) unread "
                f"(in {_some(sorted(self.secret_files))}): the product never keeps Secrets"
            )
        if self.unread_kind_counts:
            kinds = ", ".join(f"{kind} ({count})" for kind, count in sorted(self.unread_kind_counts.items()))
            total = sum(self.unread_kind_counts.values())
            warnings.append(f"ignored {total} object(s) of kinds the product does not read: {kinds}")
        if self.merged_duplicates:
            warnings.append(f"merged {self.merged_duplicates} identical duplicate object(s)")
        if self.empty_generic_lists:
            warnings.append(
                f"{_some(self.empty_generic_lists)}: an empty `kind: List` names no kind, so it marks none "
                "as read; a typed list (e.g. `kubectl get --raw /api/v1/pods`) records a kind as empty"
            )
        if self.skipped_files:
            warnings.append(f"skipped files that are not .json, .yaml or .yml: {_some(self.skipped_files)}")
        return warnings


def _kind_of(obj: dict, path: str, where: str) -> str:
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind:
        raise DumpError(path, where, "has no kind")
    return kind


def _is_list(kind, document: dict) -> bool:
    return kind == "List" or (isinstance(kind, str) and kind.endswith("List") and "items" in document)


def _registered(kind: str, api_version) -> bool:
    info = BY_KIND.get(kind)
    return info is not None and api_version in (None, info.api_version)


def _identity(obj: dict, namespaced: bool, path: str, place: str) -> tuple[str, str | None]:
    kind = obj["kind"]
    where = _labelled(kind, place)
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        raise DumpError(path, where, "has no metadata")
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise DumpError(path, where, "has no metadata.name")
    namespace = metadata.get("namespace")
    if namespaced and (not isinstance(namespace, str) or not namespace):
        raise DumpError(
            path, _labelled(f"{kind}/{name}", place), f"has no metadata.namespace ({kind} is namespaced)"
        )
    if not namespaced and namespace:
        raise DumpError(
            path,
            _labelled(f"{kind}/{namespace}/{name}", place),
            f"has a namespace but {kind} is cluster-scoped",
        )
    return name, namespace


def _labelled(label: str, place: str) -> str:
    return f"{label} ({place})" if place else label


def _without_volatile(obj: dict) -> dict:
    metadata = {k: v for k, v in obj["metadata"].items() if k not in VOLATILE_METADATA}
    return {**obj, "metadata": metadata}


def _first_difference(a, b, at: str = "") -> str | None:
    """The path of the first difference between two JSON values, or None when they are equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys(), key=str):
            if key not in a or key not in b:
                return f"{at}.{key}".lstrip(".")
            found = _first_difference(a[key], b[key], f"{at}.{key}")
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _first_difference(x, y, f"{at}[{index}]")
            if found is not None:
                return found
        return None
    return None if a == b and type(a) is type(b) else (at.lstrip(".") or "the top level")


def _json_type(value) -> str:
    return {
        list: "list",
        str: "string",
        int: "number",
        float: "number",
        bool: "boolean",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _some(names: list[str]) -> str:
    shown = ", ".join(names[:NAMES_IN_WARNING])
    more = len(names) - NAMES_IN_WARNING
    return f"{shown} and {more} more" if more > 0 else shown
