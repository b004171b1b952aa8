"""The long-lived local Prefect server: one per PREFECT_HOME, found again, stopped, and detached."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
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
from ytarchive.server_process import preferred_port

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


class _Stub(http.server.ThreadingHTTPServer):
    home = "/elsewhere/another-archive/.prefect"  # the PREFECT_HOME its settings name


@pytest.fixture
def health_stub() -> Iterator[str]:
    """A loopback HTTP server answering like a Prefect API of another PREFECT_HOME: 200 on
    /api/health, and /api/admin/settings naming its home (set `.home` through the url's server)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            bodies = {
                "/api/health": b"true",
                "/api/admin/settings": json.dumps({"home": self.server.home}).encode(),
            }
            body = bodies.get(self.path)
            self.send_response(200 if body else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = _Stub(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _STUBS[f"http://127.0.0.1:{server.server_address[1]}/api"] = server
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()
    server.server_close()


_STUBS: dict[str, _Stub] = {}


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


def test_a_server_is_ours_only_when_it_names_this_home(fresh_home: Path, health_stub: str) -> None:
    assert ps.is_healthy(health_stub) and not ps.is_ours(health_stub)
    _STUBS[health_stub].home = str(fresh_home)
    assert ps.is_ours(health_stub)
    assert not ps.is_ours(_dead_url())


def test_another_homes_server_on_our_port_is_not_taken_for_ours(
    fresh_home: Path, health_stub: str
) -> None:
    """The bug of issue 11: our server failed to bind, another home's answered, we said healthy."""
    ours = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.5)"])
    try:
        # Our process lives a little, then dies (as a server that lost the port does), while
        # another home's server answers /health on the url: that is never a started server.
        assert ps._wait_ours(ours.pid, health_stub, time.monotonic() + 30) is False
    finally:
        ours.wait()
    state = fresh_home / "ytarchive-server" / "server.json"
    state.parent.mkdir(parents=True)
    # A live process that looks like our `prefect server start` (it only sleeps): the url it
    # is recorded with is answered by another home's server, so ours is not healthy there.
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)", "prefect", "server", "start"]
    live = subprocess.Popen(sleeper)
    try:
        state.write_text(json.dumps({"pid": live.pid, "api_url": health_stub}))
        assert ps.server_status().healthy is False
    finally:
        live.kill()
        live.wait()


def test_the_server_does_not_inherit_the_callers_logging_overrides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What `ytarchive download` sets before it starts the server (ytarchive/cli/cmd_download.py)
    monkeypatch.setenv("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    monkeypatch.setenv("PREFECT_LOGGING_LEVEL", "ERROR")
    monkeypatch.setenv("PREFECT_SERVER_LOGGING_LEVEL", "ERROR")
    env = ps._child_env(4321)
    assert not [k for k in env if k.startswith("PREFECT_LOGGING_")]
    assert env["PREFECT_SERVER_LOGGING_LEVEL"] == "WARNING"  # warnings and errors are kept
    monkeypatch.setenv("PREFECT_SERVER_LOGGING_LEVEL", "debug")
    assert ps._child_env(4321)["PREFECT_SERVER_LOGGING_LEVEL"] == "DEBUG"  # more is allowed


SCHEDULER_ERROR = (
    "09:12:01.338 | ERROR   | prefect.server.services.scheduler - Error scheduling deployment "
    "UUID('645e3933-6a0f-450f-bbcc-c3886ec12674')."
)
BULK_DML = (
    "sqlalchemy.exc.InvalidRequestError: Can't evaluate bulk DML statement; please supply a "
    "bulk_dml decorated function"
)


def _log(home: Path, *blocks: list[str]) -> Path:
    """A server log of several starts, each block what one server wrote after its marker."""
    log = home / "ytarchive-server" / "server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    text = ""
    for n, lines in enumerate(blocks):
        text += f"\n--- ytarchive: starting Prefect server on 127.0.0.1:{4200 + n} at x\n"
        text += "".join(line + "\n" for line in lines)
    log.write_text(text)
    return log


def test_log_errors_counts_only_the_latest_start(fresh_home: Path) -> None:
    warning = "09:12:00.001 | WARNING | prefect.server.services.late_runs - slow loop"
    uvicorn = (
        "ERROR:    [Errno 98] error while attempting to bind on address ('127.0.0.1', 4200): "
        "address already in use"
    )
    _log(fresh_home, [uvicorn], [warning, SCHEDULER_ERROR, "Traceback ...", BULK_DML])
    status = ps.server_status()
    assert status.log_errors == 1
    assert status.last_log_error == SCHEDULER_ERROR
    assert status.as_dict()["log_errors"] == 1
    _log(fresh_home, [warning, uvicorn])
    assert ps.server_status().last_log_error == uvicorn
    _log(fresh_home, [SCHEDULER_ERROR], [warning])
    assert ps.server_status().log_errors == 0  # the server that logged it is gone


def test_service_errors_are_those_of_the_servers_background_services() -> None:
    from ytarchive.server_checks import service_errors

    channel = (
        "09:39:13.631 | ERROR   | prefect.server.utilities.worker_channel - Worker channel "
        "heartbeat persistence failed: work_pool=ytarchive-pool"
    )
    persister = "09:40:00.000 | ERROR   | prefect.server.events.services.event_persister - x"
    docket = "09:40:01.000 | ERROR   | docket.worker - Error in scheduler loop"
    lines = [SCHEDULER_ERROR, channel, persister, docket, "ERROR:    [Errno 98] in use"]
    assert service_errors(lines) == [SCHEDULER_ERROR, persister, docket]


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


@pytest.fixture(scope="module")
def migrated_db(prefect_server: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session server's database (already migrated), for tests that need a home
    whose server starts in seconds rather than migrating a new database (~30 s or more)."""
    import sqlite3

    source = Path(os.environ["PREFECT_HOME"]) / "prefect.db"
    copy = tmp_path_factory.mktemp("migrated") / "prefect.db"
    with contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src:
        with contextlib.closing(sqlite3.connect(copy)) as dst:
            src.backup(dst)  # a consistent snapshot while the session server runs
    return copy


def _seed(home: Path, db: Path) -> Path:
    """home, holding a copy of the migrated database."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy2(db, home / "prefect.db")
    return home


@pytest.mark.slow
def test_a_killed_cli_leaves_the_server_running(fresh_home: Path, migrated_db: Path) -> None:
    _seed(fresh_home, migrated_db)
    # The CLI runs as its own foreground process group, as in a terminal; Ctrl-C signals the group.
    cli = subprocess.Popen(
        [sys.executable, "-m", "ytarchive", "server", "start", "--port", "0"],
        env=_env(fresh_home),
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    starting = fresh_home / "ytarchive-server" / "starting.json"
    deadline = time.monotonic() + 60
    while not starting.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert starting.exists(), "the CLI never spawned a server"
    server_pid = json.loads(starting.read_text())["pid"]

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
    assert not (fresh_home / "ytarchive-server" / "server.json").exists()  # only for one up


def test_the_preferred_port_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("YTARCHIVE_PREFECT_PORT", raising=False)
    monkeypatch.delenv("PREFECT_SERVER_API_PORT", raising=False)
    assert preferred_port() == 4200
    monkeypatch.setenv("PREFECT_SERVER_API_PORT", "4300")
    assert preferred_port() == 4300
    monkeypatch.setenv("YTARCHIVE_PREFECT_PORT", "0")
    assert preferred_port() == 0
    monkeypatch.setenv("YTARCHIVE_PREFECT_PORT", "http")
    with pytest.raises(ServerUnavailable, match="YTARCHIVE_PREFECT_PORT"):
        preferred_port()


def _describe(pids: list[int]) -> list[str]:
    out = []
    for pid in pids:
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out.append(f"{pid} state {stat[0]} ppid {stat[1]} sid {stat[3]}")
    return out


def _tail(home: Path) -> str:
    log = home / "ytarchive-server" / "server.log"
    return "\n".join(log.read_text(errors="replace").splitlines()[-40:]) if log.exists() else ""


def _api(url: str, payload: dict | None = None) -> tuple[int, object]:
    """(status, JSON body) of a GET, or of a POST when payload is given; no proxies."""
    import urllib.error
    import urllib.request

    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None


@pytest.mark.slow
def test_two_homes_started_at_once_get_two_servers(tmp_path: Path, migrated_db: Path) -> None:
    """Both prefer the same free port; the one that loses it starts again on another port."""
    from urllib.parse import urlsplit

    from tests.helpers import run_cli

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    homes = [_seed(tmp_path / name / ".prefect", migrated_db) for name in ("a", "b")]
    envs = [{**_env(home), "YTARCHIVE_PREFECT_PORT": str(port)} for home in homes]
    cmd = [sys.executable, "-m", "ytarchive", "server", "start", "--format", "json"]
    starts = [
        subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for env in envs
    ]
    try:
        outs = [p.communicate(timeout=300) for p in starts]
        assert [p.returncode for p in starts] == [0, 0], outs
        statuses = []
        for home, env in zip(homes, envs, strict=True):
            result = run_cli("server", "status", "--format", "json", env=env)
            assert result.returncode == 0, result.stdout + result.stderr
            status = json.loads(result.stdout)
            assert (status["healthy"], status["managed"]) == (True, True)
            assert status["prefect_home"] == str(home)
            pids = _server_pids(home)
            assert status["pid"] in pids, (pids, _describe(pids), _tail(home))  # its own, alive
            statuses.append(status)
        ports = [urlsplit(s["api_url"]).port for s in statuses]
        assert len(set(ports)) == 2 and port in ports, ports

        a, b = (s["api_url"] for s in statuses)
        _, flow = _api(f"{a}/flows/", {"name": "two-homes"})
        code, run = _api(f"{a}/flow_runs/", {"flow_id": flow["id"], "name": "made-in-a"})
        assert code == 201, run
        assert _api(f"{a}/flow_runs/{run['id']}")[0] == 200
        assert _api(f"{b}/flow_runs/{run['id']}")[0] == 404  # not in the other home's history
        _, found = _api(f"{b}/flow_runs/filter", {"flow_runs": {"name": {"any_": ["made-in-a"]}}})
        assert found == []
    finally:
        for env in envs:
            run_cli("server", "stop", env=env)
    left = [_server_pids(home) for home in homes]
    assert left == [[], []], [_describe(pids) for pids in left]


def test_log_error_blocks_keep_each_records_traceback(fresh_home: Path) -> None:
    from ytarchive.server_checks import log_error_blocks

    log = _log(
        fresh_home,
        [
            SCHEDULER_ERROR,
            "Traceback (most recent call last):",
            '  File "scheduler.py", line 1, in schedule_deployments',
            BULK_DML,
            "09:12:02.000 | WARNING | prefect.server.services.late_runs - next record",
            "  not part of the error above",
        ],
    )
    (block,) = log_error_blocks(log)
    assert block.splitlines()[0] == SCHEDULER_ERROR
    assert block.splitlines()[-1] == BULK_DML
