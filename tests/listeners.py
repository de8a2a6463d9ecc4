"""Loopback listeners for the tests: a free port for a server a test starts, and a listener standing
for "anywhere else" that accepts connections, counts them and hangs up.

The recorder proves a client does not go somewhere (a hostile next-page link, a redirect, a proxy
named in the environment): the product may only dial the endpoint an admin configured.
"""

import socket
import threading


def free_port() -> int:
    """A loopback port no one listens on now, for a server a test starts (the SMTP server, a serving
    process, Celery's)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ConnectionRecorder:
    def __init__(self):
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="connection-recorder", daemon=True)

    def start(self) -> "ConnectionRecorder":
        self._thread.start()
        return self

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            connection.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._socket.close()
