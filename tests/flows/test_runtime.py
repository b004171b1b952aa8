"""A flow run's history is complete in the API before the command that ran it exits."""

from __future__ import annotations

import os
import threading
import time
from uuid import UUID

import pytest

from flows.runtime import FINAL_STATE_TYPES, configure_prefect, drain_history

pytestmark = pytest.mark.slow

N = 100


def _mapped_flow():
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect.runtime import flow_run
    from prefect.task_runners import ThreadPoolTaskRunner

    @task(cache_policy=NO_CACHE)
    def double(i: int) -> int:
        return 2 * i

    @flow(name="runtime-test-mapped", task_runner=ThreadPoolTaskRunner(max_workers=4))
    def mapped(n: int) -> tuple[str, list[int]]:
        futures = double.map(range(n))
        return flow_run.get_id(), [f.result() for f in futures]

    return mapped


def _task_runs(run_id: str) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(run_id)])), limit=200
        )
    return [r.state_type.value for r in runs if r.state_type]


def test_configure_prefect_uses_the_sessions_server(prefect_server: str) -> None:
    assert configure_prefect() == prefect_server
    assert os.environ["PREFECT_API_URL"] == prefect_server
    assert os.environ["PREFECT_SERVER_EPHEMERAL_ENABLED"] == "false"
    from prefect.settings import get_current_settings

    assert get_current_settings().api.url == prefect_server


def test_all_mapped_task_runs_are_recorded_after_drain_history(prefect_server: str) -> None:
    configure_prefect()
    run_id, results = _mapped_flow()(N)
    assert results == [2 * i for i in range(N)]

    assert drain_history(run_id, expected_task_runs=N, timeout=60) == N
    states = _task_runs(run_id)
    assert len(states) == N
    assert set(states) == {"COMPLETED"}


def test_drain_history_without_an_expected_count_waits_for_a_final_stable_set(
    prefect_server: str,
) -> None:
    configure_prefect()
    run_id, _ = _mapped_flow()(20)
    assert drain_history(run_id, timeout=60) == 20
    assert all(s in FINAL_STATE_TYPES for s in _task_runs(run_id))


def test_drain_history_gives_up_at_its_timeout(prefect_server: str) -> None:
    configure_prefect()
    run_id, _ = _mapped_flow()(3)
    started = time.monotonic()
    seen = drain_history(run_id, expected_task_runs=4, timeout=2)  # one more than exist
    assert seen == 3
    assert 2 <= time.monotonic() - started < 10


def _is_heartbeat(thread: threading.Thread) -> bool:
    """Prefect's flow-run heartbeat thread (its target runs a function of that name)."""
    args = getattr(thread, "_args", ()) or ()
    return bool(args) and getattr(args[0], "__name__", "") == "heartbeat_loop"


def test_a_flow_run_beats_and_ends_without_waiting_on_its_heartbeat_thread(
    prefect_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prefect's heartbeat thread sleeps in one-second steps and its sync engine joined it at
    every flow run's end; with prompt_flow_ends it is left to see the stop by itself."""
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter
    from prefect.runtime import flow_run

    from flows.runtime import drain_workers, prompt_flow_ends

    configure_prefect(prefect_server)
    prompt_flow_ends()
    started: list[threading.Thread] = []
    joined: list[threading.Thread] = []
    start, join = threading.Thread.start, threading.Thread.join

    def spy_start(self: threading.Thread) -> None:
        if _is_heartbeat(self):
            started.append(self)
        start(self)

    def spy_join(self: threading.Thread, timeout: float | None = None) -> None:
        if self in started:
            joined.append(self)
        join(self, timeout)

    monkeypatch.setattr(threading.Thread, "start", spy_start)
    monkeypatch.setattr(threading.Thread, "join", spy_join)

    @flow(name="runtime-test-heartbeat")
    def beating() -> str:
        time.sleep(0.3)  # the heartbeat thread sends its first beat meanwhile
        return str(flow_run.get_id())

    run_id = beating()
    monkeypatch.undo()
    assert len(started) == 1, "the run started no heartbeat thread (heartbeats off?)"
    assert not joined, "the run's end waited for its heartbeat thread"
    started[0].join(timeout=3)
    assert not started[0].is_alive(), "the heartbeat thread never stopped by itself"
    drain_workers()
    wanted = EventFilter(
        event=EventNameFilter(name=["prefect.flow-run.heartbeat"]),
        resource=EventResourceFilter(id=[f"prefect.flow-run.{run_id}"]),
    )
    beats: list = []
    deadline = time.monotonic() + 20
    with get_client(sync_client=True) as client:
        while not beats and time.monotonic() < deadline:  # events are persisted in batches
            beats = client.read_events(filter=wanted, limit=10).events
            time.sleep(0.25)
    assert len(beats) == 1, f"{len(beats)} heartbeats: one as the run began, none after its end"
