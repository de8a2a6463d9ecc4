"""A stand-in ONTAP REST API server for one simulated array, over HTTP or HTTPS.

It serves what `netapp-ontap` 9.19 sends: `/api/...` at the root, Basic auth, `fields=` (`*` leaves
out the expensive fields unless they are named; without `fields` only keys and names come back),
`max_records` paging with `_links.next` (`start=` offsets), `return_records=false` counts, simple
query filters (`svm.name=`, `name=`, `*` wildcards, `|` alternatives) and ONTAP's error body
`{"error": {"message", "code"}}`.  Records come from an `OntapArray` at request time.

Faults are the simulator's (control.py): a status, a delay, a dropped connection, and, for a
fault with status 200, an answer that is not JSON (an HTML page, as a proxy in front of an array
would send).
"""

import base64
import fnmatch
import hmac
import http.server
import json
import logging
import re
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from dataclasses import asdict

import orjson

from inventory.simulator.control import FaultInjector, RecordedRequest, RequestLog
from inventory.simulator.ontap_array import OntapArray
from inventory.simulator.tls import TlsMaterial

logger = logging.getLogger(__name__)

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


class _HttpServer(http.server.ThreadingHTTPServer):
    """Tracks connections so that stop() also ends keep-alive ones; with TLS, the handshake runs in
    the connection's own thread, so a client that never finishes it blocks no one else."""

    daemon_threads = True

    def __init__(self, address, api: "OntapApiServer", tls_context: ssl.SSLContext | None):
        super().__init__(address, _Handler)
        self.api = api
        self.tls_context = tls_context
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    def process_request(self, request, client_address):
        with self._lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def finish_request(self, request, client_address):
        if self.tls_context is None:
            super().finish_request(request, client_address)
            return
        try:
            wrapped = self.tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # the client refused our certificate, or went away: its own business
        with self._lock:
            self._connections.discard(request)
            self._connections.add(wrapped)
        try:
            super().finish_request(wrapped, client_address)
        finally:
            with self._lock:
                self._connections.discard(wrapped)
            wrapped.close()

    def shutdown_request(self, request):
        with self._lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        if not isinstance(sys.exception(), ConnectionError | ssl.SSLError):
            logger.exception("error while serving %s", client_address)

    def close_connections(self) -> None:
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the client


class OntapApiServer:
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
        self.faults = FaultInjector()
        self.requests = RequestLog()
        self.max_inline_rules = max_inline_rules
        self._credentials = f"{username}:{password}".encode()
        self._httpd = _HttpServer((host, port), self, tls.server_context() if tls else None)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if self._httpd.tls_context else 'http'}://{host}:{port}"

    def start(self) -> "OntapApiServer":
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="ontap-api-sim",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_connections()
        if self._thread is not None:
            self._thread.join()

    def is_authorized(self, authorization: str | None) -> bool:
        scheme, _, encoded = (authorization or "").partition(" ")
        try:
            presented = base64.b64decode(encoded, validate=True)
        except ValueError:
            return False
        return scheme.lower() == "basic" and hmac.compare_digest(presented, self._credentials)

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
        if path == "/api/cluster":  # a single object, not a collection
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


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60
    disable_nagle_algorithm = True
    server_version = "ontap-api-simulator"

    @property
    def api(self) -> OntapApiServer:
        return self.server.api

    def log_message(self, format, *args):
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query, keep_blank_values=True).items()}
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            if path.startswith("/_sim/"):
                self._send(200, self._control(method, path, body))
                return
            authorized = self.api.is_authorized(self.headers.get("Authorization"))
            self.api.requests.record(RecordedRequest(method, path, query, authorized))
            fault = self.api.faults.take(self.path)
            if fault is not None:
                time.sleep(fault.delay)
                if fault.drop:
                    self.close_connection = True
                    return
                if fault.status == 200:
                    self._send(200, (fault.message or "").encode() or NOT_JSON, "text/html")
                    return
                if fault.status is not None:
                    raise OntapError(
                        fault.status, fault.message or f"injected fault: HTTP {fault.status}", "1"
                    )
            if not authorized:
                raise OntapError(401, "not authorized for that command", "6")
            if method != "GET":
                raise OntapError(405, f"The method {method} is not allowed on this simulated array.", "4")
            self._send(200, self.api.answer(path, query, self.path))
        except OntapError as error:
            self._send(error.status, error_body(error.message, error.code))
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def _control(self, method: str, path: str, body: bytes) -> dict:
        faults = self.api.faults
        if path == "/_sim/faults" and method == "POST":
            spec = json.loads(body or b"{}")
            try:
                return asdict(faults.add(spec.pop("path"), **spec))
            except (KeyError, TypeError, re.error) as error:
                raise OntapError(400, f"bad fault: {error}", "2") from None
        if path == "/_sim/faults" and method == "DELETE":
            faults.clear()
            return {}
        if path == "/_sim/faults" and method == "GET":
            return {"faults": [asdict(f) for f in faults.active()]}
        raise OntapError(404, f"no simulator control at {method} {path}", "3")

    def _send(self, status: int, payload: dict | bytes, content_type: str = "application/hal+json") -> None:
        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        self.send_response(status)
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="ontap"')
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
