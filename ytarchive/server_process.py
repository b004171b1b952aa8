"""The local Prefect server's port and process: picked, alive, really a server, stopped."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from pathlib import Path

from ytarchive.errors import ServerUnavailable

__all__ = [
    "DEFAULT_PORT",
    "pick_port",
    "preferred_port",
    "pid_alive",
    "is_prefect_server",
    "stop_pid",
]

HOST = "127.0.0.1"
DEFAULT_PORT = 4200  # Prefect's usual port, so the UI is where people expect it; else any free port


def pid_alive(pid: int) -> bool:
    """True while pid is a live process (reaping it first if it is our own exited child)."""
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def is_prefect_server(pid: int) -> bool:
    """The pid is alive and (where /proc tells) is a `prefect server start`, not a reused pid."""
    if not pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc (not Linux): trust the pid
    return b"prefect" in b" ".join(cmdline) and b"server" in cmdline and b"start" in cmdline


def stop_pid(pid: int, timeout: float) -> None:
    """SIGTERM to the server's process group, SIGKILL if it lingers past timeout."""
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(pid):
        _signal_group(pid, signal.SIGKILL)
        while pid_alive(pid) and time.monotonic() < deadline + 5:
            time.sleep(0.1)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # the server leads its own session, so its group is its pid
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def any_free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def pick_port(port: int | None) -> int:
    """port itself; None: the preferred port if free, else any free one; 0: any free one."""
    if port:
        return port
    if port is None:
        preferred = preferred_port()
        if preferred and port_free(preferred):
            return preferred
    return any_free_port()


def preferred_port() -> int:
    """$YTARCHIVE_PREFECT_PORT (0: any free port), else $PREFECT_SERVER_API_PORT, else 4200."""
    for name in ("YTARCHIVE_PREFECT_PORT", "PREFECT_SERVER_API_PORT"):
        value = os.environ.get(name, "").strip()
        if value:
            try:
                return int(value)
            except ValueError:
                raise ServerUnavailable(f"{name}={value!r} is not a port number") from None
    return DEFAULT_PORT
