"""A merged format's streams (video + audio) fetched at once, through yt-dlp's own downloaders."""

from __future__ import annotations

import contextvars
import functools
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any

__all__ = ["StreamsCancelled", "parallel_ydl_class"]

Outcome = tuple[bool, bool]  # what YoutubeDL.dl returns: (success, real_download)


class StreamsCancelled(Exception):
    """Raised from a progress hook to stop a stream whose sibling failed."""


class _Streams:
    """The `n` dl() calls of one merged format: all but the last run in threads; the last runs
    in the caller's thread, then waits for the others and answers for them all.

    The streams after the first start once the first has bytes flowing (or has ended): a video
    whose media the site refuses costs the requests of one stream, as in turn (the retry
    budget), and a stream whose sibling failed stops at its next progress report or retry.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.calls = 0
        self.cancelled = threading.Event()
        self.flowing = threading.Event()
        self.threads: list[tuple[threading.Thread, dict[str, Any]]] = []

    def run(self, download: Callable[[], Outcome]) -> Outcome:
        self.calls += 1
        if self.calls > 1:
            download = functools.partial(self._after_first, download)
        if self.calls < self.n:
            self._start(download, first=self.calls == 1)
            return True, False  # the last call reports this stream's outcome
        try:
            own = download()
        except StreamsCancelled:
            self.cancel()
            raise self._first_error() from None  # the sibling's failure is the real one
        except BaseException:
            self.cancel()
            raise
        return self._gather(own)

    def _after_first(self, download: Callable[[], Outcome]) -> Outcome:
        self.flowing.wait()
        if self.cancelled.is_set():
            raise StreamsCancelled("another stream of this video failed")
        return download()

    def _start(self, download: Callable[[], Outcome], first: bool) -> None:
        slot: dict[str, Any] = {}
        context = contextvars.copy_context()  # the caller's logging and run context

        def target() -> None:
            try:
                slot["outcome"] = context.run(download)
            except BaseException as exc:  # handed to the caller's thread in _gather
                slot["error"] = exc
                self.cancelled.set()
            finally:
                if first:
                    self.flowing.set()

        thread = threading.Thread(target=target, name="ytarchive-stream", daemon=True)
        self.threads.append((thread, slot))
        thread.start()

    def _gather(self, own: Outcome) -> Outcome:
        success, real = own
        for thread, slot in self.threads:
            thread.join()
            if "outcome" in slot:
                success, real = success and slot["outcome"][0], real or slot["outcome"][1]
        if any("error" in slot for _, slot in self.threads):
            raise self._first_error()
        return success, real

    def _first_error(self) -> BaseException:
        """The first stream's failure that is not a cancellation (threads already joined)."""
        errors = [slot["error"] for _, slot in self.threads if "error" in slot]
        real = [e for e in errors if not isinstance(e, StreamsCancelled)]
        return (real or errors or [StreamsCancelled("a stream was cancelled")])[0]

    def cancel(self) -> None:
        """Stop the other streams at their next progress report or retry, and wait for them."""
        self.cancelled.set()
        self.flowing.set()
        for thread, _ in self.threads:
            thread.join()

    def check(self, status: dict[str, Any]) -> None:
        """A progress hook: any stream of this video (or its fragment threads) stops here."""
        if status.get("downloaded_bytes") or status.get("status") == "finished":
            self.flowing.set()
        if self.cancelled.is_set():
            raise StreamsCancelled("another stream of this video failed")

    def pause(self, seconds: float) -> None:
        """A retry's wait, cut short (StreamsCancelled) when another stream failed."""
        if self.cancelled.wait(max(seconds, 0.0)):
            raise StreamsCancelled("another stream of this video failed")


@lru_cache(maxsize=1)
def parallel_ydl_class() -> type[Any]:
    """A YoutubeDL whose merged formats download their streams at once.

    yt-dlp's process_info downloads a merged format's requested_formats one after the other,
    each with `self.dl(name, info)`, then merges them with FFmpegMergerPP. This subclass only
    changes when those dl() calls run: all but the last start in threads and return at once;
    the last waits for them and raises the first failure, inside the same try block where a
    sequential failure would surface. Everything else (file names, .part files and resume,
    retries, hooks, merger, post-processors) is yt-dlp's own code, unchanged.
    """
    from yt_dlp import YoutubeDL

    from ytarchive.downloader.ydl import ydl_class

    class ParallelStreamsYoutubeDL(ydl_class()):  # type: ignore[misc]
        _streams: _Streams | None = None

        def __init__(self, params: dict[str, Any] | None = None, auto_init: bool = True) -> None:
            super().__init__(params, auto_init)
            self.add_progress_hook(self._check_streams)
            sleeps = self.params.get("retry_sleep_functions") or {}
            self.params["retry_sleep_functions"] = {
                kind: functools.partial(self._retry_sleep, func) if callable(func) else func
                for kind, func in sleeps.items()
            }

        def process_info(self, info_dict: dict[str, Any]) -> Any:
            formats = info_dict.get("requested_formats") or []
            self._streams = _Streams(len(formats)) if len(formats) > 1 else None
            try:
                return super().process_info(info_dict)
            finally:
                streams, self._streams = self._streams, None
                if streams is not None:
                    streams.cancel()  # process_info left early: no stream outlives it

        def dl(
            self, name: str, info: dict[str, Any], subtitle: bool = False, test: bool = False
        ) -> Any:
            streams = self._streams
            if streams is None or subtitle or test or info.get("requested_formats"):
                # one file, a subtitle, a format check, or a downloader that merges itself
                # (ffmpeg, or DashSegmentsFD for --live-from-start): yt-dlp's own way
                return super().dl(name, info, subtitle=subtitle, test=test)
            return streams.run(functools.partial(YoutubeDL.dl, self, name, info))

        def _check_streams(self, status: dict[str, Any]) -> None:
            streams = self._streams
            if streams is not None:
                streams.check(status)

        def _retry_sleep(self, func: Callable[..., Any], n: int) -> Any:
            delay = func(n=n)
            streams = self._streams
            if streams is None or not isinstance(delay, int | float):
                return delay
            streams.pause(float(delay))  # waits here, or stops if a sibling stream failed
            return 0

    return ParallelStreamsYoutubeDL
