"""Commands: metadata (videos' records) and playlist info, from the Data API or yt-dlp."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ytarchive.cli.app import (
    Column,
    FormatOption,
    OutputFormat,
    app,
    emit_json,
    playlist_app,
    render,
    settings_from_cli,
)

if TYPE_CHECKING:
    from ytarchive.metadata import MetadataService
    from ytarchive.models import PlaylistItem
    from ytarchive.refs import VideoRef

METADATA_COLUMNS = [
    Column("video_id", kind="id", priority=1),
    Column("title", priority=2, min_width=16),
    Column("channel", priority=4, min_width=10),
    Column("published", kind="date", priority=5),
    Column("duration", kind="duration", priority=3),
    Column("views", kind="number", priority=6),
    Column("availability", priority=3),
    Column("source", priority=7),
]
# The table's columns; CSV gives the same keys with raw seconds under duration_seconds.
ITEM_TABLE = [
    Column("position", "#", kind="number", priority=1),
    Column("video_id", kind="id", priority=1),
    Column("title", priority=2, min_width=16),
    Column("duration_seconds", "duration", kind="duration", priority=3),
    Column("availability", priority=3),
]
ITEM_COLUMNS = [c.key for c in ITEM_TABLE]


@app.command("metadata")
def metadata(
    urls: list[str] | None = typer.Argument(None, help="Video URLs or 11-character ids."),
    batch: Path | None = typer.Option(
        None, "--batch", "-b", help="A file of URLs, one a line (blank lines and # comments)."
    ),
    fmt: OutputFormat = FormatOption,
) -> None:
    """Show videos' metadata: from the YouTube Data API with YOUTUBE_API_KEY, else from yt-dlp.

    Every input (and every batch line) is checked before any call. With --format json, stdout is
    a list of records, one per input, in input order. Quota units spent go to stderr.

    Example: ytarchive metadata dQw4w9WgXcQ https://youtu.be/jNQXAC9IVRw --format json
    """
    from ytarchive.metadata import MetadataService

    refs = _video_refs(list(urls or []), batch)
    service = MetadataService(settings_from_cli())
    records = service.videos(refs)
    if fmt is OutputFormat.json:
        emit_json([r.model_dump(mode="json") for r in records])
        return
    if fmt is OutputFormat.csv:
        render([r.model_dump(mode="json") for r in records], fmt)
        return
    render([_metadata_row(r) for r in records], fmt, columns=METADATA_COLUMNS, title="Metadata")
    _quota_note(service)


@playlist_app.command("info")
def playlist_info(
    url: str = typer.Argument(..., help="A playlist or channel URL (or another site's playlist)."),
    fmt: OutputFormat = FormatOption,
    as_json: bool = typer.Option(False, "--json", help="Shortcut for --format json."),
) -> None:
    """Show a playlist (or a channel's uploads): title, channel, item count, total duration, items.

    Private and deleted entries are listed as such. With a key, durations cost one
    videos.list unit per 50 items on top of the listing's one unit per 50.

    Example: ytarchive playlist info "https://www.youtube.com/playlist?list=PLxxxxxxxx" --json
    """
    from ytarchive.cli.tables import human_duration
    from ytarchive.metadata import MetadataService, total_duration
    from ytarchive.refs import parse_playlist_ref

    if as_json:
        fmt = OutputFormat.json
    ref = parse_playlist_ref(url)
    service = MetadataService(settings_from_cli())
    info, items = service.playlist(ref)
    _fill_durations(service, items)
    seconds, known = total_duration([i.duration_seconds for i in items])
    if fmt is OutputFormat.json:
        emit_json(
            {
                **info.model_dump(mode="json"),
                "items_listed": len(items),
                "total_duration_seconds": seconds,
                "durations_known": known,
                "quota_units": service.units_spent,
                "items": [i.model_dump(mode="json") for i in items],
            }
        )
        return
    rows = [_item_row(i) for i in items]
    if fmt is OutputFormat.csv:
        render(rows, fmt, columns=ITEM_COLUMNS)
        return
    typer.echo(f"Title:    {info.title or '?'}")
    typer.echo(
        f"Channel:  {info.channel_title or '?'}"
        + (f" ({info.channel_id})" if info.channel_id else "")
    )
    typer.echo(f"Id:       {info.playlist_id}  (via {info.source})")
    typer.echo(f"Items:    {len(items)}{_availability_summary(items)}")
    typer.echo(
        f"Duration: {human_duration(seconds) if known else 'unknown'}"
        + ("" if known in (0, len(items)) else f" ({known} of {len(items)} items known)")
    )
    render(rows, fmt, columns=ITEM_TABLE)
    _quota_note(service)


def _video_refs(texts: list[str], batch: Path | None) -> list[VideoRef]:
    """Every input parsed (batch lines with their line numbers) before any work starts."""
    from ytarchive.errors import InputError
    from ytarchive.refs import VideoRef, parse_ref, read_batch_file

    sources: list[tuple[str, str | None]] = [(text, None) for text in texts]
    if batch is not None:
        lines = read_batch_file(batch)
        sources += [(line, f"{batch}:{_line_number(batch, line)}") for line in lines]
    if not sources:
        raise InputError("give at least one video URL or id, or --batch FILE")
    refs: list[VideoRef] = []
    for text, where in sources:
        ref = parse_ref(text)
        if not isinstance(ref, VideoRef):
            prefix = f"{where}: " if where else ""
            raise InputError(
                f"{prefix}{text!r} names a playlist or channel: use `ytarchive playlist info`"
            )
        refs.append(ref)
    return refs


def _line_number(path: Path, line: str) -> int:
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if text.strip() == line:
            return number
    return 0


def _fill_durations(service: MetadataService, items: list[PlaylistItem]) -> None:
    """With a key, durations come from videos.list (50 ids a unit); yt-dlp listings carry them."""
    if not service.uses_api:
        return
    from ytarchive.refs import VideoRef, is_video_id

    wanted = [
        i
        for i in items
        if i.availability == "available" and i.url is None and is_video_id(i.video_id)
    ]
    if not wanted:
        return
    refs = [
        VideoRef(video_id=i.video_id, url=f"https://www.youtube.com/watch?v={i.video_id}")
        for i in wanted
    ]
    for item, record in zip(wanted, service.videos(refs), strict=True):
        item.duration_seconds = record.duration_seconds
        if record.availability != "available":
            item.availability = record.availability


def _metadata_row(record: Any) -> dict[str, Any]:
    return {
        "video_id": record.video_id,
        "title": record.title,
        "channel": record.channel_title,
        "published": record.published_at,
        "duration": record.duration_seconds,
        "views": record.view_count,
        "availability": record.availability,
        "source": record.source,
    }


def _item_row(item: PlaylistItem) -> dict[str, Any]:
    return {
        "position": item.position,
        "video_id": item.video_id,
        "title": item.title,
        "duration_seconds": item.duration_seconds,
        "availability": item.availability,
    }


def _availability_summary(items: list[PlaylistItem]) -> str:
    counts: dict[str, int] = {}
    for item in items:
        counts[item.availability] = counts.get(item.availability, 0) + 1
    if set(counts) <= {"available"}:
        return ""
    return " (" + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) + ")"


def _quota_note(service: MetadataService) -> None:
    """Units spent, on stderr (table mode only: with --format json stdout stays pure JSON)."""
    units = service.units_spent
    note = f"quota: {units} unit{'' if units == 1 else 's'}"
    if not service.uses_api:
        note += " (no YOUTUBE_API_KEY: metadata via yt-dlp)"
    typer.echo(note, err=True)
