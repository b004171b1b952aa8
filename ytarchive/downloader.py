"""yt-dlp, and only here: downloads, keyless metadata, quality -> format, progress, errors."""

from __future__ import annotations

import re
import shutil
from functools import lru_cache
from typing import Any

from ytarchive.errors import DownloadFailed, Transient, Unavailable, YTArchiveError

__all__ = [
    "ffmpeg_location",
    "classify_error",
    "ytdlp_version",
]

# ---------------------------------------------------------------------------------------------
# Shared: ffmpeg, yt-dlp options common to every call, error classification
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def ffmpeg_location() -> str | None:
    """ffmpeg on PATH, else the static binary the imageio-ffmpeg wheel ships."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:  # pragma: no cover - a dependency of ours
        return None
    return imageio_ffmpeg.get_ffmpeg_exe()


def ytdlp_version() -> str:
    from yt_dlp.version import __version__

    return __version__


def base_options() -> dict[str, Any]:
    """Options every YoutubeDL we build starts from: quiet, no config files, no network guesses."""
    return {
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "ignoreconfig": True,
        "color": {"stdout": "no_color", "stderr": "no_color"},
        "extractor_retries": 0,
        "socket_timeout": 30,
    }


_UNAVAILABLE = re.compile(
    r"HTTP Error (401|403|404|410)|private video|video unavailable|has been removed|"
    r"no longer available|account associated with this video has been terminated|"
    r"sign in to confirm your age|age[- ]restricted|not available in your country|"
    r"geo[- ]?restrict|copyright claim|members[- ]only|premieres in|This live event will begin",
    re.IGNORECASE,
)
_TRANSIENT = re.compile(
    r"HTTP Error (5\d\d|429|408)|timed out|timeout|connection (reset|refused|aborted)|"
    r"remote end closed|temporary failure|incompleteread|unable to download|"
    r"errno 104|errno 111|network is unreachable|bad gateway|service unavailable|"
    r"Got error: \d+ bytes read",
    re.IGNORECASE,
)
_RETRY_AFTER = re.compile(r"retry[- ]after[:=\s]+(\d+(?:\.\d+)?)", re.IGNORECASE)


def classify_error(exc: BaseException) -> YTArchiveError:
    """Translate a yt-dlp exception into ours: Unavailable, Transient or DownloadFailed."""
    if isinstance(exc, YTArchiveError):
        return exc
    message = _clean_message(str(exc))
    if _UNAVAILABLE.search(message):
        return Unavailable(message)
    if _TRANSIENT.search(message):
        match = _RETRY_AFTER.search(message)
        return Transient(message, retry_after=float(match.group(1)) if match else None)
    return DownloadFailed(message)


def _clean_message(message: str) -> str:
    message = re.sub(r"\x1b\[[0-9;]*m", "", message)
    message = message.replace("ERROR: ", "").strip()
    return message.splitlines()[0] if message else "unknown yt-dlp error"


# ---------------------------------------------------------------------------------------------
# Keyless metadata (owned by the Metadata issue): extract_info(download=False), flat playlists
# ---------------------------------------------------------------------------------------------

import logging  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

from ytarchive.errors import InputError as _InputError  # noqa: E402
from ytarchive.models import PlaylistInfo, PlaylistItem, VideoMetadata  # noqa: E402

__all__ += ["ytdlp_video_metadata", "ytdlp_playlist", "metadata_from_info"]

_meta_log = logging.getLogger("ytarchive.downloader.metadata")
# How yt-dlp titles the private and deleted entries of a flat YouTube playlist.
_FLAT_UNAVAILABLE = {
    "[Private video]": "private",
    "[Deleted video]": "deleted",
    "Private video": "private",
    "Deleted video": "deleted",
}
_YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")


def ytdlp_video_metadata(url: str, video_id: str | None = None) -> VideoMetadata:
    """One video's metadata through yt-dlp, nothing downloaded (source "yt_dlp").

    With a YouTube ``video_id`` (url being settings.video_url(id)) the record is keyed by that id;
    any other URL is keyed like its download (``media_key``: ``<extractor>:<id>``).
    Raises Unavailable, Transient or DownloadFailed (classify_error), InputError for a playlist.
    """
    info = _extract_metadata(url, flat=False)
    if info.get("_type") in ("playlist", "multi_video"):
        raise _InputError(f"{url} is a playlist, not one video: use `ytarchive playlist info`")
    return metadata_from_info(info, video_id=video_id, url=url)


def ytdlp_playlist(
    url: str, playlist_id: str | None = None
) -> tuple[PlaylistInfo, list[PlaylistItem]]:
    """A playlist's title, owner and items through a flat yt-dlp listing (one request a page).

    Positions count from 0, as the Data API's do. A URL that is one video lists as a playlist of
    one. Raises Unavailable, Transient or DownloadFailed (classify_error).
    """
    info = _extract_metadata(url, flat=True)
    if info.get("_type") not in ("playlist", "multi_video"):
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
    pid = playlist_id or _listing_id(info)
    entries = [e for e in info.get("entries") or [] if e]
    items = [_flat_item(pid, position, entry) for position, entry in enumerate(entries)]
    playlist = PlaylistInfo(
        playlist_id=pid,
        title=info.get("title"),
        channel_id=info.get("channel_id"),
        channel_title=info.get("channel") or info.get("uploader"),
        item_count=_meta_int(info.get("playlist_count")) or len(items),
        url=url,
        source="yt_dlp",
    )
    return playlist, items


def metadata_from_info(
    info: dict[str, Any], video_id: str | None = None, url: str | None = None
) -> VideoMetadata:
    """A yt-dlp info dict as our metadata record; keyed by video_id when it is a YouTube id."""
    duration = info.get("duration")
    return VideoMetadata(
        video_id=video_id or media_key(info),
        title=info.get("title"),
        description=info.get("description"),
        channel_id=info.get("channel_id"),
        channel_title=info.get("channel") or info.get("uploader"),
        published_at=_published_at(info),
        duration_seconds=int(round(float(duration))) if duration is not None else None,
        view_count=_meta_int(info.get("view_count")),
        like_count=_meta_int(info.get("like_count")),
        comment_count=_meta_int(info.get("comment_count")),
        tags=[str(t) for t in info.get("tags") or []],
        category_id=None,  # yt-dlp gives category names, not the API's ids
        thumbnail_url=_largest_thumbnail(info),
        source="yt_dlp",
        webpage_url=None if video_id else (info.get("webpage_url") or url),
    )


def _extract_metadata(url: str, flat: bool) -> dict[str, Any]:
    from yt_dlp import YoutubeDL

    options = base_options()
    options.update({"skip_download": True, "cachedir": False, "logger": _MetadataLogger()})
    if flat:
        options["extract_flat"] = "in_playlist"
    else:
        options["noplaylist"] = True
    try:
        with YoutubeDL(options) as ydl:
            info = ydl.extract_info(url, download=False)
    except Exception as exc:
        raise classify_error(exc) from exc
    if not info:
        raise DownloadFailed(f"yt-dlp returned nothing for {url}")
    return info


def _listing_id(info: dict[str, Any]) -> str:
    listing = str(info.get("id") or "")
    if re.match(r"^UC[A-Za-z0-9_-]{22}$", listing):  # a channel's videos tab: its uploads list
        return "UU" + listing[2:]
    if str(info.get("extractor_key") or "").lower().startswith("youtube") and listing:
        return listing
    return media_key(info)


def _flat_item(playlist_id: str, position: int, entry: dict[str, Any]) -> PlaylistItem:
    title = entry.get("title")
    entry_id = str(entry.get("id") or "")
    youtube = str(entry.get("ie_key") or entry.get("extractor_key") or "").lower() == "youtube"
    if youtube and _YOUTUBE_ID.match(entry_id):
        video_id, url = entry_id, None
    else:  # keyed as its download will be (media_key of the entry's own URL)
        url = entry.get("url") or entry.get("webpage_url")
        extractor = entry.get("ie_key") or entry.get("extractor_key") or "url"
        video_id = media_key({"extractor_key": extractor, "id": entry_id or None, "url": url})
    duration = entry.get("duration")
    return PlaylistItem(
        playlist_id=playlist_id,
        position=position,
        video_id=video_id,
        title=title,
        availability=_FLAT_UNAVAILABLE.get(title or "", "available"),  # type: ignore[arg-type]
        url=url,
        duration_seconds=int(round(float(duration))) if duration is not None else None,
    )


def _published_at(info: dict[str, Any]) -> datetime | None:
    for field in ("timestamp", "release_timestamp"):
        value = info.get(field)
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, tz=UTC)
    date = str(info.get("upload_date") or info.get("release_date") or "")
    if re.match(r"^\d{8}$", date):
        return datetime(int(date[:4]), int(date[4:6]), int(date[6:]), tzinfo=UTC)
    return None


def _largest_thumbnail(info: dict[str, Any]) -> str | None:
    """The largest thumbnail by area; yt-dlp lists them worst first, so later ones win ties."""
    thumbs = [t for t in info.get("thumbnails") or [] if isinstance(t, dict) and t.get("url")]
    if not thumbs:
        return info.get("thumbnail")
    ranked = sorted(
        enumerate(thumbs),
        key=lambda it: ((it[1].get("width") or 0) * (it[1].get("height") or 0), it[0]),
    )
    return ranked[-1][1]["url"]


def _meta_int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class _MetadataLogger:
    """yt-dlp's messages during metadata calls, into our log and never onto stderr."""

    def debug(self, msg: str) -> None:
        _meta_log.debug(msg)

    def info(self, msg: str) -> None:
        _meta_log.debug(msg)

    def warning(self, msg: str) -> None:
        _meta_log.debug(_clean_message(msg))

    def error(self, msg: str) -> None:
        _meta_log.debug(_clean_message(msg))


# ---------------------------------------------------------------------------------------------
# Downloads (owned by the archive-pipeline issue): quality -> format, progress, files
# ---------------------------------------------------------------------------------------------

import hashlib  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

from ytarchive import layout  # noqa: E402
from ytarchive.errors import InputError  # noqa: E402
from ytarchive.models import DownloadResult  # noqa: E402

if TYPE_CHECKING:
    from ytarchive.config import Settings

__all__ += [
    "QUALITY_FORMATS",
    "DownloadProgress",
    "ProgressCallback",
    "format_for_quality",
    "validate_quality",
    "download_video",
    "fetch_thumbnail",
    "media_key",
    "warm_up",
]

log = logging.getLogger("ytarchive.downloader")

# Quality names -> (format, format_sort). A height means "the best at or below it, with audio,
# merged by ffmpeg"; when nothing is that small, the smallest above it (yt-dlp's res:N sort).
QUALITY_FORMATS: dict[str, tuple[str, list[str]]] = {
    "best": ("bv*+ba/b", []),
    "worst": ("wv*+wa/w", []),
    "bestaudio": ("ba/b", []),
    **{f"{h}p": ("bv*+ba/b", [f"res:{h}"]) for h in (2160, 1440, 1080, 720, 480, 360)},
}
_HEIGHT = re.compile(r"^(\d{3,4})p$")
_FORMAT_SYNTAX = re.compile(r"[+/\[\]*(),]")
_FORMAT_WORDS = {
    "b", "w", "bv", "ba", "wv", "wa", "best", "worst", "bestvideo", "bestaudio", "worstvideo",
    "worstaudio", "all", "mergeall", "mp4", "webm", "m4a", "mp3", "ogg", "flv", "3gp", "mkv",
}  # fmt: skip
_FORMAT_ID = re.compile(r"^[A-Za-z0-9_.-]*\d[A-Za-z0-9_.-]*$")


def validate_quality(quality: str) -> str:
    """A quality name or a yt-dlp format string; anything else is an InputError."""
    q = (quality or "").strip()
    if q in QUALITY_FORMATS or _HEIGHT.match(q):
        return q
    if q.rstrip("*") in _FORMAT_WORDS or _FORMAT_ID.match(q):
        return q
    if _FORMAT_SYNTAX.search(q) and " " not in q.strip():
        from yt_dlp import YoutubeDL

        try:
            with YoutubeDL(base_options()) as ydl:
                ydl.build_format_selector(q)
        except Exception as exc:  # yt-dlp raises SyntaxError and friends
            raise InputError(f"bad --quality {quality!r}: {_clean_message(str(exc))}") from None
        return q
    names = ", ".join(QUALITY_FORMATS)
    raise InputError(f"unknown --quality {quality!r}: use {names}, or a yt-dlp format string")


def format_for_quality(quality: str) -> tuple[str, list[str]]:
    """The yt-dlp (format, format_sort) for a quality name; other strings pass through as format."""
    q = validate_quality(quality)
    if q in QUALITY_FORMATS:
        fmt, sort = QUALITY_FORMATS[q]
        return fmt, list(sort)
    height = _HEIGHT.match(q)
    if height:
        return "bv*+ba/b", [f"res:{height.group(1)}"]
    return q, []


@dataclass(frozen=True)
class DownloadProgress:
    """One progress report for one video: bytes so far, expected total, speed and ETA."""

    video_id: str
    status: str  # "downloading", "finished" (all streams), "error"
    downloaded_bytes: int
    total_bytes: int | None
    speed: float | None = None
    eta: float | None = None


ProgressCallback = Callable[[DownloadProgress], None]


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


def warm_up() -> None:
    """Import yt-dlp and load its extractors ahead of the first download (about a second).

    Run it in a background thread while metadata is fetched; it never raises.
    """
    try:
        from yt_dlp import YoutubeDL

        with YoutubeDL(base_options()) as ydl:
            ydl.get_info_extractor("Generic")
        ffmpeg_location()
    except Exception:  # noqa: BLE001 - the download itself reports real problems
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
) -> DownloadResult:
    """Download one video into videos/ under its final name, and say what was archived.

    A YouTube id is fetched from settings.video_url(id) and recorded under that id; any other
    URL under ``key`` or, without one, ``<extractor>:<id>``. The work happens in .tmp/<key>/
    (resumed if a killed run left it there) and the file is renamed into place when complete;
    ``before_move(key)`` runs just before that rename (write the metadata file and thumbnail
    there, so the caller can record the outcome right after). The caller holds the video's
    lock. Raises Unavailable, Transient or DownloadFailed.
    """
    from ytarchive.refs import is_video_id

    root = Path(settings.output_dir)
    if is_video_id(video_id_or_url):
        key = key or video_id_or_url
        url = settings.video_url(video_id_or_url)
    else:
        url = video_id_or_url
    work = layout.temp_dir(root, key or "url-" + hashlib.sha1(url.encode()).hexdigest()[:16])
    tracker = _ProgressTracker(key or url, progress_callback)
    try:
        info = _run_ytdlp(url, work, quality, tracker, settings)
    except BaseException:
        # A failed attempt starts afresh; only a killed process leaves .tmp/<key> to resume.
        import shutil as _shutil

        _shutil.rmtree(work, ignore_errors=True)
        raise
    key = key or media_key(info)
    tracker.video_id = key
    if before_move is not None:
        before_move(key)
    final = _move_into_place(root, work, info, key, title or info.get("title"))
    tracker.finish(final.stat().st_size)
    return _result(root, final, info, key, quality)


def _run_ytdlp(
    url: str, work: Path, quality: str, tracker: _ProgressTracker, settings: Settings
) -> dict[str, Any]:
    from yt_dlp import YoutubeDL

    work.mkdir(parents=True, exist_ok=True)
    try:
        with YoutubeDL(_download_options(work, quality, tracker, settings)) as ydl:
            info = ydl.extract_info(url, download=True)
    except Exception as exc:
        error = _tidy(classify_error(exc))
        if isinstance(error, Transient) and error.retry_after is None:
            error.retry_after = _retry_after(exc)
        raise error from exc
    if not info:
        raise DownloadFailed(f"yt-dlp returned nothing for {url}")
    if info.get("_type") in ("playlist", "multi_video"):
        raise DownloadFailed(f"{url} is a playlist, not one video")
    return info


def _download_options(
    work: Path, quality: str, tracker: _ProgressTracker, settings: Settings
) -> dict[str, Any]:
    fmt, sort = format_for_quality(quality)
    delay = max(float(getattr(settings, "retry_delay_seconds", 1.0)), 0.0)
    options = base_options()
    options.update(
        {
            "format": fmt,
            "outtmpl": {"default": str(work / "media.%(ext)s")},
            "noplaylist": True,
            "continuedl": True,
            "cachedir": False,
            "retries": 3,
            "fragment_retries": 3,
            "skip_unavailable_fragments": False,
            "retry_sleep_functions": {
                "http": lambda n: min(delay * 2**n, 30.0),
                "fragment": lambda n: min(delay * 2**n, 30.0),
            },
            "progress_hooks": [tracker.hook],
            "logger": _YtdlpLogger(),
        }
    )
    if sort:
        options["format_sort"] = sort
    location = ffmpeg_location()
    if location:
        options["ffmpeg_location"] = location
    return options


_CAUSED_BY = re.compile(r"\s*\(caused by .*\)\s*$|;\s*please report this issue.*$", re.IGNORECASE)


def _tidy(error: YTArchiveError) -> YTArchiveError:
    """The same error with yt-dlp's "(caused by <...>)" tail dropped from its message."""
    message = str(error)
    short = _CAUSED_BY.sub("", message).strip()
    if not short or short == message:
        return error
    if isinstance(error, Transient):
        return Transient(short, retry_after=error.retry_after)
    return type(error)(short)


def _retry_after(exc: BaseException) -> float | None:
    """The Retry-After of an HTTP 429/503 somewhere in the exception's chain, in seconds."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        err = stack.pop()
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        headers: Any = getattr(getattr(err, "response", None), "headers", None) or getattr(
            err, "headers", None
        )
        value = (
            headers.get("Retry-After") if headers is not None and hasattr(headers, "get") else None
        )
        if value:
            try:
                return max(float(value), 0.0)
            except ValueError:
                return None
        exc_info = getattr(err, "exc_info", None)
        stack += [getattr(err, "cause", None), err.__cause__, err.__context__]
        if isinstance(exc_info, tuple) and len(exc_info) > 1:
            stack.append(exc_info[1])
    return None


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
    import shutil as _shutil

    _shutil.rmtree(work, ignore_errors=True)
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
        width=_int(info.get("width")),
        height=_int(info.get("height")),
        format=str(info.get("format_id") or "") or None,
        quality=quality,
    )


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class _ProgressTracker:
    """Turns yt-dlp's per-stream progress hooks into one running total per video."""

    def __init__(self, video_id: str, callback: ProgressCallback | None) -> None:
        self.video_id = video_id
        self.callback = callback
        self.streams: dict[str, tuple[int, int | None]] = {}
        self.expected: int | None = None
        self.last = 0.0

    def hook(self, d: dict[str, Any]) -> None:
        if self.callback is None:
            return
        name = str(d.get("tmpfilename") or d.get("filename") or "")
        total = d.get("total_bytes") or d.get("total_bytes_estimate")
        done = int(d.get("downloaded_bytes") or 0)
        self.streams[name] = (done, int(total) if total else None)
        if self.expected is None:
            self.expected = _expected_size(d.get("info_dict") or {})
        now = time.monotonic()
        if d.get("status") == "downloading" and now - self.last < 0.2:
            return
        self.last = now
        downloaded = sum(s[0] for s in self.streams.values())
        totals = [s[1] for s in self.streams.values()]
        total_now = sum(t for t in totals if t) if all(totals) else None
        total_bytes = max(self.expected or 0, total_now or 0, downloaded) or None
        self._emit("downloading", downloaded, total_bytes, d.get("speed"), d.get("eta"))

    def finish(self, size: int) -> None:
        if self.callback is not None:
            self._emit("finished", size, size, None, 0)

    def _emit(self, status: str, done: int, total: int | None, speed: Any, eta: Any) -> None:
        try:
            self.callback(  # type: ignore[misc]
                DownloadProgress(self.video_id, status, done, total, speed, eta)
            )
        except Exception:  # a display problem never fails a download
            log.debug("progress callback failed", exc_info=True)


def _expected_size(info: dict[str, Any]) -> int | None:
    formats = info.get("requested_formats") or [info]
    sizes = [f.get("filesize") or f.get("filesize_approx") for f in formats]
    if sizes and all(sizes):
        return int(sum(sizes))
    return None


class _YtdlpLogger:
    """yt-dlp's messages, into our log (debug noise stays at debug)."""

    def debug(self, msg: str) -> None:
        log.debug(msg)

    def info(self, msg: str) -> None:
        log.debug(msg)

    def warning(self, msg: str) -> None:
        log.info(_clean_message(msg))

    def error(self, msg: str) -> None:
        log.debug(_clean_message(msg))


def fetch_thumbnail(url: str, root: Path, video_id: str, timeout: float = 15.0) -> Path | None:
    """Fetch a thumbnail into thumbnails/<id>.<ext>; failures are logged and give None."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            data = response.read(20_000_000)
            ctype = response.headers.get_content_type()
    except Exception as exc:
        log.warning("thumbnail for %s not fetched: %s", video_id, _clean_message(str(exc)))
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
