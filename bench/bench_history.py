"""How much of a run's task-run history is recorded before the command exits, with and without
drain_history (DESIGN.md, "Running Prefect").

Runs one flow mapping N tiny tasks against the long-lived local server (started if needed, under
this PREFECT_HOME), then counts the task runs the API holds right after the flow returns, and,
in `drain` mode, after flows.runtime.drain_history.

Usage: uv run python bench/bench_history.py [N=100] [drain|nodrain]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    mode = sys.argv[2] if len(sys.argv) > 2 else "drain"
    started = time.monotonic()
    from flows.runtime import _task_run_states, configure_prefect, drain_history

    configure_prefect()
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run
    from prefect.task_runners import ThreadPoolTaskRunner

    import_seconds = time.monotonic() - started

    @task(cache_policy=NO_CACHE)
    def tiny(i: int) -> int:
        return i * 2

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=4))
    def mapped(count: int) -> str:
        tiny.map(range(count)).wait()
        return str(flow_run.get_id())

    def recorded(run_id: str) -> tuple[int, int]:
        with get_client(sync_client=True) as client:
            states = _task_run_states(client, run_id)
        return len(states), sum(state == "COMPLETED" for state in states)

    t0 = time.monotonic()
    run_id = mapped(n)
    flow_seconds = time.monotonic() - t0
    total, completed = recorded(run_id)
    print(f"tasks={n} import={import_seconds:.1f}s flow={flow_seconds:.1f}s")
    print(f"recorded right after the flow returned: {total} task runs ({completed} completed)")
    if mode == "drain":
        t1 = time.monotonic()
        drain_history(run_id, expected_task_runs=n, timeout=max(30.0, 0.05 * n))
        total, completed = recorded(run_id)
        print(
            f"after drain_history ({time.monotonic() - t1:.2f}s): "
            f"{total} task runs ({completed} completed)"
        )


if __name__ == "__main__":
    main()
