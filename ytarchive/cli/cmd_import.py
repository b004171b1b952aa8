"""Command: `import`: an existing yt-dlp archive recorded in the catalog, nothing downloaded."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ytarchive.cli.app import FormatOption, OutputFormat, app, check_archive_dir, emit_json

_MODES = ("move", "copy", "link", "in_place")


@app.command("import")
def import_command(
    paths: list[Path] | None = typer.Argument(
        None, help="Folders of yt-dlp downloads (media beside .info.json, any layout) or files."
    ),
    archive_file: list[Path] | None = typer.Option(
        None,
        "--archive-file",
        help="A yt-dlp --download-archive file (`youtube <id>` lines); may be repeated.",
    ),
    move: bool = typer.Option(False, "--move", help="Move the media files into the archive."),
    copy: bool = typer.Option(
        False, "--copy", help="Copy the media files into the archive (the default)."
    ),
    link: bool = typer.Option(False, "--link", help="Hard-link the media files into the archive."),
    in_place: bool = typer.Option(
        False, "--in-place", help="Leave the files where they are; record their absolute paths."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Archive root (default: YTARCHIVE_OUTPUT_DIR or ./downloads)."
    ),
    fmt: OutputFormat = FormatOption,
) -> None:
    """Record videos you already downloaded with yt-dlp in the catalog, without downloading.

    Each .info.json found under PATH gives a video's metadata; the media file beside it is
    recorded as archived (size, width and height from ffprobe) and put under videos/ (copy by
    default). Ids in an --archive-file are recorded as archived with no file, so syncs skip them.
    A broken info.json is named on stderr and skipped (exit code 1); a second run adds nothing.

    Example: ytarchive import ~/yt-dlp-downloads --archive-file ~/yt-dlp-archive.txt --link
    """
    from ytarchive.cli.cmd_storage import archive_root
    from ytarchive.errors import InputError
    from ytarchive.importer import check_inputs, import_archive

    chosen = [m for m, on in zip(_MODES, (move, copy, link, in_place), strict=True) if on]
    if len(chosen) > 1:
        names = " and ".join(f"--{m.replace('_', '-')}" for m in chosen)
        raise InputError(f"{names} cannot be used together: choose one")
    mode = chosen[0].replace("_", "-") if chosen else "copy"
    sources = [p.expanduser() for p in paths or []]
    archives = [p.expanduser() for p in archive_file or []]
    check_inputs(sources, archives)
    root = archive_root(output)
    check_archive_dir(root, write=True, given="-o" if output is not None else None)
    report = import_archive(root, sources, archives, mode, warn=_warn)  # type: ignore[arg-type]
    if fmt is OutputFormat.json:
        emit_json(
            {
                "imported": report.imported,
                "from_archive": report.from_archive,
                "already": report.already,
                "skipped": [{"input": i, "reason": r} for i, r in report.skipped],
            }
        )
    else:
        sys.stdout.write(
            f"Imported {len(report.imported)} video(s) with files and "
            f"{len(report.from_archive)} from archive files; {len(report.already)} already "
            f"in the catalog; {len(report.skipped)} skipped.\n"
        )
    if report.skipped:
        raise typer.Exit(1)


def _warn(line: str) -> None:
    sys.stderr.write(line + "\n")
