"""Prefect task: archive one video (lock, download, metadata file, thumbnail, catalog row)."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks import progress
from tasks.policies import MAX_RETRY_AFTER, attempt, is_transient
from ytarchive import layout
from ytarchive.config import Settings
from ytarchive.errors import Transient, Unavailable
from ytarchive.models import DownloadResult, VideoMetadata

__all__ = ["download_task", "download_run_name"]


def download_run_name() -> str:
    """``download-<video_id>``, then the title when known (the history reads like the playlist)."""
    from prefect.runtime import task_run

    params = task_run.parameters
    name = f"download-{params['video_id']}"
    record = params.get("record")
    title = getattr(record, "title", None)
    return f"{name} {title[:60]}" if title else name


@task(
    name="download",
    task_run_name=download_run_name,
    cache_policy=NO_CACHE,
    retries=3,
    retry_delay_seconds=[2.0, 4.0, 8.0],
    retry_jitter_factor=0.5,
    retry_condition_fn=is_transient,
    persist_result=False,
)
def download_task(
    video_id: str,
    quality: str,
    output_dir: str,
    record: VideoMetadata | None = None,
    url: str | None = None,
    unavailable_reason: str | None = None,
    slot_limit: str | None = None,
) -> DownloadResult:
    """Archive one video under its id; Unavailable becomes a recorded outcome, never a retry.

    Holds the video's file lock while it works, and records the outcome in the catalog before
    letting go, so a second run waiting on the lock finds the video archived and skips it.
    Transient errors propagate for Prefect to retry (after the server's Retry-After, if any).
    With `slot_limit` (a Prefect global concurrency limit) the download also holds one of the
    fleet's slots; the video lock is taken first, so no slot holder ever waits on a lock.
    """
    settings = Settings(output_dir=Path(output_dir))
    root = Path(settings.output_dir)
    run_id = _flow_run_id()
    sink = progress.sink_for(run_id)
    reason = unavailable_reason or _unavailable_reason(record)
    if reason:
        result = _outcome(video_id, "unavailable", reason, "Unavailable", quality, run_id)
        _record(root, result)
        sink.video_finished(result)
        return result
    with layout.video_lock(root, video_id):
        existing = _already_archived(root, video_id)
        if existing is not None:
            get_run_logger().info("%s is already archived at %s", video_id, existing.file_path)
            sink.video_finished(existing)
            return existing
        with _fleet_slot(slot_limit):
            result = _download(video_id, quality, settings, record, url, sink)
        result.flow_run_id = run_id
        result.attempts = attempt()[0]
        _record(root, result)
    sink.video_finished(result)
    return result


def _download(
    video_id: str,
    quality: str,
    settings: Settings,
    record: VideoMetadata | None,
    url: str | None,
    sink: progress.ProgressSink,
) -> DownloadResult:
    from ytarchive.downloader import download_video, fetch_thumbnail

    logger = get_run_logger()
    root = Path(settings.output_dir)
    title = record.title if record else None
    sink.video_started(video_id, title)

    def files_beside(key: str) -> None:
        """The metadata record and thumbnail, in place before the video is (then recorded)."""
        meta = record or VideoMetadata(video_id=key, source="yt_dlp", webpage_url=url)
        layout.write_metadata(root, meta)
        if meta.thumbnail_url:
            fetch_thumbnail(meta.thumbnail_url, root, key)

    try:
        result = download_video(
            url or video_id,
            settings,
            quality,
            sink.video_progress,
            title=title,
            key=video_id,
            before_move=files_beside,
        )
    except Unavailable as exc:
        logger.info("%s is unavailable: %s", video_id, exc)
        return _outcome(video_id, "unavailable", str(exc), "Unavailable", quality, None)
    except Transient as exc:
        _before_retry(video_id, exc, sink)
        raise
    logger.info(
        "%s archived: %s (%sx%s, %s bytes)",
        video_id,
        result.file_path,
        result.width,
        result.height,
        result.bytes,
    )
    return result


def _fleet_slot(slot_limit: str | None) -> Any:
    """A slot of the fleet-wide download limit for as long as the download runs, if there is one."""
    if not slot_limit:
        return contextlib.nullcontext()
    from prefect.concurrency.sync import concurrency

    return concurrency(slot_limit, occupy=1)


def _before_retry(video_id: str, exc: Transient, sink: progress.ProgressSink) -> None:
    """Tell the watcher, and wait out a server's Retry-After before Prefect's own backoff."""
    number, retries = attempt()
    if number > retries:
        return
    sink.video_retrying(video_id, str(exc))
    if exc.retry_after:
        wait = min(float(exc.retry_after), MAX_RETRY_AFTER)
        get_run_logger().info("%s: server asked to retry after %.1f s", video_id, wait)
        time.sleep(wait)


def _already_archived(root: Path, video_id: str) -> DownloadResult | None:
    """The catalog's archived outcome when its file is still in place (another run got here)."""
    files = layout.find_video_files(root, video_id)
    if not files:
        return None
    from ytarchive.catalog import Catalog

    latest = Catalog(root).latest_outcomes([video_id]).get(video_id)
    if latest is None or latest.status != "archived" or not latest.file_path:
        return None
    return latest if (root / latest.file_path).is_file() else None


def _unavailable_reason(record: VideoMetadata | None) -> str | None:
    if record is None or record.availability == "available":
        return None
    return record.unavailable_reason or record.availability


def _outcome(
    video_id: str, status: Any, reason: str, error_class: str, quality: str, run_id: str | None
) -> DownloadResult:
    return DownloadResult(
        video_id=video_id,
        status=status,
        reason=reason,
        error_class=error_class,
        quality=quality,
        flow_run_id=run_id,
    )


def _record(root: Path, result: DownloadResult) -> None:
    from ytarchive.catalog import Catalog

    Catalog(root).record_outcomes([result])


def _flow_run_id() -> str | None:
    from prefect.context import TaskRunContext

    ctx = TaskRunContext.get()
    flow_run_id = getattr(getattr(ctx, "task_run", None), "flow_run_id", None)
    return str(flow_run_id) if flow_run_id else None
