"""Commands: `server start|stop|status` (the long-lived local Prefect server) and `health`."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import typer

from ytarchive.cli.app import FormatOption, OutputFormat, app, emit_json, render, server_app

# No prefect import here: these commands only talk HTTP to the server (ytarchive.prefect_server).

_STATUS_COLUMNS = [
    "managed",
    "running",
    "healthy",
    "backend",
    "database",
    "api_url",
    "ui_url",
    "pid",
    "log_path",
    "log_errors",
]
_HEALTH_COLUMNS = ["check", "status", "detail"]
_LOW_DISK_BYTES = 1 << 30
_PROBE_VIDEO_ID = "dQw4w9WgXcQ"


def _show_status(status: Any, fmt: OutputFormat, note: str | None = None) -> None:
    data = status.as_dict()
    if note:
        data["note"] = note
    if fmt is OutputFormat.json:
        emit_json(data)
        return
    if fmt is OutputFormat.csv:
        render([data], fmt, columns=_STATUS_COLUMNS + (["note"] if note else []))
        return
    fields = _STATUS_COLUMNS + ["last_log_error", "prefect_home", "started_at"]
    data["backend"] = data.get("backend") or ("unknown" if status.healthy else None)
    fields += ["note"] if note else []
    rows = [{"field": f, "value": data.get(f)} for f in fields]
    render(rows, fmt, columns=["field", "value"], title="Prefect server")


@server_app.command("start")
def server_start(
    port: int = typer.Option(
        None, "--port", help="Port to listen on (default: 4200 if free, else any free port)."
    ),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds to wait for /api/health."),
    database: str = typer.Option(
        None,
        "--database",
        metavar="URL",
        help="PostgreSQL for the server's history: postgresql+asyncpg://user:password@host/db "
        "(default: $PREFECT_API_DATABASE_CONNECTION_URL, else SQLite in PREFECT_HOME).",
    ),
    host: str = typer.Option(
        None,
        "--host",
        help="Address to listen on: 0.0.0.0 lets workers on other hosts in "
        "(default: 127.0.0.1, or what the last start used).",
    ),
    fmt: OutputFormat = FormatOption,
) -> None:
    """Start the local Prefect server for this PREFECT_HOME, or reuse the running one.

    It runs detached, so it outlives this command; its log and pid are under
    PREFECT_HOME/ytarchive-server. The first start on a new database migrates it (15 to 60
    seconds). On PostgreSQL, the URL's password is passed to the server in its environment and
    shown nowhere; later starts (and commands that start the server) need the URL again, from
    --database or PREFECT_API_DATABASE_CONNECTION_URL.

    Example: ytarchive server start --database postgresql+asyncpg://prefect:pw@db:5432/prefect
    """
    from ytarchive.prefect_server import server_status, start_server
    from ytarchive.server_database import parse_database_url

    chosen = parse_database_url(database) if database is not None else None
    before = server_status()
    status = start_server(port=port, timeout=timeout, database=chosen, bind=host)
    note = "already running" if before.managed and before.healthy else "started"
    if os.environ.get("PREFECT_API_URL") and not before.managed:
        note += "; PREFECT_API_URL is set, so flows still use that API"
    _show_status(status, fmt, note)


@server_app.command("stop")
def server_stop(fmt: OutputFormat = FormatOption) -> None:
    """Stop the local Prefect server this PREFECT_HOME started (never a PREFECT_API_URL one).

    Example: ytarchive server stop
    """
    from ytarchive.prefect_server import server_status, stop_server

    stopped = stop_server()
    _show_status(server_status(), fmt, "stopped" if stopped else "was not running")


@server_app.command("status")
def server_status_command(fmt: OutputFormat = FormatOption) -> None:
    """Show the Prefect server flows run against: ours (managed) or PREFECT_API_URL's.

    For our own server, `log_errors` counts the ERROR lines its log holds since it started
    (the scheduler and the other services log there) and `last_log_error` shows the latest.
    Exit code 1 when it is not running and healthy.

    Example: ytarchive server status --format json
    """
    from ytarchive.prefect_server import server_status

    status = server_status()
    _show_status(status, fmt)
    if not status.healthy:
        raise typer.Exit(1)


# ---------------------------------------------------------------------------------------------
# health
# ---------------------------------------------------------------------------------------------


def _check(name: str, status: str, detail: str) -> dict[str, str]:
    return {"check": name, "status": status, "detail": detail}


def _check_prefect(status: Any) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        prefect_version = f"prefect {version('prefect')}"
    except PackageNotFoundError:
        return _check("prefect", "fail", "prefect is not installed")
    if status.healthy:
        where = "local server" if status.managed else "PREFECT_API_URL"
        pid = f", pid {status.pid}" if status.pid else ""
        return _check("prefect", "ok", f"{prefect_version}; {where} {status.api_url}{pid}")
    if status.managed and not status.running:
        return _check(
            "prefect",
            "warn",
            f"{prefect_version}; local server not running (commands that run flows start it; "
            "or: ytarchive server start)",
        )
    if status.managed:
        return _check(
            "prefect",
            "fail",
            f"local server pid {status.pid} does not answer; see {status.log_path}",
        )
    return _check("prefect", "fail", f"PREFECT_API_URL {status.api_url} does not answer /health")


def _check_ffmpeg() -> dict[str, str]:
    from ytarchive.downloader import ffmpeg_location

    path = ffmpeg_location()
    if not path or not Path(path).exists():
        return _check("ffmpeg", "fail", "not found on PATH nor in imageio-ffmpeg")
    try:
        out = subprocess.run(
            [path, "-version"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return _check("ffmpeg", "fail", f"{path} does not run: {exc}")
    first = out.splitlines()[0] if out else ""
    label = " ".join(first.split()[:3]) if first.startswith("ffmpeg version") else "ffmpeg"
    return _check("ffmpeg", "ok", f"{label} at {path}")


def _check_ytdlp(today: Any = None) -> dict[str, str]:
    from ytarchive.downloader import ytdlp_version
    from ytarchive.jsruntime import STALE_AFTER_DAYS, UPGRADE_YTDLP, ytdlp_release_age

    try:
        version = ytdlp_version()
    except Exception as exc:
        return _check("yt-dlp", "fail", f"cannot import yt-dlp: {exc}")
    age = ytdlp_release_age(today)
    if age is None:
        return _check("yt-dlp", "ok", f"yt-dlp {version}")
    detail = f"yt-dlp {version}, released {age.released} ({age.days} days ago)"
    if age.stale:
        return _check(
            "yt-dlp",
            "warn",
            f"{detail}: over {STALE_AFTER_DAYS} days old, and YouTube breaks old releases "
            f"within weeks; upgrade: {UPGRADE_YTDLP}",
        )
    return _check("yt-dlp", "ok", detail)


def _check_js_runtime() -> dict[str, str]:
    from ytarchive.jsruntime import find_js_runtime

    runtime = find_js_runtime()
    if runtime is None:
        return _check(
            "js runtime",
            "fail",
            "no JavaScript runtime for YouTube's challenges (deno >= 2.3, node >= 22 or "
            "bun >= 1.2.11); without one YouTube offers only storyboards. Fix: uv sync "
            "(the deno wheel is a dependency) or put deno on PATH",
        )
    return _check("js runtime", "ok", f"{runtime} at {runtime.path}")


def _check_database(status: Any) -> dict[str, str]:
    if not status.healthy:
        return _check("database", "skipped", "no Prefect server answers")
    if not status.backend:
        return _check("database", "ok", "unknown: the server's settings do not name it")
    return _check("database", "ok", status.database)


def _check_server_log(status: Any) -> dict[str, str]:
    if not status.managed:
        return _check("server log", "skipped", "PREFECT_API_URL's server: its log is not ours")
    if not status.log_errors:
        return _check("server log", "ok", f"no ERROR line since it started: {status.log_path}")
    return _check(
        "server log",
        "warn",
        f"{status.log_errors} ERROR line(s) since the server started; latest: "
        f"{status.last_log_error} (see {status.log_path})",
    )


def _check_scheduler(status: Any) -> dict[str, str]:
    from ytarchive.server_checks import scheduler_report

    if not (status.healthy and status.api_url):
        return _check("scheduler", "skipped", "no Prefect server answers")
    try:
        report = scheduler_report(status.api_url)
    except (OSError, ValueError) as exc:
        return _check("scheduler", "fail", f"cannot read deployments: {_one_line(exc)}")
    if not report.scheduled:
        return _check("scheduler", "ok", "no deployment has an active schedule")
    if report.without_runs:
        names = ", ".join(report.without_runs[:10])
        return _check(
            "scheduler",
            "warn",
            f"no Scheduled run ahead for {len(report.without_runs)} of "
            f"{len(report.scheduled)} scheduled deployments ({names}): the server's scheduler "
            "is not creating runs; see the server log",
        )
    return _check(
        "scheduler", "ok", f"{len(report.scheduled)} scheduled deployments, each with runs ahead"
    )


def _existing_ancestor(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_output_dir(output_dir: Path) -> dict[str, str]:
    target = output_dir.absolute()
    probe_dir = target if target.is_dir() else _existing_ancestor(target)
    if target.exists() and not target.is_dir():
        return _check("output dir", "fail", f"{target} exists and is not a directory")
    try:
        fd, probe = tempfile.mkstemp(prefix=".ytarchive-health-", dir=probe_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return _check("output dir", "fail", f"cannot write in {probe_dir}: {exc.strerror or exc}")
    if probe_dir != target:
        return _check("output dir", "ok", f"{target} (created on first download; parent writable)")
    return _check("output dir", "ok", f"{target} writable")


def _check_catalog(settings: Any) -> dict[str, str]:
    if importlib.util.find_spec("ytarchive.catalog") is None:
        return _check("catalog", "skipped", "ytarchive.catalog is not available in this build")
    try:
        from ytarchive.catalog import Catalog

        stats = Catalog(settings.output_dir).stats()
    except Exception as exc:
        return _check("catalog", "fail", f"cannot read the catalog: {_one_line(exc)}")
    return _check("catalog", "ok", _summarise(stats))


def _summarise(stats: Any) -> str:
    if hasattr(stats, "model_dump"):
        stats = stats.model_dump(mode="json")
    if isinstance(stats, dict):
        scalars = [f"{k}={v}" for k, v in stats.items() if isinstance(v, (int, float, str))]
        return ", ".join(scalars[:6]) or "readable"
    return str(stats)[:200] or "readable"


def _check_api_key(settings: Any) -> dict[str, str]:
    if not settings.has_api_key:
        return _check("api key", "skipped", "no YOUTUBE_API_KEY: metadata falls back to yt-dlp")
    if importlib.util.find_spec("ytarchive.youtube_api") is None:
        return _check("api key", "skipped", "ytarchive.youtube_api is not available in this build")
    from ytarchive.errors import YTArchiveError

    try:
        _probe_api_key(settings)
    except YTArchiveError as exc:
        return _check("api key", "fail", f"{type(exc).__name__}: {_one_line(exc)}")
    except Exception as exc:
        return _check("api key", "fail", f"{type(exc).__name__}: {_one_line(exc)}")
    return _check("api key", "ok", "accepted by the YouTube Data API (1 quota unit)")


def _api_key_set(settings: Any) -> dict[str, str]:
    """Whether a key is set (never its value), without spending a call on it."""
    if not settings.has_api_key:
        return _check("api key", "skipped", "no YOUTUBE_API_KEY: metadata falls back to yt-dlp")
    return _check("api key", "ok", "YOUTUBE_API_KEY is set (--check-key tries it: 1 quota unit)")


def _probe_api_key(settings: Any) -> None:
    """One cheap call with the key: videos.list for one id (1 quota unit), no retries."""
    from ytarchive.youtube_api import YouTubeAPI

    once = settings.model_copy(update={"youtube_api_retries": 0})
    YouTubeAPI(once).videos([_PROBE_VIDEO_ID])


def _check_disk(output_dir: Path) -> dict[str, str]:
    where = _existing_ancestor(output_dir)
    usage = shutil.disk_usage(where)
    detail = f"{_gb(usage.free)} free of {_gb(usage.total)} at {where}"
    return _check("disk", "warn" if usage.free < _LOW_DISK_BYTES else "ok", detail)


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _scrub(rows: list[dict[str, str]], settings: Any) -> list[dict[str, str]]:
    from ytarchive.redact import redact, register_secrets
    from ytarchive.server_database import database_from_env

    register_secrets(settings)
    with contextlib.suppress(Exception):
        database_from_env()  # registers the database URL's password, so it is masked too
    return [{k: redact(v) for k, v in row.items()} for row in rows]


@app.command("health")
def health(
    check_key: bool = typer.Option(
        False, "--check-key", help="Also spend one API call checking YOUTUBE_API_KEY."
    ),
    fmt: OutputFormat = FormatOption,
) -> None:
    """Check what archiving needs: Prefect API, its database, log and scheduler, ffmpeg, yt-dlp,
    JS runtime, output dir, catalog, API key, disk.

    `server log` warns when the local server logged ERROR lines since it started; `scheduler`
    warns when a deployment with an active schedule has no Scheduled run ahead; `yt-dlp` warns
    when the release is over 60 days old. Never starts a server. Exit code 1 if any check fails
    (warnings do not fail).

    Example: ytarchive health --check-key --format json
    """
    from ytarchive.cli.app import settings_from_cli
    from ytarchive.prefect_server import server_status

    settings = settings_from_cli()
    status = server_status()
    rows = [
        _check_prefect(status),
        _check_database(status),
        _check_server_log(status),
        _check_scheduler(status),
        _check_ffmpeg(),
        _check_ytdlp(),
        _check_js_runtime(),
        _check_output_dir(settings.output_dir),
        _check_catalog(settings),
    ]
    rows.append(_check_api_key(settings) if check_key else _api_key_set(settings))
    rows.append(_check_disk(settings.output_dir))
    rows = _scrub(rows, settings)
    ok = not any(r["status"] == "fail" for r in rows)
    if fmt is OutputFormat.json:
        emit_json({"ok": ok, "checks": rows})
    else:
        render(rows, fmt, columns=_HEALTH_COLUMNS)
    if not ok:
        raise typer.Exit(1)
