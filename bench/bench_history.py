"""Count task runs recorded right after a mapped flow returns, with and without drain_history."""
import sys, time
t0 = time.monotonic()
from flows.runtime import configure_prefect, drain_history, _task_run_states
url = configure_prefect()
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.client.orchestration import get_client
from prefect.runtime import flow_run as rt
t_import = time.monotonic() - t0

@task(cache_policy=NO_CACHE)
def tiny(i: int) -> int:
    return i * 2

@flow(task_runner=ThreadPoolTaskRunner(max_workers=4), log_prints=False)
def mapped(n: int) -> str:
    futures = tiny.map(range(n))
    futures.wait()
    return rt.get_id()

n = int(sys.argv[1]); mode = sys.argv[2]
t1 = time.monotonic()
run_id = mapped(n)
t_flow = time.monotonic() - t1
def count():
    with get_client(sync_client=True) as c:
        s = _task_run_states(c, run_id)
        return len(s), sum(x in ("COMPLETED",) for x in s)
if mode == "drain":
    t2 = time.monotonic(); seen = drain_history(run_id, expected_task_runs=n); t_drain = time.monotonic() - t2
    print(f"n={n} drain: drain_history returned {seen} in {t_drain:.2f}s; count now {count()} (total, completed); import {t_import:.1f}s flow {t_flow:.1f}s")
else:
    print(f"n={n} nodrain: right after flow returned {count()} (total, completed); import {t_import:.1f}s flow {t_flow:.1f}s")
print("RUN", run_id)
