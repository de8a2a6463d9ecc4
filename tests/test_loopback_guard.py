import socket

import pytest

from tests.loopback_guard import ForeignConnectionError


@pytest.mark.parametrize("address", ["192.0.2.10", "10.0.0.11", "8.8.8.8", "2001:db8::1", "::ffff:192.0.2.1"])
def test_connection_to_a_foreign_address_fails(address):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock, pytest.raises(ForeignConnectionError):
        sock.connect((address, 2049))


def test_name_lookup_of_a_foreign_host_fails():
    with pytest.raises(ForeignConnectionError):
        socket.getaddrinfo("svm.example.com", 443)
    with pytest.raises(ForeignConnectionError):
        socket.create_connection(("array.example.com", 443), timeout=1)


def test_loopback_is_allowed():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
