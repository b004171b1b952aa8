"""The catalog's compaction: merged and base files, their sidecars, what killed compactors left."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

from ytarchive.catalog._db import arrow, compact_connection
from ytarchive.catalog._files import (
    atomic_write,
    base_path,
    cleanup_index,
    file_kind,
    find_derived,
    list_table,
    remove_any,
    sidecar_path,
    table_lock,
    unlink_quiet,
)
from ytarchive.catalog._index import build_derived, write_merged
from ytarchive.catalog._schema import (
    AUTO_FULL_MIN_ROWS,
    AUTO_FULL_RATIO,
    BASE_ORDER,
    INDEX_DIR,
    MAX_MERGED_FILES,
    MERGE_AT_FILES,
    MERGE_ORDER,
    SIDECAR,
    STALE_TMP_SECONDS,
    TABLES,
    TMP_PREFIX,
)

__all__ = ["Guard", "exclusive", "merge_table", "compact_full", "due"]

# The fleet's compaction election, injected by the caller (the flows layer elects through the
# Prefect server): called with `wait`, it yields True when this process may compact.
Guard = Callable[[bool], AbstractContextManager[bool]]


@contextlib.contextmanager
def exclusive(catalog_dir: Path, wait: bool, guard: Guard | None) -> Iterator[bool]:
    """This host's lock of every table, then the fleet's guard: True when both are held.

    Without wait, False at once when another compactor holds either."""
    with contextlib.ExitStack() as stack:
        for table in TABLES:
            if not stack.enter_context(table_lock(catalog_dir / table, wait)):
                yield False
                return
        if guard is not None and not stack.enter_context(guard(wait)):
            yield False
            return
        yield True


def merge_table(catalog_dir: Path, table: str) -> int:
    """Merge the small files of a table into one merged file (under exclusive). Returns files
    merged."""
    folder = catalog_dir / table
    _cleanup(folder)
    files = list_table(folder)
    batches = [p for p in files.tail if file_kind(Path(p).name) == "batch"]
    merged = [p for p in files.tail if file_kind(Path(p).name) == "merged"]
    sources = batches + merged if len(merged) >= MAX_MERGED_FILES else batches
    if len(sources) < 2:
        return 0
    with compact_connection(catalog_dir) as con:
        target = write_merged(con, table, folder, "merged", sources, MERGE_ORDER)
    _publish(target, sources)
    return len(sources)


def compact_full(catalog_dir: Path) -> dict:
    """Everything of every table into one base file each, then the derived archive and word
    index (under exclusive); returns the files merged per table."""
    for table in TABLES:
        _cleanup(catalog_dir / table)
    cleanup_index(catalog_dir / INDEX_DIR, keep=None)
    for spill in catalog_dir.glob(f"{TMP_PREFIX}duckdb-*"):  # of killed compactors: every
        remove_any(spill)  # live one holds the locks and the guard, and we hold them
    files = {t: list_table(catalog_dir / t) for t in TABLES}
    counts: dict[str, int] = {}
    with compact_connection(catalog_dir) as con:
        planned: dict[str, tuple[Path, list[str]] | None] = {}
        for table, f in files.items():
            sources = list(f.all)
            if not sources or (f.base and not f.tail):
                planned[table] = None
                counts[table] = 0
                continue
            folder = catalog_dir / table
            tmp = write_merged(con, table, folder, "base", sources, BASE_ORDER)
            planned[table] = (tmp, sources)
            counts[table] = len(sources)
        bases: dict[str, Path | None] = {
            t: p[0] if p else base_path(files[t]) for t, p in planned.items()
        }
        keep = None
        has_rows = bases["videos"] is not None or bases["downloads"] is not None
        changed = planned["videos"] or planned["downloads"]
        if has_rows and (changed or not find_derived(catalog_dir / INDEX_DIR, files)):
            keep = build_derived(con, catalog_dir / INDEX_DIR, bases)
    for plan in planned.values():
        if plan:
            _publish(plan[0], plan[1])
    if keep is not None:
        cleanup_index(catalog_dir / INDEX_DIR, keep=keep)
    return counts


def due(catalog_dir: Path) -> str | None:
    """What compaction the catalog is due: "merge" (a table has many small files), "full"
    (the rows written since the last full compaction are many), or None. Reads no rows."""
    for table in TABLES:
        try:
            names = os.listdir(catalog_dir / table)
        except FileNotFoundError:
            continue
        if sum(1 for n in names if n.startswith("batch-")) > MERGE_AT_FILES:
            return "merge"
    return "full" if tail_too_big(catalog_dir) else None


def tail_too_big(catalog_dir: Path) -> bool:
    """Whether the rows written since the last full compaction call for another one."""
    _, pq = arrow()
    for table in ("videos", "downloads"):
        files = list_table(catalog_dir / table)
        try:
            tail = sum(pq.read_metadata(p).num_rows for p in files.tail)
            base = pq.read_metadata(files.base).num_rows if files.base else 0
        except (OSError, ValueError):
            continue  # moved on under us; the next look sees the new files
        if tail > max(AUTO_FULL_MIN_ROWS, AUTO_FULL_RATIO * base):
            return True
    return False


def _publish(tmp: Path, sources: list[str]) -> None:
    """Make a compacted file live: sidecar naming its sources, rename, then delete the sources.

    Readers drop every file a live sidecar names, so at no instant is a row visible twice or
    not at all; a crash at any step leaves a catalog that reads the same.
    """
    final = tmp.with_name(tmp.name[len(TMP_PREFIX) : -len(".tmp")])
    sidecar = sidecar_path(final)
    atomic_write(sidecar, json.dumps(sorted(Path(s).name for s in sources)).encode())
    os.rename(tmp, final)
    for source in sources:
        _remove_file(Path(source))


def _remove_file(path: Path) -> None:
    """Delete a Parquet file, then its sidecar (in that order: see _scan_dir)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    if file_kind(path.name) != "batch":
        with contextlib.suppress(FileNotFoundError):
            sidecar_path(path).unlink()


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
                unlink_quiet(path)  # a compactor's, and we hold the lock: it is dead
            else:
                with contextlib.suppress(FileNotFoundError):
                    if now - path.stat().st_mtime > STALE_TMP_SECONDS:
                        unlink_quiet(path)
        elif name.endswith(SIDECAR):
            parquet = name[: -len(SIDECAR)] + ".parquet"
            if parquet not in present:
                unlink_quiet(path)  # its file was deleted (or never made it into place)
                continue
            for source in json.loads(path.read_text()):
                if source in present:
                    _remove_file(folder / source)
