"""Prefect tasks: list a playlist or channel, fetch video metadata 50 ids a task, record both."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.policies import is_transient, redact
from ytarchive.config import Settings
from ytarchive.errors import Transient, YTArchiveError
from ytarchive.models import PlaylistInfo, PlaylistItem, VideoMetadata
from ytarchive.refs import PlaylistRef, VideoRef

__all__ = [
    "BATCH_SIZE",
    "PlaylistListing",
    "MetadataBatch",
    "list_playlist_task",
    "metadata_batch_task",
]

BATCH_SIZE = 50  # videos.list takes up to 50 ids for 1 quota unit


@dataclass
class PlaylistListing:
    """A playlist's info and items, and the quota units the listing spent."""

    info: PlaylistInfo
    items: list[PlaylistItem]
    units: int = 0


@dataclass
class MetadataBatch:
    """One batch's metadata records (in input order) and the quota units it spent."""

    records: list[VideoMetadata] = field(default_factory=list)
    units: int = 0


@task(
    name="list-playlist",
    task_run_name="list-playlist",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=[2.0, 4.0],
    retry_condition_fn=is_transient,
    persist_result=False,
)
def list_playlist_task(url: str, output_dir: str) -> PlaylistListing:
    """List a playlist's (or a channel's uploads') items and record them in the catalog."""
    from ytarchive.catalog import Catalog
    from ytarchive.metadata import MetadataService
    from ytarchive.refs import parse_playlist_ref

    settings = Settings(output_dir=Path(output_dir))
    service = MetadataService(settings)
    ref = parse_playlist_ref(url)
    with _redacted(settings):
        if service.uses_api and isinstance(ref, PlaylistRef) and ref.playlist_id:
            info, items = _items_only(service, ref)
        else:
            info, items = service.playlist(ref)
    Catalog(settings.output_dir).record_playlist(info, items)
    return PlaylistListing(info=info, items=list(items), units=int(service.units_spent))


def _items_only(service: Any, ref: PlaylistRef) -> tuple[PlaylistInfo, list[PlaylistItem]]:
    """The items, 1 unit a page, without playlists.list (1 more unit just for the title).

    The title is whatever the catalog already knows from `playlist info`; archiving does not
    need it, and a fully archived playlist then costs exactly one unit per 50 items.
    """
    assert ref.playlist_id
    items = list(service.api.playlist_items(ref.playlist_id))
    info = PlaylistInfo(
        playlist_id=ref.playlist_id,
        item_count=len(items),
        url=ref.url,
        source="youtube_api",
    )
    return info, items


@task(
    name="metadata-batch",
    task_run_name="metadata-batch-{n}",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=[2.0, 4.0],
    retry_condition_fn=is_transient,
    persist_result=False,
)
def metadata_batch_task(n: int, refs: list[VideoRef], output_dir: str) -> MetadataBatch:
    """Metadata for up to 50 videos (one videos.list call), recorded in the catalog."""
    from ytarchive.catalog import Catalog
    from ytarchive.metadata import MetadataService

    settings = Settings(output_dir=Path(output_dir))
    service = MetadataService(settings)
    with _redacted(settings):
        records = list(service.videos(refs))
    if records:
        Catalog(settings.output_dir).record_metadata(records)
    return MetadataBatch(records=records, units=int(service.units_spent))


class _redacted:
    """Re-raise our errors with the API key scrubbed from the message (it reaches Prefect logs)."""

    def __init__(self, settings: Settings) -> None:
        key = settings.youtube_api_key
        self.secret = key.get_secret_value() if key is not None else None

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if not isinstance(exc, YTArchiveError):
            return False
        message = str(exc)
        clean = redact(message, self.secret)
        if clean == message:
            return False
        if isinstance(exc, Transient):
            raise Transient(clean, retry_after=exc.retry_after) from None
        raise type(exc)(clean) from None
