"""Several "hosts" over one archive and one server: a video is claimed through the server.

Each host is its own `ytarchive download` process with its own YTARCHIVE_HOST, so its own
.tmp/<host>/ and .locks/<host>/: the fcntl lock never spans hosts (as on a shared filesystem
that does not carry locks between machines), and only the server's claim keeps them apart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tasks.claims import claim_limit_name
from tests.helpers import assert_no_partials, video_files, wait_for
from ytarchive.layout import TMP

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
LEASE = 60  # seconds: the least the server grants


@pytest.fixture
def fleet_api_url(prefect_server: str) -> str:
    """The server the hosts share: the session's (a PostgreSQL-backed one can take its place)."""
    return prefect_server


def _host(name: str, api_url: str, *args: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "YTARCHIVE_HOST": name,
        "PREFECT_API_URL": api_url,
        "YTARCHIVE_CLAIM_LEASE_SECONDS": str(LEASE),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "ytarchive", "download", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _log(root: Path) -> str:
    path = root / "logs" / "ytarchive.log"
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def _archived_rows(root: Path, video_id: str) -> int:
    from ytarchive.catalog import Catalog

    sql = f"SELECT count(*) FROM download_history WHERE video_id = '{video_id}'"
    _, rows = Catalog(root).sql(sql + " AND status = 'archived'")
    return int(rows[0][0])


def _slots_held(video_id: str) -> int:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_global_concurrency_limit_by_name(claim_limit_name(video_id)).active_slots


def _stop(proc: subprocess.Popen) -> tuple[str, str]:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
    try:
        return proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def _append(watched: Path, video_id: str) -> None:
    with watched.open("a") as handle:
        handle.write(video_id + "\n")


def test_two_hosts_take_one_video_once_and_a_killed_hosts_claim_goes_to_the_other(
    ytarchive_env, fleet_api_url, tmp_path
) -> None:
    """Two hosts downloading one video at once download it once; a host killed (SIGKILL)
    mid-download lets its claim go within the lease, the other archives the video from what the
    dead one left, and no partial file remains. One test: starting a host costs most of it."""
    bed = ytarchive_env.testbed
    root = ytarchive_env.output_dir
    contested, orphaned = bed.lib.add_video().video_id, bed.lib.add_video().video_id
    hosts: dict[str, tuple[Path, subprocess.Popen]] = {}
    for name in ("host-a", "host-b"):  # each warmed up on a video of its own first
        watched = tmp_path / f"{name}.txt"
        watched.write_text(bed.lib.add_video().video_id + "\n")
        hosts[name] = (watched, _host(name, fleet_api_url, "--watch", str(watched), "-q", "360p"))
    (a_file, a_proc), (b_file, b_proc) = hosts["host-a"], hosts["host-b"]
    try:
        wait_for(lambda: len(video_files(root)) == 2, 180, "both hosts warmed up")
        bed.media.bandwidth_cap = 15_000  # 13 s for the 360p clip: the two overlap
        for watched in (a_file, b_file):  # the same line to both hosts at once
            _append(watched, contested)
        wait_for(lambda: _archived_rows(root, contested) == 1, 120, "the contested video")
        wait_for(lambda: "is already archived" in _log(root), 60, "the other host's answer")

        bed.media.bandwidth_cap = 5_000  # far longer than the test: the kill lands mid-download
        _append(a_file, orphaned)
        work = root / TMP / "host-a" / orphaned
        wait_for(lambda: any(p.stat().st_size for p in work.glob("*.part")), 60, "bytes on disk")
        os.killpg(a_proc.pid, signal.SIGKILL)
        a_proc.communicate(timeout=30)
        assert _slots_held(orphaned) == 1  # the dead host's claim, until its lease lapses
        bed.media.bandwidth_cap = None
        _append(b_file, orphaned)  # within the lease, and the server's 2 s repossessor pass
        wait_for(lambda: _archived_rows(root, orphaned) == 1, LEASE + 60, "the orphaned video")
    finally:
        results = {name: _stop(proc) for name, (_, proc) in hosts.items()}
    assert a_proc.returncode == -signal.SIGKILL
    assert b_proc.returncode == 0, results["host-b"][1][-2000:]
    log = _log(root)
    assert f"{contested}: waiting for its claim" in log  # one host held it, the other waited
    assert f"{orphaned}: waiting for its claim" in log  # the dead host's, until it lapsed
    assert f"{orphaned}: resuming what host-a left of it" in log
    for video_id in (contested, orphaned):
        assert _archived_rows(root, video_id) == 1
        assert len([p for p in video_files(root) if f"[{video_id}]" in p.name]) == 1
        assert _slots_held(video_id) == 0
    assert sorted(p.name for p in (root / ".locks").iterdir()) == ["host-a", "host-b"]
    assert_no_partials(root)
