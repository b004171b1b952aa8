"""An archived video's files (media, thumbnail, subtitles) and chapters, found from its catalog row.

Paths come from the catalog (the outcome's `file_path`) or from the video's key made safe by
layout.safe_key, never from a request, and each is checked to resolve inside the archive root.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ytarchive import layout

__all__ = [
    "Subtitle",
    "Chapter",
    "inside",
    "media_file",
    "thumbnail_file",
    "subtitle_files",
    "chapters",
    "MEDIA_TYPES",
]

SUBTITLES = "subtitles"
IMAGE_EXTS = (".jpg", ".jpeg", ".webp", ".png", ".gif")
MEDIA_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".m4a": "audio/mp4",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".mp3": "audio/mpeg",
    ".opus": "audio/ogg",
    ".ogg": "audio/ogg",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".png": "image/png",
    ".gif": "image/gif",
    ".vtt": "text/vtt",
}
_STAMP = re.compile(r"^\s*\(?((?:\d{1,2}:)?\d{1,2}:\d{2})\)?\s*[-–—:|]?\s*(\S.*?)\s*$")
_LANG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True)
class Subtitle:
    """One WebVTT track of a video: its language (as the file name says) and file."""

    lang: str
    path: Path


@dataclass(frozen=True)
class Chapter:
    """A chapter: where it starts (seconds) and its title."""

    start: int
    title: str


def inside(root: Path, path: Path | str) -> Path | None:
    """The file `path` (absolute, or relative to root) resolved, if it is a file under root."""
    base = Path(root).resolve()
    try:
        found = (base / path).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return None
    if not found.is_relative_to(base) or found == base or not found.is_file():
        return None
    return found


def media_file(root: Path, outcome: dict[str, Any] | None) -> Path | None:
    """The media file of an archived video, from its newest outcome row."""
    if not outcome or outcome.get("status") != "archived" or not outcome.get("file_path"):
        return None
    recorded = Path(str(outcome["file_path"]))
    if recorded.is_absolute():  # `ytarchive import --in-place`: the catalog's own record
        return recorded.resolve() if recorded.is_file() else None
    return inside(root, recorded)


def thumbnail_file(root: Path, video_id: str) -> Path | None:
    """thumbnails/<key>.<image ext>, if the archive holds one."""
    folder = Path(root) / layout.THUMBNAILS
    key = layout.safe_key(video_id)
    for ext in IMAGE_EXTS:
        found = inside(root, folder / f"{key}{ext}")
        if found:
            return found
    return None


def subtitle_files(root: Path, video_id: str, media: Path | None = None) -> list[Subtitle]:
    """WebVTT tracks: subtitles/<key>.<lang>.vtt, subtitles/<key>/<lang>.vtt, or sidecars
    beside the media file (<media stem>.<lang>.vtt, as yt-dlp writes them), by language."""
    key = layout.safe_key(video_id)
    folder = Path(root) / SUBTITLES
    found: dict[str, Path] = {}
    places = [(folder, f"{key}."), (folder / key, "")]
    if media is not None:
        places.append((media.parent, f"{media.stem}."))
    for where, prefix in places:
        for path in _vtt_files(where):
            lang = path.name[len(prefix) : -len(".vtt")] if path.name.startswith(prefix) else ""
            checked = inside(root, path)
            if lang and _LANG.match(lang) and checked and lang not in found:
                found[lang] = checked
    return [Subtitle(lang, path) for lang, path in sorted(found.items())]


def _vtt_files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.suffix == ".vtt")
    except OSError:
        return []


def chapters(root: Path, video_id: str, description: str | None) -> list[Chapter]:
    """Chapters from metadata/<key>.json (`chapters`, as yt-dlp gives them) when it has them,
    else from the description's timestamps, as YouTube makes them (the first at 0:00)."""
    listed = _listed_chapters(root, video_id)
    if listed:
        return listed
    out: list[Chapter] = []
    for line in (description or "").splitlines():
        match = _STAMP.match(line)
        if match:
            out.append(Chapter(_seconds(match.group(1)), match.group(2)[:200]))
    if len(out) < 2 or out[0].start != 0:
        return []
    return sorted(out, key=lambda c: c.start)


def _listed_chapters(root: Path, video_id: str) -> list[Chapter]:
    path = inside(root, layout.metadata_path(root, video_id))
    if path is None:
        return []
    try:
        listed = json.loads(path.read_text(encoding="utf-8")).get("chapters") or []
        return [Chapter(int(c["start_time"]), str(c.get("title") or "")) for c in listed]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return []


def _seconds(stamp: str) -> int:
    total = 0
    for part in stamp.split(":"):
        total = total * 60 + int(part)
    return total
