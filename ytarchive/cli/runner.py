"""The resident runner: a process with Prefect and yt-dlp loaded that forks each CLI run.

Measured (bench/bench_overhead.py), a one-video `download` spends more CPU importing Prefect,
googleapiclient and yt-dlp than downloading; only a process that already holds them gets near
plain yt-dlp. So `download` and `playlist download` hand their run to this runner when one is up
for PREFECT_HOME: it forks a child that adopts the command's stdin/stdout/stderr (passed over a
unix socket), working directory and environment and runs the command as this process would. The
child is the run's process: it dies with SIGKILL the moment the command's process goes (kill
-9, a closed terminal), so a killed command still leaves a run whose process is gone, as before;
Ctrl-C and SIGTERM are passed on to it. The command's exit code is the child's.

The runner is started (detached) after an in-process run against this home's local server, and
exits when that server stops, when its code or packages change, or after an idle hour.
YTARCHIVE_RUNNER=off runs every command in its own process.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ytarchive.server_process import pid_alive

__all__ = ["ARGV", "hand_over", "local_server", "start_runner", "runner_ready", "serve"]

ARGV: list[str] = []  # the arguments of this process's command (set by ytarchive.cli.main)

IN_RUNNER = "YTARCHIVE_IN_RUNNER"  # set in a forked child: it never hands over again
_IDLE_SECONDS = 3600.0
_PACKAGES = ("ytarchive", "flows", "tasks", "deployments")
_ROOT = Path(__file__).resolve().parents[2]
_FINISHED = threading.Event()  # in a child: the command returned (its exit code is on the way)
_INHERITED: list[Any] = []  # what the runner holds that a forked child must close


def _state_dir() -> Path:
    from ytarchive.server_state import state_dir

    return state_dir()


def _socket_path() -> Path:
    return _state_dir() / "runner.sock"


def _fingerprint() -> str:
    """What the runner's loaded code must match: our sources, the interpreter, its packages."""
    parts = [sys.executable]
    for package in _PACKAGES:
        for path in sorted((_ROOT / package).rglob("*.py")):
            stat = path.stat()
            parts.append(f"{path.relative_to(_ROOT)}:{stat.st_mtime_ns}:{stat.st_size}")
    for entry in sys.path:  # a package installed or removed changes its folder's mtime
        if entry.endswith("site-packages") and Path(entry).is_dir():
            parts.append(f"{entry}:{Path(entry).stat().st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# The command's side
# ---------------------------------------------------------------------------------------------


def _usable() -> bool:
    if os.environ.get(IN_RUNNER) or os.environ.get("YTARCHIVE_RUNNER", "").lower() == "off":
        return False
    try:  # real descriptors 0, 1, 2 (not a test's captured streams)
        return [s.fileno() for s in (sys.stdin, sys.stdout, sys.stderr)] == [0, 1, 2]
    except (AttributeError, ValueError, OSError):
        return False


def hand_over(argv: list[str] | None = None) -> int | None:
    """Run this command in the runner: its exit code, or None when no runner takes it."""
    argv = list(ARGV if argv is None else argv)
    if not argv or not _usable():
        return None
    conn = _connect()
    if conn is None:
        return None
    with conn:
        request = {"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}
        request["fingerprint"] = _fingerprint()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        try:
            socket.send_fds(conn, [json.dumps(request).encode() + b"\n"], [0, 1, 2])
            reader = conn.makefile("rb")
            first = json.loads(reader.readline() or b"{}")
        except (OSError, ValueError):
            return None
        if "pid" not in first:  # stale or refused: this process runs the command itself
            return None
        return _wait_for_child(conn, reader)


def _connect() -> socket.socket | None:
    path = _socket_path()
    if not path.exists():
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
    except OSError:
        conn.close()
        return None
    return conn


def _wait_for_child(conn: socket.socket, reader: Any) -> int:
    """Pass Ctrl-C and SIGTERM on to the child until it reports its exit code."""

    forwarded: list[int] = []

    def forward(signum: int, _frame: Any) -> None:
        forwarded.append(signum)
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps({"signal": signum}).encode() + b"\n")

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                line = reader.readline()
            except InterruptedError:
                continue
            if not line:  # the child died of a signal: this process dies of the one it passed on
                if forwarded:
                    signal.signal(forwarded[-1], signal.SIG_DFL)
                    os.kill(os.getpid(), forwarded[-1])
                sys.stderr.write("Error: the run's process ended without an exit code\n")
                return 1
            message = json.loads(line)
            if "exit" in message:
                return int(message["exit"])
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def runner_ready() -> bool:
    """True when a runner answers on this PREFECT_HOME's socket."""
    conn = _connect()
    if conn is None:
        return False
    conn.close()
    return True


def local_server(api_url: str | None) -> bool:
    """True when api_url is the server this PREFECT_HOME's state names (the one a runner of
    this home follows)."""
    from ytarchive.server_state import read_json

    state = read_json(_state_dir() / "server.json") or {}
    url = str(state.get("api_url") or "").rstrip("/")
    return bool(url) and url == str(api_url or "").rstrip("/")


def start_runner() -> None:
    """Start a runner for this PREFECT_HOME in the background (no wait), unless one is up."""
    if not _usable() or runner_ready():
        return
    import subprocess

    log = _state_dir() / "runner.log"
    env = {k: v for k, v in os.environ.items() if k != IN_RUNNER}
    with open(log, "ab") as out:
        subprocess.Popen(
            [sys.executable, "-m", "ytarchive.cli.runner"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            env=env,
            cwd=str(_ROOT),
            start_new_session=True,  # Ctrl-C and kill of this command leave it running
        )


# ---------------------------------------------------------------------------------------------
# The runner's side
# ---------------------------------------------------------------------------------------------


def _preload() -> None:
    """Import what a run needs, starting no thread (each child is a fork of this process)."""
    import importlib

    for name in _PRELOAD:
        importlib.import_module(name)
    from ytarchive.downloader import warm_up

    warm_up(every_site=True)  # yt-dlp's extractors and URL patterns, TLS, ffmpeg's version


_PRELOAD = (
    "anyio._backends._asyncio",
    "duckdb",
    "fastapi.encoders",
    "googleapiclient.discovery",
    "prefect.artifacts",
    "prefect.concurrency.sync",
    "prefect.flow_engine",
    "prefect.task_engine",
    "prefect.telemetry.run_telemetry",
    "prefect.utilities.visualization",
    "pyarrow.parquet",
    "typer._click.decorators",
    "yt_dlp",
    "flows.archive",
    "flows.runtime",
    "ytarchive.catalog",
    "ytarchive.cli.download_view",
    "ytarchive.metadata",
    "ytarchive.sidecars",
    "ytarchive.youtube_api",
)


def serve() -> int:
    """Accept commands on the socket and fork a child for each, until told to stop."""
    import fcntl

    state = _state_dir()
    state.mkdir(parents=True, exist_ok=True)
    lock = open(state / "runner.lock", "w")  # held for the runner's life
    _INHERITED.append(lock)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return 0  # another runner for this home
    fingerprint = _fingerprint()  # before loading: sources changed meanwhile make it stale
    _preload()
    # What is loaded now lives as long as every child: out of their collections. A full
    # collection in a child otherwise walks these 200,000 objects and writes to every page
    # that holds one (copy-on-write): measured 0.23 s, each time one runs.
    gc.collect()
    gc.freeze()
    if threading.active_count() != 1:
        _log(f"not serving: {threading.active_count()} threads after loading (unsafe to fork)")
        return 1
    server_pid = _server_pid()
    if server_pid is None or not pid_alive(server_pid):
        # Started after a run, but the server stopped meanwhile (`server stop` while this
        # loaded): there is no server of this home to follow, so nothing would ever end it
        # but the idle hour.
        _log("no Prefect server of this home is running: not serving")
        return 0
    path = _socket_path()
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    path.chmod(0o600)  # only this user's commands (and _take checks the peer's uid)
    listener.listen(16)
    _INHERITED.append(listener)
    listener.settimeout(1.0)
    inode = path.stat().st_ino
    _log(f"serving on {path} (pid {os.getpid()})")
    children: set[int] = set()
    last = time.monotonic()
    try:
        while _keep_serving(path, inode, server_pid, children, last):
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            last = time.monotonic()
            if not _take(conn, fingerprint, children):
                return 0  # stale code: the next command starts a new runner
    finally:
        with contextlib.suppress(OSError):
            if path.exists() and path.stat().st_ino == inode:
                path.unlink()
        listener.close()
    return 0


def _keep_serving(path: Path, inode: int, server_pid: int, children: set[int], last: float) -> bool:
    _reap(children)
    try:
        if path.stat().st_ino != inode:
            return False  # replaced by another runner
    except OSError:
        return False
    if not pid_alive(server_pid):
        _log("the Prefect server stopped: exiting")
        return False
    return bool(children) or time.monotonic() - last < _IDLE_SECONDS


def _take(conn: socket.socket, fingerprint: str, children: set[int]) -> bool:
    """Fork a child for one command; False when the command's code is not ours (stale)."""
    if not _same_user(conn):
        conn.close()
        return True
    fds: list[int] = []
    try:
        conn.settimeout(10.0)
        data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
        while not data.endswith(b"\n"):  # the request is one line, maybe in several pieces
            more = conn.recv(1 << 16)
            if not more:
                raise ValueError("the command hung up")
            data += more
        request = json.loads(data)
    except (OSError, ValueError):
        for fd in fds:
            os.close(fd)
        conn.close()
        return True
    if request.get("fingerprint") != fingerprint or len(fds) != 3:
        _log("code or packages changed: exiting")
        for fd in fds:
            os.close(fd)
        conn.close()
        return False
    pid = os.fork()
    if pid == 0:
        os._exit(_child(conn, fds, request))
    children.add(pid)
    for fd in fds:
        os.close(fd)
    conn.close()
    return True


def _same_user(conn: socket.socket) -> bool:
    """The connecting process runs as this user (SO_PEERCRED: pid, uid, gid)."""
    import struct

    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", creds)
    return uid == os.getuid()


def _child(conn: socket.socket, fds: list[int], request: dict[str, Any]) -> int:
    """The run's process: adopt the command's streams, directory and environment, run it."""
    code = 1
    try:
        for held in _INHERITED:  # the runner's socket and lock are not the run's
            held.close()
        os.setpgid(0, 0)
        conn.settimeout(None)
        conn.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        _reopen_streams()
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ[IN_RUNNER] = "1"
        threading.Thread(target=_watch_command, args=(conn,), daemon=True).start()
        code = _run_command(list(request["argv"]))
        _FINISHED.set()
    except BaseException as exc:  # the child must always report and exit
        with contextlib.suppress(Exception):
            sys.stderr.write(f"Error: the runner could not run the command: {exc}\n")
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps({"exit": code}).encode() + b"\n")
    return code


def _reopen_streams() -> None:
    """The command's streams as Python opens its own: stderr line-buffered wherever it goes (a
    log file shows each line as it comes, not at exit), stdout so in a terminal."""
    for name, fd in (("stdin", 0), ("stdout", 1), ("stderr", 2)):
        mode = "r" if fd == 0 else "w"
        buffering = 1 if fd == 2 or (fd == 1 and os.isatty(fd)) else -1
        stream = open(fd, mode, buffering=buffering, encoding="utf-8", closefd=False)
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _watch_command(conn: socket.socket) -> None:
    """Signals the command passes on; the command gone (EOF) kills this process at once."""
    reader = conn.makefile("rb")
    for line in reader:
        with contextlib.suppress(ValueError, OSError):
            os.kill(os.getpid(), int(json.loads(line)["signal"]))
    if not _FINISHED.is_set():
        os.kill(os.getpid(), signal.SIGKILL)


def _run_command(argv: list[str]) -> int:
    """The command, as `ytarchive ARGV` (which points Prefect at the command's PREFECT_*)."""
    from ytarchive.cli import main

    try:
        return int(main(argv) or 0)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)


def _reap(children: set[int]) -> None:
    for pid in list(children):
        try:
            done, status, usage = os.wait4(pid, os.WNOHANG)
        except ChildProcessError:
            children.discard(pid)
            continue
        if done:
            children.discard(pid)
            cpu = usage.ru_utime + usage.ru_stime
            _log(
                f"run pid={pid} exit={os.waitstatus_to_exitcode(status)} cpu_s={cpu:.3f} "
                f"maxrss_mb={usage.ru_maxrss / 1024:.1f}"
            )


def _server_pid() -> int | None:
    try:
        pid = json.loads((_state_dir() / "server.json").read_text())["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return int(pid) if isinstance(pid, int) else None


def _log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    sys.stderr.write(f"{stamp} runner: {message}\n")
    sys.stderr.flush()


if __name__ == "__main__":
    raise SystemExit(serve())
