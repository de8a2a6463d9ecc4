"""A stand-in ONTAP REST API server for one simulated array, over HTTP or HTTPS.

It serves what `netapp-ontap` 9.19 sends: `/api/...` at the root, Basic auth, `fields=` (`*` leaves
out the expensive fields unless they are named; without `fields` only keys and names come back),
`max_records` paging with `_links.next` (`start=` offsets), `return_records=false` counts, simple
query filters (`svm.name=`, `name=`, `*` wildcards, `|` alternatives) and ONTAP's error body
`{"error": {"message", "code"}}`.  Records come from an `OntapArray` at request time.

Faults are the simulator's (control.py): a status, a delay, a dropped connection, for a fault
with status 200 an answer that is not JSON (an HTML page, as a proxy in front of an array would
send), a redirect (a 3xx status with a `location`), and a normal answer whose next-page link is
`next_href` (a hostile or broken array).
"""

import fnmatch
import re
import urllib.parse

import orjson

from arrays.sources.contract import ONTAP_SINGLE_OBJECTS
from simulator.control import RecordedRequest
from simulator.http_base import SimulatedServer, SimulatorHandler, basic_auth_matches
from simulator.ontap_array import OntapArray
from simulator.tls import TlsMaterial

# ONTAP's expensive fields: returned only when named in `fields`, never by `*`.
EXPENSIVE_FIELDS: dict[str, frozenset[str]] = {
    "/api/storage/volumes": frozenset({"is_svm_root"}),
    "/api/storage/luns": frozenset({"lun_maps"}),
    "/api/protocols/san/igroups": frozenset({"igroups", "lun_maps", "parent_igroups"}),
    "/api/protocols/nvme/subsystems": frozenset({"subsystem_maps"}),
    "/api/storage/namespaces": frozenset({"subsystem_map"}),
}
# Fields ONTAP returns when no `fields` is given: the keys and the name.
DEFAULT_FIELDS = ("uuid", "id", "name", "index", "svm", "volume", "lun", "igroup", "subsystem", "namespace")
# Above this many rules ONTAP lists a policy's rules only under .../rules (`are_rules_truncated`).
MAX_INLINE_RULES = 500
NOT_QUERY_PARAMS = {"fields", "max_records", "return_records", "return_timeout", "start", "order_by"}
RULES_PATH = re.compile(r"^/api/protocols/nfs/export-policies/(\d+)/rules$")
NOT_JSON = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


class OntapError(Exception):
    def __init__(self, status: int, message: str, code: str):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def error_body(message: str, code: str) -> dict:
    return {"error": {"message": message, "code": code}}


def project(record: dict, fields: list[str], expensive: frozenset[str]) -> dict:
    """The record as `fields=` asks: `**` everything, `*` all but the unnamed expensive fields,
    dotted names select inside objects."""
    if "**" in fields:
        return record
    named = {f.split(".", 1)[0] for f in fields}
    if "*" in fields:
        dropped = expensive - named
        return {k: v for k, v in record.items() if k not in dropped} if dropped else record
    out: dict = {}
    for name in (*DEFAULT_FIELDS, *fields):
        _select(record, name.split("."), out)
    return out


def _select(source: dict, parts: list[str], out: dict) -> None:
    head = parts[0]
    if head not in source:
        return
    value = source[head]
    if len(parts) == 1 or not isinstance(value, dict | list):
        out[head] = value
    elif isinstance(value, dict):
        _select(value, parts[1:], out.setdefault(head, {}))
    else:  # a list of objects: select inside each
        selected = out.setdefault(head, [{} for _ in value])
        for item, target in zip(value, selected, strict=True):
            if isinstance(item, dict):
                _select(item, parts[1:], target)


def _dig(record: dict, dotted: str) -> list:
    values = [record]
    for part in dotted.split("."):
        found = []
        for value in values:
            if isinstance(value, dict) and part in value:
                item = value[part]
                found.extend(item if isinstance(item, list) else [item])
            elif isinstance(value, list):
                found.extend(v[part] for v in value if isinstance(v, dict) and part in v)
        values = found
    return values


def matches(record: dict, filters: dict[str, str]) -> bool:
    for dotted, wanted in filters.items():
        values = ["true" if v is True else "false" if v is False else str(v) for v in _dig(record, dotted)]
        patterns = wanted.split("|")
        if not any(fnmatch.fnmatchcase(v, p) for v in values for p in patterns):
            return False
    return True


class OntapApiServer(SimulatedServer):
    def __init__(
        self,
        array: OntapArray,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: TlsMaterial | None = None,
        username: str = "admin",
        password: str = "sim-ontap-password",  # noqa: S107 - the simulator's own test credential
        max_inline_rules: int = MAX_INLINE_RULES,
    ):
        self.array = array
        self.max_inline_rules = max_inline_rules
        self._username, self._password = username, password
        tls_context = tls.server_context() if tls else None
        super().__init__(_Handler, host, port, thread_name="ontap-api-sim", tls_context=tls_context)

    def is_authorized(self, authorization: str | None) -> bool:
        return basic_auth_matches(authorization, self._username, self._password)

    # ------------------------------------------------------------ answers

    def answer(self, path: str, query: dict[str, str], target: str) -> dict:
        rules = RULES_PATH.match(path)
        if rules:
            policies = self.array.records("/api/protocols/nfs/export-policies")
            policy = next((p for p in policies if str(p["id"]) == rules.group(1)), None)
            if policy is None:
                raise OntapError(404, f'Export policy with ID "{rules.group(1)}" not found.', "1703945")
            records = [
                {**rule, "policy": {"id": policy["id"], "name": policy["name"]}, "svm": policy["svm"]}
                for rule in policy["rules"]
            ]
        elif path in self.array.served_paths:
            records = self._records(path)
        else:
            raise OntapError(404, "API not found", "3")
        if path in ONTAP_SINGLE_OBJECTS:
            return project(records[0], _fields(query), frozenset())
        filters = {k: v for k, v in query.items() if k not in NOT_QUERY_PARAMS}
        if filters:
            records = [r for r in records if matches(r, filters)]
        links = {"self": {"href": target}}
        if query.get("return_records") == "false":
            return {"num_records": len(records), "_links": links}
        start = int(query["start"]) if query.get("start", "").isdigit() else 0
        size = int(query["max_records"]) if query.get("max_records", "").isdigit() else 0
        end = len(records) if size <= 0 else min(start + size, len(records))
        fields, expensive = _fields(query), EXPENSIVE_FIELDS.get(path, frozenset())
        page = [project(r, fields, expensive) for r in records[start:end]]
        if end < len(records):
            following = {k: v for k, v in query.items() if k != "start"}
            links["next"] = {"href": f"{path}?{urllib.parse.urlencode({'start': end, **following})}"}
        return {"records": page, "num_records": len(page), "_links": links}

    def _records(self, path: str) -> list[dict]:
        records = self.array.records(path)
        if path != "/api/protocols/nfs/export-policies":
            return records
        limit = self.max_inline_rules
        return [
            {**p, "rules": p["rules"][:limit], "are_rules_truncated": True} if len(p["rules"]) > limit else p
            for p in records
        ]


def _fields(query: dict[str, str]) -> list[str]:
    return [f.strip() for f in query.get("fields", "").split(",") if f.strip()]


class _Handler(SimulatorHandler):
    server_version = "ontap-api-simulator"

    def handle_request(self, method: str, path: str, query: dict[str, str], body: bytes) -> None:
        try:
            if path.startswith("/_sim/"):
                self._send(200, self.control(method, path, body))
                return
            authorized = self.api.is_authorized(self.headers.get("Authorization"))
            self.api.requests.record(RecordedRequest(method, path, query, authorized))
            fault = self.take_fault(self.path)
            if fault is not None and fault.status == 200:
                self._send(200, (fault.message or "").encode() or NOT_JSON, "text/html")
                return
            if fault is not None and fault.location is not None:
                self.send_body(fault.status or 302, b"", "text/html", {"Location": fault.location})
                return
            if fault is not None and fault.status is not None:
                raise OntapError(fault.status, fault.message or f"injected fault: HTTP {fault.status}", "1")
            if not authorized:
                raise OntapError(401, "not authorized for that command", "6")
            if method != "GET":
                raise OntapError(405, f"The method {method} is not allowed on this simulated array.", "4")
            answer = self.api.answer(path, query, self.path)
            if fault is not None and fault.next_href is not None:
                answer.setdefault("_links", {})["next"] = {"href": fault.next_href}
            self._send(200, answer)
        except OntapError as error:
            self._send(error.status, error_body(error.message, error.code))

    def control_error(self, status: int, message: str) -> OntapError:
        return OntapError(status, message, "2" if status == 400 else "3")

    def _send(self, status: int, payload: dict | bytes, content_type: str = "application/hal+json") -> None:
        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        headers = {"WWW-Authenticate": 'Basic realm="ontap"'} if status == 401 else None
        self.send_body(status, body, content_type, headers)
