"""Archive flows: videos (one or many refs) and a playlist or channel, over the same tasks.

archive_playlist_flow reads like the pipeline: list the items -> drop what the catalog holds as
archived or unavailable -> metadata 50 ids a task -> download each video, N fetching at once ->
record each outcome as it completes -> progress and summary artifacts -> the run's final state.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import functools
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.task_runners import ThreadPoolTaskRunner

from flows import braking, compaction, run_context, runtime
from flows.items import Batches as _Batches
from flows.items import Item as _Item
from flows.items import batch_outcome, playlist_items, video_items
from flows.notifications import NOTIFY_HOOKS
from flows.run_report import (
    ProgressArtifact,
    attach_log_file,
    detach_log_file,
    done_line,
    playlist_run_name,
    result_row,
    summary_artifact,
    videos_run_name,
)
from flows.secrets import settings_with_api_key
from tasks.download import download_task_for
from tasks.metadata import BATCH_SIZE, list_playlist_task, metadata_batch_task
from tasks.policies import with_retries
from ytarchive import layout, progress
from ytarchive.config import Settings
from ytarchive.errors import YTArchiveError
from ytarchive.models import DownloadResult, PlaylistItem, VideoMetadata
from ytarchive.names import PLAYLIST_FLOW, VIDEOS_FLOW
from ytarchive.redact import redact, redact_loggers, register_secrets
from ytarchive.refs import ChannelRef, PlaylistRef, VideoRef, parse_many, parse_playlist_ref

__all__ = [
    "archive_videos_flow",
    "archive_playlist_flow",
]

runtime.prompt_flow_ends()  # no wait on Prefect's heartbeat thread as a flow run ends

MAX_WORKERS = 72  # threads for tasks: 64 downloads fetching at most, the few ahead, metadata
STATUSES = ("archived", "unavailable", "failed", "upcoming", "live")  # the catalog's


def _task_runner() -> Any:
    return ThreadPoolTaskRunner(max_workers=MAX_WORKERS)


@flow(
    name=VIDEOS_FLOW,
    **NOTIFY_HOOKS,  # YTARCHIVE_NOTIFY: new videos, failures (flows/notifications.py)
    flow_run_name=videos_run_name,
    task_runner=_task_runner(),
    log_prints=False,
)
def archive_videos_flow(
    urls: list[str],
    quality: str = "best",
    output_dir: str | None = None,
    max_concurrent: int | None = None,
    recovery_of: str | None = None,
    live_from_start: bool = False,
) -> Any:
    """Archive videos given as ids or URLs; playlist and channel URLs run as subflows.

    Ends Failed (with the summary as its data) when any video still failed after its retries,
    or when the site refused so many in a row that the run's brake stopped it.
    """
    run = _Run.start(output_dir, max_concurrent, quality, recovery_of, live_from_start)
    try:
        refs = parse_many(list(urls))
        videos = [r for r in refs if isinstance(r, VideoRef)]
        items = video_items(videos, run.fetch_metadata)
        urls_of = {i.video_id: i.ref.url for i in items if not i.ref.video_id}
        run_context.record_run_items([i.video_id for i in items], urls_of)
        run.archive(items)
        for ref in refs:
            if isinstance(ref, (PlaylistRef, ChannelRef)):
                run.subflow(ref.url)
        return run.finish()
    finally:
        run.close()


@flow(
    name=PLAYLIST_FLOW,
    **NOTIFY_HOOKS,  # YTARCHIVE_NOTIFY: new videos, failures (flows/notifications.py)
    flow_run_name=playlist_run_name,
    task_runner=_task_runner(),
    log_prints=False,
)
def archive_playlist_flow(
    url: str,
    quality: str = "best",
    output_dir: str | None = None,
    max_concurrent: int | None = None,
    metadata_only: bool = False,
    recovery_of: str | None = None,
    live_from_start: bool = False,
) -> Any:
    """Archive a playlist or channel: what the catalog already holds is skipped.

    Ends Failed (with the summary as its data) when any video still failed after its retries,
    or when the site refused so many in a row that the run's brake stopped it.
    """
    run = _Run.start(output_dir, max_concurrent, quality, recovery_of, live_from_start)
    try:
        parse_playlist_ref(url)  # a bad URL fails the run before anything is spent
        items = run.list_playlist(url)
        urls_of = {i.video_id: i.url for i in items if i.url}
        run_context.record_run_items([i.video_id for i in items], urls_of)
        run.archive(playlist_items(items), metadata_only=metadata_only)
        return run.finish()
    finally:
        run.close()


# ---------------------------------------------------------------------------------------------
# One run: settings, tasks with their retries, the bounded download window, the summary
# ---------------------------------------------------------------------------------------------


class _Run:
    """The state of one flow run, and the steps both flows share."""

    def __init__(self, settings: Settings, quality: str, recovery_of: str | None) -> None:
        from prefect.runtime import flow_run

        self.settings = settings
        self.root = Path(settings.output_dir)
        self.root_str = str(self.root)
        self.quality = quality
        self.recovery_of = recovery_of
        self.flow_run_id = str(flow_run.id)
        self.flow_run_name = str(flow_run.name)
        self.logger = get_run_logger()
        self.sink = progress.bind(self.flow_run_id)
        self.artifact = ProgressArtifact(self.logger)
        self.list_task = with_retries(list_playlist_task, settings, on_retry=self._retrying)
        self.metadata_task = with_retries(metadata_batch_task, settings, on_retry=self._retrying)
        self.download_task = download_task_for(settings)
        self.brake = braking.start(settings, self.flow_run_id)  # one per run, for its tasks
        self.window = braking.open_window(settings, self.flow_run_id)  # N fetching at once
        self.fleet_limit = _in_background(braking.fleet_download_limit)  # asked once, early
        self.live_from_start = False
        self.results: dict[str, DownloadResult] = {}
        self.skipped: set[str] = set()
        self.titles: dict[str, str | None] = {}
        self.quota_units = 0
        self.task_runs = 0
        self.playlist: dict[str, Any] | None = None
        self.subflows: list[dict[str, Any]] = []
        self.metadata_saved: int | None = None  # --metadata-only: records saved
        self.started = time.monotonic()
        self.log_file = attach_log_file(settings)
        self._total = 0
        self._batches = 0

    @classmethod
    def start(
        cls,
        output_dir: str | None,
        max_concurrent: int | None,
        quality: str,
        recovery_of: str | None,
        live_from_start: bool = False,
    ) -> _Run:
        from ytarchive.downloader import validate_quality

        settings = _settings(output_dir, max_concurrent)
        validate_quality(quality)
        run = cls(settings, quality, recovery_of)
        run.live_from_start = bool(live_from_start)
        run_context.mark_run_owner(run.root)
        run.sink.run_started(run.flow_run_id, run.flow_run_name)
        if recovery_of:
            run.logger.info("Recovery of flow run %s", recovery_of)
        return run

    # -- the pipeline ---------------------------------------------------------------------

    def list_playlist(self, url: str) -> list[PlaylistItem]:
        """The playlist's items (recorded in the catalog by the task), 50 a page."""
        self.sink.waiting("listing the playlist")
        listing = self.list_task(url, self.root_str)
        self.task_runs += 1
        self.quota_units += listing.units
        info = listing.info
        self.playlist = info.model_dump(
            mode="json", include={"playlist_id", "title", "channel_title", "item_count"}
        )
        title = info.title or "untitled"
        self.logger.info("Playlist %s (%s): %d items", info.playlist_id, title, len(listing.items))
        return listing.items

    def archive(self, items: list[_Item], metadata_only: bool = False) -> None:
        """Skip what the catalog holds, fetch metadata in batches, download the rest."""
        from ytarchive.catalog import Catalog

        for item in items:
            self.titles[item.video_id] = item.title
        if metadata_only:
            self.metadata_saved = self.metadata_saved or 0
        catalog = Catalog(self.root)
        settled = catalog.settled_ids([i.video_id for i in items]) if items else set()
        if settled:
            self.results.update(catalog.latest_outcomes(sorted(settled)))
            self.skipped |= settled
        todo = [i for i in items if i.video_id not in settled]
        for item in (i for i in todo if i.error is not None):
            self.results[item.video_id] = self._failed(item, item.error)
        self.logger.info(
            "%d video(s): %d already archived or unavailable, %d to do",
            len(items),
            len(settled),
            len(todo),
        )
        self._total += len(todo)
        self.sink.total(self._total)
        todo = [i for i in todo if i.error is None]
        if not todo:
            return
        if not metadata_only:
            _warm_up_downloader()
        self._progress(force=True)
        batches = self._submit_metadata(todo)
        if metadata_only:
            self._write_metadata_files(batches)
        else:
            self._download_all(todo, batches)

    def fetch_metadata(self, refs: list[VideoRef]) -> list[VideoMetadata | BaseException]:
        """Metadata for refs now (50 a task), in order, or each item's error; used for URLs,
        whose key it gives."""
        records: list[VideoMetadata | BaseException] = []
        if refs:
            self.sink.waiting("reading the videos' metadata")
        for start in range(0, len(refs), BATCH_SIZE):
            self._batches += 1
            chunk = refs[start : start + BATCH_SIZE]
            state = self.metadata_task(self._batches, chunk, self.root_str, return_state=True)
            self.task_runs += 1
            batch = batch_outcome(state, len(chunk))
            self.quota_units += batch.units
            records += [batch.errors.get(i) or r for i, r in enumerate(batch.records)]
        return records

    def _submit_metadata(self, todo: list[_Item]) -> _Batches:
        """One metadata task per 50 videos that still need a record."""
        wanted = [i for i in todo if i.record is None and not i.unavailable_reason]
        if wanted:
            self.sink.waiting("reading the videos' metadata")
        chunks = [wanted[start : start + BATCH_SIZE] for start in range(0, len(wanted), BATCH_SIZE)]
        return _Batches(chunks, self._submit_batch)

    def _submit_batch(self, chunk: list[_Item]) -> Any:
        self._batches += 1
        self.task_runs += 1
        return self.metadata_task.submit(self._batches, [i.ref for i in chunk], self.root_str)

    def _apply_metadata(self, chunk: list[_Item], future: Any) -> None:
        future.wait()
        batch = batch_outcome(future.state, len(chunk))
        self.quota_units += batch.units
        for item, record in zip(chunk, batch.records, strict=False):
            if record is None:  # its metadata failed: its download tries on its own
                continue
            item.record = record
            item.title = record.title or item.title
            self.titles[item.video_id] = item.title

    def _write_metadata_files(self, batches: _Batches) -> None:
        for chunk, future in batches:
            self._apply_metadata(chunk, future)
            for item in chunk:
                self.metadata_saved = (self.metadata_saved or 0) + (item.record is not None)
                if item.record is not None and item.record.availability == "available":
                    layout.write_metadata(self.root, item.record)
                item.record = None  # written: a big channel's records are not all kept

    def _download_all(self, todo: list[_Item], batches: _Batches) -> None:
        """Submit downloads as their metadata arrives; max_concurrent of them fetch at once
        (the run's window), a few more get ready or finish beside them."""
        limit = braking.in_flight_limit(self.window)
        slot_limit = self.fleet_limit.result()
        done: queue.Queue[tuple[_Item, Any]] = queue.Queue()
        in_flight = 0
        items = self._in_order(todo, batches)
        for item in items:
            while in_flight >= limit:
                self._collect(*done.get())
                in_flight -= 1
            if not braking.may_submit(self.brake):  # stopped: the rest wait for the plan
                self._not_started([item, *items])
                break
            future = self.download_task.submit(
                item.video_id,
                self.quality,
                self.root_str,
                record=item.record,
                url=item.ref.url if item.ref.video_id is None else None,
                unavailable_reason=item.unavailable_reason,
                slot_limit=slot_limit,
                live_from_start=self.live_from_start,
            )
            future.add_done_callback(lambda f, item=item: done.put((item, f)))
            self.task_runs += 1
            in_flight += 1
        for _ in range(in_flight):
            self._collect(*done.get())

    def _in_order(self, todo: list[_Item], batches: _Batches) -> Iterator[_Item]:
        """Yield items in order, each once its metadata batch (if any) has arrived."""
        pending = {id(i) for chunk in batches.chunks for i in chunk}
        waiting = iter(batches)
        for item in todo:
            while id(item) in pending:
                taken = next(waiting, None)
                if taken is None:
                    break
                self._apply_metadata(*taken)
                pending -= {id(i) for i in taken[0]}
            yield item

    def _collect(self, item: _Item, future: Any) -> None:
        """Take one finished download: its result, or a failed outcome recorded now."""
        future.wait()
        state = future.state
        if state.is_completed():
            result = state.result(raise_on_failure=False)
        else:
            result = self._failed(item, state.result(raise_on_failure=False), state.message)
        self.results[item.video_id] = result
        self._progress()
        compaction.nudge(self.root)  # a compactor in the background once the catalog is due one

    def _not_started(self, items: list[_Item]) -> None:
        for result in braking.not_started(self, [i.video_id for i in items]):
            self.results[result.video_id] = result
            self.sink.video_finished(result)

    def _failed(self, item: _Item, error: Any, message: str | None = None) -> DownloadResult:
        from ytarchive.catalog import Catalog

        ours = isinstance(error, YTArchiveError)
        text = error.reason if ours else str(error) if isinstance(error, BaseException) else None
        result = DownloadResult(
            video_id=item.video_id,
            status="failed",
            reason=redact(text or message or "task run failed"),
            error_class=type(error).__name__ if isinstance(error, BaseException) else "Crashed",
            quality=self.quality,
            attempts=error.attempt if ours else 1,
            flow_run_id=self.flow_run_id,
        )
        Catalog(self.root).record_outcomes([result])
        self.logger.error("%s failed: %s", item.video_id, result.reason)
        self.sink.video_finished(result)
        return result

    def subflow(self, url: str) -> None:
        """A playlist named among the videos: its own flow run, its counts merged into ours."""
        state: Any = archive_playlist_flow(
            url=url,
            quality=self.quality,
            output_dir=self.root_str,
            max_concurrent=int(self.settings.max_concurrent),
            recovery_of=self.recovery_of,
            live_from_start=self.live_from_start,
            return_state=True,
        )
        data = state.result(raise_on_failure=False)
        if not isinstance(data, dict):
            data = {"url": url, "failed": 1, "error": redact(str(data))}
        self.subflows.append(data)
        self.quota_units += int(data.get("quota_units") or 0)

    def _retrying(self, error: Any) -> None:
        """on_retry of the listing and metadata tasks: the watcher hears how long we wait."""
        from tasks.policies import attempt

        wait = error.retry_after or self.settings.retry_delay_seconds * 2 ** (attempt() - 1)
        self.sink.waiting(f"retrying the site in {wait:.0f} s ({redact(str(error))[:60]})")

    # -- reporting --------------------------------------------------------------------------

    def _progress(self, force: bool = False) -> None:
        done = sum(1 for k in self.results if k not in self.skipped)
        self.artifact.report(done, self._total, force=force)

    def summary(self) -> dict[str, Any]:
        rows = [
            result_row(k, r, self.titles.get(k), k in self.skipped) for k, r in self.results.items()
        ]
        counts = dict.fromkeys(STATUSES, 0)
        for row in rows:
            counts[row["status"]] += 1
        for sub in self.subflows:
            for status in STATUSES:
                counts[status] += int(sub.get(status) or 0)
        return {
            "flow_run_id": self.flow_run_id,
            "flow_run_name": self.flow_run_name,
            "output_dir": self.root_str,
            "quality": self.quality,
            "recovery_of": self.recovery_of,
            "stopped": braking.stop_cause(self.brake),  # the brake's cause, when it stopped us
            "playlist": self.playlist,
            "total": sum(counts.values()),
            **counts,
            "skipped": len(self.skipped) + sum(int(s.get("skipped") or 0) for s in self.subflows),
            "downloaded": sum(1 for r in rows if r["status"] == "archived" and not r["skipped"]),
            "quota_units": self.quota_units,
            "metadata_saved": self.metadata_saved,
            "seconds": round(time.monotonic() - self.started, 2),
            "task_runs": self.task_runs,
            "results": rows,
            "subflows": self.subflows,
        }

    def finish(self) -> Any:
        """The summary artifact and return value; a Failed state when any video failed."""
        from prefect.states import Failed

        summary = self.summary()
        self._progress(force=True)
        self.artifact.flush()  # the run's artifacts are in place before its final state
        summary_artifact(summary, self.logger)
        self.sink.run_finished(summary)
        self.logger.info("%s", done_line(summary))
        if summary["failed"]:
            counted = f"{summary['failed']} of {summary['total']} video(s) failed"
            message = summary["stopped"] or counted
            return Failed(message=message, data=summary)
        return summary

    def close(self) -> None:
        """Remove what killed runs left in .tmp/ (this run resumed what it could), and unhook."""
        removed = layout.sweep_temp(self.root, self.settings.claim_lease_seconds)
        if removed:
            self.logger.info("Removed unfinished downloads of killed runs: %s", ", ".join(removed))
        self.artifact.close()
        progress.unbind(self.flow_run_id)
        braking.release(self.flow_run_id)
        compaction.nudge(self.root, final=True)
        detach_log_file(self.log_file)


def _in_background(fn: Any) -> concurrent.futures.Future[Any]:
    """fn() in a thread of its own (in this run's context): its answer when it is wanted."""
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()
    context = contextvars.copy_context()

    def run() -> None:
        try:
            future.set_result(context.run(fn))
        except BaseException as exc:  # handed to whoever asks for the result
            future.set_exception(exc)

    threading.Thread(target=run, name="ytarchive-lookup", daemon=True).start()
    return future


@functools.cache
def _warm_up_downloader() -> None:
    """Load yt-dlp in the background while metadata is fetched (once per process)."""
    from ytarchive.downloader import warm_up

    threading.Thread(target=warm_up, name="ytarchive-warm-up", daemon=True).start()


def _settings(output_dir: str | None, max_concurrent: int | None) -> Settings:
    """Settings for this run; the key (env, else the Secret block) masked in every run log."""

    overrides: dict[str, Any] = {}
    if output_dir:
        overrides["output_dir"] = Path(output_dir)
    if max_concurrent:
        overrides["max_concurrent"] = int(max_concurrent)
    settings = settings_with_api_key(Settings(**overrides))
    register_secrets(settings)
    redact_loggers("prefect.flow_runs", "prefect.task_runs")
    return settings
