"""The long-lived local Prefect server, one per PREFECT_HOME: start, reuse, stop (no prefect)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ytarchive.errors import ServerUnavailable, YTArchiveError
from ytarchive.redact import redact
from ytarchive.server_checks import (
    START_MARKER,
    home_of,
    is_healthy,
    log_errors,
    server_identity,
    server_settings,
)
from ytarchive.server_database import (
    Database,
    check_reachable,
    check_server_database,
    choose_database,
    database_from_env,
    database_variables,
    describe_server_database,
    sqlite_database,
)
from ytarchive.server_process import (
    DEFAULT_PORT,
    HOST,
    is_prefect_server,
    pick_port,
    pid_alive,
    stop_pid,
)
from ytarchive.server_state import prefect_home, read_json, state_dir

__all__ = [
    "HOST",
    "DEFAULT_PORT",
    "ServerStatus",
    "prefect_home",
    "state_dir",
    "server_env",
    "server_status",
    "start_server",
    "stop_server",
    "ensure_server",
    "is_healthy",
    "is_ours",
]

_POLL = 0.25
_LOG_ROTATE_BYTES = 20 << 20  # server.log moves to server.log.1 past this, at a start
_LEVELS = ("DEBUG", "INFO", "WARNING")  # what the server may log at: never less than warnings

# Settings our server and every client of it run with. Leases on the filesystem so a killed holder
# of a global concurrency slot does not leak it; never a temporary per-process server; nothing
# phoned home (the machine may be offline).
_SERVER_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_ENABLED": "false",
    "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": (
        "prefect.server.concurrency.lease_storage.filesystem"
    ),
    "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
    "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
    # Prefect's client sends an analytics event (and prints a notice) in a terminal: never here.
    "DO_NOT_TRACK": "1",
}


@dataclass
class ServerStatus:
    """What `server status` and `health` report about the Prefect API this PREFECT_HOME uses."""

    running: bool
    healthy: bool
    api_url: str | None
    pid: int | None
    log_path: Path
    managed: bool  # False when PREFECT_API_URL points at a server we did not start
    prefect_home: Path | None = None
    started_at: str | None = None
    log_errors: int = 0  # ERROR/CRITICAL lines in the log since the server's latest start
    last_log_error: str | None = None
    backend: str | None = None  # "postgresql" or "sqlite", as the server itself says
    database: str | None = None  # where, without the password ("postgresql u@host:5432/db")

    @property
    def ui_url(self) -> str | None:
        if self.api_url and self.api_url.endswith("/api"):
            return self.api_url.removesuffix("/api")
        return None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["log_path"] = str(self.log_path)
        data["prefect_home"] = str(self.prefect_home) if self.prefect_home else None
        data["ui_url"] = self.ui_url
        return data


# ---------------------------------------------------------------------------------------------
# Where things live
# ---------------------------------------------------------------------------------------------


def _log_path() -> Path:
    return state_dir() / "server.log"


def _state_path() -> Path:
    """server.json: pid, port and url of a server that is up and proved ours (nothing else)."""
    return state_dir() / "server.json"


def _starting_path() -> Path:
    """starting.json: the server being started (so a killed starter's server is found again)."""
    return state_dir() / "starting.json"


def _last_start_path() -> Path:
    """last-start.json: how this home's server was last started (its database, no password)."""
    return state_dir() / "last-start.json"


def server_env() -> dict[str, str]:
    """The settings our server and its clients share (overlay them on os.environ)."""
    env = dict(_SERVER_ENV)
    if any(os.environ.get(k) for k in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")):
        current = os.environ.get("NO_PROXY") or os.environ.get("no_proxy") or ""
        loopback = ",".join(h for h in ("127.0.0.1", "localhost") if h not in current)
        if loopback:
            merged = f"{current},{loopback}" if current else loopback
            env["NO_PROXY"] = env["no_proxy"] = merged
    return env


# ---------------------------------------------------------------------------------------------
# Is it up, and is it ours
# ---------------------------------------------------------------------------------------------


def _same_home(a: Path, b: Path) -> bool:
    with contextlib.suppress(OSError):
        return a.resolve() == b.resolve()
    return a == b


def is_ours(api_url: str, timeout: float = 2.0) -> bool:
    """True when the server answering at api_url runs with this PREFECT_HOME.

    The server's own settings name its home, so a server of another archive that happens to hold
    the port (two homes started at once, or a port reused) is never taken for ours.
    """
    home = server_identity(api_url, timeout)
    return home is not None and _same_home(home, prefect_home())


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _read_state() -> dict[str, Any] | None:
    return read_json(_state_path())


def _managed_status() -> ServerStatus:
    with contextlib.suppress(YTArchiveError):
        database_from_env()  # registers its password: the log lines shown below are masked
    state = _read_state() or {}
    pid = state.get("pid")
    url = state.get("api_url")
    running = isinstance(pid, int) and is_prefect_server(pid)
    errors = log_errors(_log_path())
    settings = server_settings(url) if running and url else None
    home = home_of(settings)
    healthy = bool(home and _same_home(home, prefect_home()))
    database = describe_server_database(settings or {}) if healthy else None
    return ServerStatus(
        running=running,
        healthy=healthy,
        api_url=url if running else None,
        pid=pid if running else None,
        log_path=_log_path(),
        managed=True,
        prefect_home=prefect_home(),
        started_at=state.get("started_at") if running else None,
        log_errors=len(errors),
        last_log_error=redact(errors[-1][:300]) if errors else None,
        backend=database.backend if database else None,
        database=database.display if database else None,
    )


def _same_url(a: str | None, b: str | None) -> bool:
    return bool(a and b and a.rstrip("/") == b.rstrip("/"))


def server_status() -> ServerStatus:
    """Our managed server's status; or, when PREFECT_API_URL points elsewhere, that API's health."""
    ours = _managed_status()
    env_url = os.environ.get("PREFECT_API_URL")
    if not env_url or _same_url(env_url, ours.api_url):
        return ours
    healthy = is_healthy(env_url)
    database = describe_server_database(server_settings(env_url) or {}) if healthy else None
    return ServerStatus(
        running=healthy,
        healthy=healthy,
        api_url=env_url,
        pid=None,
        log_path=ours.log_path,
        managed=False,
        prefect_home=prefect_home(),
        backend=database.backend if database else None,
        database=database.display if database else None,
    )


# ---------------------------------------------------------------------------------------------
# Start, stop, ensure
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _start_lock(timeout: float) -> Iterator[None]:
    """An exclusive fcntl lock on PREFECT_HOME/ytarchive-server/lock (released if we die)."""
    state_dir().mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    with open(state_dir() / "lock", "a+") as fh:
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ServerUnavailable(
                        f"timed out after {timeout:.0f}s waiting for another ytarchive command "
                        f"holding the Prefect server lock (log: {_log_path()})"
                    ) from None
                time.sleep(_POLL)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _server_command(port: int, bind: str) -> list[str]:
    return [sys.executable, "-m", "prefect", "server", "start", "--host", bind, "--port", str(port)]


def _server_log_level() -> str:
    """$PREFECT_SERVER_LOGGING_LEVEL if it shows at least warnings, else WARNING."""
    asked = os.environ.get("PREFECT_SERVER_LOGGING_LEVEL", "").strip().upper()
    return asked if asked in _LEVELS else "WARNING"


def _child_env(port: int, database: Database | None = None, bind: str = HOST) -> dict[str, str]:
    """The caller's environment without its logging overrides (a download command silences
    Prefect's console; the server's log must keep its warnings and errors), plus ours: the
    database is ours to say (in the environment, never on the command line)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_LOGGING_")}
    for name in database_variables():
        env.pop(name, None)
    env.update(server_env())
    env["PREFECT_HOME"] = str(prefect_home())
    env.update((database or sqlite_database(prefect_home())).server_env())
    env.pop("PREFECT_API_URL", None)  # the server's UI talks to the server itself
    env["PREFECT_SERVER_API_HOST"] = bind
    env["PREFECT_SERVER_API_PORT"] = str(port)
    env["PREFECT_SERVER_LOGGING_LEVEL"] = _server_log_level()
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _rotate_log(log: Path) -> None:
    with contextlib.suppress(OSError):
        if log.stat().st_size > _LOG_ROTATE_BYTES:
            log.replace(log.with_name(log.name + ".1"))


def _spawn(port: int, database: Database, bind: str) -> int:
    """Start `prefect server start` detached (own session), its output appended to the log."""
    log = _log_path()
    _rotate_log(log)
    with open(log, "ab") as fh:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        where = f"{bind}:{port} on {database.display}"
        fh.write(f"\n{START_MARKER} Prefect server on {where} at {stamp}\n".encode())
        fh.flush()
        proc = subprocess.Popen(
            _server_command(port, bind),
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=_child_env(port, database, bind),
            cwd=str(state_dir()),
            start_new_session=True,
            close_fds=True,
        )
    # We never wait() on it: it outlives this process. Forget the Popen so its finaliser is quiet.
    proc.returncode = 0
    return proc.pid


def _log_tail(lines: int = 5) -> str:
    try:
        text = _log_path().read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return redact(" | ".join(line.strip() for line in text[-lines:] if line.strip()))


def _wait_ours(pid: int, api_url: str, deadline: float) -> bool:
    """Poll until our server answers at api_url (True) or the process dies (False).

    Another home's server answering on the port is not ours: we wait for our process to bind
    (or to die of "address already in use"). Raises ServerUnavailable at the deadline.
    """
    while True:
        if is_ours(api_url, timeout=1.0):
            return True
        if not pid_alive(pid):
            return False
        if time.monotonic() > deadline:
            raise ServerUnavailable(
                f"the Prefect server (pid {pid}) did not answer {api_url} in time; "
                f"it may still be migrating its database; see {_log_path()}"
            )
        time.sleep(_POLL)


def _adopt(pending: dict[str, Any], deadline: float) -> bool:
    """Wait for a server already spawned (by us, or a starter that was killed); True once it is
    up and ours, when it becomes the state file's server."""
    pid, url = pending.get("pid"), pending.get("api_url")
    if not (isinstance(pid, int) and isinstance(url, str) and is_prefect_server(pid)):
        return False
    if not _wait_ours(pid, url, deadline):
        return False
    _write_json(_state_path(), pending)
    return True


def _remember(database: Database, bind: str) -> None:
    place = {"backend": database.backend, "display": database.display}
    _write_json(_last_start_path(), {"database": place, "bind": bind})


def _local_url(bind: str, port: int) -> str:
    """Where we talk to a server bound to `bind` (loopback when it listens everywhere)."""
    host = HOST if bind in (HOST, "0.0.0.0", "localhost") else bind
    return f"http://{host}:{port}/api"


def _start_locked(
    port: int | None, deadline: float, database: Database, asked: bool, bind: str
) -> ServerStatus:
    status = _managed_status()
    if status.running and status.pid and status.api_url:
        if status.healthy or _wait_ours(status.pid, status.api_url, deadline):
            if asked:
                check_server_database(status.api_url, database)
            return _managed_status()
    _unlink(_state_path())
    pending = read_json(_starting_path())
    if pending and _adopt(pending, deadline):
        _unlink(_starting_path())
        if asked:
            check_server_database(pending["api_url"], database)
        return _managed_status()
    check_reachable(database)  # a wrong password or host, told before a server is spawned
    attempts = 1 if port else 3  # a port we picked may be taken before the server binds it
    for _ in range(attempts):
        chosen = pick_port(port)
        pid = _spawn(chosen, database, bind)
        started = datetime.now(UTC).isoformat(timespec="seconds")
        pending = {"pid": pid, "port": chosen, "api_url": _local_url(bind, chosen)}
        _write_json(_starting_path(), {**pending, "started_at": started})
        adopted = _adopt({**pending, "started_at": started}, deadline)
        _unlink(_starting_path())
        if adopted:
            check_server_database(pending["api_url"], database)
            _remember(database, bind)
            return _managed_status()
        port = 0 if port is None else port  # the preferred port was taken: any free one next
    raise ServerUnavailable(f"the Prefect server exited during start-up: {_log_tail()}")


def start_server(
    port: int | None = None,
    timeout: float = 120,
    database: Database | None = None,
    bind: str | None = None,
) -> ServerStatus:
    """Start (or reuse) the managed server for this PREFECT_HOME; wait until it answers as ours.

    port None: $YTARCHIVE_PREFECT_PORT, $PREFECT_SERVER_API_PORT or 4200 if free, else any free
    port; 0: any free port; else exactly that port. A start whose port another process took
    first tries again on a free port (not with an explicit port).
    database None: $PREFECT_API_DATABASE_CONNECTION_URL, else PREFECT_HOME/prefect.db (refused
    when this home's server last ran on PostgreSQL). A running server on another database than
    the one asked for is an error, never silently reused. bind: the address it listens on
    (default 127.0.0.1, or the last start's; 0.0.0.0 for workers on other hosts).
    Two callers at once make one server: the start is under a file lock.
    """
    deadline = time.monotonic() + timeout
    last = read_json(_last_start_path()) or {}
    chosen, asked = choose_database(database, last.get("database"), prefect_home())
    last_bind = last.get("bind")
    bind = bind or (last_bind if isinstance(last_bind, str) else None) or HOST
    with _start_lock(timeout):
        return _start_locked(port, deadline, chosen, asked, bind)


def stop_server(timeout: float = 20.0) -> bool:
    """Stop the managed server (SIGTERM to its process group, SIGKILL if it lingers)."""
    with _start_lock(timeout):
        pids = [(read_json(p) or {}).get("pid") for p in (_state_path(), _starting_path())]
        live = [pid for pid in pids if isinstance(pid, int) and is_prefect_server(pid)]
        for pid in live:
            stop_pid(pid, timeout)
        _unlink(_state_path())
        _unlink(_starting_path())
        return bool(live)


def ensure_server(timeout: float = 120, port: int | None = None) -> str:
    """The API url to use: PREFECT_API_URL if set (and healthy), else our server, started if needed.

    A PREFECT_API_URL that names our own server's address must be answered by our server.
    port is used only when our server has to be started (see start_server).
    """
    env_url = os.environ.get("PREFECT_API_URL")
    ours = (_read_state() or {}).get("api_url")
    if env_url and not _same_url(env_url, ours):
        if is_healthy(env_url):
            return env_url.rstrip("/")
        raise ServerUnavailable(f"PREFECT_API_URL {env_url} does not answer {env_url}/health")
    status = _managed_status()
    if status.healthy and status.api_url:
        return status.api_url
    started = start_server(port=port, timeout=timeout)
    assert started.api_url is not None
    return started.api_url
