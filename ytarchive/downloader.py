"""yt-dlp, and only here: downloads, keyless metadata, quality -> format, progress, error classes."""

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
    """Translate a yt-dlp exception into ours: Unavailable (permanent), Transient or DownloadFailed."""
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


# ---------------------------------------------------------------------------------------------
# Downloads (owned by the archive-pipeline issue): quality -> format, progress, files
# ---------------------------------------------------------------------------------------------
