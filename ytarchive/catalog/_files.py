"""The catalog's files: snapshots of a table, names, sidecars, atomic writes and locks."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

from ytarchive.catalog._schema import DERIVED_FORMAT, SIDECAR, TAIL_FORMAT, TAIL_PREFIX, TMP_PREFIX
from ytarchive.errors import CatalogError

# -- the files of a table, as one consistent snapshot ------------------------------------------


@dataclass(frozen=True)
class Files:
    """The live files of one table: the newest base (if any) and everything newer (the tail)."""

    base: str | None
    tail: tuple[str, ...]

    @property
    def all(self) -> tuple[str, ...]:
        return ((self.base,) if self.base else ()) + self.tail

    @property
    def empty(self) -> bool:
        return self.base is None and not self.tail


@dataclass(frozen=True)
class Derived:
    """A full compaction's derived database: tables archive, stats, vocab and postings."""

    path: str

    @property
    def alias(self) -> str:
        return "ytd_" + "".join(c if c.isalnum() else "_" for c in Path(self.path).stem)

    def table(self, name: str) -> str:
        return f"{self.alias}.{name}"


@dataclass(frozen=True)
class TailIndex(Derived):
    """A merge's derived database over the videos and downloads files newer than the derived
    one's bases (`covered`, by name): tables ids, archive (their archive rows, with versions),
    stats (the change to the stored stats per channel), cur (the search text of their newer
    metadata) and gone (the stored rids cur overrides). Rows in files it does not cover are
    read from the files and override it."""

    covered: dict[str, frozenset[str]] = field(default_factory=dict)

    def rest(self, table: str, files: Files) -> tuple[str, ...]:
        """The tail files of a table it does not cover."""
        names = self.covered.get(table, frozenset())
        return tuple(p for p in files.tail if Path(p).name not in names)


@dataclass(frozen=True)
class State:
    files: dict[str, Files]
    derived: Derived | None
    tail_index: TailIndex | None = None

    def paths(self) -> list[str]:
        out = [p for f in self.files.values() for p in f.all]
        out += [d.path for d in (self.derived, self.tail_index) if d]
        return out

    def rest(self, table: str) -> tuple[str, ...]:
        """The tail files of a table not covered by the tail index (all without one)."""
        files = self.files[table]
        return self.tail_index.rest(table, files) if self.tail_index else files.tail


def file_kind(name: str) -> str:
    return name.split("-", 1)[0]


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name[: -len(".parquet")] + SIDECAR)


class _Stale(Exception):
    """The directory changed under a listing: list again."""


def _scan_dir(folder: Path) -> frozenset[str]:
    """The live Parquet file names of a table: every file not superseded by a compacted one."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return frozenset()
    parquet = {n for n in names if n.endswith(".parquet") and not n.startswith(".")}
    superseded: set[str] = set()
    for name in parquet:
        if file_kind(name) == "batch":
            continue
        try:
            superseded.update(_sources(sidecar_path(folder / name)))
        except FileNotFoundError:
            if (folder / name).exists():
                continue  # a compacted file without sidecar supersedes nothing
            raise _Stale from None  # it was deleted after we listed it
        except ValueError as exc:
            raise CatalogError(f"unreadable sidecar of {folder / name}: {exc}") from exc
    return frozenset(parquet - superseded)


_sidecars: dict[Path, list[str]] = {}  # read once a process: a sidecar never changes


def _sources(sidecar: Path) -> list[str]:
    """The file names a compacted file's sidecar lists (a merge of 10,000 batch files lists
    10,000 names, and every listing reads each sidecar twice)."""
    names = _sidecars.get(sidecar)
    if names is None:
        names = json.loads(sidecar.read_text())
        if len(_sidecars) >= 256:
            _sidecars.clear()
        _sidecars[sidecar] = names
    return names


def list_table(folder: Path) -> Files:
    """List a table twice until two listings agree, so no compaction step falls in between."""
    for _ in range(50):
        try:
            first = _scan_dir(folder)
            second = _scan_dir(folder)
        except _Stale:
            continue
        if first == second:
            bases = sorted(n for n in first if file_kind(n) == "base")
            base = bases[-1] if bases else None
            tail = sorted(n for n in first if n != base)
            return Files(str(folder / base) if base else None, tuple(str(folder / n) for n in tail))
        time.sleep(0.001)
    raise CatalogError(f"the catalog under {folder} kept changing while being listed")


def _base_name(files: Files) -> str | None:
    return Path(files.base).name if files.base else None


def base_path(files: Files) -> Path | None:
    return Path(files.base) if files.base else None


def find_derived(index_dir: Path, files: dict[str, Files]) -> Derived | None:
    """The newest derived generation built from exactly the current videos and downloads bases."""
    want = {t: _base_name(files[t]) for t in ("videos", "downloads")}
    for name in _manifests(index_dir):
        if name.startswith(TAIL_PREFIX):
            continue
        try:
            info = json.loads((index_dir / name).read_text())
        except (FileNotFoundError, ValueError):
            continue
        if info.get("format") != DERIVED_FORMAT:
            continue  # written by another version: ignored, rebuilt by the next compaction
        if info.get("videos") == want["videos"] and info.get("downloads") == want["downloads"]:
            return Derived(str(index_dir / info["db"]))
    return None


def _manifests(index_dir: Path) -> list[str]:
    try:
        return sorted((n for n in os.listdir(index_dir) if n.endswith(".json")), reverse=True)
    except FileNotFoundError:
        return []


def find_tail_index(index_dir: Path, files: dict[str, Files], derived: Derived) -> TailIndex | None:
    """The newest tail index built over this derived database whose covered files are all still
    live (rows in newer files are read from them; a merge of covered files makes it stale)."""
    for name in _manifests(index_dir):
        if not name.startswith(TAIL_PREFIX):
            continue
        try:
            info = json.loads((index_dir / name).read_text())
        except (FileNotFoundError, ValueError):
            continue
        if info.get("format") != TAIL_FORMAT or info.get("derived") != Path(derived.path).name:
            continue
        covered = {t: frozenset(info[t]) for t in ("videos", "downloads")}
        live = {t: {Path(p).name for p in files[t].tail} for t in covered}
        if all(covered[t] <= live[t] for t in covered):
            return TailIndex(str(index_dir / info["db"]), covered)
    return None


def cleanup_index(index_dir: Path, keep: str | None) -> None:
    """Remove derived generations other than `keep` (None: only incomplete ones)."""
    try:
        names = os.listdir(index_dir)
    except FileNotFoundError:
        return
    manifests = {n[: -len(".json")] for n in names if n.endswith(".json")}
    for name in names:
        gen = name.split(".", 1)[0]
        if name.startswith(TMP_PREFIX) or (keep is not None and gen != keep):
            remove_any(index_dir / name)
        elif keep is None and gen not in manifests:
            remove_any(index_dir / name)


def remove_any(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        unlink_quiet(path)


def unlink_quiet(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError, IsADirectoryError):
        path.unlink()


def final_name(path: Path) -> str:
    name = path.name
    if name.startswith(TMP_PREFIX):
        name = name[len(TMP_PREFIX) : -len(".tmp")]
    return name


# -- small helpers ----------------------------------------------------------------------------


def utcnow() -> Any:
    from datetime import datetime

    return datetime.now(UTC)


def new_name(kind: str) -> str:
    return f"{kind}-{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}.parquet"


def timestamp_of(value: Any) -> float:
    if value is None:
        return float("-inf")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, path)
    except BaseException:
        unlink_quiet(tmp)
        raise


@contextlib.contextmanager
def table_lock(folder: Path, blocking: bool) -> Iterator[bool]:
    """This host's compaction lock of one table (fcntl: the kernel drops it when the holder
    dies). One lock file per host: on shared storage fcntl locks need not hold across hosts, so
    they guard only this host's compactors; the fleet's are kept apart by the injected guard."""
    from ytarchive.hosts import host_name

    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / f".compact.{host_name()}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
