"""Commands: subscribe, subscriptions, unsubscribe (Prefect deployments) and serve (run them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ytarchive.cli import file_options
from ytarchive.cli.app import FormatOption, OutputFormat, app, emit_json, render
from ytarchive.cli.cookies import CookiesOption, check_cookies_option

DEFAULT_CRON = "0 3 * * *"  # keep in step with deployments.subscriptions.DEFAULT_CRON
COLUMNS = ["name", "url", "quality", "cron", "timezone", "active", "next_run"]


def _client() -> Any:
    """A sync Prefect client for PREFECT_API_URL, else for our local server (started if needed)."""
    from flows.runtime import configure_prefect

    configure_prefect(None)
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


def _check_quality(quality: str) -> str:
    from ytarchive.config import QUALITIES
    from ytarchive.errors import InputError

    if quality not in QUALITIES:
        raise InputError(f"--quality: {quality!r} is not one of {', '.join(QUALITIES)}")
    return quality


def _check_files(files: dict[str, str | None]) -> None:
    """The subscription's file options, checked as a run would check them (InputError)."""
    from ytarchive.downloader.options import (
        parse_subtitles,
        validate_convert_subs,
        validate_output_template,
    )

    if files["subtitles"] is not None:
        parse_subtitles(files["subtitles"])
    validate_convert_subs(files["convert_subs"])
    validate_output_template(files["output_template"])


@app.command("subscribe")
def subscribe(
    url: str = typer.Argument(..., help="A playlist or channel URL (or another site's playlist)."),
    cron: str = typer.Option(DEFAULT_CRON, "--cron", help="When to sync, as a cron expression."),
    quality: str = typer.Option("best", "--quality", "-q", help="Quality to archive at."),
    timezone: str = typer.Option("UTC", "--timezone", help="Time zone of the cron expression."),
    live_from_start: bool = typer.Option(
        False, "--live-from-start", help="Record streams live at sync time from their start."
    ),
    cookies: Path = CookiesOption,
    subtitles: str = file_options.SubtitlesOption,
    convert_subs: str = file_options.ConvertSubsOption,
    output_template: str = file_options.TemplateOption,
    fmt: OutputFormat = FormatOption,
) -> None:
    """Subscribe to a playlist or channel: archive its new videos on a cron schedule.

    The subscription is a Prefect deployment (`sync-subscriptions/sub-<id>`) in the
    ytarchive-pool work pool: it shows in the Prefect UI and runs under `ytarchive serve` or any
    worker of the pool. Subscribing again to the same URL updates its schedule and quality.
    `--cookies FILE` keeps the file's path (never its contents) in the deployment's job
    variables as YTARCHIVE_COOKIES_FILE, so the worker's runs read the file.
    --subtitles, --convert-subs and --output-template are kept in the deployment (as YTARCHIVE_*
    env of its runs); without them, the worker's own settings apply.

    Example: ytarchive subscribe "https://www.youtube.com/@handle" --cron "0 * * * *" --quality 720p
    """
    from ytarchive.refs import parse_playlist_ref

    ref = parse_playlist_ref(url)
    _check_quality(quality)
    cookies_file = check_cookies_option(cookies)
    files = file_options.file_settings(subtitles, convert_subs, output_template)
    _check_files(files)
    from deployments.subscriptions import cron_schedule
    from deployments.subscriptions import subscribe as create

    schedule = cron_schedule(cron, timezone)  # all input checked before anything starts
    with _client() as client:
        sub, created = create(
            client, ref.url, schedule, quality, live_from_start, files, cookies_file=cookies_file
        )
    if fmt is OutputFormat.json:
        emit_json({**sub.as_dict(), "created": created})
        return
    verb = "Subscribed to" if created else "Updated subscription to"
    typer.echo(f"{verb} {sub.url} as {sub.name} (cron {sub.cron!r} {sub.timezone}, {quality}).")
    typer.echo("Runs under `ytarchive serve` (or any worker of the ytarchive-pool work pool).")


@app.command("subscriptions")
def subscriptions(fmt: OutputFormat = FormatOption) -> None:
    """List subscriptions with their schedule and next run, as the Prefect API holds them.

    Example: ytarchive subscriptions --format json
    """
    from ytarchive.prefect_api import history_api
    from ytarchive.subscribed import list_subscriptions

    subs = list_subscriptions(history_api())  # over REST: no prefect import
    if fmt is OutputFormat.table and not subs:
        typer.echo("No subscriptions. Add one with `ytarchive subscribe URL`.")
        return
    render([s.as_dict() for s in subs], fmt, columns=COLUMNS, title="Subscriptions")


@app.command("unsubscribe")
def unsubscribe(
    url: str = typer.Argument(..., help="The URL you subscribed to."),
    fmt: OutputFormat = FormatOption,
) -> None:
    """Stop syncing a playlist or channel. What was archived, and the run history, stay.

    Example: ytarchive unsubscribe "https://www.youtube.com/@handle"
    """
    from ytarchive.refs import parse_playlist_ref

    ref = parse_playlist_ref(url)
    from deployments.subscriptions import unsubscribe as delete

    with _client() as client:
        sub = delete(client, ref.url)
    if fmt is OutputFormat.json:
        emit_json(sub.as_dict())
        return
    typer.echo(f"Unsubscribed from {sub.url} ({sub.name}).")


@app.command("serve")
def serve(
    deploy: bool = typer.Option(
        True, "--deploy/--no-deploy", help="Apply prefect.yaml's deployments first."
    ),
    slots: int = typer.Option(
        0,
        "--slots",
        min=0,
        help="Create the download limit with N slots if missing "
        "(default YTARCHIVE_MAX_CONCURRENT).",
    ),
    limit: int = typer.Option(
        0, "--limit", min=0, help="Flow runs at once on this host (default: no limit)."
    ),
) -> None:
    """Run every deployment on its schedule: subscriptions, refresh-metadata, retry-failed.

    One long-running process (Ctrl-C stops it): it uses PREFECT_API_URL when set, else the local
    server (started if needed, history kept across restarts), applies prefect.yaml, creates the
    ytarchive-pool work pool and the ytarchive-downloads concurrency limit if missing, then
    becomes a process worker of the pool. The Prefect UI is at the server's address
    (http://127.0.0.1:4200 by default; `ytarchive server status` shows it).

    Example: ytarchive serve
    """
    from ytarchive.cli.app import settings_from_cli

    settings = settings_from_cli()
    from deployments.serve import serve as run

    run(deploy=deploy, slots=slots or settings.max_concurrent, limit=limit or None)
