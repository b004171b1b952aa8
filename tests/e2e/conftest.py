"""E2E fixtures: prefect.yaml deployed to the session server, process workers we start and stop."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PREFECT = [sys.executable, "-m", "prefect"]
DEPLOYMENTS = ("sync-subscriptions", "refresh-metadata", "retry-failed", "compact-catalog")
FINAL = ("COMPLETED", "FAILED", "CANCELLED", "CRASHED")


def client() -> Any:
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


@pytest.fixture(scope="session")
def deployed(prefect_server: str) -> dict[str, str]:
    """`prefect deploy --all` from the checkout, as a user runs it; deployment ids by name.

    The two scheduled deployments are paused afterwards, so while tests run workers the only
    runs due in the pool are the ones the tests create.
    """
    from deployments.pool import ensure_work_pool
    from ytarchive.names import POOL_NAME

    with client() as c:
        ensure_work_pool(c, POOL_NAME)
    result = subprocess.run(
        [*PREFECT, "--no-prompt", "deploy", "--all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    ids: dict[str, str] = {}
    with client() as c:
        for name in DEPLOYMENTS:
            deployment = c.read_deployment_by_name(f"{name}/{name}")
            ids[name] = str(deployment.id)
            if deployment.schedules:
                c.pause_deployment(deployment.id)
    return ids


class Worker:
    """`prefect worker start --pool ytarchive-pool --run-once --limit 1` in its own session."""

    def __init__(self, log: Path, cwd: Path, extra: list[str] | None = None) -> None:
        self.log = log
        cmd = [*PREFECT, "worker", "start", "--pool", "ytarchive-pool", "--type", "process"]
        cmd += extra if extra is not None else ["--run-once", "--limit", "1"]
        with open(log, "wb") as fh:
            self.proc = subprocess.Popen(
                cmd,
                cwd=cwd,
                env=os.environ.copy(),
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """start(name) -> Worker; every worker started is stopped (process group) afterwards."""
    started: list[Worker] = []

    def start(name: str = "worker", extra: list[str] | None = None) -> Worker:
        worker = Worker(tmp_path / f"{name}.log", tmp_path, extra)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_final(flow_run_id: Any, timeout: float = 180.0) -> Any:
    """The flow run once it reached a final state (or as it is at the timeout)."""
    deadline = time.monotonic() + timeout
    with client() as c:
        while True:
            run = c.read_flow_run(flow_run_id)
            if (run.state_type and run.state_type.value in FINAL) or time.monotonic() > deadline:
                return run
            time.sleep(0.5)


def child_runs(flow_run_id: Any) -> list[Any]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    with client() as c:
        return c.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id])
            )
        )


def first_scheduled_run(deployment_id: Any, timeout: float = 30.0) -> Any:
    """The earliest run the server's scheduler made for the deployment (waits for it to act)."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    wanted = DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
    deadline = time.monotonic() + timeout
    with client() as c:
        while True:
            runs = c.read_flow_runs(
                deployment_filter=wanted, sort=FlowRunSort.EXPECTED_START_TIME_ASC, limit=1
            )
            if runs:
                assert runs[0].auto_scheduled, "a run the scheduler did not make"
                return runs[0]
            if time.monotonic() > deadline:
                pytest.fail(f"the server's scheduler made no run for {deployment_id} in time")
            time.sleep(0.5)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """test_server_log.py reads the session server's log after every other test has run."""
    last = [item for item in items if item.path.name == "test_server_log.py"]
    items[:] = [item for item in items if item not in last] + last
