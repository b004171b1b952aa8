"""An archive run's download window: its run-wide brake, and the fleet's download slot limit.

One Brake and one Window per flow run, shared by that run's download tasks
(tasks.download.bind_brake and bind_window: they run in the flow's process). The window lets
max_concurrent of them fetch at once; the flow keeps up to AHEAD more going, each getting ready
(its lock, the catalog's answer) or finishing (the merge, the sidecars, the outcome) outside
it, so the window's slots go from one fetch to the next without a gap. Each task asks the
brake before its download and tells it the outcome; the flow asks it before submitting the
next download. When it stops the run, the videos not started are recorded failed (Braked,
with the cause), so the run's recovery plan holds them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tasks.download import bind_brake, bind_window
from ytarchive.brake import Brake
from ytarchive.config import Settings
from ytarchive.errors import Braked
from ytarchive.models import DownloadResult
from ytarchive.names import DOWNLOAD_LIMIT
from ytarchive.window import Window

__all__ = [
    "AHEAD",
    "fleet_download_limit",
    "in_flight_limit",
    "may_submit",
    "not_started",
    "open_window",
    "release",
    "start",
    "stop_cause",
]

AHEAD = 4  # download tasks going beyond the window's size, at most (and at most its size)


def open_window(settings: Settings, flow_run_id: str) -> Window:
    """The run's download window: max_concurrent videos fetching at once."""
    window = Window(int(settings.max_concurrent))
    bind_window(flow_run_id, window)
    return window


def in_flight_limit(window: Window) -> int:
    """How many download tasks the run keeps going: the window's size, and some ahead."""
    return window.size + min(window.size, AHEAD)


def start(settings: Settings, flow_run_id: str) -> Brake | None:
    """The run's brake (None when YTARCHIVE_BRAKE_AFTER is 0), bound for its download tasks.

    The plan it names when it stops is this run (`recovery list` shows its first 8 characters).
    """
    after = int(settings.brake_after)
    if after <= 0:
        return None
    brake = Brake(after, plan=flow_run_id[:8])
    bind_brake(flow_run_id, brake)
    return brake


def release(flow_run_id: str) -> None:
    bind_brake(flow_run_id, None)
    bind_window(flow_run_id, None)


def may_submit(brake: Brake | None) -> bool:
    """Wait while the brake pauses the run (as Retry-After says, bounded); False once stopped."""
    return brake is None or brake.wait()


def stop_cause(brake: Brake | None) -> str | None:
    """The one line a stopped run ends with; None while the brake lets the run go on."""
    return brake.cause() if brake is not None and brake.stopped else None


def not_started(run: Any, video_ids: Iterable[str]) -> list[DownloadResult]:
    """Record the videos a stopped run never started as failed (Braked), in one catalog write.

    run: the archive flow's run (its root, brake, quality, flow_run_id and logger).
    """
    from ytarchive.catalog import Catalog

    cause = run.brake.cause()
    error = Braked(f"not tried: {cause}")
    results = [
        DownloadResult(
            video_id=video_id,
            status="failed",
            reason=error.reason,
            error_class=error.error_class,
            quality=run.quality,
            flow_run_id=run.flow_run_id,
        )
        for video_id in video_ids
    ]
    if results:
        Catalog(run.root).record_outcomes(results)
    run.logger.error("Stopped: %s (%d video(s) not tried)", cause, len(results))
    return results


def fleet_download_limit() -> str | None:
    """The global concurrency limit that holds a fleet of workers to its download slots, if set.

    Checked once a run, not once a task: without the limit, the sync `concurrency()` would log a
    warning for every download, and with it each video costs two extra API calls.
    """
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        with get_client(sync_client=True) as client:
            client.read_global_concurrency_limit_by_name(DOWNLOAD_LIMIT)
    except ObjectNotFound:
        return None
    return DOWNLOAD_LIMIT
