"""How an archive run shows itself besides its state: its name, log file, progress, summary."""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from typing import Any

from ytarchive import layout
from ytarchive.config import Settings
from ytarchive.errors import YTArchiveError
from ytarchive.models import DownloadResult
from ytarchive.redact import RedactFilter
from ytarchive.refs import parse_many, parse_playlist_ref

__all__ = [
    "LOGGERS",
    "SUMMARY_KEY",
    "ProgressArtifact",
    "attach_log_file",
    "detach_log_file",
    "done_line",
    "playlist_run_name",
    "result_row",
    "summary_artifact",
    "videos_run_name",
]

LOGGERS = ("ytarchive", "flows", "tasks", "prefect.flow_runs", "prefect.task_runs")
SUMMARY_KEY = "archive-summary"
PROGRESS_EVERY = 1.0  # seconds between progress-artifact updates
SUMMARY_COLUMNS = ("video_id", "title", "status", "reason", "file_path", "height", "attempts")


def videos_run_name() -> str:
    """``videos-<first id>`` or ``videos-<first id>+N`` (N more refs)."""
    from prefect.runtime import flow_run

    urls = list(flow_run.parameters.get("urls") or [])
    first = _ref_key(urls[0]) if urls else "none"
    return f"videos-{first}" + (f"+{len(urls) - 1}" if len(urls) > 1 else "")


def playlist_run_name() -> str:
    """``playlist-<playlist id>`` (or the channel's id, @handle or name)."""
    from prefect.runtime import flow_run

    url = str(flow_run.parameters.get("url") or "")
    try:
        return f"playlist-{_short(parse_playlist_ref(url).key)}"
    except YTArchiveError:  # the flow body reports bad input properly
        return f"playlist-{_short(url)}"


def _ref_key(text: str) -> str:
    try:
        return _short(parse_many([text])[0].key)
    except YTArchiveError:
        return _short(text)


def _short(text: str, limit: int = 60) -> str:
    text = text.split("://", 1)[-1]
    return text if len(text) <= limit else text[: limit - 1] + "~"


class ProgressArtifact:
    """The run's progress artifact: created on the first report, then updated (at most 1/s).

    Sent from a thread of its own (in the run's context), newest report first: the flow's
    thread, which submits the next download, never waits on the artifact API (20 to 60 ms a
    call measured on a busy server). flush() waits until the newest report is sent.
    """

    def __init__(self, logger: Any) -> None:
        self.logger = logger
        self.artifact: Any = None
        self.at = 0.0
        self._newest: tuple[int, int] | None = None
        self._sending = False
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def report(self, done: int, total: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and done < total and now - self.at < PROGRESS_EVERY:
            return
        self.at = now
        with self._changed:
            self._newest = (done, total)
            if self._thread is None:
                context = contextvars.copy_context()  # the flow run's, for the artifact's run
                self._thread = threading.Thread(
                    target=context.run, args=(self._send_all,), name="ytarchive-progress"
                )
                self._thread.daemon = True
                self._thread.start()
            self._changed.notify_all()

    def flush(self, timeout: float = 30.0) -> None:
        """Wait (up to timeout) until the newest report has been sent."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._newest is not None or self._sending:
                left = deadline - time.monotonic()
                if left <= 0 or not self._changed.wait(left):
                    return

    def close(self, timeout: float = 5.0) -> None:
        """Send what is waiting (up to timeout), then let the sending thread end."""
        self.flush(timeout)
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _send_all(self) -> None:
        while True:
            with self._changed:
                while self._newest is None and not self._closed:
                    self._changed.wait()
                if self._newest is None:
                    return
                done, total = self._newest
                self._newest, self._sending = None, True
            try:
                self._send(done, total)
            finally:
                with self._changed:
                    self._sending = False
                    self._changed.notify_all()

    def _send(self, done: int, total: int) -> None:
        from prefect.artifacts import create_progress_artifact, update_progress_artifact

        percent = 100.0 * done / total if total else 100.0
        description = f"{done} of {total} videos done"
        try:
            if self.artifact is None:
                self.artifact = create_progress_artifact(percent, description=description)
            else:
                update_progress_artifact(self.artifact, percent, description=description)
        except Exception as exc:  # progress display never fails a run
            self.logger.debug("progress artifact not updated: %s", exc)


def result_row(
    video_id: str, result: DownloadResult, title: str | None, skipped: bool
) -> dict[str, Any]:
    """One video's line of the summary (and of the CLI's report)."""
    return {
        "video_id": video_id,
        "title": title,
        "status": result.status,
        "skipped": skipped,
        **result.model_dump(
            include={"reason", "error_class", "file_path", "bytes", "width", "height", "format"}
        ),
        "attempts": result.attempts,
    }


def done_line(summary: dict[str, Any]) -> str:
    """The run's last log line: what it archived, found unavailable, failed, and spent."""
    return (
        f"Done: {summary['archived']} archived ({summary['downloaded']} new), "
        f"{summary['unavailable']} unavailable, {summary['failed']} failed, "
        f"{summary['quota_units']} quota units"
    )


def summary_artifact(summary: dict[str, Any], logger: Any) -> None:
    """The `archive-summary` table: one row per video, counts in its description."""
    from prefect.artifacts import create_table_artifact

    table = [{c: row.get(c) for c in SUMMARY_COLUMNS} for row in summary["results"]] or [
        dict.fromkeys(SUMMARY_COLUMNS)
    ]
    description = (
        f"**{summary['archived']}** archived ({summary['downloaded']} new), "
        f"**{summary['unavailable']}** unavailable, **{summary['failed']}** failed; "
        f"{summary['quota_units']} quota units; output `{summary['output_dir']}`"
    )
    try:
        create_table_artifact(table=table, key=SUMMARY_KEY, description=description)
    except Exception as exc:  # the run's outcome is recorded; the artifact is a view of it
        logger.warning("summary artifact not created: %s", exc)


class _RunFormatter(logging.Formatter):
    """Names the flow or task run a Prefect record came from, else the logger."""

    def format(self, record: logging.LogRecord) -> str:
        run = getattr(record, "task_run_name", None) or getattr(record, "flow_run_name", None)
        record.where = f"{record.name} [{run}]" if run else record.name
        return super().format(record)


def attach_log_file(settings: Settings) -> logging.Handler | None:
    """Also write our and Prefect's run logs to <output>/logs/ytarchive.log, secrets masked."""
    path = layout.log_path(settings.output_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError as exc:
        logging.getLogger("flows").warning("no log file at %s: %s", path, exc)
        return None
    level = logging.getLevelName(str(settings.log_level).upper())
    handler.setLevel(level if isinstance(level, int) else logging.INFO)
    handler.setFormatter(_RunFormatter("%(asctime)s %(levelname)s %(where)s: %(message)s"))
    handler.addFilter(RedactFilter())
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        ours = not name.startswith("prefect")
        if ours and (logger.level == logging.NOTSET or logger.level > handler.level):
            logger.setLevel(handler.level)
    return handler


def detach_log_file(handler: logging.Handler | None) -> None:
    if handler is None:
        return
    for name in LOGGERS:
        logging.getLogger(name).removeHandler(handler)
    handler.close()
