"""Archive runs started in the background of a long-lived process (the web app, the Python API).

The flow run is created first, so its id is known at once (the job id a caller polls), then
Prefect's engine runs it in a thread of this process: a real flow run on the long-lived server,
with the owner tags, items artifact and task runs every archive run has, so `playlist status`,
the UI and recovery treat it like any other. If this process dies mid-run, the run's pid tag
names a dead process and recovery makes it a plan. Prefect is imported inside the functions, so
that importing the Python API stays light.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ytarchive.errors import InputError

__all__ = ["Job", "connect", "history", "start", "retry", "FLOWS"]

logger = logging.getLogger(__name__)
FLOWS = ("archive_videos_flow", "archive_playlist_flow")
DEFAULT_QUALITY = "best"  # as flows/recovery.py retries a plan that names none
_connected = threading.Lock()
_api_url: str | None = None


@dataclass
class Job:
    """An archive run started in the background: its flow-run id, and its end once it ends."""

    id: str
    state: str | None = None  # the final state type (COMPLETED, FAILED, ...) once done
    summary: dict[str, Any] | None = None
    error: str | None = None
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> dict[str, Any] | None:
        """Wait for the run to end (and its history to be recorded); its summary."""
        self._done.wait(timeout)
        return self.summary

    def status(self) -> dict[str, Any]:
        """State, counts and per-video rows as Prefect records them (`playlist status`)."""
        from flows.status import read_status

        return read_status(self.id)


def connect() -> str:
    """Point Prefect at the long-lived server (started if needed), once per process."""
    global _api_url
    with _connected:
        if _api_url is None:
            from flows.runtime import configure_prefect

            _api_url = configure_prefect()
        return _api_url


def history() -> Any:
    """Prefect's flow-run history, for recovery."""
    connect()
    from flows.history import PrefectHistory

    return PrefectHistory()


def _flow(name: str) -> Any:
    if name not in FLOWS:
        raise ValueError(f"not an archive flow: {name}")
    import flows.archive

    return getattr(flows.archive, name)


def start(
    flow_name: str, parameters: dict[str, Any], after: Callable[[Any], None] | None = None
) -> Job:
    """Create a flow run of an archive flow (its id is the job's) and run it in a thread."""
    connect()
    from prefect.client.orchestration import get_client
    from prefect.states import Pending

    flow = _flow(flow_name)
    with get_client(sync_client=True) as client:
        run = client.create_flow_run(flow, parameters=parameters, state=Pending())
    job = Job(str(run.id))
    thread = threading.Thread(
        target=_execute,
        args=(job, flow, run, parameters, after),
        name=f"ytarchive-run-{job.id[:8]}",
        daemon=True,  # a run cut off when the process stops becomes a recovery plan
    )
    thread.start()
    return job


def _execute(job: Job, flow: Any, run: Any, parameters: dict[str, Any], after: Any) -> None:
    from prefect.flow_engine import run_flow

    from flows.runtime import drain_history

    try:
        state: Any = run_flow(flow, flow_run=run, parameters=parameters, return_type="state")
        data = state.result(raise_on_failure=False)
        summary = data if isinstance(data, dict) else None
        drain_history(job.id, expected_task_runs=(summary or {}).get("task_runs"), timeout=30)
        for sub in (summary or {}).get("subflows") or []:
            if sub.get("flow_run_id"):
                drain_history(sub["flow_run_id"], sub.get("task_runs"), timeout=30)
        job.state, job.summary = state.type.value, summary
        if summary is None:
            job.error = state.message or state.name
        if after is not None:
            after(state)
    except Exception as exc:
        job.state = job.state or "CRASHED"
        job.error = f"{type(exc).__name__}: {exc}"
        logger.warning("archive run %s: %s", job.id, job.error)
    finally:
        job._done.set()


def retry(plan: str, root: Path, max_concurrent: int) -> Job:
    """Run the archive flow for just a plan's items, linked to it (`recovery_of`), in the
    background; as flows/recovery.py's retry_plan does, with the run's id known at once."""
    from ytarchive import recovery

    past = history()
    found = recovery.get_plan(root, plan, with_tasks=False, history=past)
    if found.status in ("recovered", "superseded"):
        raise InputError(f"plan {found.plan_id} was already taken over by run {found.closed_by}")
    if found.status == "done":
        raise InputError(f"plan {found.plan_id}: nothing left to do")
    params: dict[str, Any] = {
        "quality": found.quality or DEFAULT_QUALITY,
        "output_dir": str(Path(found.output_dir or root)),
        "max_concurrent": max_concurrent,
        "recovery_of": found.plan_id,
    }
    if found.items is None:
        flow_name, params["url"] = "archive_playlist_flow", found.playlist_url
    else:
        flow_name = "archive_videos_flow"
        params["urls"] = [i.url or i.video_id for i in found.items]
    holder: list[Job] = []

    def settle(state: Any) -> None:
        recovery.settle_dead_run(found, past, recovered_by=holder[0].id if holder else None)

    job = start(flow_name, params, after=settle)
    holder.append(job)
    return job
