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
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ytarchive._catalog_db import (
    _arrow,
    _arrow_schema,
    _attach,
    _compact_connection,
    _cursor,
    _duckdb,
    _fetch,
    _first_line,
    _lock_down,
    _present,
    _sandbox_connection,
)
from ytarchive._catalog_files import (
    _atomic_write,
    _base_path,
    _cleanup_index,
    _Files,
    _find_derived,
    _fsync,
    _kind,
    _list_table,
    _new_name,
    _remove_any,
    _sidecar,
    _State,
    _table_lock,
    _ts,
    _unlink_quiet,
    _utcnow,
)
from ytarchive._catalog_index import _build_derived, _write_merged
from ytarchive._catalog_query import _first_rows, _Search
from ytarchive._catalog_schema import (
    _BASE_ORDER,
    _KEYS,
    _READ_RETRIES,
    ARCHIVE_COLUMNS,
    AUTO_FULL_MIN_ROWS,
    AUTO_FULL_RATIO,
    AUTO_MERGE_FILES,
    COLUMNS,
    INDEX_DIR,
    LATEST,
    LIST_COLUMNS,
    MAX_MERGED_FILES,
    SIDECAR,
    STALE_TMP_SECONDS,
    STATUSES,
    TABLES,
    TMP_PREFIX,
    VIEWS,
)
from ytarchive._catalog_sql import _LIST_ORDER, _MERGE_ORDER, STATS_KEYS, _lit, _Sql, _stats_sql
from ytarchive.errors import CatalogError, InputError

if TYPE_CHECKING:
    from ytarchive.models import DownloadResult, PlaylistInfo, PlaylistItem, VideoMetadata

__all__ = ["Catalog", "TABLES", "STATUSES", "LIST_COLUMNS", "STATS_KEYS", "VIEWS"]


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
