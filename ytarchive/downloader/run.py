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

from ytarchive import layout, sidecars
from ytarchive.coerce import int_or_none
from ytarchive.downloader.cookies import register_jar
from ytarchive.downloader.errors import classify_error, ytdlp_errors
from ytarchive.downloader.fields import merged_fields, record_fields_pp
from ytarchive.downloader.metadata import media_key, strip_cookies
from ytarchive.downloader.options import (
    YtdlpLogger,
    base_options,
    clean_message,
    ffmpeg_location,
    format_for_quality,
    fragments_at_once,
    sidecar_options,
    site_options,
    streams_at_once,
)
from ytarchive.downloader.streams import parallel_ydl_class
from ytarchive.downloader.tracking import ProgressCallback, ProgressTracker
from ytarchive.downloader.ydl import shared_ssl_context, ydl_class
from ytarchive.errors import DownloadFailed
from ytarchive.models import DownloadResult, VideoMetadata
from ytarchive.refs import is_video_id
from ytarchive.ytdlp_errors import live_status_error, offered_qualities

if TYPE_CHECKING:
    from ytarchive.config import Settings

__all__ = ["download_video", "fetch_thumbnail", "warm_up"]

log = logging.getLogger("ytarchive.downloader")
MAX_IN_PLACE_SLEEP = 30.0  # the longest yt-dlp waits between two tries of one request


def warm_up(every_site: bool = False) -> None:
    """Do ahead of the first download what every process does once: import yt-dlp, load
    its extractors, the TLS context (the CA bundle) and ffmpeg's version (yt-dlp runs
    `ffmpeg -bsfs` and `ffprobe -bsfs` once a process); about a second.

    ``every_site`` also compiles every extractor's URL pattern (about 0.7 s of CPU): yt-dlp
    tries them in turn until one matches, so a URL of no known site (a generic page, the test
    bed's) compiles them all, once a process. A process that forks its runs (the resident
    runner) does this once for all of them. Run it in a background thread while metadata is
    fetched, or before forking; it never raises.
    """
    try:
        from yt_dlp.extractor import gen_extractor_classes
        from yt_dlp.postprocessor.ffmpeg import FFmpegPostProcessor

        options = base_options()
        location = ffmpeg_location()
        if location:
            options["ffmpeg_location"] = location
        shared_ssl_context()  # yt-dlp's defaults, as _download_options leaves them
        with ydl_class()(options) as ydl:
            ydl.get_info_extractor("Generic")
            FFmpegPostProcessor.get_versions(ydl)
        if every_site:
            for extractor in gen_extractor_classes():
                extractor.suitable("http://127.0.0.1/")
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
    record: VideoMetadata | None = None,
    live_from_start: bool = False,
    fetched: Callable[[], None] | None = None,
) -> DownloadResult:
    """Download one video into videos/ under its final name, and say what was archived.

    A YouTube id is fetched from settings.video_url(id) and recorded under that id; any other
    URL under ``key`` or, without one, ``<extractor>:<id>``. The work happens in .tmp/<key>/
    (resumed if a killed run left it there) and the file is renamed into place when complete;
    ``before_move(key)`` runs just before that rename (write the metadata file and thumbnail
    there, so the caller can record the outcome right after). The caller holds the video's
    lock. `record` (our metadata) gives the embedded tags, chapters, cover and the output
    template's fields their values first. A live stream is recorded from its start with
    ``live_from_start``, else refused (LiveNow), as is a premiere that has not begun
    (Upcoming): nothing is downloaded. ``fetched()`` is called once every stream is fetched,
    before the merge and the files' placing (the caller's download slot goes to the next
    video then); a failed download never calls it. Raises the classes of
    ytarchive.ytdlp_errors.classify (Unavailable, Transient, DownloadFailed, NotYet and kin).
    """
    root = Path(settings.output_dir)
    if is_video_id(video_id_or_url):
        key = key or video_id_or_url
        url = settings.video_url(video_id_or_url)
    else:
        url = video_id_or_url
    work = layout.temp_dir(root, key or "url-" + hashlib.sha1(url.encode()).hexdigest()[:16])
    tracker = ProgressTracker(key or url, progress_callback)
    if record is None and title:
        record = VideoMetadata(video_id=key or url, title=title, source="yt_dlp")
    try:
        done = _run_ytdlp(
            url, work, quality, tracker, settings, record, key, live_from_start, fetched
        )
    except BaseException:
        # A failed attempt starts afresh; only a killed process leaves .tmp/<key> to resume.
        shutil.rmtree(work, ignore_errors=True)
        raise
    info, key = done.info, done.key
    tracker.video_id = key
    final = root / layout.VIDEOS / done.name
    with layout.writes_staged_in(work):  # a kill mid-write leaves its temp file in .tmp/
        sidecars.keep_thumbnail(root, work, key)
        if before_move is not None:
            before_move(key)
        tracks = _place_files(root, work, final, done, settings)
    tracker.finish(final.stat().st_size)
    result = _result(root, final, info, key, quality)
    result.subtitles = tracks
    return result


class _Done:
    """What yt-dlp made: its info dict, yt-dlp's clean copy (for info.json), key, final name."""

    def __init__(
        self,
        info: dict[str, Any],
        clean: dict[str, Any],
        key: str,
        name: str,
        record: VideoMetadata | None,
    ) -> None:
        self.info, self.clean, self.key, self.name = info, clean, key, name
        self.record = record

    def fields(self) -> dict[str, Any]:
        return merged_fields(self.info, self.record, self.key)


def _run_ytdlp(
    url: str,
    work: Path,
    quality: str,
    tracker: ProgressTracker,
    settings: Settings,
    record: VideoMetadata | None = None,
    key: str | None = None,
    live_from_start: bool = False,
    fetched: Callable[[], None] | None = None,
) -> _Done:
    """Extract (the page, the player, the manifest), check the live status, then download the
    streams; `fetched()` as post-processing begins (the merge is local work)."""
    factory = parallel_ydl_class() if streams_at_once(settings) > 1 else ydl_class()
    work.mkdir(parents=True, exist_ok=True)
    options = _download_options(url, work, quality, tracker, settings)
    if live_from_start:
        options["live_from_start"] = True
    offered: list[str] | None = None
    try:
        with factory(options) as ydl:
            register_jar(ydl)
            ydl.fetched = fetched  # every stream fetched: the slot goes to the next video
            ydl.add_post_processor(record_fields_pp(record), when="pre_process")
            found = ydl.extract_info(url, download=False, process=False)
            if found and found.get("_type", "video") == "video":
                offered = offered_qualities(found.get("formats") or [])
                not_yet = live_status_error(found, live_from_start=live_from_start)
                if not_yet is not None:
                    raise not_yet
            info = ydl.process_ie_result(found, download=True) if found else None
            if not info:
                raise DownloadFailed(f"yt-dlp returned nothing for {url}")
            if info.get("_type") in ("playlist", "multi_video"):
                raise DownloadFailed(f"{url} is a playlist, not one video")
            info = strip_cookies(dict(info))
            key = key or media_key(info)
            produced = _produced_file(work, info)
            name = _final_name(ydl, info, record, key, produced.suffix, settings)
            clean = strip_cookies(ydl.sanitize_info(info, remove_private_keys=True))
    except ytdlp_errors() as exc:
        log.debug("yt-dlp failed on %s: %s", url, exc)
        raise classify_error(exc, quality=quality, offered=offered) from exc
    return _Done(info, clean, key, name, record)


def _final_name(
    ydl: Any,
    info: dict[str, Any],
    record: VideoMetadata | None,
    key: str,
    suffix: str,
    settings: Settings,
) -> str:
    """The media file's path under videos/: the output template's, else `<title> [<id>].<ext>`."""
    if not settings.output_template:
        title = (record.title if record else None) or info.get("title")
        return layout.video_filename(title, key, suffix)
    fields = {**merged_fields(info, record, key), "ext": suffix.lstrip(".")}
    name = Path(ydl.prepare_filename(fields, outtmpl=settings.output_template))
    if name.is_absolute() or ".." in name.parts or not name.name:
        raise DownloadFailed(f"the output template gives no name inside videos/: {name}")
    return name.as_posix()


def _download_options(
    url: str, work: Path, quality: str, tracker: ProgressTracker, settings: Settings
) -> dict[str, Any]:
    """yt-dlp retries one media request or fragment in place (the budget's fragment layer).

    The site's needs and the user's [ytdlp] options first; ours (files, format, retries) win."""
    fmt, sort = format_for_quality(quality)
    delay = max(float(settings.retry_delay_seconds), 0.0)

    def in_place(n: int) -> float:
        return min(delay * 2**n, MAX_IN_PLACE_SLEEP)

    options = site_options(settings, url)
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
            "concurrent_fragment_downloads": fragments_at_once(settings),
            "retry_sleep_functions": {"http": in_place, "fragment": in_place},
            "progress_hooks": [tracker.hook],
            "logger": YtdlpLogger(log),
        }
    )
    options.update(sidecar_options(settings))
    if sort:
        options["format_sort"] = sort
    location = ffmpeg_location()
    if location and "ffmpeg_location" not in settings.ytdlp:
        options["ffmpeg_location"] = location
    return options


def _place_files(root: Path, work: Path, final: Path, done: _Done, settings: Settings) -> list[Any]:
    """Sidecars first (subtitles, info.json, description, NFO), then the media file."""
    record = done.record
    final.parent.mkdir(parents=True, exist_ok=True)
    tracks = sidecars.place_subtitles(root, work, final, done.info)
    fields = done.fields()
    if settings.write_info_json:
        sidecars.write_info_json(final, done.clean)
    if settings.write_description:
        sidecars.write_description(final, fields.get("description"))
    if settings.nfo:
        if record is not None and record.thumbnail_url:
            fields.setdefault("thumbnail", record.thumbnail_url)
        sidecars.write_nfo(root, final, fields)
    _move_into_place(root, work, done.info, done.key, final)
    return tracks


def _move_into_place(root: Path, work: Path, info: dict[str, Any], key: str, final: Path) -> Path:
    produced = _produced_file(work, info)
    final.parent.mkdir(parents=True, exist_ok=True)
    for old in layout.find_video_files(root, key):
        if old != final:
            sidecars.remove_with_sidecars(old)
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
