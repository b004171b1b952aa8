"""One download through yt-dlp: into .tmp/<key>/, then renamed into videos/; and thumbnails."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import shutil
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ytarchive import layout
from ytarchive.coerce import int_or_none
from ytarchive.downloader.errors import classify_error, ytdlp_errors
from ytarchive.downloader.metadata import media_key
from ytarchive.downloader.options import (
    YtdlpLogger,
    base_options,
    clean_message,
    ffmpeg_location,
    format_for_quality,
)
from ytarchive.downloader.tracking import ProgressCallback, ProgressTracker
from ytarchive.errors import DownloadFailed
from ytarchive.models import DownloadResult
from ytarchive.refs import is_video_id
from ytarchive.ytdlp_errors import live_status_error, offered_qualities

if TYPE_CHECKING:
    from ytarchive.config import Settings

__all__ = ["download_video", "fetch_thumbnail", "warm_up"]

log = logging.getLogger("ytarchive.downloader")
MAX_IN_PLACE_SLEEP = 30.0  # the longest yt-dlp waits between two tries of one request


def warm_up() -> None:
    """Import yt-dlp and load its extractors ahead of the first download (about a second).

    Run it in a background thread while metadata is fetched; it never raises.
    """
    try:
        from yt_dlp import YoutubeDL

        with YoutubeDL(base_options()) as ydl:
            ydl.get_info_extractor("Generic")
        ffmpeg_location()
    except Exception:  # a warm-up only: the download itself reports real problems
        log.debug("yt-dlp warm-up failed", exc_info=True)


def download_video(
    video_id_or_url: str,
    settings: Settings,
    quality: str = "best",
    progress_callback: ProgressCallback | None = None,
    *,
    title: str | None = None,
    key: str | None = None,
    before_move: Callable[[str], None] | None = None,
    live_from_start: bool = False,
) -> DownloadResult:
    """Download one video into videos/ under its final name, and say what was archived.

    A YouTube id is fetched from settings.video_url(id) and recorded under that id; any other
    URL under ``key`` or, without one, ``<extractor>:<id>``. The work happens in .tmp/<key>/
    (resumed if a killed run left it there) and the file is renamed into place when complete;
    ``before_move(key)`` runs just before that rename (write the metadata file and thumbnail
    there, so the caller can record the outcome right after). The caller holds the video's
    lock. A live stream is recorded from its start with ``live_from_start``, else refused
    (LiveNow), as is a premiere that has not begun (Upcoming): nothing is downloaded. Raises
    the classes of ytarchive.ytdlp_errors.classify (Unavailable, Transient, DownloadFailed,
    NotYet and their kin).
    """
    root = Path(settings.output_dir)
    if is_video_id(video_id_or_url):
        key = key or video_id_or_url
        url = settings.video_url(video_id_or_url)
    else:
        url = video_id_or_url
    work = layout.temp_dir(root, key or "url-" + hashlib.sha1(url.encode()).hexdigest()[:16])
    tracker = ProgressTracker(key or url, progress_callback)
    try:
        info = _run_ytdlp(url, work, quality, tracker, settings, live_from_start)
    except BaseException:
        # A failed attempt starts afresh; only a killed process leaves .tmp/<key> to resume.
        shutil.rmtree(work, ignore_errors=True)
        raise
    key = key or media_key(info)
    tracker.video_id = key
    if before_move is not None:
        before_move(key)
    final = _move_into_place(root, work, info, key, title or info.get("title"))
    tracker.finish(final.stat().st_size)
    return _result(root, final, info, key, quality)


def _run_ytdlp(
    url: str,
    work: Path,
    quality: str,
    tracker: ProgressTracker,
    settings: Settings,
    live_from_start: bool = False,
) -> dict[str, Any]:
    """Extract (one request for the page or manifest), check the live status, then download."""
    from yt_dlp import YoutubeDL

    work.mkdir(parents=True, exist_ok=True)
    options = _download_options(work, quality, tracker, settings)
    if live_from_start:
        options["live_from_start"] = True
    offered: list[str] | None = None
    try:
        with YoutubeDL(options) as ydl:
            found = ydl.extract_info(url, download=False, process=False)
            if found and found.get("_type", "video") == "video":
                offered = offered_qualities(found.get("formats") or [])
                not_yet = live_status_error(found, live_from_start=live_from_start)
                if not_yet is not None:
                    raise not_yet
            info = ydl.process_ie_result(found, download=True) if found else None
    except ytdlp_errors() as exc:
        log.debug("yt-dlp failed on %s: %s", url, exc)
        raise classify_error(exc, quality=quality, offered=offered) from exc
    if not info:
        raise DownloadFailed(f"yt-dlp returned nothing for {url}")
    if info.get("_type") in ("playlist", "multi_video"):
        raise DownloadFailed(f"{url} is a playlist, not one video")
    return dict(info)


def _download_options(
    work: Path, quality: str, tracker: ProgressTracker, settings: Settings
) -> dict[str, Any]:
    """yt-dlp retries one media request or fragment in place (the budget's fragment layer)."""
    fmt, sort = format_for_quality(quality)
    delay = max(float(settings.retry_delay_seconds), 0.0)

    def in_place(n: int) -> float:
        return min(delay * 2**n, MAX_IN_PLACE_SLEEP)

    options = base_options()
    options.update(
        {
            "format": fmt,
            "outtmpl": {"default": str(work / "media.%(ext)s")},
            "noplaylist": True,
            "continuedl": True,
            "cachedir": False,
            "retries": settings.fragment_retries,
            "fragment_retries": settings.fragment_retries,
            "skip_unavailable_fragments": False,
            "retry_sleep_functions": {"http": in_place, "fragment": in_place},
            "progress_hooks": [tracker.hook],
            "logger": YtdlpLogger(log),
        }
    )
    if sort:
        options["format_sort"] = sort
    location = ffmpeg_location()
    if location:
        options["ffmpeg_location"] = location
    return options


def _move_into_place(
    root: Path, work: Path, info: dict[str, Any], key: str, title: str | None
) -> Path:
    produced = _produced_file(work, info)
    final = root / layout.VIDEOS / layout.video_filename(title, key, produced.suffix)
    final.parent.mkdir(parents=True, exist_ok=True)
    for old in layout.find_video_files(root, key):
        if old != final:
            old.unlink(missing_ok=True)
    os.replace(produced, final)
    shutil.rmtree(work, ignore_errors=True)
    return final


def _produced_file(work: Path, info: dict[str, Any]) -> Path:
    for entry in info.get("requested_downloads") or []:
        path = entry.get("filepath") or entry.get("_filename")
        if path and Path(path).is_file():
            return Path(path)
    candidates = [
        p for p in work.glob("media.*") if p.is_file() and p.suffix not in (".part", ".ytdl")
    ]
    if len(candidates) == 1:
        return candidates[0]
    raise DownloadFailed(f"yt-dlp finished but left no single media file in {work.name}")


def _result(
    root: Path, final: Path, info: dict[str, Any], key: str, quality: str
) -> DownloadResult:
    return DownloadResult(
        video_id=key,
        status="archived",
        file_path=layout.relative(root, final),
        bytes=final.stat().st_size,
        width=int_or_none(info.get("width")),
        height=int_or_none(info.get("height")),
        format=str(info.get("format_id") or "") or None,
        quality=quality,
    )


def fetch_thumbnail(url: str, root: Path, video_id: str, timeout: float = 15.0) -> Path | None:
    """Fetch a thumbnail into thumbnails/<id>.<ext>; failures are logged and give None."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data = response.read(20_000_000)
            ctype = response.headers.get_content_type()
    except (OSError, ValueError, http.client.HTTPException) as exc:  # HTTP, network, bad URL
        log.warning("thumbnail for %s not fetched: %s", video_id, clean_message(str(exc)))
        return None
    ext = _thumbnail_ext(url, ctype)
    path = layout.thumbnail_path(root, video_id, ext)
    layout.atomic_write_bytes(path, data)
    return path


_IMAGE_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}


def _thumbnail_ext(url: str, content_type: str) -> str:
    if content_type in _IMAGE_TYPES:
        return _IMAGE_TYPES[content_type]
    suffix = Path(url.split("?")[0]).suffix.lower().lstrip(".")
    known = {"jpg": "jpg", "jpeg": "jpg", "png": "png", "webp": "webp"}
    return known.get(suffix, "jpg")
