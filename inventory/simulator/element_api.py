"""A stand-in SolidFire Element JSON-RPC API, served over HTTPS as a real cluster's MVIP is.

`POST /json-rpc/<version>` with `{"method", "params", "id"}` answers `{"id", "result"}` or a
JSON-RPC error `{"id", "error": {"name", "code", "message"}}`, behind HTTP Basic auth (a wrong
password gets the cluster's `401 Unauthorized.` page, which solidfire-sdk-python reports as
"Bad Credentials").  A method is served only from the API version that introduced it.

Faults and the request log work as for the Kubernetes stand-in (`/_sim/faults`, needing no
credentials).  A fault's `path` is searched in `<path>#<method>`, e.g. `/json-rpc/12.3#ListVolumes`,
so it can aim at one method.  Its `status` decides the answer: 401 is the cluster's 401 page; 200
sends `message` verbatim as the body (garbage, a truncated answer, a hand-made result); any other
status is that HTTP status with a JSON-RPC error.  The log records each method with its params as
the query, never credentials.
"""

import base64
import binascii
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
from dataclasses import asdict

from .control import FaultInjector, RecordedRequest, RequestLog
from .solidfire_array import SUPPORTED_VERSIONS, ElementError, SolidFireArray
from .tls import TlsMaterial

logger = logging.getLogger(__name__)

# The API version that introduced each method served (Element API reference; the SDK's `since`).
METHOD_SINCE = {
    "GetAPI": 1.0,
    "GetClusterInfo": 1.0,
    "ListAccounts": 1.0,
    "ListActiveVolumes": 1.0,
    "ListVolumeAccessGroups": 5.0,
    "ListVolumes": 8.0,
    "ListInitiators": 9.0,
}
UNAUTHORIZED_PAGE = (
    b"<html><head><title>401 Unauthorized.</title></head>"
    b"<body><h1>401 Unauthorized.</h1>Authentication required.</body></html>"
)
DEFAULT_GARBAGE = b"<html><body>this is not JSON-RPC</body></html>"
HANDSHAKE_TIMEOUT = 10.0
_RPC_PATH = re.compile(r"^/json-rpc/(?P<version>[0-9]+\.[0-9]+)$")


class _HttpsServer(http.server.ThreadingHTTPServer):
    """HTTPS with the handshake in each connection's own thread (a client that never speaks TLS
    must not stall the accept loop), tracking open connections so that stopping the server also
    ends keep-alive connections."""

    daemon_threads = True

    def __init__(self, address, handler, api: "ElementApiServer", context: ssl.SSLContext):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)
        self.api = api
        self.context = context
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request, client_address):
        self._track(request)
        super().process_request(request, client_address)

    def finish_request(self, request, client_address):
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            connection = self.context.wrap_socket(request, server_side=True)
        except OSError:
            return  # the client refused our certificate, or hung up (ssl.SSLError is an OSError)
        self._track(connection, replaces=request)
        try:
            self.RequestHandlerClass(connection, client_address, self)
        finally:
            self._untrack(connection)
            connection.close()

    def shutdown_request(self, request):
        self._untrack(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        # A client hanging up mid-request is ordinary (dropped-connection faults, stop()); anything else
        # is a bug in this server and is logged rather than printed to stderr.
        if not isinstance(sys.exception(), ConnectionError | ssl.SSLError):
            logger.exception("error while serving %s", client_address)

    def _track(self, connection: socket.socket, replaces: socket.socket | None = None) -> None:
        with self._connections_lock:
            self._connections.discard(replaces)
            self._connections.add(connection)

    def _untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the client


class ElementApiServer:
    def __init__(
        self,
        array: SolidFireArray,
        tls: TlsMaterial,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str | None = None,
        password: str | None = None,
    ):
        """Serves `array`; the credentials default to the array's admin, as Trident's backend has them."""
        self.array = array
        self.username = array.admin_username if username is None else username
        self._password = array.admin_password if password is None else password
        self.faults = FaultInjector()
        self.requests = RequestLog()
        self._httpd = _HttpsServer((host, port), _Handler, self, tls.server_context())
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return self._httpd.server_address[0]

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    def start(self) -> "ElementApiServer":
        # A short poll interval makes stop() quick, which a test suite starting many servers feels.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="element-api-sim",
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
        if scheme.lower() != "basic":
            return False
        try:
            username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(username, self.username) and hmac.compare_digest(password, self._password)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as requests pools connections
    timeout = 60  # idle keep-alive connections do not hold a thread forever
    disable_nagle_algorithm = True
    server_version = "element-api-simulator"

    @property
    def api(self) -> ElementApiServer:
        return self.server.api

    def log_message(self, format, *args):
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, http_method: str) -> None:
        path = self.path.split("?", 1)[0]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        request = _json_object(body)
        request_id = request.get("id") if request else None
        try:
            if path.startswith("/_sim/"):
                self._send(200, json.dumps(self._control(http_method, path, request)).encode())
                return
            method, params = (request.get("method"), request.get("params")) if request else (None, None)
            authorized = self.api.is_authorized(self.headers.get("Authorization"))
            query = {"method": str(method)} | (
                {k: str(v) for k, v in params.items()} if isinstance(params, dict) else {}
            )
            self.api.requests.record(RecordedRequest(http_method, path, query, authorized))
            if self._injected_fault(f"{path}#{method}", request_id):
                return
            if not authorized:
                self._send(
                    401, UNAUTHORIZED_PAGE, "text/html", {"WWW-Authenticate": 'Basic realm="SolidFire"'}
                )
                return
            if http_method != "POST":
                raise ElementError("xMethodNotAllowed", f"{http_method} is not supported here", 405)
            if request is None:
                raise ElementError("xJSONParseError", "the request body is not a JSON object", 400)
            result = self._call(path, method, params)
            self._send(200, json.dumps({"id": request_id, "result": result}).encode())
        except ElementError as error:
            status = error.code if error.code in (400, 404, 405) else 200  # method errors come with 200
            self._send(status, json.dumps({"id": request_id, "error": error.body()}).encode())
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def _call(self, path: str, method, params) -> dict:
        match = _RPC_PATH.match(path)
        if match is None:
            raise ElementError("xNotFound", f"no JSON-RPC endpoint at {path}", 404)
        version = match["version"]
        if version not in SUPPORTED_VERSIONS:
            raise ElementError("xUnknownAPIVersion", f"Unknown API version: {version}")
        if not isinstance(method, str) or not isinstance(params or {}, dict):
            raise ElementError("xInvalidRequest", "a JSON-RPC call needs a method name and params object")
        if METHOD_SINCE.get(method, 0.0) > float(version):
            raise ElementError("xUnknownAPIMethod", f"Unknown method {method} in API version {version}")
        return self.api.array.result(method, params or {})

    def _injected_fault(self, target: str, request_id) -> bool:
        """Answers as the first fault matching `target` says; False when none applies."""
        fault = self.api.faults.take(target)
        if fault is None:
            return False
        if fault.delay:
            time.sleep(fault.delay)
        if fault.drop:
            self.close_connection = True
            return True
        if fault.status is None:
            return False  # only delayed
        if fault.status == 401:
            self._send(401, UNAUTHORIZED_PAGE, "text/html", {"WWW-Authenticate": 'Basic realm="SolidFire"'})
        elif fault.status == 200:
            self._send(200, fault.message.encode() if fault.message is not None else DEFAULT_GARBAGE)
        else:
            message = fault.message or f"injected fault: HTTP {fault.status}"
            error = {"name": "xSimulatedFault", "code": fault.status, "message": message}
            self._send(fault.status, json.dumps({"id": request_id, "error": error}).encode())
        return True

    def _control(self, http_method: str, path: str, spec: dict | None) -> dict:
        faults = self.api.faults
        if path == "/_sim/faults" and http_method == "POST":
            options = dict(spec or {})
            try:
                fault = faults.add(options.pop("path"), **options)
            except (KeyError, TypeError, re.error) as error:
                raise ElementError("xInvalidFault", f"bad fault: {error}", 400) from None
            return asdict(fault)
        if path == "/_sim/faults" and http_method == "DELETE":
            faults.clear()
            return {}
        if path == "/_sim/faults" and http_method == "GET":
            return {"faults": [asdict(f) for f in faults.active()]}
        raise ElementError("xNotFound", f"no simulator control at {http_method} {path}", 404)

    def _send(self, code: int, body: bytes, content_type: str = "application/json", headers=None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _json_object(body: bytes) -> dict | None:
    """The request body as a JSON object, or None when it is not one."""
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return None
    return request if isinstance(request, dict) else None
