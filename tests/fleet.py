"""A fleet on one machine: a Prefect server on PostgreSQL and `ytarchive serve` "hosts".

Shared by tests/e2e/test_fleet.py and bench/bench_fleet.py. Everything goes through the real
commands (`ytarchive server start --database`, `ytarchive subscribe`, `ytarchive serve`) and the
server's REST API; nothing here imports prefect.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CLI",
    "FINAL",
    "Host",
    "SlotSampler",
    "rest",
    "start_server",
    "stop_server",
    "subscribe_all",
    "runs_of",
    "wait_runs",
    "active_slots",
    "hosts_of",
    "stop_all",
]

CLI = [sys.executable, "-m", "ytarchive"]
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "CRASHED"}
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def rest(api_url: str, path: str, payload: dict[str, Any] | None = None) -> Any:
    """GET (or POST payload to) {api_url}{path} on the server; the JSON answer."""
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(
        api_url.rstrip("/") + path,
        data=data,
        headers={"Content-Type": "application/json"},
        method="POST" if data is not None else "GET",
    )
    with _NO_PROXY.open(request, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


def _run(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def start_server(home: Path, database_url: str, env: dict[str, str], timeout: float = 300) -> str:
    """`ytarchive server start --database URL` in its own PREFECT_HOME; the API url."""
    server_env = {**env, "PREFECT_HOME": str(home)}
    server_env.pop("PREFECT_API_URL", None)
    args = ["server", "start", "--database", database_url, "--port", "0", "--format", "json"]
    result = _run([*args, "--timeout", str(timeout)], server_env, timeout + 30)
    if result.returncode != 0:
        raise RuntimeError(f"server start failed: {result.stderr.strip()}")
    return str(json.loads(result.stdout)["api_url"])


def stop_server(home: Path, env: dict[str, str]) -> None:
    server_env = {**env, "PREFECT_HOME": str(home)}
    server_env.pop("PREFECT_API_URL", None)
    _run(["server", "stop"], server_env, 60)


def subscribe_all(
    urls: Iterable[str], env: dict[str, str], cron: str = "* * * * *", quality: str = "360p"
) -> list[dict[str, Any]]:
    """`ytarchive subscribe URL --cron CRON`, all at once; each subscription's JSON."""
    cmds = [[*CLI, "subscribe", u, "--cron", cron, "-q", quality, "-f", "json"] for u in urls]
    procs = [
        subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for c in cmds
    ]
    subs = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        if proc.returncode != 0:
            raise RuntimeError(f"subscribe failed: {err.strip()[-500:]}")
        subs.append(json.loads(out))
    return subs


@dataclass
class Host:
    """`ytarchive serve --no-deploy` as one "host": its own YTARCHIVE_HOST, PREFECT_HOME and
    working directory; the archive and the server are the fleet's."""

    name: str
    root: Path
    env: dict[str, str]
    slots: int = 2
    limit: int = 1  # flow runs at once on this host
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def log(self) -> Path:
        return self.root / self.name / "serve.log"

    def start(self) -> Host:
        work = self.root / self.name
        work.mkdir(parents=True, exist_ok=True)
        env = {**self.env, "YTARCHIVE_HOST": self.name, "PREFECT_HOME": str(work / "prefect")}
        with open(self.log, "wb") as fh:
            self.proc = subprocess.Popen(
                [
                    *CLI,
                    "serve",
                    "--no-deploy",
                    "--slots",
                    str(self.slots),
                    "--limit",
                    str(self.limit),
                ],
                cwd=work,
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    def terminate(self) -> None:
        if self.alive():
            assert self.proc is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, lines: int = 25) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name}\n" + "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        self.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def stop_all(hosts: Iterable[Host]) -> None:
    """SIGTERM to every host at once, then wait for each (SIGKILL past 30 s)."""
    hosts = list(hosts)
    for host in hosts:
        host.terminate()
    for host in hosts:
        host.stop()


def runs_of(api_url: str, deployment_ids: list[str]) -> list[dict[str, Any]]:
    """Every flow run of these deployments, earliest expected start first."""
    payload = {
        "deployments": {"id": {"any_": deployment_ids}},
        "sort": "EXPECTED_START_TIME_ASC",
        "limit": 200,
    }
    return list(rest(api_url, "/flow_runs/filter", payload))


def _first_runs(api_url: str, deployment_ids: list[str]) -> dict[str, dict[str, Any]]:
    firsts: dict[str, dict[str, Any]] = {}
    for run in runs_of(api_url, deployment_ids):
        firsts.setdefault(run["deployment_id"], run)
    return firsts


def wait_runs(
    api_url: str, deployment_ids: list[str], timeout: float, hosts: Iterable[Host] = ()
) -> list[dict[str, Any]]:
    """The first run of each deployment once all of them are final (raises at the timeout, or
    when a host died)."""
    deadline = time.monotonic() + timeout
    hosts = list(hosts)
    while True:
        firsts = _first_runs(api_url, deployment_ids)
        states = [(r.get("state") or {}).get("type") for r in firsts.values()]
        if len(firsts) == len(deployment_ids) and all(s in FINAL for s in states):
            return [firsts[d] for d in deployment_ids]
        dead = [h.name for h in hosts if not h.alive()]
        if dead or time.monotonic() > deadline:
            tails = "\n".join(h.tail() for h in hosts)
            raise AssertionError(f"runs not final ({states}); dead hosts {dead}\n{tails}")
        time.sleep(1.0)


def hosts_of(api_url: str, run_ids: list[str]) -> dict[str, set[str]]:
    """Per run: the hosts that ran its subflows (their `host:<name>` owner tags)."""
    found: dict[str, set[str]] = {}
    for run_id in run_ids:
        payload = {"flow_runs": {"parent_flow_run_id": {"any_": [run_id]}}, "limit": 200}
        tags = [t for child in rest(api_url, "/flow_runs/filter", payload) for t in child["tags"]]
        found[run_id] = {t.removeprefix("host:") for t in tags if t.startswith("host:")}
    return found


def active_slots(api_url: str, name: str) -> int:
    """Slots of the global concurrency limit `name` in use now (0 when it does not exist)."""
    try:
        limit = rest(api_url, f"/v2/concurrency_limits/{name}")
    except OSError:
        return 0
    return int(limit.get("active_slots") or 0)


class SlotSampler:
    """Samples a global concurrency limit's active slots (and an optional callable) while the
    fleet runs: `.peak` and `.samples`."""

    def __init__(self, api_url: str, name: str, every: float = 0.2) -> None:
        self.api_url, self.name, self.every = api_url, name, every
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SlotSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, ValueError):
                self.peak = max(self.peak, active_slots(self.api_url, self.name))
                self.samples += 1
            self._stop.wait(self.every)
