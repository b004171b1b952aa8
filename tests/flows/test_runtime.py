"""A flow run's history is complete in the API before the command that ran it exits."""

from __future__ import annotations

import os
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
