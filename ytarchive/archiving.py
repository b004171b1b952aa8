"""Archive one video: its lock, the already-archived skip, the download, sidecars, the outcome."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ytarchive import archive_files, layout
from ytarchive.brake import Brake
from ytarchive.config import Settings
from ytarchive.errors import Braked, YTArchiveError
from ytarchive.models import DownloadResult, VideoMetadata
from ytarchive.progress import NULL_SINK, ProgressSink
from ytarchive.redact import redact

__all__ = ["Runtime", "archive_video"]

_log = logging.getLogger(__name__)
_NO_CLAIM = contextlib.nullcontext(False)  # this host alone: its lock is the whole claim


@dataclass
class Runtime:
    """What the caller's runtime lends one archiving: its run, attempt, watcher, slot, logger,
    and the run-wide brake its downloads share.

    `claim(video_id)` holds the video across hosts (the Prefect server's claim, say): taken
    after this host's lock and before the catalog is asked, so a second host waiting on it
    finds the video archived; it yields True when it is a real claim (then other hosts' work
    dirs of the video are ours to resume from) and raises Transient when it cannot be had or
    is lost. `slot` is entered around the video's requests (the run's download window, and a
    fleet-wide concurrency slot, say): from its first request (the page, the manifest) until
    every stream is fetched; the merge and the files' placing happen after it is let go, while
    the next video has it. A refusal is told to the brake before the slot is let go. The lock
    and the claim are always taken first, so a slot holder never waits on either. The `brake`
    is asked before the slot is taken and again once it is held (it may pause, or stop the
    run: Braked, no request made), and told how the download ended.
    """

    flow_run_id: str | None = None
    attempt: int = 1
    sink: ProgressSink = NULL_SINK
    claim: Callable[[str], contextlib.AbstractContextManager[Any]] = lambda _key: _NO_CLAIM
    slot: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext
    log: logging.Logger | logging.LoggerAdapter[Any] = field(default=_log)
    brake: Brake | None = None
    live_from_start: bool = False


def archive_video(
    video_id: str,
    quality: str,
    settings: Settings,
    *,
    record: VideoMetadata | None = None,
    url: str | None = None,
    unavailable_reason: str | None = None,
    runtime: Runtime | None = None,
) -> DownloadResult:
    """Archive one video under its id and record the outcome; say what it was.

    Known unavailable (the reason given, or the record's availability): recorded, nothing
    fetched. Otherwise, under the video's lock and its claim across hosts: a file the catalog
    holds as archived is the answer; else the download (resuming what another host left, when
    the claim is real), with the metadata file and thumbnail in place before the video is, and
    the outcome recorded before the claim and lock are let go (so a second run waiting on
    either finds it archived). An error whose `status` is final or not due yet (Unavailable; NotYet:
    "upcoming", "live") is a recorded outcome with its reason and class; a "failed" one
    (Transient, DownloadFailed, Braked) propagates (with `attempt` set) to retry or record.
    The run's brake (runtime.brake) is asked before the download and told how it ended.
    """
    rt = runtime or Runtime()
    root = Path(settings.output_dir)
    reason = unavailable_reason or _unavailable_reason(record)
    if reason:
        result = _outcome(video_id, quality, rt.flow_run_id, reason=reason)
        _record(root, result)
        rt.sink.video_finished(result)
        return result
    with layout.video_lock(root, video_id), rt.claim(video_id) as across_hosts:
        existing = _already_archived(root, video_id, bool(settings.output_template))
        if existing is not None:
            rt.log.info("%s is already archived at %s", video_id, existing.file_path)
            rt.sink.video_finished(existing)
            return existing
        if across_hosts and (hosts := layout.adopt_temp(root, video_id)):
            rt.log.info("%s: resuming what %s left of it", video_id, ", ".join(hosts))
        _may_start(rt)  # a pause is waited out before a slot is taken
        with contextlib.ExitStack() as slot:  # from the first request to the last stream
            slot.enter_context(rt.slot())
            ticket = _may_start(rt)  # a pause or a stop that came while this waited
            result = _braked_download(
                video_id, quality, settings, record, url, rt, ticket, fetched=slot.close
            )
        result.flow_run_id = rt.flow_run_id
        result.attempts = rt.attempt
        _record(root, result)
    rt.sink.video_finished(result)
    return result


def _download(
    video_id: str,
    quality: str,
    settings: Settings,
    record: VideoMetadata | None,
    url: str | None,
    rt: Runtime,
    fetched: Callable[[], None] | None = None,
) -> DownloadResult:
    from ytarchive.downloader import download_video, fetch_thumbnail

    root = Path(settings.output_dir)
    title = record.title if record else None
    rt.sink.video_started(video_id, title)

    def files_beside(key: str) -> None:
        """The metadata record and thumbnail, in place before the video is (then recorded)."""
        meta = record or VideoMetadata(video_id=key, source="yt_dlp", webpage_url=url)
        layout.write_metadata(root, meta)
        if meta.thumbnail_url and not archive_files.thumbnail_file(root, key):
            fetch_thumbnail(meta.thumbnail_url, root, key)

    try:
        result = download_video(
            url or video_id,
            settings,
            quality,
            rt.sink.video_progress,
            title=title,
            key=video_id,
            before_move=files_beside,
            live_from_start=rt.live_from_start,
            record=record,
            fetched=fetched,
        )
    except YTArchiveError as exc:
        if exc.status == "failed":  # retried by the caller, or recorded by it as failed
            exc.attempt = rt.attempt
            raise
        rt.log.info("%s is %s: %s", video_id, exc.status, exc.reason)
        return _outcome(video_id, quality, None, error=exc)
    rt.log.info(
        "%s archived: %s (%sx%s, %s bytes)",
        video_id,
        result.file_path,
        result.width,
        result.height,
        result.bytes,
    )
    return result


def _already_archived(root: Path, video_id: str, templated: bool) -> DownloadResult | None:
    """The catalog's archived outcome when its file is still in place (another run got here).
    Under an output template the file may be anywhere, so the catalog is always asked."""
    if not templated and not layout.find_video_files(root, video_id):
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
    video_id: str,
    quality: str,
    run_id: str | None,
    reason: str | None = None,
    error: YTArchiveError | None = None,
) -> DownloadResult:
    """A recorded outcome that is no file: known unavailable (`reason`), or the `error`'s."""
    return DownloadResult(
        video_id=video_id,
        status=error.status if error is not None else "unavailable",  # type: ignore[arg-type]
        reason=redact(error.reason if error is not None else reason or "unavailable"),
        error_class=error.error_class if error is not None else "Unavailable",
        quality=quality,
        flow_run_id=run_id,
    )


def _may_start(rt: Runtime) -> int | None:
    """Wait while the run's brake pauses; Braked when it has stopped the run (no request made);
    else the ticket the download's outcome is recorded with."""
    if rt.brake is None:
        return None
    if not rt.brake.wait():
        raise Braked(f"not tried: {rt.brake.cause()}")
    return rt.brake.ticket()


def _braked_download(
    video_id: str,
    quality: str,
    settings: Settings,
    record: VideoMetadata | None,
    url: str | None,
    rt: Runtime,
    ticket: int | None,
    fetched: Callable[[], None] | None = None,
) -> DownloadResult:
    """The download, its outcome told to the run's brake (a site refusal counts toward it)."""
    try:
        result = _download(video_id, quality, settings, record, url, rt, fetched)
    except YTArchiveError as exc:
        if rt.brake is not None:
            rt.brake.record(exc, ticket=ticket)
        raise
    if rt.brake is not None:
        rt.brake.record(result, ticket=ticket)
    return result


def _record(root: Path, result: DownloadResult) -> None:
    from ytarchive.catalog import Catalog

    Catalog(root).record_outcomes([result])
