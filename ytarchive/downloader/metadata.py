"""Keyless metadata through yt-dlp: one video's info, a flat playlist listing, and their keys."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ytarchive.chapters import chapters_from_info
from ytarchive.coerce import best_thumbnail, int_or_none
from ytarchive.downloader.cookies import register_jar
from ytarchive.downloader.errors import classify_error, ytdlp_errors
from ytarchive.downloader.options import YtdlpLogger, base_options, site_options
from ytarchive.errors import DownloadFailed, InputError
from ytarchive.models import PlaylistInfo, PlaylistItem, VideoMetadata
from ytarchive.refs import CHANNEL_ID_RE, VIDEO_ID_RE

if TYPE_CHECKING:
    from ytarchive.config import Settings

__all__ = [
    "media_key",
    "metadata_from_info",
    "strip_cookies",
    "ytdlp_playlist",
    "ytdlp_video_metadata",
]

log = logging.getLogger("ytarchive.downloader.metadata")
# How yt-dlp titles the private and deleted entries of a flat YouTube playlist.
_FLAT_UNAVAILABLE = {
    "[Private video]": "private",
    "[Deleted video]": "deleted",
    "Private video": "private",
    "Deleted video": "deleted",
}


def media_key(info: dict[str, Any]) -> str:
    """The key of a non-YouTube video: ``<extractor>:<id>``, e.g. ``generic:clip``."""
    extractor = str(info.get("extractor_key") or info.get("extractor") or "url").lower()
    if extractor == "youtube":
        return str(info["id"])
    video_id = str(info.get("id") or "video")
    if extractor == "generic":
        # The generic extractor's id is the URL's last path segment ("manifest", "video"), which
        # many URLs share: a short hash of the page URL keeps their keys apart, and stable.
        url = str(info.get("webpage_url") or info.get("original_url") or info.get("url") or "")
        return f"generic:{video_id}-{hashlib.sha1(url.encode()).hexdigest()[:8]}"
    return f"{extractor}:{video_id}"


def strip_cookies(info: Any) -> Any:
    """An info dict without the cookie values yt-dlp copies into it (`cookies` of the video, its
    formats and downloads, and any `Cookie` HTTP header): what every record we write starts from.
    """
    if isinstance(info, dict):
        return {
            key: _without_cookie_header(value) if key == "http_headers" else strip_cookies(value)
            for key, value in info.items()
            if key != "cookies"
        }
    if isinstance(info, (list, tuple)):
        return [strip_cookies(value) for value in info]
    return info


def _without_cookie_header(headers: Any) -> Any:
    if not isinstance(headers, dict):
        return headers
    return {k: v for k, v in headers.items() if str(k).lower() not in ("cookie", "set-cookie")}


def ytdlp_video_metadata(
    url: str, video_id: str | None = None, settings: Settings | None = None
) -> VideoMetadata:
    """One video's metadata through yt-dlp, nothing downloaded (source "yt_dlp").

    With a YouTube ``video_id`` (url being settings.video_url(id)) the record is keyed by that id;
    any other URL is keyed like its download (``media_key``: ``<extractor>:<id>``).
    Raises Unavailable, Transient or DownloadFailed (classify_error), InputError for a playlist.
    """
    info = _extract_metadata(url, flat=False, settings=settings)
    if info.get("_type") in ("playlist", "multi_video"):
        raise InputError(f"{url} is a playlist, not one video: use `ytarchive playlist info`")
    return metadata_from_info(info, video_id=video_id, url=url)


def ytdlp_playlist(
    url: str, playlist_id: str | None = None, settings: Settings | None = None
) -> tuple[PlaylistInfo, list[PlaylistItem]]:
    """A playlist's title, owner and items through a flat yt-dlp listing (one request a page).

    Positions count from 0, as the Data API's do. A URL that is one video lists as a playlist of
    one. Raises Unavailable, Transient or DownloadFailed (classify_error).
    """
    info = _extract_metadata(url, flat=True, settings=settings)
    if info.get("_type") not in ("playlist", "multi_video"):
        return _single(info, url, playlist_id)
    pid = playlist_id or _listing_id(info)
    entries = [e for e in info.get("entries") or [] if e]
    items = [_flat_item(pid, position, entry) for position, entry in enumerate(entries)]
    playlist = PlaylistInfo(
        playlist_id=pid,
        title=info.get("title"),
        channel_id=info.get("channel_id"),
        channel_title=info.get("channel") or info.get("uploader"),
        item_count=int_or_none(info.get("playlist_count")) or len(items),
        url=url,
        source="yt_dlp",
    )
    return playlist, items


def metadata_from_info(
    info: dict[str, Any], video_id: str | None = None, url: str | None = None
) -> VideoMetadata:
    """A yt-dlp info dict as our metadata record; keyed by video_id when it is a YouTube id."""
    return VideoMetadata(
        video_id=video_id or media_key(info),
        title=info.get("title"),
        description=info.get("description"),
        channel_id=info.get("channel_id"),
        channel_title=info.get("channel") or info.get("uploader"),
        published_at=_published_at(info),
        duration_seconds=_seconds(info.get("duration")),
        view_count=int_or_none(info.get("view_count")),
        like_count=int_or_none(info.get("like_count")),
        comment_count=int_or_none(info.get("comment_count")),
        tags=[str(t) for t in info.get("tags") or []],
        category_id=None,  # yt-dlp gives category names, not the API's ids
        thumbnail_url=best_thumbnail(info.get("thumbnails")) or info.get("thumbnail"),
        source="yt_dlp",
        webpage_url=None if video_id else (info.get("webpage_url") or url),
        chapters=chapters_from_info(info),
    )


def _extract_metadata(url: str, flat: bool, settings: Settings | None) -> dict[str, Any]:
    """The info dict (cookies stripped); with settings, the site's and the user's options too."""
    from ytarchive.downloader.ydl import ydl_class

    options = site_options(settings, url) if settings is not None else base_options()
    logger = YtdlpLogger(log, warnings=logging.DEBUG)
    options.update({"skip_download": True, "cachedir": False, "logger": logger})
    if flat:
        options["extract_flat"] = "in_playlist"
    else:
        options["noplaylist"] = True
    try:
        with ydl_class()(options) as ydl:
            register_jar(ydl)
            info = ydl.extract_info(url, download=False)
    except ytdlp_errors() as exc:
        log.debug("yt-dlp metadata for %s failed: %s", url, exc)
        raise classify_error(exc) from exc
    if not info:
        raise DownloadFailed(f"yt-dlp returned nothing for {url}")
    return dict(strip_cookies(info))


def _single(
    info: dict[str, Any], url: str, playlist_id: str | None
) -> tuple[PlaylistInfo, list[PlaylistItem]]:
    """A URL that is one video, listed as a playlist of one."""
    record = metadata_from_info(info, video_id=None, url=url)
    single = PlaylistInfo(
        playlist_id=playlist_id or record.video_id,
        title=record.title,
        channel_id=record.channel_id,
        channel_title=record.channel_title,
        item_count=1,
        url=url,
        source="yt_dlp",
    )
    item = PlaylistItem(
        playlist_id=single.playlist_id,
        position=0,
        video_id=record.video_id,
        title=record.title,
        url=url,
        duration_seconds=record.duration_seconds,
    )
    return single, [item]


def _listing_id(info: dict[str, Any]) -> str:
    listing = str(info.get("id") or "")
    if CHANNEL_ID_RE.match(listing):  # a channel's videos tab: its uploads list
        return "UU" + listing[2:]
    if str(info.get("extractor_key") or "").lower().startswith("youtube") and listing:
        return listing
    return media_key(info)


def _flat_item(playlist_id: str, position: int, entry: dict[str, Any]) -> PlaylistItem:
    title = entry.get("title")
    entry_id = str(entry.get("id") or "")
    youtube = str(entry.get("ie_key") or entry.get("extractor_key") or "").lower() == "youtube"
    if youtube and VIDEO_ID_RE.match(entry_id):
        video_id, url = entry_id, None
    else:  # keyed as its download will be (media_key of the entry's own URL)
        url = entry.get("url") or entry.get("webpage_url")
        extractor = entry.get("ie_key") or entry.get("extractor_key") or "url"
        video_id = media_key({"extractor_key": extractor, "id": entry_id or None, "url": url})
    return PlaylistItem(
        playlist_id=playlist_id,
        position=position,
        video_id=video_id,
        title=title,
        availability=_FLAT_UNAVAILABLE.get(title or "", "available"),  # type: ignore[arg-type]
        url=url,
        duration_seconds=_seconds(entry.get("duration")),
    )


def _seconds(duration: Any) -> int | None:
    return int(round(float(duration))) if duration is not None else None


def _published_at(info: dict[str, Any]) -> datetime | None:
    for field in ("timestamp", "release_timestamp"):
        value = info.get(field)
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, tz=UTC)
    date = str(info.get("upload_date") or info.get("release_date") or "")
    if re.match(r"^\d{8}$", date):
        return datetime(int(date[:4]), int(date[4:6]), int(date[6:]), tzinfo=UTC)
    return None
