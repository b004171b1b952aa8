"""`download --watch FILE`: archive each line appended to a file, until Ctrl-C."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ytarchive.cli.app import OutputFormat

if TYPE_CHECKING:
    from ytarchive.cli.cmd_download import Job

__all__ = ["check_watch_file", "watch_file"]


WATCH_POLL = 0.5


def check_watch_file(path: Path) -> None:
    from ytarchive.errors import InputError

    if not path.is_file():
        raise InputError(f"watch file not found: {path}")


def watch_file(job: Job, path: Path) -> int:
    """Archive the file's lines, then each line appended to it, until Ctrl-C.

    Ctrl-C while idle stops at once; during a run it stops once that run is done and recorded
    (a second Ctrl-C stops at once). Exit 0, or 1 if some video failed meanwhile.
    """
    from ytarchive.cli.cmd_download import (
        _call_flow,
        _finish,
        _is_live,
        _load_flows,
        _report,
        _view,
    )

    flows = _load_flows()
    tail = _Tail(path)
    stop = _StopOnCtrlC(job.fmt)
    failed = 0
    _note(job.fmt, f"Watching {path} (Ctrl-C to stop)")
    with stop:
        try:
            while not stop.requested:
                good = _not_archived(_good_lines(tail.new_lines(), path, job.fmt), job)
                if not good:
                    time.sleep(WATCH_POLL)
                    continue
                job.urls = good
                with stop.busy():
                    view = _view(job.fmt)
                    with view:
                        summary = _finish(_call_flow(flows, job, view), view)
                    _report(summary, job.fmt, live=_is_live(view))
                failed += int(summary.get("failed") or 0)
        except KeyboardInterrupt:
            pass
    _note(job.fmt, "Stopped watching")
    return 1 if failed else 0


class _StopOnCtrlC:
    """SIGINT: raise KeyboardInterrupt when idle; during a run, ask to stop after it."""

    def __init__(self, fmt: OutputFormat) -> None:
        self.fmt = fmt
        self.requested = False
        self._busy = False
        self._previous: Any = None

    def __enter__(self) -> _StopOnCtrlC:
        import signal

        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        import signal

        signal.signal(signal.SIGINT, self._previous)

    def busy(self) -> Any:
        import contextlib

        @contextlib.contextmanager
        def scope() -> Any:
            self._busy = True
            try:
                yield
            finally:
                self._busy = False

        return scope()

    def _handle(self, signum: int, frame: Any) -> None:
        if not self._busy or self.requested:
            self.requested = True
            raise KeyboardInterrupt
        self.requested = True
        _note(self.fmt, "Stopping after this run (Ctrl-C again to stop now)")


class _Tail:
    """New complete lines of a file since the last call (a partial last line waits)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.number = 0

    def new_lines(self) -> list[tuple[int, str]]:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        lines = []
        for raw in data[: end + 1].splitlines():
            self.number += 1
            lines.append((self.number, raw.decode("utf-8", "replace")))
        return lines


def _good_lines(lines: list[tuple[int, str]], path: Path, fmt: OutputFormat) -> list[str]:
    from ytarchive.errors import InputError
    from ytarchive.refs import batch_line

    good = []
    for number, line in lines:
        try:
            url = batch_line(line)
        except InputError as exc:
            sys.stderr.write(f"Skipped {path}:{number}: {exc}\n")
            continue
        if url:
            good.append(url)
    return good


def _not_archived(urls: list[str], job: Job) -> list[str]:
    """The lines still to do: video ids the catalog holds as archived or unavailable start no
    run (the lines already in the file when watching starts, say)."""
    from ytarchive.catalog import Catalog
    from ytarchive.refs import VideoRef, parse_many

    refs = parse_many(urls) if urls else []
    ids = [r.video_id for r in refs if isinstance(r, VideoRef) and r.video_id]
    settled = Catalog(Path(job.settings.output_dir)).settled_ids(ids) if ids else set()
    keep = [
        u for u, r in zip(urls, refs, strict=True) if getattr(r, "video_id", None) not in settled
    ]
    if len(keep) < len(urls):
        _note(job.fmt, f"Skipped {len(urls) - len(keep)} line(s) already archived")
    return keep


def _note(fmt: OutputFormat, text: str) -> None:
    if fmt is not OutputFormat.json:
        sys.stderr.write(text + "\n")
