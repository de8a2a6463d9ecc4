"""The HTTP plumbing every simulated server shares, so that each server module holds only its protocol.

`SimulatedServer` runs a `SimulatorHandler` subclass on a background thread, over HTTP or HTTPS, with
the injected faults and the request log of control.py.  The handler parses the request line, reads
the body and hands `(method, path, query, body)` to the protocol's `handle_request`; it also answers
the `/_sim/faults` controls, raising errors in the protocol's own shape (`control_error`).

`ResponseCache` (the benchmark's): once switched on, each answer of 200 is kept as the bytes sent
and served again for the same request while the world is unchanged, so a measured client pays for
its own work only.  The caller clears it whenever the world changes; faults are not consulted for a
cached answer.
"""

import base64
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
from typing import Self

from simulator.control import Fault, FaultInjector, RequestLog

logger = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT = 10.0  # a client that connects and never speaks TLS gives up its thread after this


class ResponseCache:
    """Answers already rendered: request key -> (status, body, content type, headers)."""

    def __init__(self):
        self._answers: dict[tuple, tuple[int, bytes, str, dict | None]] = {}
        self.hits = self.misses = 0  # since the last clear (approximate under concurrent requests)

    def get(self, key: tuple) -> tuple[int, bytes, str, dict | None] | None:
        answer = self._answers.get(key)
        if answer is None:
            self.misses += 1
        else:
            self.hits += 1
        return answer

    def put(self, key: tuple, answer: tuple[int, bytes, str, dict | None]) -> None:
        self._answers[key] = answer

    def clear(self) -> None:
        self._answers = {}
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._answers)


class SimulatorHttpServer(http.server.ThreadingHTTPServer):
    """Tracks open connections so that stopping the server also ends keep-alive ones: a client must
    find a stopped server gone, not still answering on an old socket.  With TLS, the handshake runs in
    the connection's own thread, so a client that never finishes it stalls no one else."""

    daemon_threads = True

    def __init__(self, address, handler, api: "SimulatedServer", tls_context: ssl.SSLContext | None):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)
        self.api = api
        self.tls_context = tls_context
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request, client_address):
        self._track(request)
        super().process_request(request, client_address)

    def finish_request(self, request, client_address):
        if self.tls_context is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            connection = self.tls_context.wrap_socket(request, server_side=True)
        except OSError:
            return  # the client refused our certificate, or hung up (ssl.SSLError is an OSError)
        self._track(connection, replaces=request)
        try:
            super().finish_request(connection, client_address)
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


class SimulatedServer:
    """One simulated API on `host:port`, answered by `handler` (a `SimulatorHandler`), over HTTPS when
    given a TLS context.  Its handlers reach it as `self.api`."""

    def __init__(
        self,
        handler: type["SimulatorHandler"],
        host: str,
        port: int,
        *,
        thread_name: str,
        tls_context: ssl.SSLContext | None = None,
    ):
        self.faults = FaultInjector()
        self.requests = RequestLog()
        self.responses: ResponseCache | None = None  # see ResponseCache; off unless switched on
        self._thread_name = thread_name
        self._httpd = SimulatorHttpServer((host, port), handler, self, tls_context)
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
        return f"{'https' if self._httpd.tls_context else 'http'}://{host}:{self.port}"

    def cache_responses(self) -> ResponseCache:
        """Switch the response cache on (the benchmark's pre-rendered pages)."""
        if self.responses is None:
            self.responses = ResponseCache()
        return self.responses

    def start(self) -> Self:
        # A short poll interval makes stop() quick, which a test suite starting many servers feels.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=self._thread_name,
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


def basic_auth_matches(authorization: str | None, username: str, password: str) -> bool:
    """Whether an `Authorization` header carries exactly these Basic credentials (compared in constant
    time, so the simulator teaches no timing habits to the clients tested against it)."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        presented = base64.b64decode(encoded, validate=True)
    except ValueError:  # binascii.Error
        return False
    return hmac.compare_digest(presented, f"{username}:{password}".encode())


def json_object(body: bytes) -> dict | None:
    """The body as a JSON object, or None when it is not one."""
    try:
        decoded = json.loads(body or b"{}")
    except ValueError:
        return None
    return decoded if isinstance(decoded, dict) else None


class DroppedConnection(Exception):
    """Raised by `take_fault` to end a request without an answer."""


class SimulatorHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients pool connections
    _caching: tuple | None = None  # (cache, key) while an answer being rendered is to be kept
    timeout = 60  # idle keep-alive connections do not hold a thread forever
    disable_nagle_algorithm = True  # headers and body go out in two writes; don't wait 40 ms between them

    @property
    def api(self) -> SimulatedServer:
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
        cache = self.api.responses
        self._caching = None
        try:
            if cache is not None and not path.startswith("/_sim/"):
                key = (method, self.cache_target(path, body), self.headers.get("Authorization"))
                answer = cache.get(key)
                if answer is not None:
                    status, cached, content_type, headers = answer
                    self.send_body(status, self.cached_body(cached, body), content_type, headers)
                    return
                self._caching = (cache, key)
            self.handle_request(method, path, query, body)
        except (DroppedConnection, ConnectionError, TimeoutError):
            self.close_connection = True
        finally:
            self._caching = None

    def cache_target(self, path: str, body: bytes) -> bytes | str:
        """What makes two requests the same for the response cache: the request target and body."""
        return self.path + "#" + body.decode(errors="replace")

    def cached_body(self, cached: bytes, body: bytes) -> bytes:
        """A cached answer as sent for this request (a protocol echoing a request id patches it in)."""
        return cached

    def handle_request(self, method: str, path: str, query: dict[str, str], body: bytes) -> None:
        """Answers one request in the protocol's terms (`path` without a trailing slash)."""
        raise NotImplementedError

    def take_fault(self, target: str) -> Fault | None:
        """The first injected fault whose pattern is found in `target`, once its delay has passed.
        A fault that drops the connection ends the request here: the client sees the server hang up."""
        fault = self.api.faults.take(target)
        if fault is None:
            return None
        if fault.delay:
            time.sleep(fault.delay)
        if fault.drop:
            raise DroppedConnection
        return fault

    def control(self, method: str, path: str, body: bytes) -> dict:
        """Answers the `/_sim/faults` controls, which need no credentials."""
        faults = self.api.faults
        if path == "/_sim/faults" and method == "POST":
            options = json_object(body) or {}
            try:
                return asdict(faults.add(options.pop("path"), **options))
            except (KeyError, TypeError, re.error) as error:
                raise self.control_error(400, f"bad fault: {error}") from None
        if path == "/_sim/faults" and method == "DELETE":
            faults.clear()
            return {}
        if path == "/_sim/faults" and method == "GET":
            return {"faults": [asdict(f) for f in faults.active()]}
        raise self.control_error(404, f"no simulator control at {method} {path}")

    def control_error(self, status: int, message: str) -> Exception:
        """The protocol's error for a bad control request, answered as the protocol answers errors."""
        raise NotImplementedError

    def send_body(
        self, status: int, body: bytes, content_type: str = "application/json", headers: dict | None = None
    ) -> None:
        if self._caching is not None and status == 200:
            cache, key = self._caching
            cache.put(key, (status, body, content_type, headers))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
