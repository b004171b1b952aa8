"""The long-lived local Prefect server: one per PREFECT_HOME, found again, stopped, and detached."""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ytarchive import prefect_server as ps
from ytarchive.errors import ServerUnavailable

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A new PREFECT_HOME with no PREFECT_API_URL; any server started in it is stopped after."""
    home = tmp_path / "prefect-home"
    monkeypatch.setenv("PREFECT_HOME", str(home))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    yield home
    monkeypatch.setenv("PREFECT_HOME", str(home))
    ps.stop_server()


@pytest.fixture
def health_stub() -> Iterator[str]:
    """A loopback HTTP server answering 200 on /api/health, like a Prefect API."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            ok = self.path == "/api/health"
            self.send_response(200 if ok else 404)
            self.end_headers()
            self.wfile.write(b"true" if ok else b"")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()
    server.server_close()


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/api"


def _env(home: Path) -> dict[str, str]:
    env = {**os.environ, "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    return env


def _server_pids(home: Path) -> list[int]:
    """Every `prefect server start` process whose environment has PREFECT_HOME=home."""
    wanted = f"PREFECT_HOME={home}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"server" in cmdline and b"start" in cmdline and wanted in environ:
            found.append(int(proc.name))
    return found


# ---------------------------------------------------------------------------------------------
# Quick: no Prefect server needed
# ---------------------------------------------------------------------------------------------


def test_prefect_home_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_HOME", "/srv/prefect")
    assert ps.prefect_home() == Path("/srv/prefect")
    monkeypatch.delenv("PREFECT_HOME")
    assert ps.prefect_home() == Path.home() / ".prefect"


def test_server_env_turns_off_what_an_offline_archive_must_not_do() -> None:
    env = ps.server_env()
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert env["PREFECT_SERVER_EPHEMERAL_ENABLED"] == "false"
    assert env["PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE"] == (
        "prefect.server.concurrency.lease_storage.filesystem"
    )


def test_status_of_a_home_that_never_ran_a_server(fresh_home: Path) -> None:
    status = ps.server_status()
    assert (status.running, status.healthy, status.managed, status.pid) == (
        False,
        False,
        True,
        None,
    )
    assert status.log_path == fresh_home / "ytarchive-server" / "server.log"
    assert ps.stop_server() is False


def test_a_stale_pid_file_is_not_a_running_server(fresh_home: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (fresh_home / "ytarchive-server").mkdir(parents=True)
    (fresh_home / "ytarchive-server" / "server.json").write_text(
        json.dumps({"pid": dead.pid, "port": 1, "api_url": _dead_url()})
    )
    assert ps.server_status().running is False
    assert ps.stop_server() is False


def test_an_api_url_elsewhere_is_reported_unmanaged(
    fresh_home: Path, monkeypatch: pytest.MonkeyPatch, health_stub: str
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", health_stub)
    status = ps.server_status()
    assert (status.managed, status.healthy, status.api_url) == (False, True, health_stub)
    assert ps.ensure_server() == health_stub
    assert not (fresh_home / "ytarchive-server" / "server.json").exists()  # nothing started


def test_an_unreachable_api_url_is_an_error_not_a_new_server(
    fresh_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _dead_url()
    monkeypatch.setenv("PREFECT_API_URL", url)
    status = ps.server_status()
    assert (status.managed, status.healthy) == (False, False)
    with pytest.raises(ServerUnavailable, match="PREFECT_API_URL"):
        ps.ensure_server(timeout=5)
    assert _server_pids(fresh_home) == []


def test_is_healthy(health_stub: str) -> None:
    assert ps.is_healthy(health_stub)
    assert not ps.is_healthy(health_stub.replace("/api", "/nope"))
    assert not ps.is_healthy(_dead_url())


# ---------------------------------------------------------------------------------------------
# Slow: real `prefect server start` on a fresh PREFECT_HOME (migrates a new database)
# ---------------------------------------------------------------------------------------------

ENSURE = (
    "import time; from ytarchive.prefect_server import ensure_server; t = time.monotonic();"
    "url = ensure_server(timeout=240, port=0); print(url, round(time.monotonic() - t, 1))"
)


@pytest.mark.slow
def test_two_commands_starting_at_once_make_one_server(fresh_home: Path) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", ENSURE],
            env=_env(fresh_home),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    urls = {out.split()[0] for out, _ in outs}
    assert len(urls) == 1, outs
    url = urls.pop()

    pids = _server_pids(fresh_home)
    assert len(pids) == 1, pids
    status = ps.server_status()
    assert status.running and status.healthy and status.managed
    assert (status.pid, status.api_url) == (pids[0], url)
    assert ps.ensure_server() == url  # reused, not restarted
    assert _server_pids(fresh_home) == pids

    assert ps.stop_server() is True
    assert _server_pids(fresh_home) == []
    after = ps.server_status()
    assert (after.running, after.healthy, after.pid) == (False, False, None)
    assert not ps.is_healthy(url)
    assert ps.stop_server() is False


@pytest.mark.slow
def test_a_killed_cli_leaves_the_server_running(fresh_home: Path) -> None:
    # The CLI runs as its own foreground process group, as in a terminal; Ctrl-C signals the group.
    cli = subprocess.Popen(
        [sys.executable, "-m", "ytarchive", "server", "start", "--port", "0"],
        env=_env(fresh_home),
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    state = fresh_home / "ytarchive-server" / "server.json"
    deadline = time.monotonic() + 60
    while not state.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert state.exists(), "the CLI never spawned a server"
    server_pid = json.loads(state.read_text())["pid"]

    os.killpg(cli.pid, signal.SIGINT)  # Ctrl-C while the server is still starting
    time.sleep(0.5)
    if cli.poll() is None:
        os.killpg(cli.pid, signal.SIGKILL)
    cli.wait(timeout=10)

    url = ps.ensure_server(timeout=240)  # waits for the same server to come up, starts no other
    assert _server_pids(fresh_home) == [server_pid]
    status = ps.server_status()
    assert (status.pid, status.api_url, status.healthy) == (server_pid, url, True)


@pytest.mark.slow
def test_a_taken_port_fails_with_the_servers_own_words(fresh_home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServerUnavailable, match="exited during start-up.*in use"):
            ps.start_server(port=port, timeout=120)
    assert ps.server_status().running is False


def test_the_preferred_port_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("YTARCHIVE_PREFECT_PORT", raising=False)
    monkeypatch.delenv("PREFECT_SERVER_API_PORT", raising=False)
    assert ps._preferred_port() == 4200
    monkeypatch.setenv("PREFECT_SERVER_API_PORT", "4300")
    assert ps._preferred_port() == 4300
    monkeypatch.setenv("YTARCHIVE_PREFECT_PORT", "0")
    assert ps._preferred_port() == 0
    monkeypatch.setenv("YTARCHIVE_PREFECT_PORT", "http")
    with pytest.raises(ServerUnavailable, match="YTARCHIVE_PREFECT_PORT"):
        ps._preferred_port()
