"""The Typer app, its command groups, and the shared output options every command uses."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

import typer

from ytarchive import __version__

__all__ = [
    "app",
    "storage_app",
    "playlist_app",
    "recovery_app",
    "server_app",
    "OutputFormat",
    "FormatOption",
    "render",
    "emit_json",
    "settings_from_cli",
]

CONTEXT = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="ytarchive",
    help=(
        "Archive YouTube videos, playlists and channels (and any site yt-dlp supports) "
        "with their metadata into a local, queryable archive.\n\n"
        "Example: ytarchive download https://youtu.be/dQw4w9WgXcQ --quality 720p"
    ),
    context_settings=CONTEXT,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
storage_app = typer.Typer(
    help="Browse, search and check the archive's catalog.\n\nExample: ytarchive storage list",
    context_settings=CONTEXT,
    no_args_is_help=True,
)
playlist_app = typer.Typer(
    help="Playlists and channels: look them up, archive them, follow a run.\n\n"
    "Example: ytarchive playlist download https://www.youtube.com/@handle",
    context_settings=CONTEXT,
    no_args_is_help=True,
)
recovery_app = typer.Typer(
    help="Recovery plans for failed downloads, read from Prefect's flow-run history.\n\n"
    "Example: ytarchive recovery list",
    context_settings=CONTEXT,
    no_args_is_help=True,
)
server_app = typer.Typer(
    help="The long-lived local Prefect server that runs and records archive flows.\n\n"
    "Example: ytarchive server status",
    context_settings=CONTEXT,
    no_args_is_help=True,
)
app.add_typer(storage_app, name="storage")
app.add_typer(playlist_app, name="playlist")
app.add_typer(recovery_app, name="recovery")
app.add_typer(server_app, name="server")


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


FormatOption = typer.Option(
    OutputFormat.table, "--format", "-f", help="Output format: table, json or csv."
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ytarchive {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Archive YouTube videos, playlists and channels into a local, queryable archive."""


def settings_from_cli(**overrides: Any):
    """Build Settings once, at the edge: the CLI's overrides over env and ytarchive.toml."""
    from pydantic import ValidationError

    from ytarchive.config import Settings
    from ytarchive.errors import InputError

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "settings"
        raise InputError(f"{where}: {err.get('msg')}") from None


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def emit_json(data: Any) -> None:
    """Write data as JSON to stdout (the only thing on stdout with --format json)."""
    sys.stdout.write(json.dumps(_jsonable(data), indent=2, default=str) + "\n")


def render(
    rows: Sequence[dict[str, Any]],
    fmt: OutputFormat,
    columns: Iterable[str] | None = None,
    title: str | None = None,
) -> None:
    """Print rows as a rich table, JSON (a list of objects) or CSV."""
    rows = [_jsonable(r) for r in rows]
    cols = list(columns) if columns is not None else (list(rows[0].keys()) if rows else [])
    if fmt is OutputFormat.json:
        emit_json([{c: r.get(c) for c in cols} for r in rows] if columns is not None else rows)
        return
    if fmt is OutputFormat.csv:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({c: _cell(r.get(c)) for c in cols})
        sys.stdout.write(buf.getvalue())
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for c in cols:
        table.add_column(escape(c), overflow="fold")
    for r in rows:
        # Cells are data, not markup: "[dQw4w9WgXcQ]" in a file name must print as it is.
        table.add_row(*[escape(_cell(r.get(c))) for c in cols])
    Console().print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)
