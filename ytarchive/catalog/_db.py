"""The catalog's DuckDB and PyArrow access: lazy imports, connections, Parquet writes."""

from __future__ import annotations

import atexit
import contextlib
import gc
import logging
import os
import secrets
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

from ytarchive.catalog._files import Derived, fsync_file
from ytarchive.catalog._schema import COLUMNS, COMPACT_MEMORY, LATEST, TMP_PREFIX
from ytarchive.catalog._sql import ident, literal
from ytarchive.errors import CatalogError

_duckdb_module: Any = None


# -- outside libraries, imported on first use ------------------------------------------------


def duckdb_module() -> Any:
    global _duckdb_module
    if _duckdb_module is None:
        import duckdb

        _duckdb_module = duckdb
    return _duckdb_module


def arrow() -> tuple[Any, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pa, pq


def arrow_schema(table: str) -> Any:
    pa, _ = arrow()
    kinds = {
        "str": pa.string(),
        "int": pa.int64(),
        "ts": pa.timestamp("us", tz="UTC"),
        "bool": pa.bool_(),
        "strlist": pa.list_(pa.string()),
        "chapters": pa.list_(
            pa.struct(
                [("start_time", pa.float64()), ("end_time", pa.float64()), ("title", pa.string())]
            )
        ),
        "subtitles": pa.list_(
            pa.struct(
                [
                    ("lang", pa.string()),
                    ("automatic", pa.bool_()),
                    ("ext", pa.string()),
                    ("path", pa.string()),
                ]
            )
        ),
    }
    fields = [pa.field(n, kinds[k]) for n, k in COLUMNS[table]]
    return pa.schema([*fields, pa.field(LATEST, pa.bool_())])


def write_parquet(folder: Path, name: str, data: Any) -> Path:
    """Write a pyarrow table whole under a temporary name, fsync, rename to `name`."""
    _, pq = arrow()
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / name
    tmp = folder / f"{TMP_PREFIX}{name}.tmp"
    try:
        pq.write_table(data, tmp, compression="zstd")
        fsync_file(tmp)
        os.rename(tmp, final)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise CatalogError(f"cannot write {final}: {exc}") from exc
        raise
    return final


@contextlib.contextmanager
def compact_connection(catalog_dir: Path) -> Iterator[Any]:
    spill = catalog_dir / f"{TMP_PREFIX}duckdb-{os.getpid()}-{secrets.token_hex(4)}"
    con = _connect()
    try:
        con.execute(f"SET memory_limit = {literal(COMPACT_MEMORY)}")
        con.execute(f"SET temp_directory = {literal(str(spill))}")
        con.execute("SET preserve_insertion_order = true")
        yield con
    except duckdb_module().Error as exc:
        raise CatalogError(f"compaction failed: {first_line(exc)}") from exc
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


@contextlib.contextmanager
def plain_strings(con: Any, alias: str) -> Iterator[None]:
    """Tables made inside store their strings uncompressed: a search scans every row of its
    text columns, and decoding FSST or dictionary strings costs more than that scan (at a million
    videos, 45 ms against 19 ms for the 400,000 tokens). Written out by a checkpoint of the
    database `alias` before compression is allowed again."""
    con.execute("SET disabled_compression_methods = 'fsst,dictionary,dict_fsst'")
    try:
        yield
        con.execute(f"CHECKPOINT {alias}")
    finally:
        con.execute("RESET disabled_compression_methods")


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside (while many rows become Python objects: it would
    run every 700 of them, and makes stats() at a million videos ~20 ms slower)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_shared: Any = None


_shared_lock = threading.Lock()


def cursor() -> Any:
    """A connection of the process's one in-memory DuckDB (opening a database costs ~30 ms;
    a cursor of it costs well under one). Temporary tables are per cursor."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared[0] != os.getpid():  # not one inherited through fork
            if _shared is None:
                atexit.register(_close_shared)
            _shared = (os.getpid(), _connect())
        return _shared[1].cursor()


def _close_shared() -> None:
    """At exit, before the interpreter's teardown: DuckDB objects still alive then are reported
    by nanobind as leaks on stderr (`nanobind: leaked N instances!`)."""
    global _shared
    with _shared_lock:
        if _shared is not None and _shared[0] == os.getpid():
            with contextlib.suppress(Exception):
                _shared[1].close()
        _shared = None


_CONFIG = {
    "autoinstall_known_extensions": "false",
    "autoload_known_extensions": "false",
}


_attached: set[tuple[int, str]] = set()


def attach(con: Any, derived: Derived, own_database: bool) -> bool:
    """Attach the derived database read-only (once per process: ATTACH is per database, and the
    shared one is). False when it cannot be read (another DuckDB version wrote it, say)."""
    duckdb = duckdb_module()
    key = (os.getpid(), derived.path)
    with _shared_lock:
        if not own_database and key in _attached:
            return True
        try:
            con.execute(f"ATTACH {literal(derived.path)} AS {derived.alias} (READ_ONLY)")
        except duckdb.IOException:
            raise  # gone: a compaction moved on, the read loop looks again
        except duckdb.Error as exc:
            logging.getLogger("ytarchive.catalog").warning("ignoring %s: %s", derived.path, exc)
            return False
        if not own_database:
            _attached.add(key)
        return True


def _connect() -> Any:
    con = duckdb_module().connect(":memory:", config=_CONFIG)
    con.execute("SET enable_progress_bar = false")
    return con


def sandbox_connection() -> Any:
    """A database of its own for user SQL: lock_down changes settings that are global."""
    con = duckdb_module().connect(
        ":memory:",
        config={**_CONFIG, "temp_directory": ""},
    )
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")
    return con


def lock_down(con: Any, root: Path) -> None:
    """After the views exist: no file outside the archive, no settings changed, no spilling."""
    allowed = str(Path(root).resolve())
    con.execute(f"SET allowed_directories = [{literal(allowed)}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def fetch(con: Any, query: str, spec: list[tuple[str, str]]) -> list[dict]:
    """Rows of query as dicts; timestamps travel as epoch microseconds (DuckDB's own conversion
    of TIMESTAMPTZ costs ~40 ms the first time in a process) and come back as UTC datetimes."""
    cols = ", ".join(
        f"epoch_us({ident(n)}) AS {ident(n)}" if k == "ts" else ident(n) for n, k in spec
    )
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
    from datetime import datetime, timedelta

    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def non_null(row: dict) -> dict:
    return {k: v for k, v in row.items() if v is not None}


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
