"""yt-dlp's per-stream progress hooks as one running total per video (DownloadProgress)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["DownloadProgress", "ProgressCallback", "ProgressTracker"]

log = logging.getLogger("ytarchive.downloader")
EVERY = 0.2  # seconds between two "downloading" reports of one video


@dataclass(frozen=True)
class DownloadProgress:
    """One progress report for one video: bytes so far, expected total, speed and ETA."""

    video_id: str
    status: str  # "downloading", "finished" (all streams), "error"
    downloaded_bytes: int
    total_bytes: int | None
    speed: float | None = None
    eta: float | None = None


ProgressCallback = Callable[[DownloadProgress], None]


class ProgressTracker:
    """Turns yt-dlp's per-stream progress hooks into one running total per video.

    The streams of a merged format report from their own threads at once: the totals and
    the speed are their sums, the ETA the remaining bytes at that speed."""

    def __init__(self, video_id: str, callback: ProgressCallback | None) -> None:
        self.video_id = video_id
        self.callback = callback
        self.streams: dict[str, tuple[int, int | None, float | None]] = {}
        self.expected: int | None = None
        self.last = 0.0
        self.lock = threading.Lock()

    def hook(self, d: dict[str, Any]) -> None:
        if self.callback is None:
            return
        with self.lock:
            report = self._update(d)
        if report is not None:
            self._emit("downloading", *report)

    def _update(self, d: dict[str, Any]) -> tuple[int, int | None, Any, Any] | None:
        name = str(d.get("tmpfilename") or d.get("filename") or "")
        total = d.get("total_bytes") or d.get("total_bytes_estimate")
        done = int(d.get("downloaded_bytes") or 0)
        running = d.get("status") == "downloading"
        speed = d.get("speed") if running else None
        self.streams[name] = (done, int(total) if total else None, speed)
        if self.expected is None:
            self.expected = _expected_size(d.get("info_dict") or {})
        now = time.monotonic()
        if running and now - self.last < EVERY:
            return None
        self.last = now
        downloaded = sum(s[0] for s in self.streams.values())
        totals = [s[1] for s in self.streams.values()]
        total_now = sum(t for t in totals if t) if all(totals) else None
        total_bytes = max(self.expected or 0, total_now or 0, downloaded) or None
        speeds = [s[2] for s in self.streams.values() if s[2]]
        speed_now = sum(speeds) if speeds else None
        eta = d.get("eta")
        if speed_now and total_bytes and len(self.streams) > 1:
            eta = max(total_bytes - downloaded, 0) / speed_now
        return downloaded, total_bytes, speed_now, eta

    def finish(self, size: int) -> None:
        if self.callback is not None:
            self._emit("finished", size, size, None, 0)

    def _emit(self, status: str, done: int, total: int | None, speed: Any, eta: Any) -> None:
        assert self.callback is not None
        try:
            self.callback(DownloadProgress(self.video_id, status, done, total, speed, eta))
        except Exception:  # a display problem never fails a download
            log.debug("progress callback failed", exc_info=True)


def _expected_size(info: dict[str, Any]) -> int | None:
    formats = info.get("requested_formats") or [info]
    sizes = [f.get("filesize") or f.get("filesize_approx") for f in formats]
    if sizes and all(sizes):
        return int(sum(sizes))
    return None
