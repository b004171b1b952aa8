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
from ytarchive.cli.tables import Column

__all__ = [
    "app",
    "storage_app",
    "playlist_app",
    "recovery_app",
    "server_app",
    "OutputFormat",
    "FormatOption",
    "render",
    "Column",
    "emit_json",
    "settings_from_cli",
    "check_archive_dir",
    "quiet_prefect_console",
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


# The options that set a Settings field under another name than --field-name.
_SETTING_OPTIONS = {"output_dir": "--output"}


def settings_from_cli(**overrides: Any):
    """Build Settings once, at the edge: the CLI's overrides over env and ytarchive.toml.

    A bad value is an InputError naming the option or variable the user set."""
    from ytarchive.config import load_settings

    return load_settings(overrides, options=_SETTING_OPTIONS)


def check_archive_dir(
    root: Any, write: bool = True, given: str | None = None, existing: bool = False
) -> None:
    """Before anything starts: the archive root is a directory (or can be made one) that we
    can write to (only read, with write=False). With existing=True (commands that read an
    archive) a missing root is an error too: a mistyped path is not an empty archive.

    An InputError names the path and where it came from (`given`: -o, or the variable)."""
    import os
    import tempfile
    from pathlib import Path

    from ytarchive.errors import InputError

    path = Path(root).expanduser()
    where = f" ({given})" if given else ""
    if path.exists() and not path.is_dir():
        raise InputError(f"the archive root {path}{where} is not a directory")
    if existing and not path.exists():
        raise InputError(f"no archive at {path}{where}: nothing has been archived there yet")
    if path.is_dir() and (path / "catalog").exists() and not (path / "catalog").is_dir():
        raise InputError(f"{path}{where} is not an archive: its catalog is not a directory")
    if path.is_dir() and not os.access(path, os.R_OK | os.X_OK):
        raise InputError(f"cannot read the archive root {path}{where}: permission denied")
    if not write:
        return
    parent = next((p for p in (path, *path.parents) if p.exists()), None)
    if parent is None or not parent.is_dir():
        raise InputError(f"cannot create the archive root {path}{where}: {parent} is a file")
    try:  # a probe, not os.access: root on a read-only mount or an immutable dir is refused
        fd, probe = tempfile.mkstemp(prefix=".ytarchive-probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(
            f"cannot write to the archive root {path}{where}: {exc.strerror or exc}"
        ) from None


def quiet_prefect_console() -> None:
    """Prefect's log lines and notices ("Flow run ... Finished", "Still processing items")
    stay in logs/ytarchive.log and the UI, never on our terminal: for a Prefect imported after
    this, by its setting; for one already set up (tests, a second command), on its handlers."""
    import logging
    import os

    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    if "prefect.logging.handlers" not in sys.modules:
        return
    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [logging.getLogger(), *map(logging.getLogger, list(logging.root.manager.loggerDict))]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            if isinstance(handler, PrefectConsoleHandler):
                handler.setLevel(logging.CRITICAL)


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
    rows: Sequence[Any],
    fmt: OutputFormat,
    columns: Iterable[str | Column] | None = None,
    title: str | None = None,
    console: Any = None,
) -> None:
    """Print rows as a table that fits (see tables.py), JSON (a list of objects) or CSV.

    columns are keys or Column specs (kind, priority, min width); JSON and CSV take only their
    keys and print the values exactly as they are.
    """
    specs = list(columns) if columns is not None else None
    keys = [c.key if isinstance(c, Column) else c for c in specs] if specs is not None else None
    if fmt is OutputFormat.table:
        from ytarchive.cli.tables import print_table

        table_rows = [_as_dict(r) for r in rows]
        print_table(table_rows, specs or _keys(table_rows), title=title, console=console)
        return
    data = [_jsonable(r) for r in rows]
    cols = keys if keys is not None else _keys(data)
    if fmt is OutputFormat.json:
        emit_json([{c: r.get(c) for c in cols} for r in data] if keys is not None else data)
        return
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in data:
        writer.writerow({c: _cell(r.get(c)) for c in cols})
    sys.stdout.write(buf.getvalue())


def _keys(rows: Sequence[dict[str, Any]]) -> list[str]:
    return list(rows[0].keys()) if rows else []


def _as_dict(row: Any) -> dict[str, Any]:
    """A row for the table: values kept as they are (dates and numbers formatted there)."""
    return row.model_dump() if hasattr(row, "model_dump") else dict(row)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)
