"""The catalog's tail index: a small derived database of the rows newer than the full one's."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from ytarchive.catalog._db import attach, compact_connection, plain_strings
from ytarchive.catalog._files import (
    State,
    atomic_write,
    find_derived,
    find_tail_index,
    fsync_file,
    list_table,
    new_name,
    remove_any,
    unlink_quiet,
)
from ytarchive.catalog._query import current_texts
from ytarchive.catalog._schema import (
    ARCHIVE_COLUMNS,
    INDEX_DIR,
    STATS_KEYS,
    TABLES,
    TAIL_FORMAT,
    TAIL_PREFIX,
    TMP_PREFIX,
)
from ytarchive.catalog._sql import Sql, col_list, literal, stats_sql

ARCHIVED = ("videos", "downloads")  # the tables the archive, stats and search read


def build_tail_index(catalog_dir: Path) -> str | None:
    """Under exclusive (after a merge): index the videos and downloads files newer than the
    derived database's bases, unless the newest tail index covers them all already; returns the
    new generation (None: nothing to do). Written whole under a temporary name, renamed, then
    its manifest (naming the files it covers) written atomically, then older ones removed; a
    builder killed at any point leaves readers the files they read without it."""
    index_dir = catalog_dir / INDEX_DIR
    _drop(index_dir, keep=None, temporary_only=True)
    files = {t: list_table(catalog_dir / t) for t in TABLES}
    derived = find_derived(index_dir, files)
    if derived is None or not any(files[t].tail for t in ARCHIVED):
        return None
    current = find_tail_index(index_dir, files, derived)
    if current is not None and not any(current.rest(t, files[t]) for t in ARCHIVED):
        _drop(index_dir, keep=Path(current.path).stem)  # what a killed builder left
        return None
    gen = new_name(TAIL_PREFIX.rstrip("-"))[: -len(".parquet")]
    final = index_dir / f"{gen}.duckdb"
    tmp = index_dir / f"{TMP_PREFIX}{gen}.duckdb"
    with compact_connection(catalog_dir) as con:
        attach(con, derived, own_database=True)
        sql = Sql(State(files, derived))  # no tail index: every tail file is read
        con.execute(f"CREATE TEMP TABLE _tail_ids AS {sql.tail_ids()}")
        con.execute(f"ATTACH {literal(str(tmp))} AS ytt_build")
        try:
            _write(con, sql, "ytt_build")
            con.execute("DETACH ytt_build")
        except BaseException:
            with contextlib.suppress(Exception):
                con.execute("DETACH ytt_build")
            unlink_quiet(tmp)
            unlink_quiet(tmp.with_name(tmp.name + ".wal"))
            raise
    fsync_file(tmp)
    os.rename(tmp, final)
    manifest = {
        "format": TAIL_FORMAT,
        "derived": Path(derived.path).name,
        **{t: sorted(Path(p).name for p in files[t].tail) for t in ARCHIVED},
        "db": final.name,
    }
    atomic_write(index_dir / f"{gen}.json", json.dumps(manifest).encode())
    _drop(index_dir, keep=gen)
    return gen


def _write(con: Any, sql: Sql, alias: str) -> None:
    con.execute(
        f"CREATE TABLE {alias}.ids AS SELECT video_id FROM _tail_ids "
        "WHERE video_id IS NOT NULL ORDER BY video_id"
    )
    con.execute(
        f"CREATE TEMP TABLE _changed AS SELECT * FROM ({sql.tail_archive(old=True, versions=True)})"
    )
    con.execute(
        f"CREATE TABLE {alias}.archive AS SELECT {col_list(ARCHIVE_COLUMNS)}, "
        "metadata_fetched_at, metadata_recorded_at FROM _changed ORDER BY video_id"
    )
    sums = ", ".join(f"sum({k})::BIGINT AS {k}" for k in STATS_KEYS)
    parts = [
        stats_sql("SELECT * FROM _changed WHERE old_present", sign=-1, prefix="old_"),
        stats_sql("SELECT * FROM _changed"),
    ]
    con.execute(
        f"CREATE TABLE {alias}.stats AS SELECT channel_title, {sums} "
        f"FROM ({' UNION ALL '.join(parts)}) GROUP BY channel_title"
    )
    if sql.state.files["videos"].tail:
        cur = current_texts(sql)
    else:
        cur = (
            "SELECT NULL::VARCHAR AS video_id, NULL::TIMESTAMPTZ AS published_at, "
            "NULL::VARCHAR AS lt, NULL::VARCHAR AS txt, NULL::TIMESTAMPTZ AS fetched_at, "
            "NULL::TIMESTAMPTZ AS recorded_at WHERE false"
        )
    with plain_strings(con, alias):  # every search scans all of it
        con.execute(f"CREATE TABLE {alias}.cur AS {cur}")
    derived = sql.state.derived
    assert derived is not None  # a tail index is built only over a full compaction's base
    con.execute(
        f"CREATE TABLE {alias}.gone AS SELECT rid FROM {derived.table('archive')} "
        f"WHERE video_id IN (SELECT video_id FROM {alias}.cur) ORDER BY rid"
    )
    con.execute("DROP TABLE _changed")


def _drop(index_dir: Path, keep: str | None, temporary_only: bool = False) -> None:
    """Remove tail generations other than `keep` (manifest first: then no reader picks its
    database), and what killed builders left under temporary names."""
    try:
        names = sorted(os.listdir(index_dir), key=lambda n: not n.endswith(".json"))
    except FileNotFoundError:
        return
    for name in names:
        if name.startswith(TMP_PREFIX + TAIL_PREFIX):
            remove_any(index_dir / name)
        elif name.startswith(TAIL_PREFIX) and not temporary_only:
            if name.split(".", 1)[0] != keep:
                remove_any(index_dir / name)
