"""The catalog: append-only Parquet tables under <root>/catalog, read through DuckDB views.

Layout (README.md, "The catalog"): ``catalog/<table>/<kind>-<time_ns>-<pid>-<rand>.parquet``, kind
``batch`` (one per write call), ``merged`` (small files merged) or ``base`` (a full compaction).
Every file is written whole under a temporary name and renamed, so no reader ever sees a torn file
and any number of processes write at once without a lock. A compacted file names the files it
replaces in a ``.sources.json`` sidecar written before it appears; readers drop those files, so a
row is never seen twice, and a compactor killed at any point loses nothing. Only compactors take a
lock (one per table). A full compaction also writes a derived DuckDB database under
``catalog/_index/``: the ``archive`` table (newest metadata joined with newest outcome, one row per
video, in list order), stats per channel, the newest outcome per video, and a word index over
title, description, tags and channel, so list, stats and search stay fast on big archives. Rows
written after it are read from their files and override it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ytarchive.errors import CatalogError, InputError

if TYPE_CHECKING:
    from ytarchive.models import DownloadResult, PlaylistInfo, PlaylistItem, VideoMetadata

__all__ = ["Catalog", "TABLES", "STATUSES", "LIST_COLUMNS", "VIEWS"]

TABLES = ("videos", "downloads", "playlists", "playlist_items")
STATUSES = ("archived", "unavailable", "failed")

_TYPES = {
    "str": "VARCHAR",
    "int": "BIGINT",
    "ts": "TIMESTAMPTZ",
    "bool": "BOOLEAN",
    "strlist": "VARCHAR[]",
}

# The columns of every file of each table, in order. `_latest` (the newest row for its key within
# that file) is the last column of every file; the views hide it.
COLUMNS: dict[str, list[tuple[str, str]]] = {
    "videos": [
        ("video_id", "str"),
        ("title", "str"),
        ("description", "str"),
        ("channel_id", "str"),
        ("channel_title", "str"),
        ("published_at", "ts"),
        ("duration_seconds", "int"),
        ("view_count", "int"),
        ("like_count", "int"),
        ("comment_count", "int"),
        ("tags", "strlist"),
        ("category_id", "str"),
        ("thumbnail_url", "str"),
        ("source", "str"),
        ("fetched_at", "ts"),
        ("webpage_url", "str"),
        ("availability", "str"),
        ("unavailable_reason", "str"),
        ("recorded_at", "ts"),
    ],
    "downloads": [
        ("video_id", "str"),
        ("status", "str"),
        ("reason", "str"),
        ("error_class", "str"),
        ("file_path", "str"),
        ("bytes", "int"),
        ("width", "int"),
        ("height", "int"),
        ("format", "str"),
        ("quality", "str"),
        ("attempts", "int"),
        ("flow_run_id", "str"),
        ("recorded_at", "ts"),
    ],
    "playlists": [
        ("playlist_id", "str"),
        ("title", "str"),
        ("channel_id", "str"),
        ("channel_title", "str"),
        ("item_count", "int"),
        ("url", "str"),
        ("source", "str"),
        ("fetched_at", "ts"),
        ("snapshot_id", "str"),
        ("recorded_at", "ts"),
    ],
    "playlist_items": [
        ("playlist_id", "str"),
        ("position", "int"),
        ("video_id", "str"),
        ("title", "str"),
        ("availability", "str"),
        ("url", "str"),
        ("duration_seconds", "int"),
        ("snapshot_id", "str"),
        ("fetched_at", "ts"),
    ],
}
LATEST = "_latest"

# key and "newest first" order of the tables that keep one current row per key
_KEYS = {
    "videos": ("video_id", "fetched_at DESC NULLS LAST, recorded_at DESC NULLS LAST"),
    "downloads": ("video_id", "recorded_at DESC NULLS LAST, status"),
    "playlists": ("playlist_id", "fetched_at DESC NULLS LAST, recorded_at DESC NULLS LAST"),
}
# physical order of a base file: current rows first (row groups of history are skipped), by key
_BASE_ORDER = {
    "videos": "_latest DESC, video_id, fetched_at DESC NULLS LAST",
    "downloads": "_latest DESC, video_id, recorded_at DESC NULLS LAST",
    "playlists": "_latest DESC, playlist_id, fetched_at DESC NULLS LAST",
    "playlist_items": "playlist_id, fetched_at DESC NULLS LAST, snapshot_id, position",
}

# one row per video: the newest metadata joined with the newest outcome
ARCHIVE_COLUMNS: list[tuple[str, str]] = [
    ("video_id", "str"),
    ("title", "str"),
    ("channel_id", "str"),
    ("channel_title", "str"),
    ("published_at", "ts"),
    ("duration_seconds", "int"),
    ("view_count", "int"),
    ("status", "str"),
    ("reason", "str"),
    ("file_path", "str"),
    ("bytes", "int"),
    ("width", "int"),
    ("height", "int"),
    ("format", "str"),
    ("recorded_at", "ts"),
    ("archived_at", "ts"),
]
LIST_COLUMNS = [
    "video_id",
    "title",
    "channel_title",
    "status",
    "reason",
    "file_path",
    "bytes",
    "width",
    "height",
    "duration_seconds",
    "published_at",
    "archived_at",
]
VIEWS = (
    "videos",
    "video_snapshots",
    "downloads",
    "download_history",
    "playlists",
    "playlist_snapshots",
    "playlist_items",
    "archive",
)

INDEX_DIR = "_index"
DERIVED_FORMAT = 2  # bump when the derived database's tables change
SIDECAR = ".sources.json"
TMP_PREFIX = ".tmp-"

AUTO_MERGE_FILES = 64  # a table with more batch files than this is merged after a write
MAX_MERGED_FILES = 8  # merged files beyond this are merged together
AUTO_FULL_MIN_ROWS = 20_000  # a tail of this many rows (and AUTO_FULL_RATIO of the base) ...
AUTO_FULL_RATIO = 0.02  # ... triggers a full compaction after a merge
STALE_TMP_SECONDS = 3600.0
COMPACT_MEMORY = "2GB"
MAX_RANGES = 512  # token-id ranges per word written out; beyond, an IN list
INDEX_SLICE = 100_000  # videos tokenised at a time when building the word index
_READ_RETRIES = 12

_duckdb_module: Any = None


# -- outside libraries, imported on first use ------------------------------------------------


def _duckdb() -> Any:
    global _duckdb_module
    if _duckdb_module is None:
        import duckdb

        _duckdb_module = duckdb
    return _duckdb_module


def _arrow() -> tuple[Any, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pa, pq


def _arrow_schema(table: str) -> Any:
    pa, _ = _arrow()
    kinds = {
        "str": pa.string(),
        "int": pa.int64(),
        "ts": pa.timestamp("us", tz="UTC"),
        "bool": pa.bool_(),
        "strlist": pa.list_(pa.string()),
    }
    fields = [pa.field(n, kinds[k]) for n, k in COLUMNS[table]]
    return pa.schema([*fields, pa.field(LATEST, pa.bool_())])


# -- SQL text ---------------------------------------------------------------------------------


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _cols(spec: list[tuple[str, str]], prefix: str = "") -> str:
    return ", ".join(prefix + _q(n) for n, _ in spec)


def _empty(spec: list[tuple[str, str]]) -> str:
    cols = ", ".join(f"NULL::{_TYPES[k]} AS {_q(n)}" for n, k in spec)
    return f"SELECT {cols} WHERE false"


def _scan(paths: Sequence[str], row_numbers: bool = False) -> str:
    extra = ", file_row_number = true" if row_numbers else ""
    if len(paths) == 1:
        return f"read_parquet({_lit(paths[0])}{extra})"
    listed = ", ".join(_lit(p) for p in paths)
    return f"read_parquet([{listed}], union_by_name = true{extra})"


# -- the files of a table, as one consistent snapshot ------------------------------------------


@dataclass(frozen=True)
class _Files:
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
class _Derived:
    """A full compaction's derived database: tables archive, stats, vocab and postings."""

    path: str

    @property
    def alias(self) -> str:
        return "ytd_" + "".join(c if c.isalnum() else "_" for c in Path(self.path).stem)

    def table(self, name: str) -> str:
        return f"{self.alias}.{name}"


@dataclass(frozen=True)
class _State:
    files: dict[str, _Files]
    derived: _Derived | None

    def paths(self) -> list[str]:
        out = [p for f in self.files.values() for p in f.all]
        if self.derived:
            out.append(self.derived.path)
        return out


def _kind(name: str) -> str:
    return name.split("-", 1)[0]


def _sidecar(path: Path) -> Path:
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
        if _kind(name) == "batch":
            continue
        try:
            superseded.update(json.loads(_sidecar(folder / name).read_text()))
        except FileNotFoundError:
            if (folder / name).exists():
                continue  # a compacted file without sidecar supersedes nothing
            raise _Stale from None  # it was deleted after we listed it
        except ValueError as exc:
            raise CatalogError(f"unreadable sidecar of {folder / name}: {exc}") from exc
    return frozenset(parquet - superseded)


def _list_table(folder: Path) -> _Files:
    """List a table twice until two listings agree, so no compaction step falls in between."""
    for _ in range(50):
        try:
            first = _scan_dir(folder)
            second = _scan_dir(folder)
        except _Stale:
            continue
        if first == second:
            bases = sorted(n for n in first if _kind(n) == "base")
            base = bases[-1] if bases else None
            tail = sorted(n for n in first if n != base)
            return _Files(
                str(folder / base) if base else None, tuple(str(folder / n) for n in tail)
            )
        time.sleep(0.001)
    raise CatalogError(f"the catalog under {folder} kept changing while being listed")


def _base_name(files: _Files) -> str | None:
    return Path(files.base).name if files.base else None


def _base_path(files: _Files) -> Path | None:
    return Path(files.base) if files.base else None


def _find_derived(index_dir: Path, files: dict[str, _Files]) -> _Derived | None:
    """The newest derived generation built from exactly the current videos and downloads bases."""
    want = {t: _base_name(files[t]) for t in ("videos", "downloads")}
    try:
        manifests = sorted((n for n in os.listdir(index_dir) if n.endswith(".json")), reverse=True)
    except FileNotFoundError:
        return None
    for name in manifests:
        try:
            info = json.loads((index_dir / name).read_text())
        except (FileNotFoundError, ValueError):
            continue
        if info.get("format") != DERIVED_FORMAT:
            continue  # written by another version: ignored, rebuilt by the next compaction
        if info.get("videos") == want["videos"] and info.get("downloads") == want["downloads"]:
            return _Derived(str(index_dir / info["db"]))
    return None


# -- the SQL of the views ---------------------------------------------------------------------


class _Sql:
    """Builds the SQL of each view over one snapshot of the files."""

    def __init__(self, state: _State) -> None:
        self.state = state

    def history(self, table: str, where: str = "") -> str:
        files = self.state.files[table]
        spec = COLUMNS[table]
        if files.empty:
            return _empty(spec)
        cond = f" WHERE {where}" if where else ""
        return f"SELECT {_cols(spec)} FROM {_scan(files.all)}{cond}"

    def latest(self, table: str, where: str = "") -> str:
        """The newest row per key: the base's current rows, overridden by the deduplicated tail."""
        files = self.state.files[table]
        spec = COLUMNS[table]
        key, order = _KEYS[table]
        cols = _cols(spec)
        extra = f" AND ({where})" if where else ""
        if files.empty:
            return _empty(spec)

        def newest(source: str) -> str:
            return (
                f"SELECT {cols} FROM ({source}) "
                f"QUALIFY row_number() OVER (PARTITION BY {_q(key)} ORDER BY {order}) = 1"
            )

        tail = f"SELECT {cols} FROM {_scan(files.tail)} WHERE true{extra}" if files.tail else ""
        if files.base is None:
            return newest(tail)
        base = f"SELECT {cols} FROM {_scan([files.base])} WHERE {LATEST}{extra}"
        if table == "downloads" and self.state.derived is not None:
            # the same rows, in a table indexed by video_id
            base = f"SELECT {cols} FROM {self.state.derived.table('downloads')} WHERE true{extra}"
        if not files.tail:
            return base
        keys = f"SELECT {_q(key)} FROM {_scan(files.tail)} WHERE {_q(key)} IS NOT NULL"
        return f"{base} AND {_q(key)} NOT IN ({keys}) UNION ALL " + newest(
            f"{tail} UNION ALL {base} AND {_q(key)} IN ({keys})"
        )

    def playlist_items(self) -> str:
        """Items of each playlist's newest listing."""
        items = self.history("playlist_items")
        playlists = self.latest("playlists")
        return (
            f"SELECT i.* FROM ({items}) i JOIN ({playlists}) p "
            "ON i.playlist_id = p.playlist_id AND i.snapshot_id = p.snapshot_id"
        )

    def live_archive(self, where: str = "", versions: bool = False) -> str:
        """One row per video, computed from the tables (optionally for some video ids only);
        with versions, also which metadata snapshot it shows (metadata_fetched_at and _recorded_at).
        """
        more = ", v.fetched_at AS metadata_fetched_at, v.recorded_at AS metadata_recorded_at"
        hist_where = "status = 'archived'" + (f" AND ({where})" if where else "")
        return (
            f"WITH v AS ({self.latest('videos', where)}), "
            f"d AS ({self.latest('downloads', where)}), "
            f"h AS (SELECT video_id, max(recorded_at) AS archived_at "
            f"FROM ({self.history('downloads', hist_where)}) GROUP BY video_id) "
            "SELECT coalesce(v.video_id, d.video_id) AS video_id, v.title, v.channel_id, "
            "v.channel_title, v.published_at, v.duration_seconds, v.view_count, d.status, "
            "d.reason, d.file_path, d.bytes, d.width, d.height, d.format, d.recorded_at, "
            f"h.archived_at{more if versions else ''} "
            "FROM v FULL OUTER JOIN d ON v.video_id = d.video_id "
            "LEFT JOIN h ON h.video_id = coalesce(v.video_id, d.video_id)"
        )

    def archive_tail(self) -> bool:
        """Whether videos or downloads have rows newer than the bases (see tail_ids)."""
        return any(self.state.files[t].tail for t in ("videos", "downloads"))

    def tail_ids(self) -> str:
        """Ids with rows newer than the bases: their archive rows are computed, not read."""
        parts = [
            f"SELECT video_id FROM {_scan(self.state.files[t].tail)}"
            for t in ("videos", "downloads")
            if self.state.files[t].tail
        ]
        return " UNION ".join(parts) if parts else "SELECT NULL::VARCHAR AS video_id WHERE false"

    def archive(self, where: str = "") -> str:
        derived = self.state.derived
        if derived is None:
            return self.live_archive(where)
        extra = f" AND ({where})" if where else ""
        cols = _cols(ARCHIVE_COLUMNS)
        stored = f"SELECT {cols} FROM {derived.table('archive')} WHERE true{extra}"
        if not self.archive_tail():
            return stored
        return (
            f"{stored} AND video_id NOT IN (SELECT video_id FROM _tail_ids) UNION ALL "
            f"SELECT {cols} FROM ({self.tail_archive(where)})"
        )

    def tail_archive(self, where: str = "", old: bool = False) -> str:
        """Archive rows of the videos changed since the compaction (the ids in _tail_ids), from
        the rows written since and the stored archive row, never reading the base files. With
        old, also what the stored row said (old_present, old_channel_title, old_status,
        old_bytes, old_duration_seconds)."""
        derived = self.state.derived
        assert derived is not None
        extra = f" AND ({where})" if where else ""
        videos, downloads = (self.state.files[t].tail for t in ("videos", "downloads"))
        vcols = [
            ("video_id", "str"), ("title", "str"), ("channel_id", "str"),
            ("channel_title", "str"), ("published_at", "ts"), ("duration_seconds", "int"),
            ("view_count", "int"), ("fetched_at", "ts"), ("recorded_at", "ts"),
        ]  # fmt: skip
        dcols = [(n, k) for n, k in COLUMNS["downloads"] if n in ("video_id", *_DOWNLOAD_FIELDS)]
        tv, td, ta = _empty(vcols), _empty(dcols), _empty([("video_id", "str"), ("at", "ts")])
        if videos:
            tv = (
                f"SELECT {_cols(vcols)} FROM {_scan(videos)} WHERE true{extra} QUALIFY "
                f"row_number() OVER (PARTITION BY video_id ORDER BY {_KEYS['videos'][1]}) = 1"
            )
        if downloads:
            td = (
                f"SELECT {_cols(dcols)} FROM {_scan(downloads)} WHERE true{extra} QUALIFY "
                f"row_number() OVER (PARTITION BY video_id ORDER BY {_KEYS['downloads'][1]}) = 1"
            )
            ta = (
                f"SELECT video_id, max(recorded_at) AS at FROM {_scan(downloads)} "
                f"WHERE status = 'archived'{extra} GROUP BY video_id"
            )
        stored = (
            f"SELECT * FROM {derived.table('archive')} "
            f"WHERE video_id IN (SELECT video_id FROM _tail_ids){extra}"
        )
        new_meta = (
            "(tv.video_id IS NOT NULL AND (b.metadata_fetched_at IS NULL "
            "OR tv.fetched_at > b.metadata_fetched_at OR (tv.fetched_at = b.metadata_fetched_at "
            "AND tv.recorded_at >= b.metadata_recorded_at)))"
        )
        new_outcome = (
            "(td.video_id IS NOT NULL AND (b.status IS NULL OR td.recorded_at > b.recorded_at "
            "OR (td.recorded_at = b.recorded_at AND td.status <= b.status)))"
        )
        picked = []
        for name, _ in ARCHIVE_COLUMNS[1:]:
            if name == "archived_at":
                picked.append("greatest(b.archived_at, ta.at) AS archived_at")
            elif name in _DOWNLOAD_FIELDS:
                picked.append(f"CASE WHEN {new_outcome} THEN td.{name} ELSE b.{name} END AS {name}")
            else:
                picked.append(f"CASE WHEN {new_meta} THEN tv.{name} ELSE b.{name} END AS {name}")
        if old:
            picked.append("b.video_id IS NOT NULL AS old_present")
            picked += [
                f"b.{n} AS old_{n}"
                for n in ("channel_title", "status", "bytes", "duration_seconds")
            ]
        ids = "SELECT video_id FROM _tail_ids" + (f" WHERE {where}" if where else "")
        return (
            f"WITH ids AS ({ids}), tv AS ({tv}), td AS ({td}), ta AS ({ta}), b AS ({stored}) "
            f"SELECT ids.video_id, {', '.join(picked)} FROM ids "
            "LEFT JOIN tv ON tv.video_id = ids.video_id LEFT JOIN td ON td.video_id = ids.video_id "
            "LEFT JOIN ta ON ta.video_id = ids.video_id LEFT JOIN b ON b.video_id = ids.video_id"
        )

    def views(self) -> dict[str, str]:
        return {
            "videos": self.latest("videos"),
            "video_snapshots": self.history("videos"),
            "downloads": self.latest("downloads"),
            "download_history": self.history("downloads"),
            "playlists": self.latest("playlists"),
            "playlist_snapshots": self.history("playlists"),
            "playlist_items": self.playlist_items(),
            "archive": self.archive(),
        }


# -- the catalog ------------------------------------------------------------------------------


def _search_text(alias: str = "") -> str:
    a = alias + "." if alias else ""
    return (
        f"lower(concat_ws(' ', {a}title, {a}description, {a}channel_title, "
        f"array_to_string({a}tags, ' ')))"
    )


class Catalog:
    """The archive's catalog under <root>/catalog: record outcomes and metadata, query them."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.dir = self.root / "catalog"

    # -- writing -------------------------------------------------------------------------------

    def record_metadata(self, records: Sequence[VideoMetadata]) -> None:
        """Append metadata snapshots (one Parquet file per call)."""
        now = _utcnow()
        rows = [{**r.model_dump(), "recorded_at": now} for r in records]
        self._append("videos", rows)

    def record_outcomes(self, results: Sequence[DownloadResult]) -> None:
        """Append download outcomes (one Parquet file per call)."""
        self._append("downloads", [r.model_dump() for r in results])

    def record_playlist(self, info: PlaylistInfo, items: Sequence[PlaylistItem]) -> None:
        """Append one listing of a playlist: its items first, then the playlist row naming them."""
        snapshot = f"{time.time_ns():020d}-{secrets.token_hex(4)}"
        now = _utcnow()
        rows = [
            {**i.model_dump(), "snapshot_id": snapshot, "fetched_at": info.fetched_at}
            for i in items
        ]
        self._append("playlist_items", rows)
        self._append(
            "playlists", [{**info.model_dump(), "snapshot_id": snapshot, "recorded_at": now}]
        )

    def _append(self, table: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        _mark_latest(table, rows)
        pa, _ = _arrow()
        try:
            data = pa.Table.from_pylist(rows, schema=_arrow_schema(table))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise CatalogError(f"cannot record {table}: {exc}") from exc
        folder = self.dir / table
        self._write_arrow(folder, _new_name("batch"), data)
        self._after_write(table, folder)

    def _write_arrow(self, folder: Path, name: str, data: Any) -> Path:
        _, pq = _arrow()
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / name
        tmp = folder / f"{TMP_PREFIX}{name}.tmp"
        try:
            pq.write_table(data, tmp, compression="zstd")
            _fsync(tmp)
            os.rename(tmp, final)
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            if isinstance(exc, OSError):
                raise CatalogError(f"cannot write {final}: {exc}") from exc
            raise
        return final

    def _after_write(self, table: str, folder: Path) -> None:
        """Merge a table's small files once there are too many; a full compaction when the tail
        has grown large next to the base. Skipped when another process is compacting."""
        try:
            batches = sum(1 for n in os.listdir(folder) if n.startswith("batch-"))
        except FileNotFoundError:
            return
        if batches <= AUTO_MERGE_FILES:
            return
        try:
            merged = self._merge(table, blocking=False)
            if merged and self._tail_too_big():
                self._compact_full(blocking=False)
        except (CatalogError, OSError) as exc:  # the write itself is done; the next one retries
            logging.getLogger(__name__).warning("catalog compaction skipped: %s", exc)

    def _tail_too_big(self) -> bool:
        _, pq = _arrow()
        for table in ("videos", "downloads"):
            files = _list_table(self.dir / table)
            try:
                tail = sum(pq.read_metadata(p).num_rows for p in files.tail)
                base = pq.read_metadata(files.base).num_rows if files.base else 0
            except (OSError, ValueError):
                continue  # moved on under us; the next write looks again
            if tail > max(AUTO_FULL_MIN_ROWS, AUTO_FULL_RATIO * base):
                return True
        return False

    # -- reading -------------------------------------------------------------------------------

    def latest_outcomes(self, video_ids: Iterable[str] | None = None) -> dict[str, DownloadResult]:
        """The newest outcome of each video (of the given ids, or of all)."""
        from ytarchive.models import DownloadResult

        rows = self._latest_rows("downloads", video_ids)
        return {r["video_id"]: DownloadResult(**_present(r)) for r in rows}

    def settled_ids(self, video_ids: Iterable[str] | None = None) -> set[str]:
        """Ids whose newest outcome is archived or unavailable: nothing left to do for them."""
        ids = _id_list(video_ids)
        if ids == []:
            return set()

        def run(con: Any, sql: _Sql) -> set[str]:
            latest = sql.latest("downloads", _ids_where(con, ids))
            query = f"SELECT video_id FROM ({latest}) WHERE status IN ('archived', 'unavailable')"
            return {r[0] for r in con.execute(query).fetchall()}

        return self._read(run, tables=("downloads",))

    def metadata(self, video_ids: Iterable[str] | None = None) -> dict[str, VideoMetadata]:
        """The newest metadata snapshot of each video (of the given ids, or of all)."""
        from ytarchive.models import VideoMetadata

        out = {}
        for row in self._latest_rows("videos", video_ids):
            row.pop("recorded_at", None)
            out[row["video_id"]] = VideoMetadata(**_present(row))
        return out

    def _latest_rows(self, table: str, video_ids: Iterable[str] | None) -> list[dict]:
        ids = _id_list(video_ids)
        if ids == []:
            return []

        def run(con: Any, sql: _Sql) -> list[dict]:
            return _fetch(con, sql.latest(table, _ids_where(con, ids)), COLUMNS[table])

        return self._read(run, tables=(table,))

    def count_videos(self, status: str | None = None) -> int:
        """How many rows list_videos would give without a limit."""
        _check_status(status)
        stats = self.stats()
        return int(stats[status] if status else stats["videos"])

    def list_videos(
        self, status: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[dict]:
        """One row per video (LIST_COLUMNS and more), newest published first (videos with no
        publication date, such as unavailable ones never fetched, come last)."""
        _check_status(status)
        if (limit is not None and limit < 0) or offset < 0:
            raise InputError("--limit and --offset must not be negative")

        def run(con: Any, sql: _Sql) -> list[dict]:
            cond = f"status = {_lit(status)}" if status else "true"
            if sql.state.derived is None or limit is None:
                page = f" LIMIT {int(limit)}" if limit is not None else ""
                page += f" OFFSET {int(offset)}" if offset else ""
                query = f"SELECT * FROM ({sql.archive()}) WHERE {cond} ORDER BY {_LIST_ORDER}{page}"
                return _fetch(con, query, ARCHIVE_COLUMNS)
            rows = _first_rows(con, sql, cond, offset + limit, by_status=status is not None)
            return rows[offset : offset + limit]

        return self._read(run, archive=True)

    def stats(self) -> dict:
        """Counts per status, total bytes and duration of what is archived, and the same per
        channel (most videos first)."""

        def run(con: Any, sql: _Sql) -> dict:
            derived = sql.state.derived
            if derived is None:
                parts = [_stats_sql(sql.archive())]
            else:
                parts = [
                    f"SELECT channel_title, {', '.join(STATS_KEYS)} FROM {derived.table('stats')}"
                ]
                if sql.archive_tail():  # the changed videos: their stored rows out, new rows in
                    fields = ("channel_title", "status", "bytes", "duration_seconds")
                    narrow = ", ".join([*fields, "old_present", *(f"old_{f}" for f in fields)])
                    con.execute(
                        f"CREATE OR REPLACE TEMP TABLE _changed AS SELECT {narrow} "
                        f"FROM ({sql.tail_archive(old=True)})"
                    )
                    old = "SELECT * FROM _changed WHERE old_present"
                    parts += [
                        _stats_sql(old, sign=-1, prefix="old_"),
                        _stats_sql("SELECT * FROM _changed"),
                    ]
            sums = ", ".join(f"sum({k})::BIGINT AS {k}" for k in STATS_KEYS)
            per = (
                f"SELECT channel_title, {sums} FROM ({' UNION ALL '.join(parts)}) "
                "GROUP BY channel_title"
            )
            cur = con.execute(
                f"SELECT grouping(channel_title) AS total, channel_title, {sums} FROM ({per}) "
                "WHERE videos > 0 GROUP BY GROUPING SETS ((), (channel_title)) "
                "ORDER BY total DESC, videos DESC, channel_title NULLS LAST"
            )
            rows = cur.fetchall()
            keys = ("channel_title", *STATS_KEYS)
            summary = dict(zip(STATS_KEYS, (int(v or 0) for v in rows[0][2:]), strict=True))
            channels = [dict(zip(keys, r[1:], strict=True)) for r in rows[1:]]
            return {**summary, "channels": channels}

        return self._read(run, archive=True)

    def search(self, query: str, limit: int = 50) -> list[dict]:
        """Videos whose title, description, tags or channel hold every word of the query
        (case-insensitive substrings); title matches first, then the newest published."""
        words = list(dict.fromkeys(w for w in query.split() if w))
        if not words:
            raise InputError("search needs at least one word")
        if limit < 0:
            raise InputError("--limit must not be negative")
        if limit == 0:
            return []
        return self._read(lambda con, sql: _Search(con, sql, words, limit).run(), archive=True)

    def sql(self, statement: str) -> tuple[list[str], list[tuple]]:
        """Run one read-only SELECT over the catalog's views; anything else is an InputError."""
        duckdb = _duckdb()
        try:
            parsed = duckdb.extract_statements(statement)
        except duckdb.Error as exc:
            raise InputError(f"SQL: {_first_line(exc)}") from None
        if len(parsed) != 1:
            raise InputError(f"SQL: give exactly one statement, not {len(parsed)}")
        if parsed[0].type != duckdb.StatementType.SELECT:
            kind = str(parsed[0].type).rsplit(".", 1)[-1]
            raise InputError(f"SQL: only read-only SELECT queries are allowed, not {kind}")

        def run(con: Any, sql: _Sql) -> tuple[list[str], list[tuple]]:
            for name, body in sql.views().items():
                con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {body}")
            _lock_down(con, self.root)
            try:
                cur = con.execute(statement)
                return [d[0] for d in cur.description or []], cur.fetchall()
            except duckdb.Error as exc:
                if self._moved_on(sql.state):
                    raise
                raise InputError(f"SQL: {_first_line(exc)}") from None

        return self._read(run, archive=True, sandbox=True)

    # -- the read loop -------------------------------------------------------------------------

    def _state(self, tables: Sequence[str], archive: bool) -> _State:
        derive = archive or "downloads" in tables
        wanted = TABLES if archive else (*tables, "videos", "downloads") if derive else tables
        files = {t: _list_table(self.dir / t) if t in wanted else _Files(None, ()) for t in TABLES}
        derived = _find_derived(self.dir / INDEX_DIR, files) if derive else None
        return _State(files, derived)

    def _read(
        self,
        fn: Callable[[Any, _Sql], Any],
        tables: Sequence[str] = TABLES,
        archive: bool = False,
        sandbox: bool = False,
    ) -> Any:
        """Run fn on a connection over one snapshot of the files; if a compaction removed a file
        under it, take a new snapshot and run again."""
        duckdb = _duckdb()
        for attempt in range(_READ_RETRIES):
            state = self._state(tables, archive)
            con = _sandbox_connection() if sandbox else _cursor()
            try:
                if state.derived is not None and not _attach(con, state.derived, sandbox):
                    state = _State(state.files, None)  # unreadable: answer from the tables
                sql = _Sql(state)
                if archive and state.derived is not None:
                    con.execute(f"CREATE OR REPLACE TEMP TABLE _tail_ids AS {sql.tail_ids()}")
                return fn(con, sql)
            except duckdb.Error as exc:
                if attempt + 1 < _READ_RETRIES and self._moved_on(state):
                    continue
                raise CatalogError(f"cannot read the catalog: {_first_line(exc)}") from exc
            finally:
                con.close()
        raise CatalogError("the catalog kept changing while being read")  # pragma: no cover

    @staticmethod
    def _moved_on(state: _State) -> bool:
        return any(not os.path.exists(p) for p in state.paths())

    # -- compaction ----------------------------------------------------------------------------

    def compact(self, full: bool = True) -> dict:
        """Merge each table's files (all into one base when full), waiting for any other
        compactor; returns the number of files merged per table."""
        if full:
            return self._compact_full(blocking=True) or {t: 0 for t in TABLES}
        return {t: self._merge(t, blocking=True) for t in TABLES}

    def _merge(self, table: str, blocking: bool) -> int:
        """Merge the small files of a table into one merged file. Returns files merged."""
        folder = self.dir / table
        with _table_lock(folder, blocking) as held:
            if not held:
                return 0
            _cleanup(folder)
            files = _list_table(folder)
            batches = [p for p in files.tail if _kind(Path(p).name) == "batch"]
            merged = [p for p in files.tail if _kind(Path(p).name) == "merged"]
            sources = batches + merged if len(merged) >= MAX_MERGED_FILES else batches
            if len(sources) < 2:
                return 0
            with _compact_connection(self.dir) as con:
                target = _write_merged(con, table, folder, "merged", sources, _MERGE_ORDER)
            _publish(target, sources)
            return len(sources)

    def _compact_full(self, blocking: bool) -> dict | None:
        """Everything of every table into one base file each, then the derived archive and word
        index. Holds every table's lock; returns None when another compactor holds one."""
        with contextlib.ExitStack() as stack:
            for table in TABLES:
                if not stack.enter_context(_table_lock(self.dir / table, blocking)):
                    return None
            for table in TABLES:
                _cleanup(self.dir / table)
            _cleanup_index(self.dir / INDEX_DIR, keep=None)
            for spill in self.dir.glob(f"{TMP_PREFIX}duckdb-*"):  # of killed compactors: every
                _remove_any(spill)  # live one holds a table lock, and we hold them all
            files = {t: _list_table(self.dir / t) for t in TABLES}
            counts: dict[str, int] = {}
            with _compact_connection(self.dir) as con:
                planned: dict[str, tuple[Path, list[str]] | None] = {}
                for table, f in files.items():
                    sources = list(f.all)
                    if not sources or (f.base and not f.tail):
                        planned[table] = None
                        counts[table] = 0
                        continue
                    folder = self.dir / table
                    tmp = _write_merged(con, table, folder, "base", sources, _BASE_ORDER)
                    planned[table] = (tmp, sources)
                    counts[table] = len(sources)
                bases: dict[str, Path | None] = {
                    t: p[0] if p else _base_path(files[t]) for t, p in planned.items()
                }
                keep = None
                has_rows = bases["videos"] is not None or bases["downloads"] is not None
                changed = planned["videos"] or planned["downloads"]
                if has_rows and (changed or not _find_derived(self.dir / INDEX_DIR, files)):
                    keep = _build_derived(con, self.dir / INDEX_DIR, bases)
            for plan in planned.values():
                if plan:
                    _publish(plan[0], plan[1])
            if keep is not None:
                _cleanup_index(self.dir / INDEX_DIR, keep=keep)
            return counts


# -- list and stats ----------------------------------------------------------------------------


_LIST_ORDER = "published_at DESC NULLS LAST, video_id"
_DOWNLOAD_FIELDS = (
    "status",
    "reason",
    "file_path",
    "bytes",
    "width",
    "height",
    "format",
    "recorded_at",
)
STATS_KEYS = (
    "videos",
    "archived",
    "unavailable",
    "failed",
    "pending",
    "total_bytes",
    "total_duration_seconds",
)


def _stats_agg(prefix: str = "") -> str:
    """The STATS_KEYS aggregates over archive rows (over columns named prefix + "status", ...)."""
    status, size, duration = (f"{prefix}{n}" for n in ("status", "bytes", "duration_seconds"))
    return (
        "count(*) AS videos, "
        f"count(*) FILTER (WHERE {status} = 'archived') AS archived, "
        f"count(*) FILTER (WHERE {status} = 'unavailable') AS unavailable, "
        f"count(*) FILTER (WHERE {status} = 'failed') AS failed, "
        f"count(*) FILTER (WHERE {status} IS NULL) AS pending, "
        f"coalesce(sum({size}) FILTER (WHERE {status} = 'archived'), 0) AS total_bytes, "
        f"coalesce(sum({duration}) FILTER (WHERE {status} = 'archived'), 0) "
        "AS total_duration_seconds"
    )


def _stats_sql(source: str, sign: int = 1, prefix: str = "") -> str:
    """STATS_KEYS per channel_title of archive rows (negated with sign=-1); with a prefix, of
    the columns so named."""
    cols = ", ".join(f"{sign} * {k} AS {k}" for k in STATS_KEYS)
    return (
        f"SELECT channel_title, {cols} FROM (SELECT {prefix}channel_title AS channel_title, "
        f"{_stats_agg(prefix)} FROM ({source}) GROUP BY {prefix}channel_title)"
    )


def _list_key(row: dict) -> tuple:
    published = row.get("published_at")
    return (published is None, -published.timestamp() if published else 0.0, row["video_id"])


def _first_rows(con: Any, sql: _Sql, cond: str, want: int, by_status: bool) -> list[dict]:
    """The first `want` archive rows in list order: stored rows are already in that order (a
    row's position `rid` is its rank), so only their first positions are read; rows of videos
    changed since the compaction are computed, and merged in by their keys before any row is
    read whole."""
    derived = sql.state.derived
    assert derived is not None
    stored = derived.table("archive")
    tail = sql.archive_tail()
    keep = "video_id NOT IN (SELECT video_id FROM _tail_ids)" if tail else "true"
    window = ""
    if not by_status:
        extra = con.execute("SELECT count(*) FROM _tail_ids").fetchone()[0] if tail else 0
        window = f" AND rid < {int(want + extra)}"
    keys = con.execute(
        f"SELECT rid, video_id, epoch_us(published_at) FROM {stored} "
        f"WHERE {cond} AND {keep}{window} ORDER BY rid LIMIT {int(want)}"
    ).fetchall()
    if tail:
        live = con.execute(
            f"SELECT NULL, video_id, epoch_us(published_at) FROM ({sql.tail_archive()}) "
            f"WHERE {cond} ORDER BY {_LIST_ORDER} LIMIT {int(want)}"
        ).fetchall()
        keys = sorted(keys + live, key=lambda k: (k[2] is None, -(k[2] or 0), k[1]))[:want]
    rids = [str(k[0]) for k in keys if k[0] is not None]
    changed = [_lit(k[1]) for k in keys if k[0] is None]
    rows: dict[str, dict] = {}
    if rids:
        query = f"SELECT * FROM {stored} WHERE rid IN ({', '.join(rids)})"
        rows.update((r["video_id"], r) for r in _fetch(con, query, ARCHIVE_COLUMNS))
    if changed:
        query = sql.tail_archive(f"video_id IN ({', '.join(changed)})")
        rows.update((r["video_id"], r) for r in _fetch(con, query, ARCHIVE_COLUMNS))
    return [rows[k[1]] for k in keys]


# -- search -----------------------------------------------------------------------------------


class _Search:
    """One search: the word index answers for the base, reading the text answers for the rest.

    A word matches a video when its lower-cased title, description, tags or channel hold the
    word as a substring. The index lists every whitespace-separated token of that text, and a
    query word (which has no whitespace) is a substring of the text exactly when it is a
    substring of one token, so matching the vocabulary gives the same answer as reading it all.
    Token ids follow token order and the postings are sorted by token id, so the tokens that hold
    a word form a few id ranges, and the scan skips every block of postings outside them.
    """

    def __init__(self, con: Any, sql: _Sql, words: list[str], limit: int) -> None:
        self.con, self.sql, self.limit = con, sql, limit
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _words AS "
            "SELECT DISTINCT lower(w) AS w FROM unnest(?::VARCHAR[]) t(w)",
            [words],
        )
        self.words = [r[0] for r in con.execute("SELECT w FROM _words ORDER BY w").fetchall()]

    def run(self) -> list[dict]:
        derived = self.sql.state.derived
        if derived is None:
            found = self._scan(self.sql.latest("videos"))
        else:
            tail = bool(self.sql.state.files["videos"].tail)
            if tail:
                self.con.execute(f"CREATE OR REPLACE TEMP TABLE _cur AS {self._current_tail()}")
            found = self._indexed(derived, tail)
            if tail:
                found += self._scan("SELECT * FROM _cur")
        found.sort(key=lambda f: (not f[1], f[2] is None, -(f[2] or 0), f[0]))
        found = found[: self.limit]
        if not found:
            return []
        rows = self._rows(found)
        return [
            {**rows.get(vid, {"video_id": vid}), "title_match": bool(title_match)}
            for vid, title_match, _, _ in found
        ]

    def _rows(self, found: list[tuple]) -> dict[str, dict]:
        """Archive rows of the results: stored ones by position, changed ones computed."""
        derived = self.sql.state.derived
        ids = [f[0] for f in found]
        changed = set(ids)
        rows: dict[str, dict] = {}
        if derived is not None:
            changed = {f[0] for f in found if f[3] is None}
            if self.sql.archive_tail():
                listed = ", ".join(_lit(i) for i in ids)
                query = f"SELECT video_id FROM _tail_ids WHERE video_id IN ({listed})"
                changed |= {r[0] for r in self.con.execute(query).fetchall()}
            rids = [str(int(f[3])) for f in found if f[3] is not None and f[0] not in changed]
            if rids:
                query = f"SELECT * FROM {derived.table('archive')} WHERE rid IN ({', '.join(rids)})"
                rows.update((r["video_id"], r) for r in _fetch(self.con, query, ARCHIVE_COLUMNS))
        if changed:
            where = "video_id IN (" + ", ".join(_lit(i) for i in sorted(changed)) + ")"
            live = _fetch(self.con, self.sql.live_archive(where), ARCHIVE_COLUMNS)
            rows.update((r["video_id"], r) for r in live)
        return rows

    # -- reading the text -------------------------------------------------------------------

    def _all_in(self, expr: str) -> str:
        return " AND ".join(f"contains({expr}, {_lit(w)})" for w in self.words)

    def _scan(self, videos: str) -> list[tuple]:
        """(video_id, title_match, published_us, None) of the best matching rows of `videos`."""
        in_title = self._all_in("coalesce(lt, '')")
        query = (
            "WITH v AS (SELECT video_id, published_at, lower(title) AS lt, "
            f"{_search_text()} AS txt FROM ({videos})) "
            f"SELECT video_id, {in_title} AS title_match, "
            "epoch_us(published_at) AS published, NULL AS rid FROM v "
            f"WHERE {self._all_in('txt')} "
            "ORDER BY title_match DESC, published_at DESC NULLS LAST, video_id "
            f"LIMIT {int(self.limit)}"
        )
        return [tuple(r) for r in self.con.execute(query).fetchall()]

    def _current_tail(self) -> str:
        """The videos tail's rows that are newer than the indexed snapshot of the same id."""
        files = self.sql.state.files["videos"]
        assert self.sql.state.derived is not None
        _, order = _KEYS["videos"]
        tail = f"SELECT * FROM {_scan(files.tail)}"
        newest = f"QUALIFY row_number() OVER (PARTITION BY video_id ORDER BY {order}) = 1"
        return (
            f"WITH tv AS ({tail} {newest}), "
            "win AS (SELECT video_id, src FROM ("
            "SELECT video_id, fetched_at, recorded_at, 1 AS src FROM tv UNION ALL "
            "SELECT video_id, metadata_fetched_at, metadata_recorded_at, 0 "
            f"FROM {self.sql.state.derived.table('archive')} "
            "WHERE metadata_fetched_at IS NOT NULL AND video_id IN (SELECT video_id FROM tv)) "
            f"QUALIFY row_number() OVER (PARTITION BY video_id ORDER BY {order}, src DESC) = 1) "
            "SELECT tv.* FROM tv JOIN win USING (video_id) WHERE win.src = 1"
        )

    # -- the word index ---------------------------------------------------------------------

    def _indexed(self, derived: _Derived, tail: bool) -> list[tuple]:
        """(video_id, title_match, published_us, rid) of the base's best matches (the index)."""
        matched = self.con.execute(
            f"SELECT w, token_id, df FROM {derived.table('vocab')} JOIN _words "
            "ON contains(token, w) ORDER BY w, token_id"
        ).fetchall()
        per_word: dict[str, tuple[int, list[int]]] = {w: (0, []) for w in self.words}
        for w, token_id, df in matched:
            total, ids = per_word[w]
            ids.append(token_id)
            per_word[w] = (total + df, ids)
        if any(not ids for _, ids in per_word.values()):
            return []  # a word no token holds: nothing in the base matches
        keep = "true"
        if tail:
            self.con.execute(
                "CREATE OR REPLACE TEMP TABLE _gone AS SELECT rid "
                f"FROM {derived.table('archive')} "
                "WHERE video_id IN (SELECT video_id FROM _cur)"
            )
            keep = "rid NOT IN (SELECT rid FROM _gone)"
        postings = derived.table("postings")
        preds = [_in_ranges(ids) for _, ids in sorted(per_word.values())]  # rarest word first
        if len(preds) == 1:
            hits = self._top_one_word(postings, preds[0], keep)
        else:
            hits = self._top_all_words(postings, preds, keep)
        if not hits:
            return []
        title_match = dict(hits)
        rids = ", ".join(str(int(r)) for r in title_match)
        rows = self.con.execute(
            "SELECT rid, video_id, epoch_us(published_at) "
            f"FROM {derived.table('archive')} WHERE rid IN ({rids})"
        ).fetchall()
        return [(vid, title_match[rid], published, rid) for rid, vid, published in rows]

    def _first_rids(self, query: str, want: int) -> list[int]:
        """The first `want` distinct rids of an ordered query (a rid can repeat, once per token
        holding the word); reads more rows until enough distinct ones or the end."""
        cap = want * 4
        while True:
            rows = [r[0] for r in self.con.execute(f"{query} LIMIT {cap}").fetchall()]
            unique = list(dict.fromkeys(rows))
            if len(unique) >= want or len(rows) < cap:
                return unique[:want]
            cap *= 4

    def _top_one_word(self, postings: str, pred: str, keep: str) -> list[tuple[int, bool]]:
        """Top-N reads, no aggregation: title matches by rid, then the rest by rid."""
        base = f"SELECT rid FROM {postings} WHERE {pred} AND {keep}"
        titles = self._first_rids(f"{base} AND in_title ORDER BY rid", self.limit)
        need = self.limit - len(titles)
        if need <= 0:
            return [(r, True) for r in titles]
        not_title = f" AND rid NOT IN ({', '.join(map(str, titles))})" if titles else ""
        rest = self._first_rids(f"{base} AND NOT in_title{not_title} ORDER BY rid", need)
        return [(r, True) for r in titles] + [(r, False) for r in rest]

    def _top_all_words(self, postings: str, preds: list[str], keep: str) -> list[tuple]:
        """Candidates from the rarest word, narrowed by each other word in turn."""
        parts = [
            f"c0 AS MATERIALIZED (SELECT rid, bool_or(in_title) AS t0 FROM {postings} "
            f"WHERE {preds[0]} AND {keep} GROUP BY rid)"
        ]
        for i, pred in enumerate(preds[1:], start=1):
            parts.append(
                f"c{i} AS MATERIALIZED (SELECT rid, bool_or(in_title) AS t{i} FROM {postings} "
                f"WHERE {pred} AND rid IN (SELECT rid FROM c{i - 1}) GROUP BY rid)"
            )
        joins = " ".join(f"JOIN c{i} USING (rid)" for i in range(1, len(preds)))
        flags = " AND ".join(f"t{i}" for i in range(len(preds)))
        return self.con.execute(
            f"WITH {', '.join(parts)} SELECT rid, {flags} AS title_match FROM c0 {joins} "
            f"ORDER BY title_match DESC, rid LIMIT {int(self.limit)}"
        ).fetchall()


def _in_ranges(ids: list[int]) -> str:
    """`token_id` in these ids, as ranges of consecutive ids (which the scan can prune by)."""
    ranges: list[list[int]] = []
    for i in sorted(ids):
        if ranges and ranges[-1][1] == i - 1:
            ranges[-1][1] = i
        else:
            ranges.append([i, i])
    if len(ranges) > MAX_RANGES:
        return f"token_id IN ({', '.join(map(str, ids))})"
    terms = [f"token_id = {a}" if a == b else f"token_id BETWEEN {a} AND {b}" for a, b in ranges]
    return "(" + " OR ".join(terms) + ")"


# -- compaction internals --------------------------------------------------------------------

_MERGE_ORDER = {
    "videos": "video_id, fetched_at DESC NULLS LAST",
    "downloads": "video_id, recorded_at DESC NULLS LAST",
    "playlists": "playlist_id, fetched_at DESC NULLS LAST",
    "playlist_items": "playlist_id, fetched_at DESC NULLS LAST, snapshot_id, position",
}


def _latest_expr(table: str) -> str:
    if table in _KEYS:
        key, order = _KEYS[table]
        return f"row_number() OVER (PARTITION BY {_q(key)} ORDER BY {order}) = 1"
    return (
        "snapshot_id = first_value(snapshot_id) OVER "
        "(PARTITION BY playlist_id ORDER BY fetched_at DESC NULLS LAST, snapshot_id DESC)"
    )


def _write_merged(
    con: Any,
    table: str,
    folder: Path,
    kind: str,
    sources: list[str],
    orders: dict[str, str],
) -> Path:
    """Write the rows of sources, each exactly once, to a temporary file; return its final name
    encoded in the temporary one (see _publish)."""
    name = _new_name(kind)
    tmp = folder / f"{TMP_PREFIX}{name}.tmp"
    cols = _cols(COLUMNS[table])
    con.execute(
        f"COPY (SELECT {cols}, {_latest_expr(table)} AS {LATEST} FROM {_scan(sources)} "
        f"ORDER BY {orders[table]}) TO {_lit(str(tmp))} "
        "(FORMAT parquet, COMPRESSION zstd)"
    )
    _fsync(tmp)
    return tmp


def _publish(tmp: Path, sources: list[str]) -> None:
    """Make a compacted file live: sidecar naming its sources, rename, then delete the sources.

    Readers drop every file a live sidecar names, so at no instant is a row visible twice or
    not at all; a crash at any step leaves a catalog that reads the same.
    """
    final = tmp.with_name(tmp.name[len(TMP_PREFIX) : -len(".tmp")])
    sidecar = _sidecar(final)
    _atomic_write(sidecar, json.dumps(sorted(Path(s).name for s in sources)).encode())
    os.rename(tmp, final)
    for source in sources:
        _remove_file(Path(source))


def _remove_file(path: Path) -> None:
    """Delete a Parquet file, then its sidecar (in that order: see _scan_dir)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    if _kind(path.name) != "batch":
        with contextlib.suppress(FileNotFoundError):
            _sidecar(path).unlink()


def _cleanup(folder: Path) -> None:
    """Under the table's lock: finish what a killed compactor left undone."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return
    present = set(names)
    now = time.time()
    for name in names:
        path = folder / name
        if name.startswith(TMP_PREFIX):
            if not name.startswith(TMP_PREFIX + "batch-"):
                _unlink_quiet(path)  # a compactor's, and we hold the lock: it is dead
            else:
                with contextlib.suppress(FileNotFoundError):
                    if now - path.stat().st_mtime > STALE_TMP_SECONDS:
                        _unlink_quiet(path)
        elif name.endswith(SIDECAR):
            parquet = name[: -len(SIDECAR)] + ".parquet"
            if parquet not in present:
                _unlink_quiet(path)  # its file was deleted (or never made it into place)
                continue
            for source in json.loads(path.read_text()):
                if source in present:
                    _remove_file(folder / source)


def _cleanup_index(index_dir: Path, keep: str | None) -> None:
    """Remove derived generations other than `keep` (None: only incomplete ones)."""
    try:
        names = os.listdir(index_dir)
    except FileNotFoundError:
        return
    manifests = {n[: -len(".json")] for n in names if n.endswith(".json")}
    for name in names:
        gen = name.split(".", 1)[0]
        if name.startswith(TMP_PREFIX) or (keep is not None and gen != keep):
            _remove_any(index_dir / name)
        elif keep is None and gen not in manifests:
            _remove_any(index_dir / name)


def _remove_any(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        _unlink_quiet(path)


def _unlink_quiet(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError, IsADirectoryError):
        path.unlink()


def _build_derived(con: Any, index_dir: Path, bases: dict[str, Path | None]) -> str:
    """Write the derived database for these bases (see _Derived); returns its generation.

    A DuckDB file rather than Parquet because its reads are point reads: a page of the list, the
    rows of 50 search results, the postings of a few tokens. The word index is built in slices
    of the videos base (so memory stays bounded on big archives): each slice's (rid, token,
    in_title) rows go to a scratch Parquet file, then one pass makes the vocabulary (token ids in
    token order) and one sorted pass the postings.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    gen = _new_name("gen")[: -len(".parquet")]
    final = index_dir / f"{gen}.duckdb"
    tmp = index_dir / f"{TMP_PREFIX}{gen}.duckdb"
    scratch = index_dir / f"{TMP_PREFIX}{gen}.tokens"
    alias = "ytd_build"
    con.execute(f"ATTACH {_lit(str(tmp))} AS {alias}")
    try:
        _write_archive(con, bases, alias)
        _write_tokens(con, bases["videos"], scratch)
        _write_index(con, scratch, alias)
        con.execute(f"DETACH {alias}")
    except BaseException:
        with contextlib.suppress(Exception):
            con.execute(f"DETACH {alias}")
        _unlink_quiet(tmp)
        _unlink_quiet(tmp.with_name(tmp.name + ".wal"))
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        con.execute("DROP TABLE IF EXISTS arch")
    _fsync(tmp)
    os.rename(tmp, final)
    manifest = {
        "videos": bases["videos"] and _final_name(bases["videos"]),
        "downloads": bases["downloads"] and _final_name(bases["downloads"]),
        "db": final.name,
        "format": DERIVED_FORMAT,
    }
    _atomic_write(index_dir / f"{gen}.json", json.dumps(manifest).encode())
    return gen


def _write_archive(con: Any, bases: dict[str, Path | None], alias: str) -> None:
    """One row per video in list order (`rid`, the row's rank, is its id in the word index),
    and the stats per channel."""
    state = _State({t: _Files(str(bases[t]) if bases[t] else None, ()) for t in TABLES}, None)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE arch AS SELECT (row_number() OVER "
        f"(ORDER BY {_LIST_ORDER}) - 1)::INTEGER AS rid, * "
        f"FROM ({_Sql(state).live_archive(versions=True)})"
    )
    con.execute(
        f"CREATE TABLE {alias}.archive AS SELECT rid, {_cols(ARCHIVE_COLUMNS)}, "
        "metadata_fetched_at, metadata_recorded_at FROM arch ORDER BY rid"
    )
    con.execute(f"CREATE INDEX archive_rid ON {alias}.archive (rid)")
    con.execute(f"CREATE INDEX archive_video_id ON {alias}.archive (video_id)")
    con.execute(
        f"CREATE TABLE {alias}.stats AS SELECT channel_title, {_stats_agg()} FROM arch "
        "GROUP BY channel_title"
    )
    con.execute(
        f"CREATE TABLE {alias}.downloads AS SELECT * FROM ({_Sql(state).latest('downloads')}) "
        "ORDER BY video_id"
    )
    con.execute(f"CREATE INDEX downloads_video_id ON {alias}.downloads (video_id)")


def _write_tokens(con: Any, videos_base: Path | None, scratch: Path) -> None:
    scratch.mkdir(parents=True, exist_ok=True)
    if videos_base is None:
        return
    rows = con.execute(f"SELECT count(*) FROM {_scan([str(videos_base)])}").fetchone()[0]
    split = r"regexp_split_to_array({}, '\s+')"
    for i, lo in enumerate(range(0, rows, INDEX_SLICE)):
        part = (
            f"SELECT * FROM {_scan([str(videos_base)], True)} WHERE {LATEST} "
            f"AND file_row_number >= {lo} AND file_row_number < {lo + INDEX_SLICE}"
        )
        con.execute(
            "COPY (SELECT a.rid, t.token, bool_or(t.in_title) AS in_title FROM ("
            f"SELECT video_id, unnest({split.format('lower(title)')}) AS token, true AS in_title "
            f"FROM ({part}) UNION ALL "
            f"SELECT video_id, unnest({split.format(_search_text())}), false FROM ({part})"
            ") t JOIN arch a USING (video_id) WHERE t.token <> '' GROUP BY a.rid, t.token) "
            f"TO {_lit(str(scratch / f'{i:06d}.parquet'))} (FORMAT parquet)"
        )


def _write_index(con: Any, scratch: Path, alias: str) -> None:
    tokens = (
        f"read_parquet({_lit(str(scratch / '*.parquet'))})"
        if any(scratch.glob("*.parquet"))
        else "(SELECT NULL::INTEGER AS rid, NULL::VARCHAR AS token, NULL::BOOLEAN AS in_title "
        "WHERE false)"
    )
    con.execute(
        f"CREATE TABLE {alias}.vocab AS SELECT "
        "(row_number() OVER (ORDER BY token) - 1)::INTEGER AS token_id, token, df "
        f"FROM (SELECT token, count(*)::INTEGER AS df FROM {tokens} GROUP BY token) ORDER BY token"
    )
    con.execute(
        f"CREATE TABLE {alias}.postings AS SELECT v.token_id, t.rid, t.in_title FROM {tokens} t "
        f"JOIN {alias}.vocab v USING (token) ORDER BY v.token_id, t.rid"
    )


def _final_name(path: Path) -> str:
    name = path.name
    if name.startswith(TMP_PREFIX):
        name = name[len(TMP_PREFIX) : -len(".tmp")]
    return name


# -- small helpers ----------------------------------------------------------------------------


def _utcnow() -> Any:
    from datetime import datetime

    return datetime.now(UTC)


def _new_name(kind: str) -> str:
    return f"{kind}-{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}.parquet"


def _mark_latest(table: str, rows: list[dict[str, Any]]) -> None:
    """Set `_latest` on the rows of one new file: the newest row per key within the file."""
    if table == "playlist_items":
        for row in rows:
            row[LATEST] = True  # one call writes one listing
        return
    key = _KEYS[table][0]
    stamp = "recorded_at" if table == "downloads" else "fetched_at"
    best: dict[str, int] = {}
    for i, row in enumerate(rows):
        row[LATEST] = False
        j = best.get(row[key])
        if j is None or _ts(row.get(stamp)) >= _ts(rows[j].get(stamp)):
            best[row[key]] = i
    for i in best.values():
        rows[i][LATEST] = True


def _ts(value: Any) -> float:
    if value is None:
        return float("-inf")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, path)
    except BaseException:
        _unlink_quiet(tmp)
        raise


@contextlib.contextmanager
def _table_lock(folder: Path, blocking: bool) -> Iterator[bool]:
    """The compaction lock of one table (fcntl: the kernel drops it when the holder dies)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".compact.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


@contextlib.contextmanager
def _compact_connection(catalog_dir: Path) -> Iterator[Any]:
    spill = catalog_dir / f"{TMP_PREFIX}duckdb-{os.getpid()}-{secrets.token_hex(4)}"
    con = _connect()
    try:
        con.execute(f"SET memory_limit = {_lit(COMPACT_MEMORY)}")
        con.execute(f"SET temp_directory = {_lit(str(spill))}")
        con.execute("SET preserve_insertion_order = true")
        yield con
    except _duckdb().Error as exc:
        raise CatalogError(f"compaction failed: {_first_line(exc)}") from exc
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


_shared: Any = None
_shared_lock = threading.Lock()


def _cursor() -> Any:
    """A connection of the process's one in-memory DuckDB (opening a database costs ~30 ms;
    a cursor of it costs well under one). Temporary tables are per cursor."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared[0] != os.getpid():  # not one inherited through fork
            _shared = (os.getpid(), _connect())
        return _shared[1].cursor()


_CONFIG = {
    "autoinstall_known_extensions": "false",
    "autoload_known_extensions": "false",
}


_attached: set[tuple[int, str]] = set()


def _attach(con: Any, derived: _Derived, own_database: bool) -> bool:
    """Attach the derived database read-only (once per process: ATTACH is per database, and the
    shared one is). False when it cannot be read (another DuckDB version wrote it, say)."""
    duckdb = _duckdb()
    key = (os.getpid(), derived.path)
    with _shared_lock:
        if not own_database and key in _attached:
            return True
        try:
            con.execute(f"ATTACH {_lit(derived.path)} AS {derived.alias} (READ_ONLY)")
        except duckdb.IOException:
            raise  # gone: a compaction moved on, the read loop looks again
        except duckdb.Error as exc:
            logging.getLogger(__name__).warning("ignoring %s: %s", derived.path, exc)
            return False
        if not own_database:
            _attached.add(key)
        return True


def _connect() -> Any:
    con = _duckdb().connect(":memory:", config=_CONFIG)
    con.execute("SET enable_progress_bar = false")
    return con


def _sandbox_connection() -> Any:
    """A database of its own for user SQL: _lock_down changes settings that are global."""
    con = _duckdb().connect(
        ":memory:",
        config={**_CONFIG, "temp_directory": ""},
    )
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")
    return con


def _lock_down(con: Any, root: Path) -> None:
    """After the views exist: no file outside the archive, no settings changed, no spilling."""
    allowed = str(Path(root).resolve())
    con.execute(f"SET allowed_directories = [{_lit(allowed)}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def _fetch(con: Any, query: str, spec: list[tuple[str, str]]) -> list[dict]:
    """Rows of query as dicts; timestamps travel as epoch microseconds (DuckDB's own conversion
    of TIMESTAMPTZ costs ~40 ms the first time in a process) and come back as UTC datetimes."""
    cols = ", ".join(f"epoch_us({_q(n)}) AS {_q(n)}" if k == "ts" else _q(n) for n, k in spec)
    rows = con.execute(f"SELECT {cols} FROM ({query})").fetchall()
    stamps = [i for i, (_, k) in enumerate(spec) if k == "ts"]
    names = [n for n, _ in spec]
    out = []
    for values in rows:
        row = list(values)
        for i in stamps:
            if row[i] is not None:
                row[i] = _from_us(row[i])
        out.append(dict(zip(names, row, strict=True)))
    return out


def _from_us(micros: int) -> Any:
    from datetime import UTC, datetime, timedelta

    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def _present(row: dict) -> dict:
    return {k: v for k, v in row.items() if v is not None}


def _id_list(video_ids: Iterable[str] | None) -> list[str] | None:
    return None if video_ids is None else list(dict.fromkeys(video_ids))


def _ids_where(con: Any, ids: list[str] | None) -> str:
    """A filter on video_id: a literal list (pushed into the Parquet scan) when short."""
    if ids is None:
        return ""
    if len(ids) <= 2000:
        return "video_id IN (" + ", ".join(_lit(i) for i in ids) + ")"
    con.execute("CREATE OR REPLACE TEMP TABLE _ids AS SELECT unnest(?::VARCHAR[]) AS id", [ids])
    return "video_id IN (SELECT id FROM _ids)"


def _check_status(status: str | None) -> None:
    if status is not None and status not in STATUSES:
        raise InputError(f"--status must be one of {', '.join(STATUSES)}, not {status!r}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
