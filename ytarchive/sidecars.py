"""Files beside a video's media file: subtitles, <stem>.info.json, <stem>.description, NFO."""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from ytarchive import layout
from ytarchive.downloader.sanitize import sanitize_info
from ytarchive.models import SubtitleTrack

__all__ = [
    "NFO_KINDS",
    "keep_thumbnail",
    "place_subtitles",
    "remove_with_sidecars",
    "write_description",
    "write_info_json",
    "write_nfo",
]

NFO_KINDS = ("kodi",)
_IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")


def sidecar(final: Path, suffix: str) -> Path:
    """`videos/Title [id].mp4` -> `videos/Title [id]<suffix>`."""
    return final.with_name(final.stem + suffix)


def remove_with_sidecars(media: Path) -> None:
    """Remove a media file replaced by a new download, and the sidecars of its stem."""
    prefix = media.stem + "."
    for path in media.parent.glob(glob.escape(prefix) + "*"):
        if path.is_file() and path.name != media.name:
            path.unlink(missing_ok=True)
    media.unlink(missing_ok=True)


def place_subtitles(
    root: Path, work: Path, final: Path, info: dict[str, Any]
) -> list[SubtitleTrack]:
    """Move the subtitle files yt-dlp wrote in work/ beside the final media file as
    `<stem>.<lang>.<ext>`; the tracks, automatic when the language was no manual track."""
    manual = set(info.get("subtitles") or {})
    tracks = []
    for lang in sorted(info.get("requested_subtitles") or {}):
        for path in sorted(work.glob(f"media.{glob.escape(lang)}.*")):
            ext = path.name[len(f"media.{lang}.") :]
            if not ext or "." in ext or ext in ("part", "ytdl", "tmp"):
                continue
            target = sidecar(final, f".{lang}.{ext}")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
            tracks.append(
                SubtitleTrack(
                    lang=lang,
                    automatic=lang not in manual,
                    ext=ext,
                    path=layout.relative(root, target),
                )
            )
    return tracks


def keep_thumbnail(root: Path, work: Path, key: str) -> Path | None:
    """The thumbnail yt-dlp fetched (and embedded) into work/, moved to thumbnails/<key>.<ext>."""
    for ext in _IMAGE_EXTS:
        found = work / f"media.{ext}"
        if found.is_file():
            target = layout.thumbnail_path(root, key, ext)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(found, target)
            return target
    return None


def write_info_json(final: Path, info: dict[str, Any]) -> Path:
    """`<stem>.info.json` as yt-dlp writes it (its clean info dict), minus cookies and headers."""
    path = sidecar(final, ".info.json")
    layout.atomic_write_text(path, json.dumps(sanitize_info(info), ensure_ascii=False))
    return path


def write_description(final: Path, description: str | None) -> Path | None:
    if not description:
        return None
    path = sidecar(final, ".description")
    layout.atomic_write_text(path, description)
    return path


def write_nfo(root: Path, final: Path, fields: dict[str, Any]) -> Path:
    """A Kodi/Jellyfin/Emby `episodedetails` NFO as `<stem>.nfo`, and `tvshow.nfo` in the
    channel folder when the file sits in one (videos/<channel>/...)."""
    episode = ET.Element("episodedetails")
    _add(episode, "title", fields.get("title"))
    _add(episode, "plot", fields.get("description"))
    _add(episode, "aired", _date(fields.get("upload_date")))
    _add(episode, "premiered", _date(fields.get("upload_date")))
    _add(episode, "studio", fields.get("channel"))
    uid = ET.SubElement(episode, "uniqueid", {"type": "youtube", "default": "true"})
    uid.text = str(fields.get("id") or "")
    duration = fields.get("duration")
    if isinstance(duration, int | float) and duration > 0:
        _add(episode, "runtime", str(max(1, round(duration / 60))))
    _add(episode, "thumb", fields.get("thumbnail"))
    path = sidecar(final, ".nfo")
    layout.atomic_write_text(path, _xml(episode))
    _write_tvshow(root, final, fields)
    return path


def _write_tvshow(root: Path, final: Path, fields: dict[str, Any]) -> None:
    videos = Path(root) / layout.VIDEOS
    try:
        parts = final.relative_to(videos).parts
    except ValueError:
        return
    if len(parts) < 2:
        return
    path = videos / parts[0] / "tvshow.nfo"
    if path.is_file():
        return
    show = ET.Element("tvshow")
    _add(show, "title", fields.get("channel") or parts[0])
    _add(show, "studio", fields.get("channel"))
    if fields.get("channel_id"):
        uid = ET.SubElement(show, "uniqueid", {"type": "youtube", "default": "true"})
        uid.text = str(fields["channel_id"])
    layout.atomic_write_text(path, _xml(show))


def _add(parent: ET.Element, tag: str, value: Any) -> None:
    if value not in (None, ""):
        ET.SubElement(parent, tag).text = str(value)


def _date(value: Any) -> str | None:
    text = str(value or "")
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}" if len(text) == 8 and text.isdigit() else None


def _xml(element: ET.Element) -> str:
    ET.indent(element)
    body = ET.tostring(element, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + body + "\n"
