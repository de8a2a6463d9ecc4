"""Fails any connection (or name lookup) to anything but loopback, for every test.

The product reads node and array addresses out of clusters; it must never dial them.  Tests
and the demo talk to loopback only, and this guard makes any other attempt an error.
"""

import ipaddress
import socket

ALLOWED_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


class ForeignConnectionError(ConnectionRefusedError):
    """Raised for a connection attempt to a non-loopback address during tests."""


def _is_loopback(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    host = str(host).strip("[]")
    if host.lower() in ALLOWED_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _check(address):
    if isinstance(address, tuple) and address and not _is_loopback(address[0]):
        raise ForeignConnectionError(f"test tried to reach {address[0]!r}: only loopback is allowed")


_original_connect = socket.socket.connect
_original_connect_ex = socket.socket.connect_ex
_original_getaddrinfo = socket.getaddrinfo


def _connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(address)
    return _original_connect(self, address)


def _connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(address)
    return _original_connect_ex(self, address)


def _getaddrinfo(host, *args, **kwargs):
    if host is not None and not _is_loopback(host):
        raise ForeignConnectionError(f"test tried to resolve {host!r}: only loopback is allowed")
    return _original_getaddrinfo(host, *args, **kwargs)


def install() -> None:
    socket.socket.connect = _connect
    socket.socket.connect_ex = _connect_ex
    socket.getaddrinfo = _getaddrinfo


def is_installed() -> bool:
    return socket.socket.connect is _connect and socket.getaddrinfo is _getaddrinfo
