"""The catalog's derived DuckDB index (_index): merged files, archive table and word index."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from ytarchive.catalog._db import plain_strings
from ytarchive.catalog._files import (
    Files,
    State,
    atomic_write,
    final_name,
    fsync_file,
    new_name,
    unlink_quiet,
)
from ytarchive.catalog._schema import (
    ARCHIVE_COLUMNS,
    COLUMNS,
    DERIVED_FORMAT,
    INDEX_SLICE,
    LATEST,
    LIST_ORDER,
    SCRATCH_SUFFIX,
    TABLES,
    TMP_PREFIX,
)
from ytarchive.catalog._sql import (
    Sql,
    col_list,
    latest_expr,
    literal,
    scan,
    search_text,
    stats_agg,
)


def write_merged(
    con: Any,
    table: str,
    folder: Path,
    kind: str,
    sources: list[str],
    orders: dict[str, str],
) -> Path:
    """Write the rows of sources, each exactly once, to a temporary file; return its final name
    encoded in the temporary one (see _publish)."""
    name = new_name(kind)
    tmp = folder / f"{TMP_PREFIX}{name}.tmp"
    cols = col_list(COLUMNS[table])
    con.execute(
        f"COPY (SELECT {cols}, {latest_expr(table)} AS {LATEST} FROM {scan(sources)} "
        f"ORDER BY {orders[table]}) TO {literal(str(tmp))} "
        "(FORMAT parquet, COMPRESSION zstd)"
    )
    fsync_file(tmp)
    return tmp


def build_derived(con: Any, index_dir: Path, bases: dict[str, Path | None]) -> str:
    """Write the derived database for these bases (see Derived); returns its generation.

    A DuckDB file rather than Parquet because its reads are point reads: a page of the list, the
    rows of 50 search results, the postings of a few tokens. The word index is built in slices
    of the videos base (so memory stays bounded on big archives): each slice's (rid, token,
    in_title) rows go to a scratch Parquet file, then one pass makes the vocabulary (token ids in
    token order) and one sorted pass the postings.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    gen = new_name("gen")[: -len(".parquet")]
    final = index_dir / f"{gen}.duckdb"
    tmp = index_dir / f"{TMP_PREFIX}{gen}.duckdb"
    scratch = index_dir / f"{TMP_PREFIX}{gen}.tokens"
    alias = "ytd_build"
    con.execute(f"ATTACH {literal(str(tmp))} AS {alias}")
    try:
        _write_archive(con, bases, alias)
        _write_tokens(con, bases["videos"], scratch)
        _write_index(con, scratch, alias)
        con.execute(f"DETACH {alias}")
    except BaseException:
        with contextlib.suppress(Exception):
            con.execute(f"DETACH {alias}")
        unlink_quiet(tmp)
        unlink_quiet(tmp.with_name(tmp.name + ".wal"))
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        con.execute("DROP TABLE IF EXISTS arch")
    fsync_file(tmp)
    os.rename(tmp, final)
    manifest = {
        "videos": bases["videos"] and final_name(bases["videos"]),
        "downloads": bases["downloads"] and final_name(bases["downloads"]),
        "db": final.name,
        "format": DERIVED_FORMAT,
    }
    atomic_write(index_dir / f"{gen}.json", json.dumps(manifest).encode())
    return gen


def _write_archive(con: Any, bases: dict[str, Path | None], alias: str) -> None:
    """One row per video in list order (`rid`, the row's rank, is its id in the word index),
    and the stats per channel."""
    state = State({t: Files(str(bases[t]) if bases[t] else None, ()) for t in TABLES}, None)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE arch AS SELECT (row_number() OVER "
        f"(ORDER BY {LIST_ORDER}) - 1)::INTEGER AS rid, * "
        f"FROM ({Sql(state).live_archive(versions=True)})"
    )
    con.execute(
        f"CREATE TABLE {alias}.archive AS SELECT rid, {col_list(ARCHIVE_COLUMNS)}, "
        "metadata_fetched_at, metadata_recorded_at FROM arch ORDER BY rid"
    )
    con.execute(f"CREATE INDEX archive_rid ON {alias}.archive (rid)")
    con.execute(f"CREATE INDEX archive_video_id ON {alias}.archive (video_id)")
    con.execute(
        f"CREATE TABLE {alias}.stats AS SELECT channel_title, {stats_agg()} FROM arch "
        "GROUP BY channel_title"
    )
    con.execute(
        f"CREATE TABLE {alias}.downloads AS SELECT * FROM ({Sql(state).latest('downloads')}) "
        "ORDER BY video_id"
    )
    con.execute(f"CREATE INDEX downloads_video_id ON {alias}.downloads (video_id)")


def _write_tokens(con: Any, videos_base: Path | None, scratch: Path) -> None:
    scratch.mkdir(parents=True, exist_ok=True)
    if videos_base is None:
        return
    rows = con.execute(f"SELECT count(*) FROM {scan([str(videos_base)])}").fetchone()[0]
    split = r"regexp_split_to_array({}, '\s+')"
    for i, lo in enumerate(range(0, rows, INDEX_SLICE)):
        part = (
            f"SELECT * FROM {scan([str(videos_base)], True)} WHERE {LATEST} "
            f"AND file_row_number >= {lo} AND file_row_number < {lo + INDEX_SLICE}"
        )
        con.execute(
            "COPY (SELECT a.rid, t.token, bool_or(t.in_title) AS in_title FROM ("
            f"SELECT video_id, unnest({split.format('lower(title)')}) AS token, true AS in_title "
            f"FROM ({part}) UNION ALL "
            f"SELECT video_id, unnest({split.format(search_text())}), false FROM ({part})"
            ") t JOIN arch a USING (video_id) WHERE t.token <> '' GROUP BY a.rid, t.token) "
            f"TO {literal(str(scratch / f'{i:06d}{SCRATCH_SUFFIX}'))} (FORMAT parquet)"
        )


def _write_index(con: Any, scratch: Path, alias: str) -> None:
    tokens = (
        f"read_parquet({literal(str(scratch / f'*{SCRATCH_SUFFIX}'))})"
        if any(scratch.glob(f"*{SCRATCH_SUFFIX}"))
        else "(SELECT NULL::INTEGER AS rid, NULL::VARCHAR AS token, NULL::BOOLEAN AS in_title "
        "WHERE false)"
    )
    with plain_strings(con, alias):  # every search scans all tokens: no decompressing them
        con.execute(
            f"CREATE TABLE {alias}.vocab AS SELECT "
            "(row_number() OVER (ORDER BY token) - 1)::INTEGER AS token_id, token, df FROM "
            f"(SELECT token, count(*)::INTEGER AS df FROM {tokens} GROUP BY token) ORDER BY token"
        )
    con.execute(
        f"CREATE TABLE {alias}.postings AS SELECT v.token_id, t.rid, t.in_title FROM {tokens} t "
        f"JOIN {alias}.vocab v USING (token) ORDER BY v.token_id, t.rid"
    )
