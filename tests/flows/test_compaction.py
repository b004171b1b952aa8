"""Catalog compaction out of the write path: elected fleet-wide through the Prefect server, run
by the compact-catalog flow, and started in the background by archive runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ytarchive.catalog import Catalog
from ytarchive.models import DownloadResult, VideoMetadata

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2024, 1, 1, tzinfo=UTC)

# One compactor on one "host" (YTARCHIVE_HOST): it starts when `go` appears, and once past the
# election it holds on until the other compactor has decided too (finished, or also passed), so
# the two overlap whatever the machine's speed. `elected`: the server's election (the flows
# layer's guard); `unelected`: no election at all, only the fcntl lock of each host.
COMPACTOR = """
import contextlib, json, sys, time
from pathlib import Path
from ytarchive.catalog import Catalog
root, me, other, mode = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
signals = root / "signals"
if mode == "elected":
    from flows.compaction import fleet_guard
else:
    @contextlib.contextmanager
    def fleet_guard(wait):
        yield True

@contextlib.contextmanager
def guard(wait):
    with fleet_guard(wait) as held:
        if held:
            (signals / f"{me}.passed").touch()
            deadline = time.monotonic() + 60
            while not any((signals / f"{other}.{s}").exists() for s in ("done", "passed")):
                assert time.monotonic() < deadline, "the other compactor never decided"
                time.sleep(0.02)
        yield held

print("ready", flush=True)
while not (signals / "go").exists():
    time.sleep(0.005)
result = Catalog(root).maintain(guard=guard)
(signals / f"{me}.done").touch()
print(json.dumps(result), flush=True)
"""


def _write_rows(root: Path, count: int) -> None:
    """What archive runs leave: one file per recorded outcome, metadata in batches."""
    catalog = Catalog(root)
    ids = [f"vid{i:05d}" for i in range(count)]
    catalog.record_metadata([VideoMetadata(video_id=v, title=v, source="yt_dlp") for v in ids])
    for i, video in enumerate(ids):
        when = T0 + timedelta(seconds=i)
        catalog.record_outcomes([DownloadResult(video_id=video, status="archived", bytes=i + 1,
                                                recorded_at=when)])  # fmt: skip


def _race(root: Path, mode: str) -> dict[str, dict | None]:
    """Two compactors on hosts a and b, started at the same instant; their results by host.

    Unelected, both may fail: they merge the same files, and one deletes what the other reads."""
    (root / "signals").mkdir()
    procs = {}
    for me, other in (("host-a", "host-b"), ("host-b", "host-a")):
        env = {**os.environ, "YTARCHIVE_HOST": me, "PYTHONPATH": str(REPO)}
        procs[me] = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(COMPACTOR), str(root), me, other, mode],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    for proc in procs.values():  # both imported everything: the start is one instant
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    (root / "signals" / "go").touch()
    results = {}
    for me, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        if mode == "elected":
            assert proc.returncode == 0, err
            results[me] = json.loads(out.strip().splitlines()[-1])
    return results


def _history(root: Path) -> list[tuple]:
    return Catalog(root).sql("SELECT count(*), count(DISTINCT video_id) FROM download_history")[1]


@pytest.mark.slow
def test_two_compactions_on_two_hosts_at_once_one_runs_the_other_skips(
    prefect_server: str, tmp_path: Path
) -> None:
    """Issue 18's done-when. Each host has its own fcntl lock file, as hosts whose shared
    storage does not carry locks: only the server's election keeps them apart (the control
    below, with no election, lets both through)."""
    root = tmp_path / "elected"
    _write_rows(root, 40)
    want = Catalog(root).stats()
    results = _race(root, "elected")
    ran = [h for h, r in results.items() if r is not None]
    assert len(ran) == 1, results
    assert results[ran[0]]["compaction"] == "merge"
    assert results[ran[0]]["downloads"] == 40
    folder = root / "catalog" / "downloads"
    assert {p.name for p in folder.glob(".compact.*.lock")} >= {f".compact.{ran[0]}.lock"}
    assert _history(root) == [(40, 40)]  # no row lost or doubled
    assert Catalog(root).stats() == want
    assert [p.name.split("-")[0] for p in folder.glob("*.parquet")] == ["merged"]

    from flows.compaction import compact_catalog

    done = compact_catalog(root, if_needed=False)  # the slot was given back: a full one runs
    assert done is not None and done["compaction"] == "full"
    assert _history(root) == [(40, 40)]

    control = tmp_path / "unelected"
    _write_rows(control, 40)
    _race(control, "unelected")
    assert (control / "signals" / "host-a.passed").exists()
    assert (control / "signals" / "host-b.passed").exists()  # the fcntl locks let both in


def test_the_flow_compacts_what_is_due(prefect_server: str, tmp_path: Path) -> None:
    from flows.compaction import compact_catalog_flow

    _write_rows(tmp_path, 20)
    state = compact_catalog_flow(output_dir=str(tmp_path), return_state=True)
    result = state.result()
    assert result["compaction"] == "merge" and result["downloads"] == 20
    assert Catalog(tmp_path).compaction_due() is None
    assert _history(tmp_path) == [(20, 20)]
    again = compact_catalog_flow(output_dir=str(tmp_path), full=True)
    assert again["compaction"] == "full"
    assert Catalog(tmp_path).stats()["archived"] == 20


@pytest.mark.slow
def test_a_run_starts_a_detached_compactor_when_the_catalog_is_due_one(
    prefect_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What an archive run calls as outcomes come in and at its end (flows/archive.py)."""
    from flows import compaction

    monkeypatch.setenv(compaction.BACKGROUND_ENV, "1")
    _write_rows(tmp_path, 5)
    assert compaction.nudge(tmp_path, final=True) is None  # nothing due: nothing started
    for i in range(20):
        Catalog(tmp_path).record_outcomes([DownloadResult(video_id=f"x{i}", status="failed")])
    pid = compaction.nudge(tmp_path, final=True)
    assert pid is not None
    assert compaction.nudge(tmp_path, final=True) is None  # one at a time from one process
    proc = compaction._started[str(tmp_path)][1]
    assert proc.wait(timeout=120) == 0
    log = (tmp_path / "catalog" / ".compact.log").read_text()
    # The log is the compactor's stdout and stderr: Prefect may warn before the JSON result.
    start = 0 if log.startswith("{") else log.index("\n{") + 1
    result, _ = json.JSONDecoder().raw_decode(log[start:])
    assert result["compaction"] == "merge", log
    assert Catalog(tmp_path).compaction_due() is None
    assert _history(tmp_path) == [(25, 25)]


ALONE_COMPACT = """
import json, sys
from ytarchive.cli import main
code = main(["storage", "compact", "--if-needed", "-o", sys.argv[1], "-f", "json"])
print(json.dumps({"code": code, "prefect": "prefect" in sys.modules}))
"""


def test_a_compaction_on_a_machine_alone_needs_no_prefect_and_no_server(tmp_path: Path) -> None:
    """No other host can reach this home's server (none runs; it would listen on loopback):
    this host's lock is the whole election, so the background compactor neither imports
    Prefect (seconds of CPU beside the downloads) nor starts a server."""
    root, home = tmp_path / "archive", tmp_path / "prefect-home"
    _write_rows(root, 20)
    env = {**os.environ, "PREFECT_HOME": str(home), "PYTHONPATH": str(REPO)}
    for name in ("PREFECT_API_URL", "YTARCHIVE_HOST"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", ALONE_COMPACT, str(root)],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    merged, _, last = done.stdout.rstrip().rpartition("\n")
    assert json.loads(last) == {"code": 0, "prefect": False}, done.stderr
    assert json.loads(merged)["compaction"] == "merge"
    assert Catalog(root).compaction_due() is None
    assert _history(root) == [(20, 20)]
    assert not (home / "ytarchive-server" / "server.json").exists()  # no server was started
