"""A stand-in Kubernetes API server that speaks the real wire format.

It serves a store's objects read-only, well enough for the official Python client and
`kubectl`: discovery, paged lists with opaque continue tokens (410 Gone once they expire),
label and field selectors, server-side Tables for kubectl's default output, and JSON `Status`
errors.  Faults (errors, slow answers, dropped connections) can be injected in-process or over
HTTP under `/_sim/`, which is kept apart from the Kubernetes API so a test in another process
(a Celery worker) can be steered too.

Lists are served from snapshots of pre-serialized items: the first page of a list pins the
snapshot, later pages reuse the same bytes, so 100,000 pods page without re-serializing.
"""

import base64
import itertools
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import orjson
import yaml

from inventory.kinds import KINDS, TRIDENT_GROUP, KindInfo
from simulator.control import RecordedRequest
from simulator.http_base import SimulatedServer, SimulatorHandler

SERVER_VERSION = {
    "major": "1",
    "minor": "30",
    "gitVersion": "v1.30.0-simulated",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-04-17T00:00:00Z",
    "goVersion": "go1.22.2",
    "compiler": "gc",
    "platform": "linux/amd64",
}

# Served so that tests can prove the product never asks for them.
SECRET_KIND = KindInfo("Secret", "", "v1", "secrets", True)
SERVED_KINDS: tuple[KindInfo, ...] = (*KINDS, SECRET_KIND)

# shortNames as real clusters (and Trident's CRDs) declare them.
SHORT_NAMES = {
    "namespaces": ["ns"],
    "nodes": ["no"],
    "persistentvolumes": ["pv"],
    "persistentvolumeclaims": ["pvc"],
    "pods": ["po"],
    "storageclasses": ["sc"],
    "networkpolicies": ["netpol"],
    "tridentbackendconfigs": ["tbc", "tbconfig", "tbackendconfig"],
    "tridentbackends": ["tbe", "tbackend"],
    "tridentvolumes": ["tvol", "tvolume"],
    "tridentnodes": ["tnode"],
    "tridentvolumepublications": ["tvp", "tvolumepublication"],
    "tridentvolumereferences": ["tvr", "tvref"],
    "tridentversions": ["tver", "tversion"],
    "tridentstorageclasses": ["tsc", "tstorageclass"],
}

# Field selectors a real apiserver supports beyond metadata.name/metadata.namespace.
EXTRA_SELECTABLE_FIELDS = {
    "Pod": ("spec.nodeName", "spec.serviceAccountName", "spec.restartPolicy", "status.phase"),
    "Namespace": ("status.phase",),
    "Node": ("spec.unschedulable",),
    "PersistentVolumeClaim": ("status.phase",),
    "PersistentVolume": ("status.phase",),
}

# Verbatim from the apiserver, so clients that match on it behave as they would for real.
CONTINUE_EXPIRED_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a "
    "new list without the continue parameter, or use the continue token in this response to retrieve "
    "the remainder of the results. Continuing with the provided token results in an inconsistent list - "
    "objects that were created, modified, or deleted between the time the first chunk was returned and "
    "now may show up in the list."
)

STATUS_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class ObjectStore(Protocol):
    lock: threading.RLock  # held while the store changes; hold it while snapshotting a list
    trident_installed: bool
    # optional `unserved_kinds`: kinds this cluster's API does not serve (a Trident release without a CRD)
    resource_version: int  # monotonic, bumps whenever anything changes

    def objects(self, kind: str) -> list[dict]: ...

    def secrets(self) -> list[dict]: ...


class StaticStore:
    """A fixed set of objects, for tests; `replace` changes a kind as a live cluster would."""

    def __init__(
        self,
        objects_by_kind: dict[str, list[dict]],
        trident_installed: bool = True,
        unserved_kinds: frozenset[str] = frozenset(),
    ):
        self.lock = threading.RLock()
        self.trident_installed = trident_installed
        self.unserved_kinds = unserved_kinds
        self.resource_version = 1
        self._objects = {kind: list(objs) for kind, objs in objects_by_kind.items()}

    def objects(self, kind: str) -> list[dict]:
        return self._objects.get(kind, [])

    def secrets(self) -> list[dict]:
        return self._objects.get("Secret", [])

    def replace(self, kind: str, objects: list[dict]) -> None:
        with self.lock:
            self.resource_version += 1
            before = {_identity(o): o for o in self._objects.get(kind, [])}
            self._objects[kind] = [self._written(o, before.get(_identity(o))) for o in objects]

    def _written(self, obj: dict, previous: dict | None) -> dict:
        """As Kubernetes does: an object created or changed carries the store's new resourceVersion;
        one passed again unchanged is the one served before, with its version (readers may rely on
        that: inventory/kept_reuse.py).  A malformed object (tests of odd input) is served as it is."""
        metadata = obj.get("metadata") if isinstance(obj, dict) else None
        if not isinstance(metadata, dict):
            return obj
        if previous is not None and _unversioned(previous) == _unversioned(obj):
            return previous
        return {**obj, "metadata": {**metadata, "resourceVersion": str(self.resource_version)}}


def _identity(obj) -> tuple:
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    metadata = metadata if isinstance(metadata, dict) else {}
    return str(metadata.get("namespace") or ""), str(metadata.get("name") or "")


def _unversioned(obj: dict) -> dict:
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return obj
    return {**obj, "metadata": {k: v for k, v in metadata.items() if k != "resourceVersion"}}


class ApiError(Exception):
    """Answered to the client as a JSON `Status`."""

    def __init__(self, code: int, message: str, reason: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or STATUS_REASONS.get(code, "Unknown")
        self.details = details


def status_body(code: int, message: str, reason: str | None = None, details: dict | None = None) -> dict:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or STATUS_REASONS.get(code, "Unknown"),
        "code": code,
    }
    if details is not None:
        body["details"] = details
    return body


# --- selectors ----------------------------------------------------------------------------------

Predicate = Callable[[dict], bool]
_LABEL_TERM = re.compile(
    r"^\s*(?:(?P<neg>!)\s*(?P<nkey>[^\s!=,()]+)"
    r"|(?P<key>[^\s!=,()]+)\s*(?:(?P<op>==|=|!=)\s*(?P<value>[^\s!=,()]*)"
    r"|\s+(?P<setop>in|notin)\s*\((?P<values>[^()]*)\))?)\s*$"
)


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not inside `in (a,b)` parentheses."""
    terms, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return [term for term in terms if term.strip()]


def parse_label_selector(text: str) -> list[Predicate]:
    """Kubernetes label selector syntax: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`."""
    predicates = []
    for term in _split_terms(text):
        match = _LABEL_TERM.match(term)
        if not match:
            raise ApiError(400, f"unable to parse requirement: {term.strip()!r}")
        if match["neg"]:
            predicates.append(lambda labels, k=match["nkey"]: k not in labels)
        elif match["setop"]:
            values = {v.strip() for v in match["values"].split(",") if v.strip()}
            if match["setop"] == "in":
                predicates.append(lambda labels, k=match["key"], vs=values: labels.get(k) in vs)
            else:
                predicates.append(lambda labels, k=match["key"], vs=values: labels.get(k) not in vs)
        elif match["op"] == "!=":
            predicates.append(lambda labels, k=match["key"], v=match["value"]: labels.get(k) != v)
        elif match["op"]:
            predicates.append(lambda labels, k=match["key"], v=match["value"]: labels.get(k) == v)
        else:
            predicates.append(lambda labels, k=match["key"]: k in labels)
    return predicates


def parse_field_selector(text: str, kind: str) -> list[Predicate]:
    supported = ("metadata.name", "metadata.namespace", *EXTRA_SELECTABLE_FIELDS.get(kind, ()))
    predicates = []
    for term in _split_terms(text):
        match = re.match(r"^\s*([\w.]+)\s*(==|=|!=)\s*(\S*)\s*$", term)
        if not match:
            raise ApiError(400, f"invalid selector: '{text}'; can't understand '{term.strip()}'")
        name, op, value = match.groups()
        if name not in supported:
            raise ApiError(400, f'field label not supported: "{name}"')
        if op == "!=":
            predicates.append(lambda fields, n=name, v=value: fields.get(n) != v)
        else:
            predicates.append(lambda fields, n=name, v=value: fields.get(n) == v)
    return predicates


def _dig(obj: dict, dotted: str) -> str:
    value = obj
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


# --- list snapshots -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    """One object, serialized once, with what selectors and tables need."""

    namespace: str
    name: str
    labels: dict
    fields: dict
    body: bytes


@dataclass
class _Snapshot:
    scope: str  # the list it belongs to (path and selectors); a token is valid for that list only
    resource_version: int
    entries: list[_Entry]
    created: float = field(default_factory=time.monotonic)


def _serialize(info: KindInfo, obj: dict) -> _Entry:
    meta = obj.get("metadata", {})
    # A real apiserver drops kind/apiVersion from built-in list items but keeps them on custom resources.
    item = (
        obj
        if info.group == TRIDENT_GROUP
        else {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
    )
    selectable = ("metadata.name", "metadata.namespace", *EXTRA_SELECTABLE_FIELDS.get(info.kind, ()))
    return _Entry(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        labels=dict(meta.get("labels") or {}),
        fields={path: _dig(obj, path) for path in selectable},
        body=orjson.dumps(item),
    )


class _ListSnapshots:
    """Serialized lists per kind, and the snapshots that continue tokens pin.

    A kind's list is rebuilt when the store's resourceVersion moves, but an object keeps its bytes
    while it is the same dict with the same metadata.resourceVersion: as in Kubernetes, a changed
    object gets a new resourceVersion, so a 1% churn re-serializes 1% of the pods, not all of them."""

    def __init__(self, store: ObjectStore, ttl_seconds: float):
        self.store = store
        self.ttl_seconds = ttl_seconds
        self._lock = threading.Lock()
        self._lists: dict[str, tuple[int, list[_Entry]]] = {}
        # kind -> id(obj) -> (obj, its resourceVersion, entry); holding obj keeps its id from being reused
        self._by_object: dict[str, dict[int, tuple[dict, str, _Entry]]] = {}
        self._snapshots: dict[int, _Snapshot] = {}
        self._ids = itertools.count(1)

    def current(self, info: KindInfo) -> tuple[int, list[_Entry]]:
        with self.store.lock:
            version = self.store.resource_version
            cached = self._lists.get(info.kind)
            if cached is None or cached[0] != version:
                objects = self.store.secrets() if info is SECRET_KIND else self.store.objects(info.kind)
                cached = (version, self._serialize_all(info, objects))
                self._lists[info.kind] = cached
            return cached

    def _serialize_all(self, info: KindInfo, objects: Iterable[dict]) -> list[_Entry]:
        previous = self._by_object.get(info.kind, {})
        current = {}
        for obj in objects:
            object_version = obj.get("metadata", {}).get("resourceVersion")
            known = previous.get(id(obj))
            entry = known[2] if known is not None and known[1] == object_version else _serialize(info, obj)
            current[id(obj)] = (obj, object_version, entry)
        self._by_object[info.kind] = current
        entries = [entry for _, _, entry in current.values()]
        entries.sort(key=lambda e: (e.namespace, e.name))  # etcd key order, as a real list comes
        return entries

    def pin(self, scope: str, resource_version: int, entries: list[_Entry]) -> int:
        now = time.monotonic()
        with self._lock:
            for sid in [s for s, snap in self._snapshots.items() if now - snap.created > self.ttl_seconds]:
                del self._snapshots[sid]
            sid = next(self._ids)
            self._snapshots[sid] = _Snapshot(scope, resource_version, entries, now)
            return sid

    def resume(self, token: str, scope: str) -> tuple[int, _Snapshot, int]:
        try:
            decoded = orjson.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
            sid, offset = int(decoded["snapshot"]), int(decoded["start"])
        except (ValueError, KeyError, TypeError) as error:
            raise ApiError(400, f"continue key is not valid: {error}") from None
        with self._lock:
            snapshot = self._snapshots.get(sid)
            if snapshot is not None and time.monotonic() - snapshot.created > self.ttl_seconds:
                del self._snapshots[sid]
                snapshot = None
        if snapshot is None:
            raise ApiError(410, CONTINUE_EXPIRED_MESSAGE, reason="Expired")
        if snapshot.scope != scope:
            raise ApiError(400, "continue key is not valid: the continue token belongs to a different list")
        return sid, snapshot, offset

    def expire_all(self) -> None:
        with self._lock:
            self._snapshots.clear()


def _continue_token(sid: int, resource_version: int, start: int) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": resource_version, "snapshot": sid, "start": start})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# --- tables (kubectl's default output) ----------------------------------------------------------


def human_duration(seconds: float) -> str:
    """The apiserver's HumanDuration, which kubectl shows in its AGE column."""
    if seconds < 0:
        return "0s"
    s = int(seconds)
    minutes, hours, days = s // 60, s // 3600, s // 86400
    if s < 120:
        return f"{s}s"
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    if days < 365 * 8:
        return f"{days // 365}y{days % 365}d" if days % 365 else f"{days // 365}y"
    return f"{days // 365}y"


def _age(created: str | None) -> str:
    if not created:
        return "<unknown>"
    when = datetime.fromisoformat(created.replace("Z", "+00:00"))
    return human_duration((datetime.now(UTC) - when).total_seconds())


def _table(info: KindInfo, entries: list[_Entry], metadata: dict, include_object: str) -> dict:
    with_phase = info.kind in ("Namespace", "PersistentVolume", "PersistentVolumeClaim", "Pod")
    columns = [{"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}]
    if with_phase:
        columns.append(
            {"name": "Status", "type": "string", "format": "", "description": "Phase", "priority": 0}
        )
    columns.append({"name": "Age", "type": "string", "format": "", "description": "Age", "priority": 0})
    rows = []
    for entry in entries:
        obj = orjson.loads(entry.body)
        meta = obj.get("metadata", {})
        cells = [entry.name]
        if with_phase:
            cells.append((obj.get("status") or {}).get("phase", ""))
        cells.append(_age(meta.get("creationTimestamp")))
        if include_object == "Object":
            row_object = {"kind": info.kind, "apiVersion": info.api_version, **obj}
        else:
            row_object = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}
        rows.append({"cells": cells, "object": row_object})
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": rows,
    }


def _wants_table(accept: str) -> bool:
    for option in accept.split(","):
        params = {p.strip() for p in option.split(";")[1:]}
        if "as=Table" in params and "g=meta.k8s.io" in params and "v=v1" in params:
            return True
    return False


# --- discovery ----------------------------------------------------------------------------------


def _group_versions(store: ObjectStore) -> dict[str, list[KindInfo]]:
    """groupVersion -> kinds served there."""
    served: dict[str, list[KindInfo]] = {}
    unserved = getattr(store, "unserved_kinds", frozenset())
    for info in SERVED_KINDS:
        if (info.group == TRIDENT_GROUP and not store.trident_installed) or info.kind in unserved:
            continue
        served.setdefault(info.api_version, []).append(info)
    return served


def _api_resource_list(group_version: str, kinds: list[KindInfo]) -> dict:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [
            {
                "name": info.plural,
                "singularName": info.kind.lower(),
                "namespaced": info.namespaced,
                "kind": info.kind,
                "verbs": ["get", "list"],
                **({"shortNames": SHORT_NAMES[info.plural]} if info.plural in SHORT_NAMES else {}),
            }
            for info in kinds
        ],
    }


def _api_group(group: str, versions: list[str]) -> dict:
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


# --- the server ---------------------------------------------------------------------------------


class KubernetesApiServer(SimulatedServer):
    def __init__(
        self, store: ObjectStore, host: str = "127.0.0.1", port: int = 0, continue_ttl_seconds: float = 300.0
    ):
        self.store = store
        self.lists = _ListSnapshots(store, continue_ttl_seconds)
        self._tokens: set[str] = set()
        super().__init__(_Handler, host, port, thread_name="k8s-api-sim")

    def accept_token(self, token: str) -> None:
        self._tokens.add(token)

    def is_authorized(self, authorization: str | None) -> bool:
        # client-go gives kubeconfig credentials to TLS servers only, so kubectl asks this plain-HTTP
        # server anonymously; anonymous requests are let in, but a presented token must be one we issued.
        if authorization is None:
            return True
        scheme, _, token = authorization.partition(" ")
        return scheme.lower() == "bearer" and token in self._tokens

    def write_kubeconfig(self, path, context: str = "simulated", token: str = "sim-token") -> Path:  # noqa: S107
        """A kubeconfig with a bearer token this server accepts, readable by the owner only."""
        self.accept_token(token)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": context, "user": {"token": token}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
            "current-context": context,
            "preferences": {},
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path


class _Handler(SimulatorHandler):
    server_version = "k8s-api-simulator"

    def handle_request(self, method: str, path: str, query: dict[str, str], body: bytes) -> None:
        try:
            if path.startswith("/_sim/"):
                self._send_json(200, self.control(method, path, body))
                return
            authorization = self.headers.get("Authorization")
            self.api.requests.record(
                RecordedRequest(
                    method, path, query, authorization is not None and self.api.is_authorized(authorization)
                )
            )
            fault = self.take_fault(self.path)
            if fault is not None and fault.status is not None:
                message = fault.message or f"injected fault: HTTP {fault.status}"
                if fault.status == 410 and not fault.message:
                    message = CONTINUE_EXPIRED_MESSAGE
                extra = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
                self._send_json(fault.status, status_body(fault.status, message), extra)
                return
            if method != "GET":
                raise ApiError(
                    405, f"the server does not allow this method on the requested resource: {method}"
                )
            if not self.api.is_authorized(authorization):
                raise ApiError(401, "Unauthorized")
            self._send_json(200, self._get(path, query))
        except ApiError as error:
            self._send_json(error.code, status_body(error.code, error.message, error.reason, error.details))

    def control(self, method: str, path: str, body: bytes) -> dict:
        if path == "/_sim/expire-continue" and method == "POST":
            self.api.lists.expire_all()
            return {}
        return super().control(method, path, body)

    def control_error(self, status: int, message: str) -> ApiError:
        return ApiError(status, message)

    # -- Kubernetes API --

    def _get(self, path: str, query: dict) -> dict | bytes:
        parts = path.strip("/").split("/")
        served = _group_versions(self.api.store)
        if path == "/version":
            return SERVER_VERSION
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if path == "/apis":
            groups: dict[str, list[str]] = {}
            for group_version in served:
                if "/" in group_version:
                    group, version = group_version.split("/")
                    groups.setdefault(group, []).append(version)
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [_api_group(g, vs) for g, vs in groups.items()],
            }
        if parts[0] == "api" and len(parts) >= 2:
            group_version, rest = parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) == 2:
            versions = [gv.split("/")[1] for gv in served if gv.startswith(parts[1] + "/")]
            if not versions:
                raise ApiError(404, "the server could not find the requested resource")
            return {"kind": "APIGroup", "apiVersion": "v1", **_api_group(parts[1], versions)}
        elif parts[0] == "apis" and len(parts) >= 3:
            group_version, rest = f"{parts[1]}/{parts[2]}", parts[3:]
        else:
            raise ApiError(404, "the server could not find the requested resource")
        kinds = served.get(group_version)
        if kinds is None:
            raise ApiError(404, "the server could not find the requested resource")
        if not rest:
            return _api_resource_list(group_version, kinds)
        by_plural = {info.plural: info for info in kinds}
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        info = by_plural.get(rest[0])
        if info is None or len(rest) > 2 or (namespace is not None and not info.namespaced):
            raise ApiError(404, "the server could not find the requested resource")
        if len(rest) == 2:
            if info.namespaced and namespace is None:
                raise ApiError(404, "the server could not find the requested resource")
            return self._get_one(info, namespace or "", rest[1], query)
        if query.get("watch") in ("1", "true"):
            raise ApiError(405, "watch is not served by the simulator")
        return self._list(info, namespace, path, query)

    def _get_one(self, info: KindInfo, namespace: str, name: str, query: dict) -> dict | bytes:
        version, entries = self.api.lists.current(info)
        found = [e for e in entries if e.namespace == namespace and e.name == name]
        if not found:
            raise ApiError(
                404, f'{info.plural} "{name}" not found', details={"name": name, "kind": info.plural}
            )
        if _wants_table(self.headers.get("Accept", "")):
            return _table(
                info, found, {"resourceVersion": str(version)}, query.get("includeObject", "Metadata")
            )
        obj = orjson.loads(found[0].body)
        return {"kind": info.kind, "apiVersion": info.api_version, **obj}

    def _list(self, info: KindInfo, namespace: str | None, path: str, query: dict) -> dict | bytes:
        labels = parse_label_selector(query.get("labelSelector", ""))
        fields = parse_field_selector(query.get("fieldSelector", ""), info.kind)
        limit = int(query.get("limit") or 0) if (query.get("limit") or "0").isdigit() else 0
        token = query.get("continue", "")
        scope = f"{path}?{query.get('labelSelector', '')}&{query.get('fieldSelector', '')}"
        if token:
            sid, snapshot, start = self.api.lists.resume(token, scope)
        else:
            version, entries = self.api.lists.current(info)
            self._check_resource_version(query, version)
            selected = [
                e
                for e in entries
                if (namespace is None or e.namespace == namespace)
                and all(p(e.labels) for p in labels)
                and all(p(e.fields) for p in fields)
            ]
            sid, start = None, 0
            snapshot = _Snapshot(scope, version, selected)
        end = len(snapshot.entries) if limit <= 0 else min(start + limit, len(snapshot.entries))
        page = snapshot.entries[start:end]
        metadata: dict = {"resourceVersion": str(snapshot.resource_version)}
        if end < len(snapshot.entries):
            if sid is None:
                sid = self.api.lists.pin(scope, snapshot.resource_version, snapshot.entries)
            metadata["continue"] = _continue_token(sid, snapshot.resource_version, end)
            if not labels and not fields:  # the apiserver only counts when no selector filters
                metadata["remainingItemCount"] = len(snapshot.entries) - end
        if _wants_table(self.headers.get("Accept", "")):
            return _table(info, page, metadata, query.get("includeObject", "Metadata"))
        head = orjson.dumps(
            {"kind": f"{info.kind}List", "apiVersion": info.api_version, "metadata": metadata}
        )
        return b"".join((head[:-1], b',"items":[', b",".join(e.body for e in page), b"]}"))

    @staticmethod
    def _check_resource_version(query: dict, current: int) -> None:
        requested = query.get("resourceVersion", "")
        if requested in ("", "0"):
            return
        if not requested.isdigit():
            raise ApiError(400, f"invalid resource version: {requested}")
        if int(requested) > current:
            raise ApiError(
                504,
                f"Too large resource version: {requested}, current: {current}",
                details={
                    "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}]
                },
            )
        if query.get("resourceVersionMatch") == "Exact" and int(requested) != current:
            raise ApiError(410, f"too old resource version: {requested} ({current})")

    def _send_json(self, code: int, payload: dict | bytes, headers: dict | None = None) -> None:
        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        self.send_body(code, body, headers=headers)
