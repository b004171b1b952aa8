"""Commands: `recovery list|show|create|retry`: plans from Prefect's flow-run history."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ytarchive.cli.app import (
    FormatOption,
    OutputFormat,
    emit_json,
    recovery_app,
    render,
    settings_from_cli,
)

if TYPE_CHECKING:
    from flows.history import PrefectHistory
    from ytarchive.run_history import RestHistory

# Prefect (and flows/) are imported inside the command bodies that write (create, retry); list
# and show read the history over REST and never import Prefect.

_LIST_COLUMNS = ["plan", "created", "flow", "state", "items", "source"]
_ITEM_COLUMNS = ["video_id", "error_class", "reason", "attempts"]
_RETRY_COLUMNS = ["plan_id", "flow_run_id", "state", "items", "remaining"]


def prefect_history() -> PrefectHistory:
    """Prefect's flow-run history, on PREFECT_API_URL or our local server (started if needed)."""
    from ytarchive.cli.app import quiet_prefect_console

    quiet_prefect_console()
    from flows.runtime import configure_prefect

    configure_prefect()
    quiet_prefect_console()
    from flows.history import PrefectHistory

    return PrefectHistory()


def rest_history() -> RestHistory:
    """The history read over Prefect's REST API; a fresh PREFECT_HOME starts no server for it."""
    from ytarchive.prefect_api import history_api
    from ytarchive.run_history import RestHistory

    return RestHistory(history_api())


def _note(text: str) -> None:
    sys.stderr.write(text.rstrip() + "\n")


def _source_text(source: Any) -> str:
    if isinstance(source, list):
        head = ", ".join(source[:3])
        return head + (f" (+{len(source) - 3} more)" if len(source) > 3 else "")
    return source or ""


def _list_row(plan: Any, full_id: bool = False) -> dict[str, Any]:
    """A table row: the id's first 8 characters name the plan well enough for `show`/`retry`."""
    count = "?" if plan.items is None else str(len(plan.items))
    closed = f" by {plan.closed_by[:8]}" if plan.closed_by else ""
    return {
        "plan": plan.plan_id if full_id else plan.plan_id[:8],
        "created": plan.created.strftime("%Y-%m-%d %H:%M"),
        "flow": plan.flow,
        "state": plan.state,
        "status": plan.status + closed,
        "items": count,
        "source": _source_text(plan.source),
    }


@recovery_app.command("list")
def recovery_list(
    show_all: bool = typer.Option(
        False, "--all", help="Include plans already recovered, superseded or done."
    ),
    fmt: OutputFormat = FormatOption,
) -> None:
    """List the archive's open recovery plans: failed or crashed runs and the items they still hold.

    A plan's items are what its run was asked to archive minus what the catalog now holds as
    archived or unavailable.

    Example: ytarchive recovery list --format json
    """
    from ytarchive import recovery

    settings = settings_from_cli()
    plans = recovery.list_plans(Path(settings.output_dir), show_all, history=rest_history())
    if fmt is OutputFormat.json:
        emit_json([p.as_dict() for p in plans])
        return
    if fmt is OutputFormat.table and not plans:
        _note("No open recovery plans." if not show_all else "No recovery plans.")
        return
    scripted = fmt is OutputFormat.csv  # the whole id, and the status column, for scripts
    columns = list(_LIST_COLUMNS)
    if show_all or scripted:
        columns.insert(4, "status")
    rows = [_list_row(p, full_id=scripted) for p in plans]
    render(rows, fmt, columns=columns, title="Recovery plans")


@recovery_app.command("show")
def recovery_show(
    plan: str = typer.Argument(..., help="Plan id (a flow-run id, a unique prefix, or its name)."),
    fmt: OutputFormat = FormatOption,
) -> None:
    """Show a plan's items with the error class, reason and number of attempts of each.

    The reason says what happened, then what to do (say, the cookies a video needs).

    Example: ytarchive recovery show 3f2a9c1e
    """
    from ytarchive import recovery

    settings = settings_from_cli()
    found = recovery.get_plan(Path(settings.output_dir), plan, history=rest_history())
    if fmt is OutputFormat.json:
        emit_json(found.as_dict())
        return
    rows = [{**i.as_dict(), "reason": i.message} for i in found.items or []]
    if fmt is OutputFormat.csv:
        render(rows, fmt, columns=_ITEM_COLUMNS)
        return
    closed = f" by {found.closed_by}" if found.closed_by else ""
    typer.echo(
        f"Plan {found.plan_id} ({found.name}): {found.flow}, {found.state}, "
        f"{found.status}{closed}; created {found.created:%Y-%m-%d %H:%M:%S}"
    )
    typer.echo(f"Source: {_source_text(found.source)}")
    if found.message:
        typer.echo(f"Message: {found.message}")
    if found.items is None:
        typer.echo("Items: not known (the run stopped before listing them); retry re-runs it.")
    elif not rows:
        typer.echo("Nothing left to do: every item is archived or unavailable.")
    else:
        render(rows, fmt, columns=_ITEM_COLUMNS, title=f"{len(rows)} item(s) to recover")


@recovery_app.command("create")
def recovery_create(
    urls: list[str] = typer.Argument(None, help="Video URLs or ids to fetch again."),
    batch: Path = typer.Option(
        None, "--batch", "-b", help="File with one URL per line (# comments allowed)."
    ),
    quality: str = typer.Option(
        None, "--quality", "-q", help="Quality for the retry (as for download; default best)."
    ),
    fmt: OutputFormat = FormatOption,
) -> None:
    """Record a recovery plan for specific videos (say, files that were lost), to retry later.

    The plan is a `recovery-plan` flow run in Prefect's history, created in state Failed; nothing
    is downloaded until `ytarchive recovery retry PLAN`. Videos the catalog holds as archived get a
    `failed` outcome naming the plan, so the retry fetches them again.

    Example: ytarchive recovery create https://youtu.be/dQw4w9WgXcQ
    """
    from ytarchive import recovery

    targets = _read_targets(urls or [], batch)
    _check_quality(quality)
    settings = settings_from_cli()
    root = Path(settings.output_dir)
    plan_id = recovery.create_refetch_plan(root, targets, quality, history=prefect_history())
    if fmt is OutputFormat.json:
        emit_json({"plan_id": plan_id, "video_ids": [t.key for t in targets]})
        return
    typer.echo(plan_id)
    _note(f"Recorded recovery plan {plan_id} for {len(targets)} video(s).")
    _note(f"Run it with: ytarchive recovery retry {plan_id}")


def _read_targets(urls: list[str], batch: Path | None) -> list[Any]:
    from ytarchive.errors import InputError
    from ytarchive.refs import VideoRef, parse_many, read_batch_file

    texts = list(urls) + (read_batch_file(batch) if batch else [])
    if not texts:
        raise InputError("give at least one video URL or id (or --batch FILE)")
    refs = parse_many(texts)
    for text, ref in zip(texts, refs, strict=True):
        if not isinstance(ref, VideoRef):
            raise InputError(f"not a video: {text!r} (a recovery plan names videos)")
    return list(dict.fromkeys(refs))


def _check_quality(quality: str | None) -> None:
    """The same check as `download --quality`: a quality name or a yt-dlp format string."""
    if quality is not None:
        from ytarchive.downloader import validate_quality

        validate_quality(quality)


@recovery_app.command("retry")
def recovery_retry(
    plan: str = typer.Argument(None, help="Plan id (a flow-run id, a unique prefix, or its name)."),
    retry_all: bool = typer.Option(False, "--all", help="Retry every open plan."),
    fmt: OutputFormat = FormatOption,
) -> None:
    """Run the archive flow again for just a plan's items, linked to the plan (`recovery_of`).

    Exit code 0 when every item is now archived or unavailable (the plan is closed), 1 when some
    still failed (the new run is then the one open plan holding them), 2 for a bad plan id.

    Example: ytarchive recovery retry 3f2a9c1e
    """
    from ytarchive.errors import InputError

    if bool(plan) == retry_all:
        raise InputError("give one PLAN, or --all")
    settings = settings_from_cli()
    outcomes = _retry(settings, plan, retry_all)
    _finish(outcomes)
    rows = [_retry_row(o) for o in outcomes]
    if fmt is OutputFormat.json:
        emit_json([o.as_dict() for o in outcomes])
    elif rows:
        render(rows, fmt, columns=_RETRY_COLUMNS, title="Recovery retries")
    else:
        _note("No open recovery plans.")
    code = max((o.exit_code for o in outcomes), default=0)
    if code:
        left = sum(len(o.remaining) for o in outcomes)
        _note(f"{left} item(s) still failed; see `ytarchive recovery list`.")
    raise typer.Exit(code)


def _retry(settings: Any, plan: str | None, retry_all: bool) -> list[Any]:
    from ytarchive import recovery
    from ytarchive.errors import InputError

    root = Path(settings.output_dir)
    past = prefect_history()
    if retry_all:
        from flows.recovery import retry_open_plans

        return retry_open_plans(settings, past)
    found = recovery.get_plan(root, plan or "", with_tasks=False, history=past)
    if found.status in ("recovered", "superseded"):
        raise InputError(
            f"plan {found.plan_id} was already taken over by run {found.closed_by}; "
            "see `ytarchive recovery list`"
        )
    if found.status == "done":
        _note(f"Plan {found.plan_id}: nothing left to do.")
        return []
    from flows.recovery import retry_plan

    return [retry_plan(found, settings, past)]


def _finish(outcomes: list[Any]) -> None:
    """Complete the history of the runs we started before exiting (task runs and logs)."""
    from flows.runtime import drain_history

    for outcome in outcomes:
        if outcome.flow_run_id:
            drain_history(outcome.flow_run_id, expected_task_runs=outcome.task_runs, timeout=30)


def _retry_row(outcome: Any) -> dict[str, Any]:
    return {
        "plan_id": outcome.plan_id,
        "flow_run_id": outcome.flow_run_id,
        "state": outcome.state.title(),  # as `playlist status` and `recovery list` print it
        "items": len(outcome.items),
        "remaining": ", ".join(outcome.remaining) or "none",
    }
