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

import json
import re

from simulator.control import RecordedRequest
from simulator.http_base import SimulatedServer, SimulatorHandler, basic_auth_matches, json_object
from simulator.solidfire_array import SUPPORTED_VERSIONS, ElementError, SolidFireArray
from simulator.tls import TlsMaterial

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
UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Basic realm="SolidFire"'}
DEFAULT_GARBAGE = b"<html><body>this is not JSON-RPC</body></html>"
_RPC_PATH = re.compile(r"^/json-rpc/(?P<version>[0-9]+\.[0-9]+)$")


class ElementApiServer(SimulatedServer):
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
        super().__init__(
            _Handler, host, port, thread_name="element-api-sim", tls_context=tls.server_context()
        )

    def is_authorized(self, authorization: str | None) -> bool:
        return basic_auth_matches(authorization, self.username, self._password)


class _Handler(SimulatorHandler):
    server_version = "element-api-simulator"

    def handle_request(self, http_method: str, path: str, query: dict[str, str], body: bytes) -> None:
        request = json_object(body)
        request_id = request.get("id") if request else None
        try:
            if path.startswith("/_sim/"):
                self.send_body(200, json.dumps(self.control(http_method, path, body)).encode())
                return
            method, params = (request.get("method"), request.get("params")) if request else (None, None)
            authorized = self.api.is_authorized(self.headers.get("Authorization"))
            logged = {"method": str(method)} | (
                {k: str(v) for k, v in params.items()} if isinstance(params, dict) else {}
            )
            self.api.requests.record(RecordedRequest(http_method, path, logged, authorized))
            if self._answered_by_fault(f"{path}#{method}", request_id):
                return
            if not authorized:
                self.send_body(401, UNAUTHORIZED_PAGE, "text/html", UNAUTHORIZED_HEADERS)
                return
            if http_method != "POST":
                raise ElementError("xMethodNotAllowed", f"{http_method} is not supported here", 405)
            if request is None:
                raise ElementError("xJSONParseError", "the request body is not a JSON object", 400)
            result = self._call(path, method, params)
            self.send_body(200, json.dumps({"id": request_id, "result": result}).encode())
        except ElementError as error:
            status = error.code if error.code in (400, 404, 405) else 200  # method errors come with 200
            self.send_body(status, json.dumps({"id": request_id, "error": error.body()}).encode())

    def cache_target(self, path: str, body: bytes) -> str:
        """A call is the same whatever its id (the SDK numbers every request)."""
        request = json_object(body) or {}
        return path + "#" + json.dumps([request.get("method"), request.get("params")], sort_keys=True)

    def cached_body(self, cached: bytes, body: bytes) -> bytes:
        """The cached answer with this request's id (`{"id": …, "result": …}` as _call's answers are)."""
        request_id = (json_object(body) or {}).get("id")
        for marker in (b', "result": ', b', "error": '):
            if cached.startswith(b'{"id": ') and marker in cached:
                return b'{"id": ' + json.dumps(request_id).encode() + cached[cached.index(marker) :]
        return cached

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

    def _answered_by_fault(self, target: str, request_id) -> bool:
        """Answers as the first fault matching `target` says; False when none applies (or it only delays)."""
        fault = self.take_fault(target)
        if fault is None or fault.status is None:
            return False
        if fault.location is not None:
            self.send_body(fault.status, b"", "text/html", {"Location": fault.location})
        elif fault.status == 401:
            self.send_body(401, UNAUTHORIZED_PAGE, "text/html", UNAUTHORIZED_HEADERS)
        elif fault.status == 200:
            self.send_body(200, fault.message.encode() if fault.message is not None else DEFAULT_GARBAGE)
        else:
            message = fault.message or f"injected fault: HTTP {fault.status}"
            error = {"name": "xSimulatedFault", "code": fault.status, "message": message}
            self.send_body(fault.status, json.dumps({"id": request_id, "error": error}).encode())
        return True

    def control_error(self, status: int, message: str) -> ElementError:
        return ElementError("xInvalidFault" if status == 400 else "xNotFound", message, status)
