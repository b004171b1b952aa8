"""The network guard: in the test process, connect/resolve anything but loopback and it refuses.

Patches socket.socket.connect/connect_ex, socket.getaddrinfo, gethostbyname(_ex) and
create_connection. Subprocesses are not covered. Every refusal is recorded in `blocked`.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from typing import Any

__all__ = ["NetworkGuard", "NetworkGuardError", "guard", "is_loopback"]

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class NetworkGuardError(ConnectionRefusedError):
    """A test tried to reach a host other than 127.0.0.1 / localhost / ::1."""


def is_loopback(host: object) -> bool:
    """True for loopback literals and names (and the unspecified address, which is local)."""
    if host is None or host in ("", b""):
        return True  # getaddrinfo(None, port): a local bind
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").split("%", 1)[0].lower().rstrip(".")
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        addr = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback or addr.is_unspecified


class NetworkGuard:
    """Install once per session; `blocked` lists (what, host, port) of every refusal."""

    def __init__(self) -> None:
        self.blocked: list[tuple[str, str, object]] = []
        self._lock = threading.Lock()
        self._saved: dict[str, Any] = {}

    @property
    def installed(self) -> bool:
        return bool(self._saved)

    def clear(self) -> None:
        with self._lock:
            self.blocked.clear()

    def _refuse(self, what: str, host: object, port: object) -> None:
        with self._lock:
            self.blocked.append((what, str(host), port))
        raise NetworkGuardError(
            f"testbed network guard: {what} to {host!r}:{port} refused; "
            "tests may only reach 127.0.0.1, localhost or ::1"
        )

    def _check_address(self, what: str, sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
            if not is_loopback(address[0]):
                self._refuse(what, address[0], address[1] if len(address) > 1 else None)

    def install(self) -> None:
        if self._saved:
            return
        saved: dict[str, Any] = {
            "connect": socket.socket.connect,
            "connect_ex": socket.socket.connect_ex,
            "getaddrinfo": socket.getaddrinfo,
            "gethostbyname": socket.gethostbyname,
            "gethostbyname_ex": socket.gethostbyname_ex,
            "create_connection": socket.create_connection,
        }
        guard = self

        def connect(sock: socket.socket, address: Any) -> None:
            guard._check_address("connect", sock, address)
            return saved["connect"](sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            guard._check_address("connect", sock, address)
            return saved["connect_ex"](sock, address)

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if not is_loopback(host):
                guard._refuse("resolve", host, port)
            return saved["getaddrinfo"](host, port, *args, **kwargs)

        def gethostbyname(host: str) -> str:
            if not is_loopback(host):
                guard._refuse("resolve", host, None)
            return saved["gethostbyname"](host)

        def gethostbyname_ex(host: str) -> Any:
            if not is_loopback(host):
                guard._refuse("resolve", host, None)
            return saved["gethostbyname_ex"](host)

        def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
            if not is_loopback(address[0]):
                guard._refuse("connect", address[0], address[1])
            return saved["create_connection"](address, *args, **kwargs)

        socket.socket.connect = connect  # type: ignore[method-assign,assignment]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
        socket.getaddrinfo = getaddrinfo
        socket.gethostbyname = gethostbyname
        socket.gethostbyname_ex = gethostbyname_ex
        socket.create_connection = create_connection  # type: ignore[assignment]
        self._saved = saved

    def uninstall(self) -> None:
        saved, self._saved = self._saved, {}
        if not saved:
            return
        socket.socket.connect = saved["connect"]  # type: ignore[method-assign]
        socket.socket.connect_ex = saved["connect_ex"]  # type: ignore[method-assign]
        socket.getaddrinfo = saved["getaddrinfo"]
        socket.gethostbyname = saved["gethostbyname"]
        socket.gethostbyname_ex = saved["gethostbyname_ex"]
        socket.create_connection = saved["create_connection"]


guard = NetworkGuard()
