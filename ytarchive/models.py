"""Pydantic records that cross module boundaries: metadata, playlists, items, outcomes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "MetadataSource",
    "Status",
    "Availability",
    "Chapter",
    "SubtitleTrack",
    "VideoMetadata",
    "PlaylistInfo",
    "PlaylistItem",
    "DownloadResult",
    "utcnow",
]

MetadataSource = Literal["youtube_api", "yt_dlp"]
Status = Literal["archived", "unavailable", "failed", "upcoming", "live"]
Availability = Literal["available", "private", "deleted", "unavailable"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Chapter(BaseModel):
    """One chapter of a video: start and end (seconds) and title, as yt-dlp gives them."""

    start_time: float
    end_time: float | None = None
    title: str | None = None


class SubtitleTrack(BaseModel):
    """One subtitle sidecar of an archived video: language, automatic or not, format, path."""

    lang: str
    automatic: bool = False
    ext: str
    path: str  # relative to the archive root (absolute for an in-place import)


class VideoMetadata(BaseModel):
    """One video's metadata record, as archived in metadata/<video_id>.json and the videos table."""

    video_id: str
    title: str | None = None
    description: str | None = None
    channel_id: str | None = None
    channel_title: str | None = None
    published_at: datetime | None = None
    duration_seconds: int | None = None
    view_count: int | None = None
    like_count: int | None = None
    comment_count: int | None = None
    tags: list[str] = Field(default_factory=list)
    category_id: str | None = None
    thumbnail_url: str | None = None
    source: MetadataSource
    fetched_at: datetime = Field(default_factory=utcnow)
    # Not part of the published JSON record names above, but carried along:
    # the page URL a non-YouTube video was fetched from (None for YouTube ids).
    webpage_url: str | None = None
    availability: Availability = "available"
    unavailable_reason: str | None = None
    chapters: list[Chapter] = Field(default_factory=list)


class PlaylistInfo(BaseModel):
    """A playlist (or a channel's uploads playlist): title, owner and size."""

    playlist_id: str
    title: str | None = None
    channel_id: str | None = None
    channel_title: str | None = None
    item_count: int | None = None
    url: str | None = None
    source: MetadataSource
    fetched_at: datetime = Field(default_factory=utcnow)


class PlaylistItem(BaseModel):
    """One entry of a playlist, in playlist order. Private and deleted entries are kept, marked."""

    playlist_id: str
    position: int
    video_id: str
    title: str | None = None
    availability: Availability = "available"
    url: str | None = None  # for non-YouTube playlists: the entry's own URL
    duration_seconds: int | None = None  # when the listing says (yt-dlp flat entries often do)


class DownloadResult(BaseModel):
    """The outcome of archiving one video: one row of the downloads table."""

    video_id: str
    status: Status
    reason: str | None = None
    error_class: str | None = None
    file_path: str | None = None  # relative to the archive root
    bytes: int | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None
    quality: str | None = None
    attempts: int = 1
    flow_run_id: str | None = None
    recorded_at: datetime = Field(default_factory=utcnow)
    subtitles: list[SubtitleTrack] = Field(default_factory=list)
