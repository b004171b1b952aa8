"""The catalog under real concurrency: writer, reader and compactor processes at once, and
processes killed with SIGKILL in the middle of a write or a compaction."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ytarchive.catalog import Catalog

REPO = Path(__file__).resolve().parents[3]

WRITER = """
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from ytarchive.catalog import Catalog
from ytarchive.models import DownloadResult, VideoMetadata
root, prefix, count, batch = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
for lo in range(0, count, batch):
    ids = [f"{prefix}{i:06d}" for i in range(lo, min(count, lo + batch))]
    catalog = Catalog(root)
    when = t0 + timedelta(seconds=lo)
    catalog.record_metadata([VideoMetadata(video_id=v, title=v, source="yt_dlp") for v in ids])
    catalog.record_outcomes(
        [DownloadResult(video_id=v, status="archived", bytes=1, recorded_at=when) for v in ids]
    )
print("done", flush=True)
"""

READER = """
import json, sys, time
from pathlib import Path
from ytarchive.catalog import Catalog
root, prefixes, stop = Path(sys.argv[1]), sys.argv[2].split(","), Path(sys.argv[3])
problems, reads, last = [], 0, {p: 0 for p in prefixes}
while not stop.exists() or reads < 3:
    catalog = Catalog(root)
    _, rows = catalog.sql("SELECT video_id FROM download_history")
    ids = [r[0] for r in rows]
    if len(ids) != len(set(ids)):
        problems.append(f"duplicates: {len(ids) - len(set(ids))}")
    for p in prefixes:
        mine = sorted(int(i[len(p):]) for i in ids if i.startswith(p))
        if mine != list(range(len(mine))):
            problems.append(f"{p}: not a prefix of what was written ({len(mine)} rows)")
        if len(mine) < last[p]:
            problems.append(f"{p}: went back from {last[p]} to {len(mine)}")
        last[p] = len(mine)
    stats = catalog.stats()
    if stats["archived"] < sum(last.values()):  # a later snapshot: it can only hold more
        problems.append(f"stats went back: {stats['archived']} < {sum(last.values())}")
    listed = catalog.list_videos()
    if len(listed) != len({r["video_id"] for r in listed}):
        problems.append("list_videos shows a video twice")
    reads += 1
print(json.dumps({"reads": reads, "problems": problems[:20], "last": last}), flush=True)
"""

COMPACTOR = """
import sys, time
from pathlib import Path
import ytarchive.catalog._compact as catalog_module
from ytarchive.catalog import Catalog
root, stop = Path(sys.argv[1]), Path(sys.argv[2])
remove = catalog_module._remove_file
def slow_remove(path):  # a slow file system: widens the window between rename and deletes
    time.sleep(0.005)
    remove(path)
catalog_module._remove_file = slow_remove
runs = 0
while not stop.exists():
    Catalog(root).compact(full=runs % 2 == 0)
    runs += 1
print("compactions", runs, flush=True)
"""


def _python(code: str, *args: object, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _finish(proc: subprocess.Popen, timeout: float = 120) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    return out


def _all_parquet_files_read(root: Path) -> None:
    for path in (root / "catalog").rglob("*.parquet"):
        pq.read_table(path)  # a torn file under a final name would fail here


@pytest.mark.slow
def test_two_writers_a_reader_and_a_compactor_at_once(tmp_path: Path) -> None:
    stop = tmp_path / "stop"
    writers = [_python(WRITER, tmp_path, p, 5000, 10) for p in ("a", "b")]
    reader = _python(READER, tmp_path, "a,b", stop)
    compactor = _python(COMPACTOR, tmp_path, stop)
    try:
        for w in writers:
            assert "done" in _finish(w)
    finally:
        stop.write_text("stop")
    report = json.loads(_finish(reader))
    assert "compactions" in _finish(compactor)
    assert report["problems"] == []
    assert report["reads"] >= 3

    catalog = Catalog(tmp_path)
    _, rows = catalog.sql("SELECT count(*), count(DISTINCT video_id) FROM download_history")
    assert rows == [(10_000, 10_000)]
    _, rows = catalog.sql("SELECT count(*), count(DISTINCT video_id) FROM video_snapshots")
    assert rows == [(10_000, 10_000)]
    assert catalog.stats()["archived"] == 10_000
    assert len(catalog.settled_ids(f"a{i:06d}" for i in range(5000))) == 5000
    _all_parquet_files_read(tmp_path)
    catalog.compact()
    assert catalog.stats()["archived"] == 10_000


BIG_WRITER = """
import sys
from pathlib import Path
from ytarchive.catalog import Catalog
from ytarchive.models import DownloadResult
root, prefix, batch = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
results = [
    DownloadResult(video_id=f"{prefix}{i:06d}", status="archived", bytes=i, file_path="x" * 200)
    for i in range(batch)
]
print("go", flush=True)
while True:
    Catalog(root).record_outcomes(results)
"""


def _kill_while_writing(proc: subprocess.Popen, folder: Path, skip: int) -> bool:
    """SIGKILL the writer the moment a temporary file of its (skip+1)th write is seen; True
    when that file is still there afterwards (the write was cut short)."""
    stale = set(_temporary(folder))  # left by writers killed before
    seen: set[str] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new = set(_temporary(folder)) - stale
        if new - seen:
            seen |= new
            if len(seen) > skip:
                proc.send_signal(signal.SIGKILL)
                proc.communicate()
                return bool(set(_temporary(folder)) & new)
        time.sleep(0.0005)
    proc.kill()
    proc.communicate()
    raise AssertionError("the writer never wrote")


def _temporary(folder: Path) -> list[str]:
    return [n for n in _names(folder) if n.startswith(".tmp-batch-")]


def _names(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except FileNotFoundError:
        return []


def test_a_writer_killed_mid_write_leaves_no_torn_file(tmp_path: Path) -> None:
    batch = 50_000
    folder = tmp_path / "catalog" / "downloads"
    torn = 0
    for attempt in range(4):
        proc = _python(BIG_WRITER, tmp_path, f"k{attempt}-", batch)
        assert proc.stdout.readline().strip() == "go"
        torn += _kill_while_writing(proc, folder, skip=attempt % 2)
    assert torn >= 1, "some kill should land while a file is half written"
    _all_parquet_files_read(tmp_path)
    catalog = Catalog(tmp_path)
    _, rows = catalog.sql("SELECT count(*), count(DISTINCT video_id) FROM download_history")
    total, distinct = rows[0]
    assert total % batch == 0 and total >= batch  # whole batches only
    assert distinct % batch == 0
    assert catalog.stats()["archived"] == distinct
    catalog.compact()
    assert catalog.sql("SELECT count(*) FROM download_history")[1] == [(total,)]
    leftovers = [p for p in (tmp_path / "catalog").rglob(".tmp-*") if "batch" not in p.name]
    assert leftovers == []


KILLED_COMPACTOR = """
import sys
from pathlib import Path
from ytarchive.catalog import Catalog
catalog = Catalog(Path(sys.argv[1]))
print("go", flush=True)
catalog.compact()
"""


def _interrupted(root: Path) -> bool:
    """A compaction left undone: temporary files, or files it would have merged."""
    catalog = root / "catalog"
    if any(p.name.startswith(".tmp-") for p in catalog.rglob("*")):
        return True
    return any(len(list((catalog / t).glob("*.parquet"))) > 1 for t in ("videos", "downloads"))


def test_a_compactor_killed_at_any_point_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    _finish(_python(WRITER, tmp_path, "c", 60_000, 2000))
    query = "SELECT count(*), count(DISTINCT video_id) FROM download_history"
    want = Catalog(tmp_path).sql(query)[1]
    assert want == [(60_000, 60_000)]
    stats = Catalog(tmp_path).stats()
    interrupted = 0
    for i, delay in enumerate((0.05, 0.1, 0.2, 0.3, 0.4, 0.55, 0.7, 0.9)):
        killer = _python(KILLED_COMPACTOR, tmp_path)
        assert killer.stdout.readline().strip() == "go"
        time.sleep(delay)
        killer.send_signal(signal.SIGKILL)
        killer.communicate()
        interrupted += _interrupted(tmp_path)
        assert Catalog(tmp_path).sql(query)[1] == want, f"after a kill at {delay}s"
        assert Catalog(tmp_path).stats() == stats
        _all_parquet_files_read(tmp_path)
        # a new row, so the next compaction has something to do
        _finish(_python(WRITER, tmp_path, f"n{i}-", 1, 1))
        want = [(want[0][0] + 1, want[0][1] + 1)]
        stats = Catalog(tmp_path).stats()
    assert interrupted >= 2, "the kills should land inside compactions"
    Catalog(tmp_path).compact()
    assert Catalog(tmp_path).sql(query)[1] == want
    assert not [p for p in (tmp_path / "catalog").rglob(".tmp-*")]
    for sidecar in (tmp_path / "catalog").rglob("*.sources.json"):
        assert sidecar.with_name(sidecar.name.replace(".sources.json", ".parquet")).exists()
