"""Runtime glue for CLI flow runs: point Prefect at the long-lived server, complete the history."""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

__all__ = [
    "configure_prefect",
    "drain_history",
    "drain_workers",
    "prompt_flow_ends",
    "FINAL_STATE_TYPES",
]

FINAL_STATE_TYPES = ("COMPLETED", "FAILED", "CANCELLED", "CRASHED")
_POLL = 0.25


def configure_prefect(api_url: str | None = None) -> str:
    """Use api_url, else PREFECT_API_URL, else our local server (started if needed): the url.

    Call it before importing prefect in a command. If prefect is already imported, its global
    settings are refreshed so the new environment takes effect.
    """
    from ytarchive.prefect_server import ensure_server, server_env

    os.environ.update(server_env())
    url = api_url.rstrip("/") if api_url else ensure_server()
    os.environ["PREFECT_API_URL"] = url
    if "prefect.context" in sys.modules:
        from prefect.context import refresh_global_settings_context

        refresh_global_settings_context()
    return url


@functools.cache
def prompt_flow_ends() -> None:
    """Flow runs in this process end without waiting on Prefect's heartbeat thread.

    Prefect 3.8's sync flow engine stops its heartbeat thread (a daemon that sleeps in steps of
    one second) at the end of every flow run and joins it for up to 2 s: 0 to 1 s after the
    run's final state is set, measured 0.40 s at the end of a 24-video playlist, and again at
    the end of each subflow. Its async engine passes `join_on_exit=False`, and so does this
    wrapper: the thread still sees the stop at its next step and sends no heartbeat after it.
    Heartbeats during the run are Prefect's own, unchanged. Called where our flows are defined;
    a Prefect without this engine function (or its argument) is left as it is.
    """
    import prefect.flow_engine as engine

    original = getattr(engine, "_send_heartbeats", None)
    if original is None or getattr(original, "ytarchive_prompt", False):
        return
    try:
        if "join_on_exit" not in inspect.signature(original).parameters:
            return
    except (TypeError, ValueError):
        return

    @contextlib.contextmanager
    def send_heartbeats(flow_engine: Any, join_on_exit: bool = True) -> Iterator[None]:
        with original(flow_engine, join_on_exit=False):
            yield

    send_heartbeats.ytarchive_prompt = True  # type: ignore[attr-defined]
    engine._send_heartbeats = send_heartbeats  # type: ignore[assignment]


def drain_workers(timeout: float = 10.0) -> None:
    """Send everything Prefect queued in the background (events, then logs) and wait for it."""

    def drain() -> None:
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        for worker in (EventsWorker, APILogWorker):
            worker.drain_all(timeout=timeout, at_exit=False)

    _outside_event_loop(drain)


def _outside_event_loop(fn: Any) -> None:
    """Run fn here, or in a helper thread if this thread runs an event loop (drain_all would
    then hand back an awaitable instead of waiting)."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        fn()
        return
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, name="ytarchive-drain", daemon=True)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def _task_run_states(api: Any, flow_run_id: UUID) -> list[str]:
    """The state type of every task run the API holds for the flow run (paged)."""
    body = {"flow_runs": {"id": {"any_": [str(flow_run_id)]}}}
    rows = api.iter_filter("task_runs", body, "read the run's task runs")
    return [str(row.get("state_type") or "") for row in rows]


def drain_history(
    flow_run_id: UUID | str,
    expected_task_runs: int | None = None,
    timeout: float = 30.0,
) -> int:
    """Flush Prefect's background workers, then wait until the API holds the run's task runs.

    Done when at least expected_task_runs task runs are recorded and all are in a final state
    (with expected_task_runs None: when the recorded set is final and stops changing), or at
    timeout. Returns how many task runs the API holds.
    """
    from prefect.settings import PREFECT_API_URL

    from ytarchive.prefect_api import PrefectApi

    deadline = time.monotonic() + timeout
    drain_workers(timeout=max(1.0, timeout / 2))
    run_id = UUID(str(flow_run_id))
    previous = -1
    count = 0
    api = PrefectApi(str(PREFECT_API_URL.value() or "") or None)  # plain HTTP: no pydantic
    while True:
        states = _task_run_states(api, run_id)
        count = len(states)
        all_final = all(s in FINAL_STATE_TYPES for s in states)
        if all_final and (
            count >= expected_task_runs if expected_task_runs is not None else count == previous
        ):
            return count
        if time.monotonic() > deadline:
            return count
        previous = count
        time.sleep(_POLL if expected_task_runs is not None else 2 * _POLL)
