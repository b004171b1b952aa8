"""The guard: nothing in the test process reaches a host other than loopback."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import pytest

from tests.testbed.netguard import NetworkGuard, NetworkGuardError, is_loopback


def test_connect_to_a_non_loopback_address_is_refused(network_guard: NetworkGuard) -> None:
    assert network_guard.installed
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(NetworkGuardError):
            sock.connect(("10.255.255.1", 80))
    assert network_guard.blocked[-1] == ("connect", "10.255.255.1", 80)
    network_guard.clear()


def test_resolving_and_urlopen_are_refused(network_guard: NetworkGuard) -> None:
    with pytest.raises(NetworkGuardError):
        socket.getaddrinfo("www.youtube.com", 443)
    with pytest.raises(NetworkGuardError):
        socket.create_connection(("8.8.8.8", 53), timeout=1)
    with pytest.raises(urllib.error.URLError) as exc:
        urllib.request.urlopen("https://www.googleapis.com/youtube/v3/videos", timeout=1)
    assert isinstance(exc.value.reason, NetworkGuardError)
    assert len(network_guard.blocked) == 3
    network_guard.clear()


def test_loopback_is_allowed() -> None:
    assert socket.getaddrinfo("localhost", 80)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=1):
            pass


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("127.0.0.1", True),
        ("127.3.4.5", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", True),
        ("10.0.0.1", False),
        ("example.com", False),
        ("2001:db8::1", False),
        ("localhost.example.com", False),
    ],
)
def test_is_loopback(host: str, ok: bool) -> None:
    assert is_loopback(host) is ok
