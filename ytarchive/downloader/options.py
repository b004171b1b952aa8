"""yt-dlp options: what every call starts from, quality names -> formats, ffmpeg, its logger."""

from __future__ import annotations

import logging
import re
import shutil
from functools import lru_cache
from typing import Any

from ytarchive.errors import InputError

__all__ = [
    "QUALITY_FORMATS",
    "YtdlpLogger",
    "base_options",
    "clean_message",
    "ffmpeg_location",
    "format_for_quality",
    "validate_quality",
    "ytdlp_version",
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
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def ytdlp_version() -> str:
    from yt_dlp.version import __version__

    return str(__version__)


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


def clean_message(message: str) -> str:
    """yt-dlp's message without colours, its "ERROR: " prefix or further lines."""
    message = re.sub(r"\x1b\[[0-9;]*m", "", message)
    message = message.replace("ERROR: ", "").strip()
    return message.splitlines()[0] if message else "unknown yt-dlp error"


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
        except (SyntaxError, ValueError) as exc:  # yt-dlp's parser raises SyntaxError
            raise InputError(f"bad --quality {quality!r}: {clean_message(str(exc))}") from None
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


class YtdlpLogger:
    """yt-dlp's messages, into our log and never onto stderr (warnings at `warnings`' level)."""

    def __init__(self, logger: logging.Logger = log, warnings: int = logging.INFO) -> None:
        self.logger = logger
        self.warnings = warnings

    def debug(self, msg: str) -> None:
        self.logger.debug(msg)

    def info(self, msg: str) -> None:
        self.logger.debug(msg)

    def warning(self, msg: str) -> None:
        self.logger.log(self.warnings, clean_message(msg))

    def error(self, msg: str) -> None:
        self.logger.debug(clean_message(msg))
