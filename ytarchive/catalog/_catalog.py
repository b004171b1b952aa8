"""The Catalog: records metadata, outcomes and listings; answers list, stats, search and SQL."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ytarchive.catalog._compact import (
    Guard,
    compact_full,
    due,
    exclusive,
    merge_table,
    tail_too_big,
)
from ytarchive.catalog._db import (
    arrow,
    arrow_schema,
    attach,
    cursor,
    duckdb_module,
    fetch,
    first_line,
    lock_down,
    non_null,
    sandbox_connection,
    write_parquet,
)
from ytarchive.catalog._files import (
    Files,
    State,
    find_derived,
    find_tail_index,
    list_table,
    new_name,
    timestamp_of,
    utcnow,
)
from ytarchive.catalog._query import Search, first_rows, sum_stats
from ytarchive.catalog._schema import (
    ARCHIVE_COLUMNS,
    COLUMNS,
    INDEX_DIR,
    KEYS,
    LATEST,
    LIST_ORDER,
    READ_RETRIES,
    STATS_KEYS,
    STATUSES,
    TABLES,
)
from ytarchive.catalog._sql import Sql, literal, stats_sql
from ytarchive.catalog._tail import build_tail_index
from ytarchive.errors import CatalogError, InputError
from ytarchive.layout import CATALOG

if TYPE_CHECKING:
    from ytarchive.models import DownloadResult, PlaylistInfo, PlaylistItem, VideoMetadata

__all__ = ["Catalog"]


class Catalog:
    """The archive's catalog under <root>/catalog: record outcomes and metadata, query them.

    Files (README.md, "The catalog"): ``catalog/<table>/<kind>-<time_ns>-<pid>-<rand>.parquet``,
    kind ``batch`` (one per write call), ``merged`` (small files merged) or ``base`` (a full
    compaction). Every file is written whole under a temporary name and renamed, so no reader
    ever sees a torn file and any number of processes write at once without a lock. A write
    only writes its file: compaction (maintain, compact) runs in a process of its own, never
    inside a writer, one at a time on a host (an fcntl lock per table and host) and in the
    fleet (a guard the caller injects: the flows layer elects through the Prefect server). A
    compacted file names the files it replaces in a ``.sources.json`` sidecar written before it
    appears; readers drop those files, so a row is never seen twice, and a compactor killed at
    any point loses nothing. A full compaction also writes a derived DuckDB database under
    ``catalog/_index/``: the ``archive`` table (newest metadata joined with newest outcome, one
    row per video, in list order), stats per channel, the newest outcome per video, and a word
    index over title, description, tags and channel, so list, stats and search stay fast on big
    archives. Rows written after it are read from their files and override it; the background
    merge also writes a tail index of those rows (TailIndex: their archive rows, stats change and
    search text, under ``catalog/_index/tail-*``), which stats, search and list read instead of
    them, and rows in files it does not cover are read from their files and override it.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.dir = self.root / CATALOG

    # -- writing -------------------------------------------------------------------------------

    def record_metadata(self, records: Sequence[VideoMetadata]) -> None:
        """Append metadata snapshots (one Parquet file per call)."""
        now = utcnow()
        rows = [{**r.model_dump(), "recorded_at": now} for r in records]
        self._append("videos", rows)

    def record_outcomes(self, results: Sequence[DownloadResult]) -> None:
        """Append download outcomes (one Parquet file per call)."""
        self._append("downloads", [r.model_dump() for r in results])

    def record_playlist(self, info: PlaylistInfo, items: Sequence[PlaylistItem]) -> None:
        """Append one listing of a playlist: its items first, then the playlist row naming them."""
        snapshot = f"{time.time_ns():020d}-{secrets.token_hex(4)}"
        now = utcnow()
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
        pa, _ = arrow()
        try:
            data = pa.Table.from_pylist(rows, schema=arrow_schema(table))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise CatalogError(f"cannot record {table}: {exc}") from exc
        write_parquet(self.dir / table, new_name("batch"), data)  # nothing more: compaction
        # runs in the background (maintain), never inside a writer

    # -- reading -------------------------------------------------------------------------------

    def latest_outcomes(self, video_ids: Iterable[str] | None = None) -> dict[str, DownloadResult]:
        """The newest outcome of each video (of the given ids, or of all)."""
        from ytarchive.models import DownloadResult

        rows = self._latest_rows("downloads", video_ids)
        return {r["video_id"]: DownloadResult(**non_null(r)) for r in rows}

    def settled_ids(self, video_ids: Iterable[str] | None = None) -> set[str]:
        """Ids whose newest outcome is archived or unavailable: nothing left to do for them."""
        ids = _id_list(video_ids)
        if ids == []:
            return set()

        def run(con: Any, sql: Sql) -> set[str]:
            latest = sql.latest("downloads", _ids_where(con, ids))
            query = f"SELECT video_id FROM ({latest}) WHERE status IN ('archived', 'unavailable')"
            return {r[0] for r in con.execute(query).fetchall()}

        return self._read(run, tables=("downloads",))

    def playlist_title(self, playlist_id: str) -> str | None:
        """The newest non-empty title recorded for the playlist (None: not known). A catalog
        that never recorded a playlist answers without opening DuckDB."""

        def run(con: Any, sql: Sql) -> str | None:
            if sql.state.files["playlists"].empty:
                return None
            query = (
                f"SELECT title FROM ({sql.history('playlists')}) WHERE playlist_id = ? "
                "AND coalesce(title, '') <> '' ORDER BY recorded_at DESC NULLS LAST LIMIT 1"
            )
            row = con.execute(query, [playlist_id]).fetchone()
            return str(row[0]) if row else None

        if self._state(("playlists",), False).files["playlists"].empty:
            return None
        return self._read(run, tables=("playlists",))

    def metadata(self, video_ids: Iterable[str] | None = None) -> dict[str, VideoMetadata]:
        """The newest metadata snapshot of each video (of the given ids, or of all)."""
        from ytarchive.models import VideoMetadata

        out = {}
        for row in self._latest_rows("videos", video_ids):
            row.pop("recorded_at", None)
            out[row["video_id"]] = VideoMetadata(**non_null(row))
        return out

    def _latest_rows(self, table: str, video_ids: Iterable[str] | None) -> list[dict]:
        ids = _id_list(video_ids)
        if ids == []:
            return []

        def run(con: Any, sql: Sql) -> list[dict]:
            return fetch(con, sql.latest(table, _ids_where(con, ids)), COLUMNS[table])

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

        def run(con: Any, sql: Sql) -> list[dict]:
            cond = f"status = {literal(status)}" if status else "true"
            if sql.state.derived is None or limit is None:
                page = f" LIMIT {int(limit)}" if limit is not None else ""
                page += f" OFFSET {int(offset)}" if offset else ""
                query = f"SELECT * FROM ({sql.archive()}) WHERE {cond} ORDER BY {LIST_ORDER}{page}"
                return fetch(con, query, ARCHIVE_COLUMNS)
            rows = first_rows(con, sql, cond, offset + limit, by_status=status is not None)
            return rows[offset : offset + limit]

        return self._read(run, archive=True)

    def stats(self) -> dict:
        """Counts per status, total bytes and duration of what is archived, and the same per
        channel (most videos first)."""

        def run(con: Any, sql: Sql) -> dict:
            derived = sql.state.derived
            if derived is None:
                parts = [stats_sql(sql.archive())]
            else:
                index = sql.state.tail_index
                keys = ", ".join(STATS_KEYS)
                parts = [
                    f"SELECT channel_title, {keys} FROM {d.table('stats')}"
                    for d in (derived, index)
                    if d is not None  # the tail index's: the change its rows make
                ]
                rest = index is not None
                if any(sql.state.rest(t) for t in ("videos", "downloads")):
                    # the changed videos: their stored rows out, new rows in
                    fields = ("channel_title", "status", "bytes", "duration_seconds")
                    narrow = ", ".join([*fields, "old_present", *(f"old_{f}" for f in fields)])
                    con.execute(
                        f"CREATE OR REPLACE TEMP TABLE _changed AS SELECT {narrow} "
                        f"FROM ({sql.tail_archive(old=True, rest=rest)})"
                    )
                    old = "SELECT * FROM _changed WHERE old_present"
                    parts += [
                        stats_sql(old, sign=-1, prefix="old_"),
                        stats_sql("SELECT * FROM _changed"),
                    ]
            return sum_stats(con, parts)

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
        return self._read(lambda con, sql: Search(con, sql, words, limit).run(), archive=True)

    def sql(self, statement: str) -> tuple[list[str], list[tuple]]:
        """Run one read-only SELECT over the catalog's views; anything else is an InputError."""
        duckdb = duckdb_module()
        try:
            parsed = duckdb.extract_statements(statement)
        except duckdb.Error as exc:
            raise InputError(f"SQL: {first_line(exc)}") from None
        if len(parsed) != 1:
            raise InputError(f"SQL: give exactly one statement, not {len(parsed)}")
        if parsed[0].type != duckdb.StatementType.SELECT:
            kind = str(parsed[0].type).rsplit(".", 1)[-1]
            raise InputError(f"SQL: only read-only SELECT queries are allowed, not {kind}")

        def run(con: Any, sql: Sql) -> tuple[list[str], list[tuple]]:
            for name, body in sql.views().items():
                con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {body}")
            lock_down(con, self.root)
            try:
                cur = con.execute(statement)
                return [d[0] for d in cur.description or []], cur.fetchall()
            except duckdb.Error as exc:
                if self._moved_on(sql.state):
                    raise
                raise InputError(f"SQL: {first_line(exc)}") from None

        return self._read(run, archive=True, sandbox=True)

    # -- the read loop -------------------------------------------------------------------------

    def _state(self, tables: Sequence[str], archive: bool) -> State:
        derive = archive or "downloads" in tables
        wanted = TABLES if archive else (*tables, "videos", "downloads") if derive else tables
        files = {t: list_table(self.dir / t) if t in wanted else Files(None, ()) for t in TABLES}
        derived = find_derived(self.dir / INDEX_DIR, files) if derive else None
        index = find_tail_index(self.dir / INDEX_DIR, files, derived) if derived else None
        return State(files, derived, index)

    def _read(
        self,
        fn: Callable[[Any, Sql], Any],
        tables: Sequence[str] = TABLES,
        archive: bool = False,
        sandbox: bool = False,
    ) -> Any:
        """Run fn on a connection over one snapshot of the files; if a compaction removed a file
        under it, take a new snapshot and run again."""
        duckdb = duckdb_module()
        for attempt in range(READ_RETRIES):
            state = self._state(tables, archive)
            con = sandbox_connection() if sandbox else cursor()
            try:
                if state.derived is not None and not attach(con, state.derived, sandbox):
                    state = State(state.files, None)  # unreadable: answer from the tables
                index = state.tail_index
                if index is not None and not attach(con, index, sandbox):
                    state = State(state.files, state.derived)  # answer from the tail's files
                sql = Sql(state)
                if archive and state.derived is not None:
                    con.execute(f"CREATE OR REPLACE TEMP TABLE _tail_ids AS {sql.tail_ids()}")
                return fn(con, sql)
            except duckdb.Error as exc:
                if attempt + 1 < READ_RETRIES and self._moved_on(state):
                    continue
                raise CatalogError(f"cannot read the catalog: {first_line(exc)}") from exc
            finally:
                con.close()
        raise CatalogError("the catalog kept changing while being read")  # pragma: no cover

    @staticmethod
    def _moved_on(state: State) -> bool:
        return any(not os.path.exists(p) for p in state.paths())

    # -- compaction ----------------------------------------------------------------------------

    def compact(self, full: bool = True, guard: Guard | None = None) -> dict:
        """Merge each table's files (all into one base when full), waiting for any other
        compactor (this host's lock, then the fleet's `guard`, see maintain); returns the
        number of files merged per table."""
        with exclusive(self.dir, wait=True, guard=guard) as held:
            if not held:  # pragma: no cover - a guard that gave up waiting
                raise CatalogError("another compaction of this catalog holds the election")
            if full:
                return compact_full(self.dir)
            merged = {t: merge_table(self.dir, t) for t in TABLES}
            build_tail_index(self.dir)
            return merged

    def compaction(self, if_needed: bool, guard: Guard | None = None) -> dict | None:
        """maintain (what is due, or None when another compactor holds it) if_needed, else a
        full compaction waiting for its turn: {"compaction": kind, <table>: files merged}."""
        if if_needed:
            return self.maintain(guard=guard)
        return {"compaction": "full", **self.compact(full=True, guard=guard)}

    def compaction_due(self) -> str | None:
        """What maintain would do now: "merge" (many small files), "full" (many rows since the
        last full compaction) or None. Cheap: lists the folders, reads no rows."""
        return due(self.dir)

    def maintain(self, guard: Guard | None = None) -> dict | None:
        """The background compaction step: merge tables with many small files, then a full
        compaction when the rows since the last one are many. Never waits: None when another
        compactor is at work, on this host (its fcntl lock) or, through `guard`, anywhere in
        the fleet (writers on several hosts share the catalog; `guard(wait)` yields whether
        this process won the election). Otherwise {"compaction": "merge"|"full"|None,
        <table>: files merged}."""
        if self.compaction_due() is None:
            return {"compaction": None, **dict.fromkeys(TABLES, 0)}
        with exclusive(self.dir, wait=False, guard=guard) as held:
            if not held:
                return None
            merged = {t: merge_table(self.dir, t) for t in TABLES}
            if not tail_too_big(self.dir):
                build_tail_index(self.dir)  # stats and search then read the tail's index
                return {"compaction": "merge" if any(merged.values()) else None, **merged}
            full = compact_full(self.dir)
            return {"compaction": "full", **{t: merged[t] + full[t] for t in TABLES}}


def _mark_latest(table: str, rows: list[dict[str, Any]]) -> None:
    """Set `_latest` on the rows of one new file: the newest row per key within the file."""
    if table == "playlist_items":
        for row in rows:
            row[LATEST] = True  # one call writes one listing
        return
    key = KEYS[table][0]
    stamp = "recorded_at" if table == "downloads" else "fetched_at"
    best: dict[str, int] = {}
    for i, row in enumerate(rows):
        row[LATEST] = False
        j = best.get(row[key])
        if j is None or timestamp_of(row.get(stamp)) >= timestamp_of(rows[j].get(stamp)):
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
        return "video_id IN (" + ", ".join(literal(i) for i in ids) + ")"
    con.execute("CREATE OR REPLACE TEMP TABLE _ids AS SELECT unnest(?::VARCHAR[]) AS id", [ids])
    return "video_id IN (SELECT id FROM _ids)"


def _check_status(status: str | None) -> None:
    if status is not None and status not in STATUSES:
        raise InputError(f"--status must be one of {', '.join(STATUSES)}, not {status!r}")
