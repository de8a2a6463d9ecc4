"""Test controls shared by the simulator's servers: injected faults and a log of requests.

Faults are steered in-process (`server.faults.add(...)`) or, from another process such as a
Celery worker under test, over HTTP with `SimulatorControl` (the servers' `/_sim/` endpoints).
"""

import json
import re
import threading
import urllib.request
from dataclasses import dataclass, field


@dataclass
class Fault:
    """One injected misbehaviour.  `path` is a regex searched in the request target (path and query),
    so `continue=` matches only the later pages of a list.  `times=None` means until cleared."""

    path: str
    status: int | None = None  # None: answer normally (after `delay`), unless `drop`
    times: int | None = 1
    delay: float = 0.0
    drop: bool = False  # close the connection without an answer
    retry_after: float | None = None
    message: str | None = None
    location: str | None = None  # with a 3xx status: where the redirect points (clients must not follow)
    next_href: str | None = None  # ONTAP: answer normally, with this as the next-page link (hostile links)
    hits: int = field(default=0, init=False)

    def __post_init__(self):
        self._pattern = re.compile(self.path)

    def matches(self, target: str) -> bool:
        return bool(self._pattern.search(target))


class FaultInjector:
    def __init__(self):
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, path: str, **options) -> Fault:
        fault = Fault(path, **options)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, target: str) -> Fault | None:
        """The first fault matching `target`, counted as used (a spent fault is removed)."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(target):
                    fault.hits += 1
                    if fault.times is not None and fault.hits >= fault.times:
                        self._faults.remove(fault)
                    return fault
        return None


class SimulatorControl:
    """Steers a running server's faults from another process, over `/_sim/`."""

    def __init__(self, url: str, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def add_fault(self, path: str, **options) -> dict:
        return self._call("POST", "/_sim/faults", {"path": path, **options})

    def clear_faults(self) -> None:
        self._call("DELETE", "/_sim/faults")

    def expire_continue_tokens(self) -> None:
        self._call("POST", "/_sim/expire-continue")

    def _call(self, method: str, path: str, payload: dict | None = None) -> dict:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(  # noqa: S310 - the URL is the simulator the caller started
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            return json.loads(response.read() or b"{}")


# --- request log --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    authenticated: bool  # presented a token this server issued


class RequestLog:
    def __init__(self):
        self._lock = threading.Lock()
        self._entries: list[RecordedRequest] = []

    def record(self, entry: RecordedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __iter__(self):
        with self._lock:
            return iter(list(self._entries))

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
