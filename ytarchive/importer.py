"""Import an existing yt-dlp archive: info.json + media folders and download-archive files."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ytarchive import layout
from ytarchive.errors import InputError
from ytarchive.models import DownloadResult, VideoMetadata
from ytarchive.refs import is_video_id

__all__ = ["Mode", "Found", "ImportReport", "ARCHIVE_REASON", "check_inputs", "import_archive"]

Mode = Literal["copy", "move", "link", "in-place"]
ARCHIVE_REASON = "imported from a download archive"
INFO_SUFFIX = ".info.json"
_BATCH = 200  # videos placed, then recorded, per catalog write
_ARCHIVE_LINE = re.compile(r"^(\S+)\s+(\S+)\s*$")


@dataclass
class Found:
    """One video found on disk: its key, metadata record, info.json and media file."""

    key: str
    record: VideoMetadata
    info_path: Path
    media: Path


@dataclass
class ImportReport:
    """What an import did: keys imported (with a file, from archive files), already there, and
    the inputs skipped, each with why (a broken info.json, a bad archive line)."""

    imported: list[str] = field(default_factory=list)
    from_archive: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def check_inputs(paths: Sequence[Path], archive_files: Sequence[Path]) -> None:
    """Before anything is written: every PATH exists, every archive file is a readable file."""
    if not paths and not archive_files:
        raise InputError("nothing to import: give a folder, an .info.json or --archive-file")
    for path in paths:
        if not path.exists():
            raise InputError(f"no such file or folder: {path}")
    for path in archive_files:
        if not path.is_file() or not os.access(path, os.R_OK):
            raise InputError(f"--archive-file {path}: not a readable file")


def import_archive(
    root: Path,
    paths: Sequence[Path],
    archive_files: Sequence[Path] = (),
    mode: Mode = "copy",
    warn: Callable[[str], None] = lambda _line: None,
) -> ImportReport:
    """Record yt-dlp downloads in the catalog at `root`, nothing downloaded.

    Each video's files are put in place first (copy and link to a temporary name, then renamed;
    move renames or copies then removes; in-place keeps them and records absolute paths), then
    its metadata and outcome rows are written, so an interrupted import is simply run again.
    Keys the catalog already holds as archived or unavailable are left alone.
    """
    from ytarchive.catalog import Catalog

    check_inputs(paths, archive_files)
    report = ImportReport()
    catalog = Catalog(root)
    found = _unique(_scan(paths, report, warn))
    listed = _archive_keys(archive_files, report, warn)
    settled = catalog.settled_ids([f.key for f in found] + listed) if found or listed else set()
    todo = [f for f in found if f.key not in settled]
    report.already.extend(f.key for f in found if f.key in settled)
    for start in range(0, len(todo), _BATCH):
        batch = todo[start : start + _BATCH]
        results = [_place(root, item, mode) for item in batch]
        for item in batch:
            layout.write_metadata(root, item.record)
        catalog.record_metadata([item.record for item in batch])
        catalog.record_outcomes(results)
        settled.update(item.key for item in batch)
        report.imported.extend(item.key for item in batch)
    fresh = [k for k in dict.fromkeys(listed) if k not in settled]
    report.already.extend(k for k in dict.fromkeys(listed) if k in settled)
    if fresh:
        catalog.record_outcomes([_archive_outcome(k) for k in fresh])
        report.from_archive.extend(fresh)
    return report


# -- finding ------------------------------------------------------------------------------------


def _scan(paths: Iterable[Path], report: ImportReport, warn: Callable[[str], None]) -> list[Found]:
    out: list[Found] = []
    for path in paths:
        infos = [path] if path.is_file() else sorted(path.rglob(f"*{INFO_SUFFIX}"))
        for info_path in infos:
            try:
                item = _read(info_path)
            except ValueError as exc:
                report.skipped.append((str(info_path), str(exc)))
                warn(f"skipped {info_path}: {exc}")
                continue
            if item is not None:
                out.append(item)
    return out


def _unique(found: list[Found]) -> list[Found]:
    by_key: dict[str, Found] = {}
    for item in found:
        by_key.setdefault(item.key, item)
    return list(by_key.values())


def _read(info_path: Path) -> Found | None:
    """The video an info.json describes (None for a playlist's); ValueError when it is broken,
    partial (no id or extractor) or has no media file beside it."""
    from ytarchive.downloader.metadata import media_key, metadata_from_info

    if not info_path.name.endswith(INFO_SUFFIX):
        raise ValueError("not a yt-dlp .info.json file")
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not readable JSON ({exc})") from exc
    if not isinstance(info, dict):
        raise ValueError("not a yt-dlp info.json (not an object)")
    if info.get("_type") in ("playlist", "multi_video"):
        return None
    missing = [k for k in ("id", "extractor_key") if not info.get(k)]
    if missing:
        raise ValueError(f"partial info.json: no {', '.join(missing)}")
    youtube = str(info["extractor_key"]).lower() == "youtube"
    if youtube and not is_video_id(str(info["id"])):
        raise ValueError(f"partial info.json: {info['id']!r} is not a YouTube id")
    key = str(info["id"]) if youtube else media_key(info)
    media = _media_beside(info_path, str(info.get("ext") or ""))
    if media is None:
        raise ValueError("no media file beside it")
    record = metadata_from_info(info, video_id=key if youtube else None)
    return Found(key, record, info_path, media)


def _media_beside(info_path: Path, ext: str) -> Path | None:
    """<stem>.<ext> (the info's ext first), the media file yt-dlp wrote beside its info.json."""
    stem = info_path.name[: -len(INFO_SUFFIX)]
    if ext and (info_path.parent / f"{stem}.{ext}").is_file():
        return info_path.parent / f"{stem}.{ext}"
    for candidate in sorted(info_path.parent.glob(f"{glob.escape(stem)}.*")):
        rest = candidate.name[len(stem) + 1 :]
        if "." not in rest and rest.lower() not in layout.SIDECAR_EXTS and candidate.is_file():
            return candidate
    return None


def _archive_keys(
    files: Iterable[Path], report: ImportReport, warn: Callable[[str], None]
) -> list[str]:
    """Keys of a yt-dlp --download-archive file's `<extractor> <id>` lines."""
    keys: list[str] = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            key = _archive_key(line)
            if key is None:
                where = f"{path}:{number}"
                report.skipped.append((where, "not an `<extractor> <id>` line"))
                warn(f"skipped {where}: not an `<extractor> <id>` line")
                continue
            keys.append(key)
    return keys


def _archive_key(line: str) -> str | None:
    match = _ARCHIVE_LINE.match(line)
    if not match:
        return None
    extractor, video_id = match.group(1).lower(), match.group(2)
    if extractor == "youtube":
        return video_id if is_video_id(video_id) else None
    if extractor == "generic":  # keyed by its page URL, which the line does not give
        return None
    return f"{extractor}:{video_id}"


# -- placing and recording ----------------------------------------------------------------------


def _place(root: Path, item: Found, mode: Mode) -> DownloadResult:
    """Put the media file in place (per `mode`) and describe it as an archived outcome."""
    if mode == "in-place":
        target = item.media.resolve()
        recorded = str(target)
    else:
        name = layout.video_filename(item.record.title, item.key, item.media.suffix)
        target = Path(root) / layout.VIDEOS / name
        if not (target.is_file() and target.stat().st_size == item.media.stat().st_size):
            _transfer(item.media, target, mode)
        recorded = layout.relative(root, target)
    width, height = probe_size(target)
    return DownloadResult(
        video_id=item.key,
        status="archived",
        reason="imported",
        file_path=recorded,
        bytes=target.stat().st_size,
        width=width,
        height=height,
        format=target.suffix.lstrip(".") or None,
    )


def _transfer(source: Path, target: Path, mode: Mode) -> None:
    """source -> target under a temporary name first, so the final name only ever holds a
    whole file; `move` removes the source once the target is complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if mode == "move":
        with contextlib.suppress(OSError):
            os.rename(source, target)  # same file system: atomic, nothing to clean up
            return
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".import", dir=target.parent)
    os.close(fd)
    try:
        if mode == "link":
            os.unlink(tmp)
            try:
                os.link(source, tmp)
            except OSError as exc:
                raise InputError(f"cannot hard-link {source} into the archive: {exc}") from exc
        else:
            shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if mode == "move":
        source.unlink()


def _archive_outcome(key: str) -> DownloadResult:
    return DownloadResult(video_id=key, status="archived", reason=ARCHIVE_REASON)


def probe_size(path: Path) -> tuple[int | None, int | None]:
    """A media file's width and height: ffprobe when on PATH, else `ffmpeg -i` (imageio-ffmpeg's
    binary); (None, None) for audio or when neither tells."""
    tool = shutil.which("ffprobe")
    if tool:
        args = [tool, "-v", "error", "-select_streams", "v:0", "-show_entries"]
        args += ["stream=width,height", "-of", "json", str(path)]
        done = subprocess.run(args, capture_output=True, text=True, timeout=120)
        with contextlib.suppress(ValueError, IndexError, KeyError, TypeError):
            stream = json.loads(done.stdout)["streams"][0]
            return int(stream["width"]), int(stream["height"])
        return None, None
    from ytarchive.downloader.options import ffmpeg_location

    ffmpeg = ffmpeg_location()
    if not ffmpeg:
        return None, None
    err = subprocess.run(
        [ffmpeg, "-hide_banner", "-i", str(path)], capture_output=True, text=True, timeout=120
    ).stderr
    size = re.search(r"Stream #.*?Video:.*?\b(\d{2,5})x(\d{2,5})\b", err)
    return (int(size.group(1)), int(size.group(2))) if size else (None, None)
