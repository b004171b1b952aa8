"""What an archive run is asked to archive: its items, keyed as the catalog keys them."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ytarchive.errors import AuthError, QuotaExceeded, Transient, YTArchiveError
from ytarchive.models import PlaylistItem, VideoMetadata
from ytarchive.refs import VideoRef

__all__ = ["Batches", "Item", "METADATA_AHEAD", "video_items", "playlist_items", "batch_outcome"]


@dataclass
class Item:
    """One video to archive: its key, where to fetch it, and what we already know."""

    video_id: str
    ref: VideoRef
    title: str | None = None
    record: VideoMetadata | None = None
    unavailable_reason: str | None = None
    #: why it cannot even be tried (a URL whose metadata could not be read): failed on its own
    error: BaseException | None = None


Fetch = Callable[[list[VideoRef]], Sequence[VideoMetadata | BaseException]]


def video_items(refs: list[VideoRef], fetch: Fetch) -> list[Item]:
    """YouTube ids as they are; other URLs keyed by their metadata (``<extractor>:<id>``), or by
    the URL itself when it could not be read (that item then fails alone)."""
    urls = [r for r in refs if r.video_id is None]
    records = {r.url: m for r, m in zip(urls, fetch(urls), strict=True)}
    seen: dict[str, Item] = {}
    for ref in refs:
        found = records.get(ref.url) if ref.video_id is None else None
        if isinstance(found, BaseException):
            seen.setdefault(ref.url, Item(video_id=ref.url, ref=ref, error=found))
            continue
        key = ref.video_id or (found.video_id if found else ref.url)
        item = Item(video_id=key, ref=ref, record=found)
        if found is not None:
            item.title = found.title
            item.unavailable_reason = _unavailable(found)
        seen.setdefault(key, item)
    return list(seen.values())


def _unavailable(record: VideoMetadata) -> str | None:
    if record.availability == "available":
        return None
    return record.unavailable_reason or f"{record.availability} video"


def playlist_items(items: list[PlaylistItem]) -> list[Item]:
    out: dict[str, Item] = {}
    for item in sorted(items, key=lambda i: i.position):
        if item.video_id in out:
            continue
        is_youtube = item.url is None
        ref = VideoRef(video_id=item.video_id if is_youtube else None, url=item.url or "")
        reason = None if item.availability == "available" else f"{item.availability} video"
        out[item.video_id] = Item(item.video_id, ref, item.title, unavailable_reason=reason)
    return list(out.values())


def batch_outcome(state: Any, size: int) -> Any:
    """A metadata task's MetadataBatch; when the task failed, one in which each of its `size`
    items carries that error (so each fails, or is tried, on its own). The Data API down (its
    retries spent by our client), a spent quota, a rejected key or a bug is no item's fault:
    raised, and the run fails as a whole."""
    from tasks.metadata import MetadataBatch
    from ytarchive.youtube_api import RETRIED_BY

    data = state.result(raise_on_failure=False)
    if isinstance(data, MetadataBatch):
        return data
    api_down = isinstance(data, Transient) and data.retried_by == RETRIED_BY
    if api_down or isinstance(data, (QuotaExceeded, AuthError)):
        raise data
    if not isinstance(data, YTArchiveError):
        if isinstance(data, BaseException):
            raise data
        raise YTArchiveError(state.message or "the metadata task failed")
    return MetadataBatch(records=[None] * size, errors=dict.fromkeys(range(size), data))


METADATA_AHEAD = 8  # metadata tasks in flight at once: well ahead of the downloads they feed


class Batches:
    """A run's metadata tasks, one per 50 items, submitted as they are taken and at most
    METADATA_AHEAD ahead (a 5,000-video channel is not 100 tasks and their records at once)."""

    def __init__(self, chunks: list[list[Item]], submit: Callable[[list[Item]], Any]) -> None:
        self.chunks = chunks
        self._submit = submit
        self._queued: deque[tuple[list[Item], Any]] = deque()
        self._next = 0
        self._fill()

    def _fill(self) -> None:
        while self._next < len(self.chunks) and len(self._queued) < METADATA_AHEAD:
            chunk = self.chunks[self._next]
            self._next += 1
            self._queued.append((chunk, self._submit(chunk)))

    def __iter__(self) -> Iterator[tuple[list[Item], Any]]:
        """(items, the future of their metadata task), in order; the next kept in flight."""
        while self._queued:
            taken = self._queued.popleft()
            self._fill()
            yield taken
