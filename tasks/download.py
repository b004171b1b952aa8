"""Prefect task: archive one video (ytarchive.archiving), retried as the budget says."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext

from tasks.policies import attempt, with_retries
from ytarchive import progress
from ytarchive.archiving import Runtime, archive_video
from ytarchive.brake import Brake
from ytarchive.config import Settings
from ytarchive.errors import Transient
from ytarchive.models import DownloadResult, VideoMetadata
from ytarchive.window import Window

__all__ = ["bind_brake", "bind_window", "download_task", "download_task_for", "download_run_name"]

_brakes: dict[str, Brake] = {}  # flow run id -> the brake its download tasks share
_windows: dict[str, Window] = {}  # flow run id -> its download window (N fetching at once)
_brakes_lock = threading.Lock()


def bind_brake(flow_run_id: str, brake: Brake | None) -> None:
    """Share `brake` among the download tasks of this flow run (None: forget the run's brake).

    Tasks run in the flow's process (a thread pool), so the brake is an object, never a
    parameter: it holds no secret, but it is the run's state, not an input.
    """
    with _brakes_lock:
        if brake is None:
            _brakes.pop(flow_run_id, None)
        else:
            _brakes[flow_run_id] = brake


def bind_window(flow_run_id: str, window: Window | None) -> None:
    """Share `window` among the download tasks of this flow run (None: forget it): at most its
    size of them fetch at once, while more of them get ready or finish outside it."""
    with _brakes_lock:
        if window is None:
            _windows.pop(flow_run_id, None)
        else:
            _windows[flow_run_id] = window


def download_run_name() -> str:
    """``download-<video_id>``, then the title when known (the history reads like the playlist)."""
    from prefect.runtime import task_run

    params = task_run.parameters
    name = f"download-{params['video_id']}"
    title = getattr(params.get("record"), "title", None)
    return f"{name} {title[:60]}" if title else name


def _tell_watcher(error: Transient) -> None:
    """on_retry: the run's progress sink hears that this video is about to be tried again."""
    ctx = TaskRunContext.get()
    if ctx is not None:
        run_id = str(ctx.task_run.flow_run_id)
        progress.sink_for(run_id).video_retrying(str(ctx.parameters["video_id"]), str(error))


@task(
    name="download",
    task_run_name=download_run_name,
    cache_policy=NO_CACHE,
    persist_result=False,
)  # its retries come from Settings at flow start: download_task_for(settings)
def download_task(
    video_id: str,
    quality: str,
    output_dir: str,
    record: VideoMetadata | None = None,
    url: str | None = None,
    unavailable_reason: str | None = None,
    slot_limit: str | None = None,
    live_from_start: bool = False,
) -> DownloadResult:
    """Archive one video under its id; `slot_limit` names a fleet-wide concurrency limit.

    The run's brake (bind_brake) is asked first: a stopped run fails this task at once with
    Braked, making no request.
    """
    settings = Settings(output_dir=Path(output_dir))
    return archive_video(
        video_id,
        quality,
        settings,
        record=record,
        url=url,
        unavailable_reason=unavailable_reason,
        runtime=_runtime(
            slot_limit, live_from_start, settings.claim_lease_seconds, settings.output_dir
        ),
    )


def download_task_for(settings: Settings) -> Any:
    """download_task with the retry budget's video retries (and the watcher told of each)."""
    return with_retries(download_task, settings, on_retry=_tell_watcher)


def _runtime(
    slot_limit: str | None,
    live_from_start: bool = False,
    lease_seconds: float = 120.0,
    output_dir: Path | None = None,
) -> Runtime:
    ctx = TaskRunContext.get()
    run_id = str(ctx.task_run.flow_run_id) if ctx and ctx.task_run.flow_run_id else None
    with _brakes_lock:
        brake = _brakes.get(run_id) if run_id else None
        window = _windows.get(run_id) if run_id else None
    return Runtime(
        flow_run_id=run_id,
        attempt=attempt(),
        sink=progress.sink_for(run_id),
        claim=_claim_for(ctx, lease_seconds, output_dir),
        slot=lambda: _slot(window, slot_limit),
        log=get_run_logger(),
        brake=brake,
        live_from_start=live_from_start,
    )


def _claim_for(ctx: TaskRunContext | None, lease_seconds: float, root: Path | None) -> Any:
    """The video's claim across hosts (tasks.claims), held on a lease, named for this task run;
    its lease noted in the archive's .locks/<host>/ (archive_video holds the video's lock).

    No claim (the video's lock alone) when no other host can reach the server (alone_on_server):
    measured on a 24-video playlist at 4 at once, the claim's two requests were 0.2-0.5 s of
    each video's time on a busy server, for nothing when this host is the only one."""
    from prefect.client.schemas.objects import ConcurrencyLeaseHolder
    from prefect.settings import PREFECT_API_URL

    from tasks.claims import video_claim
    from ytarchive.hosts import alone_on_server

    if alone_on_server(PREFECT_API_URL.value()):
        return lambda _key: contextlib.nullcontext(False)

    holder = ConcurrencyLeaseHolder(type="task_run", id=ctx.task_run.id) if ctx else None
    log = get_run_logger()
    return lambda key: video_claim(key, lease_seconds, log=log, holder=holder, root=root)


@contextlib.contextmanager
def _slot(window: Window | None, slot_limit: str | None) -> Iterator[None]:
    """A slot of the run's window, then of the fleet-wide download limit if there is one (so a
    fleet slot is never held waiting for the run's own), for as long as the fetch runs."""
    with contextlib.ExitStack() as held:
        if window is not None:
            held.enter_context(window.slot())
        if slot_limit:
            from prefect.concurrency.sync import concurrency

            held.enter_context(concurrency(slot_limit, occupy=1))
        yield
