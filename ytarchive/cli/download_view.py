"""What a person sees while an archive run works: the run's name, then live rich progress bars."""

from __future__ import annotations

import sys
import threading
from typing import Any

from ytarchive.cli.tables import Column, human_size, truncate
from ytarchive.progress import ProgressSink

__all__ = ["make_view", "QuietView", "RichView"]


def make_view(json_mode: bool, tty: bool) -> QuietView:
    """Progress bars and a spinner saying what we wait for in a terminal; with --format json or
    a pipe, only the result (and, outside json, the run's name on stderr when it starts)."""
    if json_mode:
        return QuietView(announce=False)
    if tty:
        return RichView()
    return QuietView(announce=True)


class QuietView(ProgressSink):
    """Says which run started (stderr), nothing else."""

    def __init__(self, announce: bool = True) -> None:
        self.announce = announce
        self.runs: list[tuple[str, str]] = []

    def __enter__(self) -> QuietView:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def run_started(self, flow_run_id: str, name: str) -> None:
        self.runs.append((flow_run_id, name))
        if self.announce:
            sys.stderr.write(f"Run {name} ({flow_run_id})\n")
            sys.stderr.flush()


class RichView(QuietView):
    """An overall bar (videos done of total) and one bar per active download (bytes, speed, ETA)."""

    def __init__(self) -> None:
        super().__init__(announce=False)
        from rich.console import Console

        self.console = Console(stderr=True)
        self._lock = threading.Lock()
        self._bars: dict[str, Any] = {}
        self._live: Any = None

    def __enter__(self) -> RichView:
        from rich.console import Group
        from rich.live import Live
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.overall = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", style="bold", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        self.downloads = Progress(
            TextColumn("  {task.description}", markup=False),
            BarColumn(bar_width=30),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        self._overall = self.overall.add_task("starting", total=None)
        self._live = Live(
            Group(self.overall, self.downloads), console=self.console, refresh_per_second=8
        )
        self._live.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.stop()

    def run_started(self, flow_run_id: str, name: str) -> None:
        super().run_started(flow_run_id, name)
        from rich.markup import escape

        self.console.print(f"Run [bold]{escape(name)}[/] ({flow_run_id})", highlight=False)
        if len(self.runs) == 1:
            self.overall.update(self._overall, description=name)

    def waiting(self, text: str) -> None:
        name = self.runs[0][1] if self.runs else ""
        self.overall.update(self._overall, description=f"{name}: {text}" if name else text)

    def total(self, count: int) -> None:
        name = self.runs[0][1] if self.runs else "starting"
        self.overall.update(self._overall, total=count, description=name)

    def video_started(self, video_id: str, title: str | None) -> None:
        if self.runs:  # no longer waiting: downloading
            self.overall.update(self._overall, description=self.runs[0][1])
        label = f"{video_id} {truncate(title or '', 40)}".strip()
        with self._lock:
            if video_id not in self._bars:
                self._bars[video_id] = self.downloads.add_task(label, total=None)

    def video_progress(self, progress: Any) -> None:
        bar = self._bars.get(progress.video_id)
        if bar is not None:
            self.downloads.update(
                bar, completed=progress.downloaded_bytes, total=progress.total_bytes
            )

    def video_retrying(self, video_id: str, reason: str) -> None:
        from rich.markup import escape

        self.console.print(
            f"[yellow]retrying[/] {escape(video_id)}: {escape(reason)}", highlight=False
        )
        with self._lock:
            bar = self._bars.pop(video_id, None)
        if bar is not None:
            self.downloads.remove_task(bar)

    def video_finished(self, result: Any) -> None:
        with self._lock:
            bar = self._bars.pop(result.video_id, None)
        if bar is not None:
            self.downloads.remove_task(bar)
        self.overall.advance(self._overall)
        self.console.print(_line(result), highlight=False)


def _line(result: Any) -> str:
    from rich.markup import escape

    vid = escape(str(result.video_id))
    if result.status == "archived":
        size = human_size(result.bytes or 0)
        dims = f"{result.width}x{result.height}, " if result.height else ""
        return f"[green]archived[/] {vid} ({dims}{size}) {escape(str(result.file_path))}"
    colour = "yellow" if result.status == "unavailable" else "red"
    return f"[{colour}]{result.status}[/] {vid}: {escape(str(result.reason))}"


# ---------------------------------------------------------------------------------------------
# playlist status
# ---------------------------------------------------------------------------------------------

STATUS_COLUMNS = ["video_id", "state", "outcome", "attempts", "title", "reason"]
STATUS_TABLE = [
    Column("video_id", kind="id", priority=1),
    Column("state", priority=1),
    Column("outcome", priority=2),
    Column("attempts", kind="number", priority=4),
    Column("title", priority=3, min_width=16),
    Column("reason", priority=3, min_width=16),
]


def show_status(status: dict[str, Any], fmt: Any) -> None:
    """A run's status as JSON, CSV rows, or a header and a table."""
    from ytarchive.cli.app import OutputFormat, emit_json, render

    if fmt is OutputFormat.json:
        emit_json(status)
        return
    if fmt is OutputFormat.csv:
        render(status["videos"], fmt, columns=STATUS_COLUMNS)
        return
    from rich.console import Console

    console = Console()
    for line in _status_head(status):
        console.print(line, soft_wrap=True)
    render(status["videos"], fmt, columns=STATUS_TABLE, console=console)


def watch_status(read: Any, status: dict[str, Any], every: float = 1.0) -> None:
    """Redraw the status in place until the run reaches a final state (or Ctrl-C)."""
    import time

    from rich.live import Live

    with Live(_status_renderable(status), refresh_per_second=4) as live:
        try:
            while not status["final"]:
                time.sleep(every)
                status = read()
                live.update(_status_renderable(status))
        except KeyboardInterrupt:
            return


def _status_renderable(status: dict[str, Any], width: int | None = None) -> Any:
    from rich.console import Console, Group

    from ytarchive.cli.tables import rich_table

    width = width or Console().width
    return Group(*_status_head(status), rich_table(status["videos"], STATUS_TABLE, width, None))


def _status_head(status: dict[str, Any]) -> list[Any]:
    from rich.text import Text

    head = Text()
    head.append(f"Run {status['flow_run_name']} ", style="bold")
    head.append(f"({status['flow_run_id']}): {status['state']}")
    if status.get("progress") is not None:
        head.append(f", {status['progress']:.0f}% ({status.get('progress_note') or ''})")
    counts = ", ".join(f"{n} {s}" for s, n in sorted(status["counts"].items())) or "no downloads"
    outcomes = ", ".join(f"{n} {s}" for s, n in sorted(status["outcomes"].items()))
    lines = [head, Text(f"Task runs: {counts}" + (f"; outcomes: {outcomes}" if outcomes else ""))]
    if status.get("picked"):
        lines.insert(0, Text(f"Showing {status['picked']}", style="dim"))
    return lines
