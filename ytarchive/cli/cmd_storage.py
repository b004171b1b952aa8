"""Commands: `storage list|stats|search|compact|verify` and `sql`, read straight from the catalog.

None of them imports Prefect or yt-dlp (`storage verify --fix` loads Prefect to record its plan
once it found damage; `storage compact` to be elected through the server); DuckDB is imported
by the catalog on first use.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import typer

from ytarchive.cli.app import (
    Column,
    FormatOption,
    OutputFormat,
    app,
    check_archive_dir,
    emit_json,
    render,
    settings_from_cli,
    storage_app,
)

OutputOption = typer.Option(
    None, "--output", "-o", help="Archive root (default: YTARCHIVE_OUTPUT_DIR or ./downloads)."
)
# What the tables show (JSON and CSV give every key, exactly): the id is never cut, titles and
# paths are cut first, and the least important columns go first in a narrow terminal.
_LIST_TABLE = [
    Column("video_id", kind="id", priority=1),
    Column("title", priority=2, min_width=16),
    Column("channel_title", "channel", priority=5, min_width=10),
    Column("status", priority=1),
    Column("bytes", "size", kind="size", priority=3),
    Column("duration_seconds", "duration", kind="duration", priority=4),
    Column("published_at", "published", kind="date", priority=6),
    Column("reason", priority=4, min_width=12),
    Column("height", kind="number", priority=8),
    Column("width", kind="number", priority=9),
    Column("archived_at", "archived", kind="datetime", priority=7),
    Column("file_path", "file", kind="path", priority=7, min_width=16),
]
_SEARCH_COLUMNS = [
    "video_id",
    "title",
    "channel_title",
    "status",
    "file_path",
    "duration_seconds",
    "published_at",
]
_SEARCH_TABLE = [c for c in _LIST_TABLE if c.key in _SEARCH_COLUMNS]
_CHANNEL_TABLE = [
    Column("channel_title", "channel", priority=1, min_width=12, blank="(no channel)"),
    *(Column(k, kind="number", priority=2) for k in ("videos", "archived", "unavailable")),
    *(Column(k, kind="number", priority=2) for k in ("failed", "pending")),
    Column("total_bytes", "size", kind="size", priority=1),
    Column("total_duration_seconds", "duration", kind="duration", priority=3),
]
_SUMMARY_KINDS: dict[str, Any] = {"total_bytes": "size", "total_duration_seconds": "duration"}
_TABLE_CHANNELS = 20
_VERIFY_COLUMNS = ["video_id", "problem", "file_path", "expected_bytes", "actual_bytes", "detail"]


def _catalog(output: Path | None, write: bool = False) -> Any:
    """The archive's catalog, once its root is known to be a readable directory (one with no
    catalog yet is an empty archive); an InputError naming the path otherwise."""
    from ytarchive.catalog import Catalog

    root = archive_root(output)
    check_archive_dir(root, write=write, given=_given(output), existing=True)
    return Catalog(root)


def _given(output: Path | None) -> str | None:
    if output is not None:
        return "--output"
    has_env = any(k.upper() == "YTARCHIVE_OUTPUT_DIR" for k in os.environ)
    return "YTARCHIVE_OUTPUT_DIR" if has_env else None


def archive_root(output: Path | None = None) -> Path:
    """The archive root as Settings would give it (option, then env, then ytarchive.toml),
    without importing pydantic-settings: these commands must answer in well under a second."""
    if output is not None:
        return Path(output)
    for name, value in os.environ.items():
        if name.upper() == "YTARCHIVE_OUTPUT_DIR":
            return Path(value)
    toml = Path("ytarchive.toml")
    if toml.is_file():
        import tomllib

        try:
            configured = tomllib.loads(toml.read_text()).get("output_dir", "downloads")
        except (OSError, ValueError):
            configured = None
        if not isinstance(configured, str):  # broken: let Settings say what is wrong with it
            return Path(settings_from_cli().output_dir)
        return Path(configured)
    return Path("downloads")


def _note(text: str) -> None:
    sys.stderr.write(text.rstrip() + "\n")


@storage_app.command("list")
def storage_list(
    status: str = typer.Option(
        None,
        "--status",
        "-s",
        help="Only videos whose newest outcome is archived, unavailable or failed.",
    ),
    limit: int = typer.Option(100, "--limit", "-n", help="Rows to show (0: all)."),
    offset: int = typer.Option(0, "--offset", help="Rows to skip first."),
    output: Path = OutputOption,
    fmt: OutputFormat = FormatOption,
) -> None:
    """One row per video in the catalog (newest metadata, newest outcome), newest published first.

    Example: ytarchive storage list --status failed --format json
    """
    if limit < 0 or offset < 0:
        from ytarchive.errors import InputError

        raise InputError("--limit and --offset must not be negative")
    catalog = _catalog(output)
    rows = catalog.list_videos(status=status, limit=limit or None, offset=offset)
    if fmt is OutputFormat.json:
        emit_json(rows)
    elif fmt is OutputFormat.csv:
        from ytarchive.catalog import LIST_COLUMNS

        render(rows, fmt, columns=LIST_COLUMNS)
    else:
        render(rows, fmt, columns=_LIST_TABLE, title="Videos")
    if fmt is OutputFormat.table and limit and len(rows) == limit:
        _note(
            f"Showing rows {offset + 1}-{offset + len(rows)}; --offset {offset + limit} for more."
        )
    elif fmt is OutputFormat.table and not rows and not offset:
        _note("The catalog has no videos yet.")


@storage_app.command("stats")
def storage_stats(
    output: Path = OutputOption,
    fmt: OutputFormat = FormatOption,
) -> None:
    """Counts per status, total bytes and duration archived, and the same per channel.

    Example: ytarchive storage stats --format json
    """
    from ytarchive.catalog import STATS_KEYS

    stats = _catalog(output).stats()
    channel_columns = ["channel_title", *STATS_KEYS]
    if fmt is OutputFormat.json:
        emit_json(stats)
        return
    channels = stats["channels"]
    if fmt is OutputFormat.csv:
        total = {"channel_title": "(all)", **{k: stats[k] for k in STATS_KEYS}}
        render([total, *channels], fmt, columns=channel_columns)
        return
    summary = [{"metric": k, "value": _summary_value(k, stats[k])} for k in STATS_KEYS]
    render(summary, fmt, columns=["metric", "value"], title="Archive")
    if channels:
        typer.echo()
        render(channels[:_TABLE_CHANNELS], fmt, columns=_CHANNEL_TABLE, title="Per channel")
        if len(channels) > _TABLE_CHANNELS:
            _note(f"{len(channels) - _TABLE_CHANNELS} more channels: --format json or csv.")


@storage_app.command("search")
def storage_search(
    query: list[str] = typer.Argument(..., help="Words that must all appear (any case)."),
    limit: int = typer.Option(50, "--limit", "-n", help="Most results to show."),
    output: Path = OutputOption,
    fmt: OutputFormat = FormatOption,
) -> None:
    """Videos whose title, description, tags or channel hold every word; title matches first.

    Example: ytarchive storage search "piano sonata" --limit 10
    """
    rows = _catalog(output).search(" ".join(query), limit=limit)
    if fmt is OutputFormat.json:
        emit_json(rows)
    else:
        table = fmt is OutputFormat.table
        render(rows, fmt, columns=_SEARCH_TABLE if table else _SEARCH_COLUMNS, title="Matches")
    if fmt is OutputFormat.table and not rows:
        _note("No video matches every word.")


@storage_app.command("compact")
def storage_compact(
    output: Path = OutputOption,
    if_needed: bool = typer.Option(
        False,
        "--if-needed",
        help="Only what is due (small files merged; everything once many rows wait), and "
        "skip at once if another compaction runs. What archive runs start in the background.",
    ),
    fmt: OutputFormat = FormatOption,
) -> None:
    """Merge each catalog table into one file and rebuild the search index.

    Safe while downloads run. One compaction runs at a time: on this machine by a file lock,
    and in a fleet sharing the archive (when other hosts can reach the Prefect server) elected
    through the server; this one waits for its turn.
    Archive runs and the hourly compact-catalog deployment start `--if-needed` ones themselves.

    Example: ytarchive storage compact
    """
    root = _catalog(output, write=True).root
    result = _compact(root, if_needed) or {"compaction": "skipped"}
    if fmt is OutputFormat.json:
        emit_json(result)
        return
    kind = result.pop("compaction")
    rows = [{"table": t, "files_merged": n} for t, n in result.items()]
    if rows:
        render(rows, fmt, columns=["table", "files_merged"], title="Compacted")
    if fmt is OutputFormat.table:
        _note(_COMPACTED[kind])


def _compact(root: Path, if_needed: bool) -> dict | None:
    """Alone on this machine (no host but this one can reach its server): this host's lock is
    the whole election, and neither Prefect nor a server is needed. Else the fleet's."""
    from ytarchive.hosts import alone_on_server

    if alone_on_server(None):
        from ytarchive.catalog import Catalog

        return Catalog(root).compaction(if_needed)
    from flows.runtime import configure_prefect, drain_workers

    configure_prefect()
    from flows.compaction import compact_catalog

    try:
        return compact_catalog(root, if_needed=if_needed)
    finally:
        drain_workers(timeout=5)


_COMPACTED = {
    "full": "Every table is one file; the search index is rebuilt.",
    "merge": "Small files merged; a full compaction is not due yet.",
    None: "Nothing was due.",
    "skipped": "Skipped: another compaction of this catalog is running (elected elsewhere).",
}


@storage_app.command("verify")
def storage_verify(
    fix: bool = typer.Option(
        False, "--fix", help="Record a recovery plan that fetches the damaged videos again."
    ),
    fmt: OutputFormat = FormatOption,
) -> None:
    """Check every archived video's file: it exists, with the recorded size (and checksum).

    Exit code 1 when any problem is found. With --fix, the damaged videos get a `failed` outcome
    and a recovery plan; `ytarchive recovery retry PLAN` then fetches them again.

    Example: ytarchive storage verify --fix
    """
    from ytarchive.verify import verify_archive

    settings = settings_from_cli()
    root = Path(settings.output_dir)
    check_archive_dir(root, write=fix, given=_given(None), existing=True)
    problems = verify_archive(root)
    plan_id = None
    if problems and fix:  # only now Prefect: the plan is a flow run in its history
        from ytarchive import recovery
        from ytarchive.cli.cmd_recovery import prefect_history

        plan_id = recovery.create_verify_plan(root, problems, history=prefect_history())
    rows = [p.as_dict() for p in problems]
    if fmt is OutputFormat.json:
        emit_json({"problems": rows, "plan_id": plan_id})
    elif rows:
        render(rows, fmt, columns=_VERIFY_COLUMNS, title="Archive problems")
    if fmt is OutputFormat.table and not rows:
        _note("Every archived file is in place with its recorded size.")
    if plan_id:
        _note(f"Recorded recovery plan {plan_id}; run it with: ytarchive recovery retry {plan_id}")
    raise typer.Exit(1 if problems else 0)


@app.command("sql")
def sql(
    statement: str = typer.Argument(..., help="One read-only SELECT statement."),
    output: Path = OutputOption,
    fmt: OutputFormat = FormatOption,
) -> None:
    """Run a read-only SQL query over the catalog's views (DuckDB dialect).

    Views: videos, downloads, playlists, playlist_items (newest record per id), video_snapshots,
    download_history, playlist_snapshots (every record), archive (one row per video: newest
    metadata with newest outcome). Anything that would change something is refused (exit 2).

    Example: ytarchive sql "SELECT channel_title, count(*) FROM videos GROUP BY 1 ORDER BY 2 DESC"
    """
    columns, rows = _catalog(output).sql(statement)
    names = _unique(columns)
    found = [dict(zip(names, row, strict=True)) for row in rows]
    render(found, fmt, columns=names)


def _summary_value(key: str, value: Any) -> str:
    from ytarchive.cli.tables import cell

    return cell(value, Column(key, kind=_SUMMARY_KINDS.get(key, "number")))


def _unique(columns: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in columns:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out
