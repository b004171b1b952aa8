"""Live progress of archive runs: sinks the CLI hands in, found by flow run id (no Prefect)."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ytarchive.downloader import DownloadProgress
    from ytarchive.models import DownloadResult

__all__ = ["NULL_SINK", "ProgressSink", "use_sink", "bind", "unbind", "sink_for"]


class ProgressSink:
    """Receives a run's progress. The default does nothing; the CLI's draws progress bars.

    Methods are called from the flow's thread and from download worker threads, so a sink
    must be thread-safe. A sink never fails a download: the callers swallow its errors.
    """

    def run_started(self, flow_run_id: str, name: str) -> None: ...

    def waiting(self, text: str) -> None:
        """What the run waits for now ("listing the playlist", "retrying the site in 4 s")."""

    def total(self, count: int) -> None: ...

    def video_started(self, video_id: str, title: str | None) -> None: ...

    def video_progress(self, progress: DownloadProgress) -> None: ...

    def video_retrying(self, video_id: str, reason: str) -> None: ...

    def video_finished(self, result: DownloadResult) -> None: ...

    def run_finished(self, summary: dict[str, Any]) -> None: ...


NULL_SINK = ProgressSink()
_pending: contextvars.ContextVar[ProgressSink | None] = contextvars.ContextVar(
    "ytarchive_progress_sink", default=None
)
_sinks: dict[str, ProgressSink] = {}
_log = logging.getLogger(__name__)
_lock = threading.Lock()


@contextlib.contextmanager
def use_sink(sink: ProgressSink) -> Iterator[ProgressSink]:
    """Flows started inside this block (in this thread) report to sink."""
    token = _pending.set(sink)
    try:
        yield sink
    finally:
        _pending.reset(token)


def bind(flow_run_id: str) -> ProgressSink:
    """Called by a flow when it starts: ties the caller's sink (if any) to its run id."""
    sink = _pending.get() or _sinks.get(str(flow_run_id)) or NULL_SINK
    with _lock:
        _sinks[str(flow_run_id)] = sink
    return _Safe(sink)


def unbind(flow_run_id: str) -> None:
    with _lock:
        _sinks.pop(str(flow_run_id), None)


def sink_for(flow_run_id: str | None) -> ProgressSink:
    """The sink of a run (a no-op sink for runs nobody watches in-process)."""
    with _lock:
        sink = _sinks.get(str(flow_run_id)) if flow_run_id else None
    return _Safe(sink or NULL_SINK)


class _Safe(ProgressSink):
    """Wraps a sink so that a display error never reaches a download."""

    def __init__(self, inner: ProgressSink) -> None:
        self._inner = inner

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("_"):
            return object.__getattribute__(self, name)
        method = getattr(object.__getattribute__(self, "_inner"), name)

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except Exception:  # progress display is best effort: never fails a download
                _log.debug("progress sink %s failed", name, exc_info=True)
                return None

        return call
