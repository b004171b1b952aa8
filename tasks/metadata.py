"""Prefect tasks: list a playlist or channel, fetch video metadata 50 ids a task, record both."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from ytarchive.config import Settings
from ytarchive.errors import YTArchiveError
from ytarchive.models import PlaylistInfo, PlaylistItem, VideoMetadata
from ytarchive.refs import VideoRef

__all__ = [
    "BATCH_SIZE",
    "PlaylistListing",
    "MetadataBatch",
    "list_playlist_task",
    "metadata_batch_task",
]

BATCH_SIZE = 50  # videos.list takes up to 50 ids for 1 quota unit

# Retries: tasks.policies.with_retries(task, settings) at flow start. A Data API call is retried
# by our client alone (its error says retried_by), so these retry only yt-dlp's keyless calls.


@dataclass
class PlaylistListing:
    """A playlist's info and items, and the quota units the listing spent."""

    info: PlaylistInfo
    items: list[PlaylistItem]
    units: int = 0


@dataclass
class MetadataBatch:
    """One batch's metadata records (in input order; None where that item failed), each failed
    item's error by its index, and the quota units the batch spent."""

    records: list[VideoMetadata | None] = field(default_factory=list)
    units: int = 0
    errors: dict[int, YTArchiveError] = field(default_factory=dict)


@task(
    name="list-playlist", task_run_name="list-playlist", cache_policy=NO_CACHE, persist_result=False
)
def list_playlist_task(url: str, output_dir: str) -> PlaylistListing:
    """List a playlist's (or a channel's uploads') items and record them in the catalog."""
    from ytarchive.catalog import Catalog
    from ytarchive.metadata import MetadataService, known_playlist_title
    from ytarchive.refs import parse_playlist_ref

    settings = Settings(output_dir=Path(output_dir))
    service = MetadataService(settings)
    ref = parse_playlist_ref(url)
    info, items = service.playlist_items(ref, known_playlist_title(settings.output_dir, ref))
    Catalog(settings.output_dir).record_playlist(info, items)
    return PlaylistListing(info=info, items=list(items), units=int(service.units_spent))


@task(
    name="metadata-batch",
    task_run_name="metadata-batch-{n}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def metadata_batch_task(n: int, refs: list[VideoRef], output_dir: str) -> MetadataBatch:
    """Metadata for up to 50 videos (one videos.list call), recorded in the catalog.

    One item's failure is its own (in `errors`); when every item failed, the task fails (and
    its retries, if the error is transient, try the batch again)."""
    from ytarchive.catalog import Catalog
    from ytarchive.metadata import MetadataService

    settings = Settings(output_dir=Path(output_dir))
    service = MetadataService(settings)
    found = service.videos_each(refs)
    errors = {i: r for i, r in enumerate(found) if isinstance(r, YTArchiveError)}
    if errors and len(errors) == len(found):
        raise errors[0]
    records = [None if isinstance(r, YTArchiveError) else r for r in found]
    if len(errors) < len(records):
        Catalog(settings.output_dir).record_metadata([r for r in records if r is not None])
    return MetadataBatch(records=records, units=int(service.units_spent), errors=errors)
