"""Where files go in the archive: videos/, metadata/, thumbnails/, catalog/, logs/, temp, locks."""

from __future__ import annotations

import contextlib
import contextvars
import errno
import fcntl
import hashlib
import os
import re
import shutil
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ytarchive.hosts import host_name
from ytarchive.refs import is_video_id

if TYPE_CHECKING:  # the catalog imports this module: keep pydantic's models out of its import
    from ytarchive.models import VideoMetadata

__all__ = [
    "VIDEOS",
    "METADATA",
    "THUMBNAILS",
    "CATALOG",
    "LOGS",
    "TMP",
    "LOCKS",
    "safe_key",
    "slugify",
    "video_filename",
    "find_video_files",
    "metadata_path",
    "write_metadata",
    "thumbnail_path",
    "log_path",
    "temp_dir",
    "video_lock",
    "lease_note",
    "adopt_temp",
    "sweep_temp",
    "relative",
    "atomic_write_bytes",
    "atomic_write_text",
    "writes_staged_in",
]

VIDEOS = "videos"
METADATA = "metadata"
THUMBNAILS = "thumbnails"
CATALOG = "catalog"
LOGS = "logs"
TMP = ".tmp"
LOCKS = ".locks"

_KEPT = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")
_SLUG_DROP = re.compile(r"[\x00-\x1f/\\:*?\"<>|\[\]]+")
_SPACES = re.compile(r"\s+")
MAX_SLUG = 80
MAX_KEY = 120


def safe_key(video_id: str) -> str:
    """A video key as it appears in file names: a YouTube id exactly, anything else made safe.

    YouTube ids (11 of ``[A-Za-z0-9_-]``, a leading ``_`` or ``-`` included) are kept as they
    are. Other keys look like ``generic:abc`` (extractor, colon, id) and are encoded one to one
    into ``[A-Za-z0-9_.-]``: letters, digits and ``-`` stay, ``:`` becomes ``_``, and every
    other byte (``_`` and ``.`` too) becomes ``.`` and two hex digits; so no two keys share a
    name, and no other key takes a YouTube id's name. A name longer than MAX_KEY keeps its
    start and ends in ``.-`` and a hash of the whole key.
    """
    if not video_id:
        raise ValueError("a video key cannot be empty")
    if is_video_id(video_id):
        return video_id
    name = _encode(video_id, colon="_")
    if is_video_id(name):  # e.g. "ab:cdefghij": spell its colons out instead
        name = _encode(video_id, colon=".3A")
    if len(name) > MAX_KEY:
        digest = hashlib.sha256(video_id.encode("utf-8")).hexdigest()[:16]
        name = f"{name[: MAX_KEY - 18]}.-{digest}"
    return name


def _encode(key: str, colon: str) -> str:
    parts = []
    for byte in key.encode("utf-8"):
        if byte in _KEPT:
            parts.append(chr(byte))
        elif byte == 0x3A:
            parts.append(colon)
        else:
            parts.append(f".{byte:02X}")
    return "".join(parts)


def slugify(title: str | None, max_len: int = MAX_SLUG) -> str:
    """A readable file-name stem from a title: unicode kept, separators and brackets dropped."""
    if not title:
        return "untitled"
    text = unicodedata.normalize("NFC", title)
    text = _SLUG_DROP.sub(" ", text)
    text = _SPACES.sub(" ", text).strip(" .-")
    if len(text.encode("utf-8")) > max_len * 2:  # keep names well under 255 bytes
        text = text.encode("utf-8")[: max_len * 2].decode("utf-8", "ignore")
    text = text[:max_len].strip(" .-")
    return text or "untitled"


def video_filename(title: str | None, video_id: str, ext: str) -> str:
    """``<title-slug> [<video_id>].<ext>``: the file name always contains the id."""
    return f"{slugify(title)} [{safe_key(video_id)}].{ext.lstrip('.')}"


def find_video_files(root: Path, video_id: str) -> list[Path]:
    """The media files under videos/ that belong to this id (normally zero or one)."""
    folder = Path(root) / VIDEOS
    marker = f"[{safe_key(video_id)}]."
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    return sorted(
        Path(e.path)
        for e in entries
        if marker in e.name and _is_media_name(e.name.split(marker, 1)[1]) and e.is_file()
    )


# what sits beside a media file and shares its stem: never taken for the media file itself
SIDECAR_EXTS = frozenset(
    {"part", "tmp", "ytdl", "json", "description", "nfo", "vtt", "srt", "ass", "lrc", "jpg"}
    | {"jpeg", "png", "webp"}
)


def _is_media_name(ext: str) -> bool:
    """`mp4` is a media file's extension; `en.vtt`, `info.json`, `nfo` are its sidecars'."""
    return "." not in ext and ext.lower() not in SIDECAR_EXTS


def metadata_path(root: Path, video_id: str) -> Path:
    return Path(root) / METADATA / f"{safe_key(video_id)}.json"


def write_metadata(root: Path, record: VideoMetadata) -> Path:
    """Write metadata/<id>.json (temp name, then rename) and return its path."""
    path = metadata_path(root, record.video_id)
    atomic_write_text(path, record.model_dump_json(indent=2) + "\n")
    return path


def thumbnail_path(root: Path, video_id: str, ext: str) -> Path:
    return Path(root) / THUMBNAILS / f"{safe_key(video_id)}.{ext.lstrip('.')}"


def log_path(root: Path) -> Path:
    return Path(root) / LOGS / "ytarchive.log"


def temp_dir(root: Path, video_id: str) -> Path:
    """The per-video working dir, .tmp/<host>/<key>; only the holder of the video's lock (and,
    across hosts, of its claim) touches it."""
    return Path(root) / TMP / host_name() / safe_key(video_id)


def _lock_path(root: Path, key: str) -> Path:
    """.locks/<host>/<key>.lock: this host's lock; other hosts are kept out by the claim."""
    return Path(root) / LOCKS / host_name() / f"{key}.lock"


@contextlib.contextmanager
def video_lock(root: Path, video_id: str) -> Iterator[bool]:
    """Hold an exclusive fcntl lock for one video across this host's processes.

    Yields True when the lock was free at once, False when another holder had it and we waited
    (so the caller should look again at what that holder left behind). The kernel drops the lock
    when the process dies, so a killed run never leaks it. The lock is per host (a shared
    filesystem need not carry locks between hosts): it is the same-host fast path, and the
    server's claim keeps hosts apart.
    """
    path = _lock_path(root, safe_key(video_id))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        free = _try_lock(fd)
        if not free:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield free
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def lease_note(root: Path, video_id: str) -> Path:
    """.locks/<host>/<key>.lease: the claim's lease a holder on this host has not let go yet.

    Only the holder of the video's lock reads or writes it, so a note found there was left by a
    process of this host that died holding the claim: its lease can be let go at once.
    """
    return _lock_path(root, safe_key(video_id)).with_suffix(".lease")


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        raise
    return True


def adopt_temp(root: Path, video_id: str) -> list[str]:
    """Take over what other hosts left of this video under .tmp/: the hosts it came from.

    Only for the holder of the video's claim across hosts, which proves that no other host is
    downloading it (a holder stops before its lease lapses): the newest such work dir becomes
    this host's, so the download resumes from it, unless this host has one of its own; the rest
    are removed.
    """
    mine = temp_dir(root, video_id)
    try:
        hosts = [d for d in (Path(root) / TMP).iterdir() if d.name != mine.parent.name]
    except FileNotFoundError:
        return []
    theirs = [d / mine.name for d in hosts if d.is_dir() and (d / mine.name).exists()]
    if theirs and not mine.exists():
        newest = max(theirs, key=_newest_mtime)
        mine.parent.mkdir(parents=True, exist_ok=True)
        os.replace(newest, mine)
    for entry in theirs:
        if entry.exists():
            _remove(entry)
    return sorted(entry.parent.name for entry in theirs)


def sweep_temp(root: Path, stale_after: float) -> list[str]:
    """Remove what killed runs left under .tmp/; returns the entries removed (`<host>/<key>`).

    This host's entries go when their video lock is free (a held one is a live download).
    Another host's entries go only when nothing in them changed for `stale_after` seconds (a
    lease: a live download on that host writes, and its claim would still be held).
    """
    tmp = Path(root) / TMP
    removed: list[str] = []
    if not tmp.is_dir():
        return removed
    me = host_name()
    cutoff = time.time() - stale_after
    for host in list(tmp.iterdir()):
        entries = list(host.iterdir()) if host.is_dir() and not host.is_symlink() else [host]
        for entry in entries:
            if host.name == me:
                gone = _remove_if_unlocked(entry, _lock_path(root, entry.name))
            else:
                gone = _newest_mtime(entry) < cutoff and _remove(entry)
            if gone:
                removed.append(entry.relative_to(tmp).as_posix())
    return removed


def _remove_if_unlocked(entry: Path, lock: Path) -> bool:
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(fd):
            return False
        return _remove(entry)
    finally:
        os.close(fd)


def _remove(entry: Path) -> bool:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()
    return True


def _newest_mtime(path: Path) -> float:
    """The newest modification time of `path` and everything under it (0 when it is gone)."""
    newest = 0.0
    for folder, _dirs, files in os.walk(path):
        for name in [folder, *(os.path.join(folder, f) for f in files)]:
            with contextlib.suppress(FileNotFoundError):
                newest = max(newest, os.lstat(name).st_mtime)
    with contextlib.suppress(FileNotFoundError):
        newest = max(newest, os.lstat(path).st_mtime)
    return newest


def relative(root: Path, path: Path) -> str:
    """A path relative to the archive root, with forward slashes (as the catalog stores it)."""
    return Path(os.path.relpath(Path(path).resolve(), Path(root).resolve())).as_posix()


_SCRATCH: contextvars.ContextVar[Path | None] = contextvars.ContextVar("scratch", default=None)


@contextlib.contextmanager
def writes_staged_in(work: Path) -> Iterator[None]:
    """Atomic writes in this block stage their temporary file in `work` (a video's .tmp/ dir)
    instead of beside the final name: a process killed mid-write leaves it there, where the
    video's next download or the sweep of .tmp/ removes it, never in videos/ or metadata/."""
    token = _SCRATCH.set(Path(work))
    try:
        yield
    finally:
        _SCRATCH.reset(token)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary name (in the block's work dir, see writes_staged_in, else in the
    same folder), fsync, then rename into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = _SCRATCH.get()
    if scratch is not None and scratch.is_dir():
        try:
            _write_then_rename(path, data, scratch)
            return
        except OSError as exc:
            if exc.errno != errno.EXDEV:  # another filesystem: stage beside the file instead
                raise
    _write_then_rename(path, data, path.parent)


def _write_then_rename(path: Path, data: bytes, folder: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
