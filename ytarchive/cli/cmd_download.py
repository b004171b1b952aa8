"""Commands: `download` (videos, batches, watched files), `playlist download`, `playlist status`."""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand

from ytarchive.cli import file_options
from ytarchive.cli.app import FormatOption, OutputFormat, app, emit_json, playlist_app, render
from ytarchive.cli.cookies import CookiesOption, check_cookies_option, cookies_env
from ytarchive.errors import YTArchiveError

# Nothing heavy at import time: inputs are checked before Prefect (or yt-dlp) is loaded.

QualityOption = typer.Option(
    "best",
    "--quality",
    "-q",
    help="best, worst, 2160p, 1440p, 1080p, 720p, 480p, 360p, bestaudio, or a yt-dlp format.",
)
OutputOption = typer.Option(
    None, "--output", "-o", help="Archive root (default: YTARCHIVE_OUTPUT_DIR or ./downloads)."
)
ConcurrencyOption = typer.Option(
    None, "--max-concurrent", "-j", help="Downloads at once (default: YTARCHIVE_MAX_CONCURRENT)."
)
LiveOption = typer.Option(
    False,
    "--live-from-start",
    help="Record a stream that is live now from its start (default: it is skipped until it ends).",
)
RESULT_COLUMNS = ["video_id", "status", "title", "file_path", "height", "reason"]


@dataclass
class Job:
    """What one command was asked to do, checked whole before anything runs."""

    urls: list[str]
    settings: Any
    quality: str
    fmt: OutputFormat
    playlist: bool = False
    metadata_only: bool = False
    live_from_start: bool = False
    cookies: Path | None = None


# ---------------------------------------------------------------------------------------------
# download
# ---------------------------------------------------------------------------------------------


class _DashIdHint(TyperCommand):
    """A video id that begins with '-' reads as an option: say how to pass it, in one line."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        from ytarchive.errors import InputError
        from ytarchive.refs import is_video_id

        takes_value = {o for p in self.params if not getattr(p, "is_flag", True) for o in p.opts}
        known = {o for p in self.params for o in (*p.opts, *p.secondary_opts)}
        known |= set(ctx.help_option_names)
        previous = ""
        for arg in args:
            if arg == "--":
                break
            if arg.startswith("-") and is_video_id(arg) and arg not in known:
                if previous not in takes_value:
                    raise InputError(
                        f"{arg!r} looks like a video id that begins with '-': put `--` before "
                        f"it: ytarchive {ctx.info_name} -- {arg}"
                    )
            previous = arg
        return super().parse_args(ctx, args)


@app.command("download", cls=_DashIdHint)
def download(
    urls: list[str] = typer.Argument(None, help="Video ids or URLs, playlist or channel URLs."),
    batch: Path = typer.Option(
        None, "--batch", "-b", help="A file of URLs, one a line (# comments and blanks allowed)."
    ),
    watch: Path = typer.Option(
        None, "--watch", help="Keep running: archive each line appended to this file."
    ),
    quality: str = QualityOption,
    output: Path = OutputOption,
    max_concurrent: int = ConcurrencyOption,
    cookies: Path = CookiesOption,
    live_from_start: bool = LiveOption,
    subtitles: str = file_options.SubtitlesOption,
    convert_subs: str = file_options.ConvertSubsOption,
    output_template: str = file_options.TemplateOption,
    extract_audio: str = file_options.ExtractAudioOption,
    fmt: OutputFormat = FormatOption,
) -> int:
    """Archive videos (and playlists or channels) with their metadata.

    Every input is checked first; a bad URL or batch line exits 2 and nothing is written. A
    single playlist or channel URL runs the playlist flow. Exit 0 when every video is archived
    or recorded unavailable, 1 when some video still failed after its retries, 3 when the site
    could not be reached for any of them (no network). Put `--` before
    ids that begin with '-' (ytarchive download -- -abcdefghij).

    Example: ytarchive download dQw4w9WgXcQ https://youtu.be/9bZkp7q19f0 --quality 720p
    """
    from ytarchive.errors import InputError
    from ytarchive.refs import parse_many, read_batch_file

    texts = list(urls or [])
    if batch is not None:
        texts += read_batch_file(batch)
    if watch is not None:
        from ytarchive.cli.download_watch import check_watch_file

        check_watch_file(watch)
    elif not texts:
        raise InputError("nothing to download: give URLs, --batch FILE or --watch FILE")
    refs = parse_many(texts)
    files = file_options.file_settings(subtitles, convert_subs, output_template, extract_audio)
    job = _job(texts, quality, output, max_concurrent, fmt, files, cookies)
    job.live_from_start = live_from_start
    if watch is not None:
        from ytarchive.cli.download_watch import watch_file

        return watch_file(job, watch)
    job.playlist = len(refs) == 1 and not _is_video(refs[0])
    return _run(job)


@playlist_app.command("download")
def playlist_download(
    url: str = typer.Argument(..., help="A playlist URL or id-bearing watch URL, or a channel."),
    quality: str = QualityOption,
    output: Path = OutputOption,
    max_concurrent: int = ConcurrencyOption,
    metadata_only: bool = typer.Option(
        False, "--metadata-only", help="Record metadata (catalog and metadata/*.json) only."
    ),
    cookies: Path = CookiesOption,
    live_from_start: bool = LiveOption,
    subtitles: str = file_options.SubtitlesOption,
    convert_subs: str = file_options.ConvertSubsOption,
    output_template: str = file_options.TemplateOption,
    extract_audio: str = file_options.ExtractAudioOption,
    fmt: OutputFormat = FormatOption,
) -> int:
    """Archive a playlist or a channel's uploads; what the archive already holds is skipped.

    Example: ytarchive playlist download "https://www.youtube.com/playlist?list=PL123" -q 720p
    """
    from ytarchive.refs import parse_playlist_ref

    ref = parse_playlist_ref(url)
    files = file_options.file_settings(subtitles, convert_subs, output_template, extract_audio)
    job = _job([ref.url if ref.url else url], quality, output, max_concurrent, fmt, files, cookies)
    job.urls = [url]
    job.playlist = True
    job.metadata_only, job.live_from_start = metadata_only, live_from_start
    return _run(job)


def _job(
    texts: list[str],
    quality: str,
    output: Path | None,
    max_concurrent: int | None,
    fmt: OutputFormat,
    files: dict[str, str | None] | None = None,
    cookies: Path | None = None,
) -> Job:
    from ytarchive.cli.app import check_archive_dir, settings_from_cli
    from ytarchive.downloader import check_site_settings, validate_quality

    cookies = check_cookies_option(cookies)
    settings = settings_from_cli(output_dir=output, max_concurrent=max_concurrent, **files or {})
    given = "--output" if output is not None else None
    check_archive_dir(settings.output_dir, given=given or _env_name("YTARCHIVE_OUTPUT_DIR"))
    if cookies is not None:
        settings = settings.model_copy(update={"cookies_file": cookies})
    quality = validate_quality(quality)
    check_site_settings(settings)
    file_options.check_file_settings(settings, files or {})
    return Job(urls=texts, settings=settings, quality=quality, fmt=fmt, cookies=cookies)


def _env_name(name: str) -> str | None:
    return name if any(k.upper() == name for k in os.environ) else None


def _is_video(ref: Any) -> bool:
    from ytarchive.refs import VideoRef

    return isinstance(ref, VideoRef)


def _run(job: Job) -> int:
    """Run one flow against the long-lived server (in the resident runner when one is up, else
    in this process); report; the exit code."""
    from ytarchive.cli import runner

    code = runner.hand_over()
    if code is not None:
        return code
    view = _view(job.fmt)
    with view:  # in a terminal, a spinner says what we wait for from the first second
        view.waiting("connecting to the Prefect server (starting it if needed)")
        flows = _load_flows()
        summary = _finish(_call_flow(flows, job, view), view)
    if runner.local_server(os.environ.get("PREFECT_API_URL")):
        runner.start_runner()  # the next run here skips loading Prefect and yt-dlp
    _report(summary, job.fmt, live=_is_live(view))
    if summary.get("stopped"):  # the run's brake: the site refused download after download
        sys.stderr.write(f"Error: {summary['stopped']}\n")
    else:
        _raise_if_offline(summary)
    return 1 if summary.get("failed") else 0


# The texts of a connection that never happened (yt-dlp's, and our Data API client's).
_OFFLINE = re.compile(
    r"connection refused|errno 111|name or service not known|temporary failure in name "
    r"resolution|nodename nor servname|network is unreachable|no route to host|errno -[23]\b|"
    r"cannot reach the YouTube API",
    re.IGNORECASE,
)


class NoNetwork(YTArchiveError):
    """The site could not be reached for any item: the network (or the site) is down."""

    exit_code = 3


def _raise_if_offline(summary: dict[str, Any]) -> None:
    """Exit 3, not 1, when every item this run tried failed without reaching the site."""
    tried = [r for r in _all_rows(summary) if not r.get("skipped")]
    if tried and all(r["status"] == "failed" and _offline(r.get("reason")) for r in tried):
        raise NoNetwork(_offline_line(str(tried[0].get("reason")), len(tried)))


def _offline(text: Any) -> bool:
    return bool(text) and _OFFLINE.search(str(text)) is not None


def _offline_line(reason: str, count: int = 0) -> str:
    what = f"any of the {count} videos" if count > 1 else "the video"
    first = reason.strip().splitlines()[0] if reason.strip() else "no connection"
    return (
        f"cannot reach the site for {what} ({first}); check the network, then run "
        "`ytarchive recovery retry --all`"
    )


def _call_flow(flows: Any, job: Job, view: Any) -> Any:
    from ytarchive.progress import use_sink

    common = {
        "quality": job.quality,
        "output_dir": str(Path(job.settings.output_dir).expanduser().resolve()),
        "max_concurrent": int(job.settings.max_concurrent),
        "live_from_start": job.live_from_start,
        "return_state": True,
    }
    with use_sink(view), cookies_env(job.cookies):
        if job.playlist:
            return flows.archive_playlist_flow(
                url=job.urls[0], metadata_only=job.metadata_only, **common
            )
        return flows.archive_videos_flow(urls=list(job.urls), **common)


def _finish(state: Any, view: Any) -> dict[str, Any]:
    """Complete the run's history in Prefect, then the summary (or our error, re-raised)."""
    from flows.runtime import drain_history

    view.waiting("recording the run in Prefect's history")
    data = state.result(raise_on_failure=False)
    summary = data if isinstance(data, dict) else None
    run_id = state.state_details.flow_run_id
    expected = summary.get("task_runs") if summary else None
    if run_id is not None:
        drain_history(run_id, expected_task_runs=expected, timeout=30)
    for sub in (summary or {}).get("subflows") or []:
        if sub.get("flow_run_id"):
            drain_history(sub["flow_run_id"], expected_task_runs=sub.get("task_runs"), timeout=30)
    if summary is None:
        _raise_run_error(data, state)
    return summary  # type: ignore[return-value]


def _raise_run_error(data: Any, state: Any) -> None:
    if isinstance(data, YTArchiveError) and _offline(str(data)):
        raise NoNetwork(_offline_line(str(data))) from None
    if isinstance(data, YTArchiveError):
        raise data
    message = str(data) if isinstance(data, BaseException) else (state.message or state.name)
    raise YTArchiveError(f"the run ended {state.name}: {message}")


def _report(summary: dict[str, Any], fmt: OutputFormat, live: bool = False) -> None:
    """JSON; CSV rows; or one line per video this run touched (in a terminal, where the live
    view already showed them, only the failures), then a summary line."""
    if fmt is OutputFormat.json:
        emit_json(_json_summary(summary))
        return
    rows = _all_rows(summary)
    if fmt is OutputFormat.csv:
        render(rows, fmt, columns=RESULT_COLUMNS)
        return
    shown = [r for r in rows if not r.get("skipped") and (not live or r["status"] == "failed")]
    for row in shown:
        sys.stdout.write(_result_line(row) + "\n")
    sys.stdout.write(_summary_line(summary) + "\n")


def _result_line(row: dict[str, Any]) -> str:
    if row["status"] == "archived":
        size = f"{(row.get('bytes') or 0) / 1e6:.1f} MB"
        dims = f"{row['width']}x{row['height']}, " if row.get("height") else ""
        detail = f"{row.get('file_path')} ({dims}{size})"
    elif row["status"] == "failed":
        detail = f"{row.get('error_class')}: {row.get('reason')} ({row.get('attempts')} attempts)"
    else:
        detail = str(row.get("reason") or "")
    return f"{row['status']:<12} {row['video_id']}  {detail}"


def _all_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    rows = list(summary.get("results") or [])
    for sub in summary.get("subflows") or []:
        rows += _all_rows(sub)
    return rows


def _json_summary(summary: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "flow_run_id", "flow_run_name", "output_dir", "quality", "playlist", "total", "archived",
        "downloaded", "skipped", "unavailable", "failed", "metadata_saved", "quota_units",
        "seconds",
    )  # fmt: skip
    out = {k: summary.get(k) for k in keys}
    out["counts"] = {k: summary.get(k, 0) for k in ("archived", "unavailable", "failed")}
    out["results"] = _all_rows(summary)
    out["subflows"] = [_json_summary(s) for s in summary.get("subflows") or []]
    return out


def _summary_line(summary: dict[str, Any]) -> str:
    saved = summary.get("metadata_saved")
    parts = [
        f"metadata saved for {saved} video(s), {summary.get('skipped', 0)} already archived"
        if saved is not None
        else f"{summary.get('archived', 0)} archived ({summary.get('downloaded', 0)} new)",
        f"{summary.get('unavailable', 0)} unavailable",
        f"{summary.get('failed', 0)} failed",
        f"{summary.get('quota_units', 0)} quota units",
        f"{summary.get('seconds', 0)} s",
    ]
    return f"Run {summary.get('flow_run_name')} ({summary.get('flow_run_id')}): " + ", ".join(parts)


# ---------------------------------------------------------------------------------------------
# playlist status
# ---------------------------------------------------------------------------------------------


@playlist_app.command("status")
def playlist_status(
    run: str = typer.Argument(
        ..., help="The run's id (or its first 4+ characters) or name, as `download` printed."
    ),
    watch: bool = typer.Option(False, "--watch", "-w", help="Refresh until the run ends."),
    fmt: OutputFormat = FormatOption,
) -> int:
    """Counts by state and per-video progress of an archive run, read from Prefect.

    Of several runs with one name: the one in progress, else the newest that did work (a
    re-run that found everything archived did none), and the header says which.

    Example: ytarchive playlist status playlist-PL123 --watch
    """
    from ytarchive.errors import InputError

    if not run.strip():
        raise InputError("RUN is empty: give a flow run id or name")
    from ytarchive.cli.download_view import show_status, watch_status
    from ytarchive.prefect_api import history_api
    from ytarchive.run_status import read_status

    api = history_api()  # over REST: no prefect import
    status = read_status(run, api)
    if watch and fmt is OutputFormat.table and sys.stdout.isatty():
        watch_status(lambda: read_status(run, api), status)
        return 0
    while watch and not status["final"]:
        time.sleep(1.0)
        status = read_status(run, api)
    show_status(status, fmt)
    return 0


# ---------------------------------------------------------------------------------------------
# Prefect, loaded only once the inputs are known to be good
# ---------------------------------------------------------------------------------------------


def _connect() -> None:
    """Point Prefect at the long-lived server (starting it if needed); quiet its console."""
    from ytarchive.cli.app import quiet_prefect_console

    quiet_prefect_console()
    from flows.runtime import configure_prefect

    configure_prefect()
    quiet_prefect_console()


def _load_flows() -> Any:
    _connect()
    import flows.archive as flows

    return flows


def _is_live(view: Any) -> bool:
    from ytarchive.cli.download_view import RichView

    return isinstance(view, RichView)


def _view(fmt: OutputFormat) -> Any:
    from ytarchive.cli.download_view import make_view

    return make_view(fmt is OutputFormat.json, sys.stdout.isatty())
