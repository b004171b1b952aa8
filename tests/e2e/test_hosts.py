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
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tasks.claims import claim_limit_name
from tests.helpers import assert_no_partials, video_files
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


def _wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


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


def test_two_hosts_downloading_one_video_at_once_download_it_once(
    ytarchive_env, fleet_api_url, tmp_path
) -> None:
    bed = ytarchive_env.testbed
    root = ytarchive_env.output_dir
    contested = bed.lib.add_video().video_id
    hosts = {}
    for name in ("host-a", "host-b"):  # each warmed up on a video of its own first
        watched = tmp_path / f"{name}.txt"
        watched.write_text(bed.lib.add_video().video_id + "\n")
        hosts[name] = (watched, _host(name, fleet_api_url, "--watch", str(watched), "-q", "360p"))
    try:
        _wait_for(lambda: len(video_files(root)) == 2, 180, "both hosts warmed up")
        bed.media.bandwidth_cap = 30_000  # some seconds for the 360p clip: the two overlap
        for watched, _ in hosts.values():  # the same line to both hosts at once
            with watched.open("a") as handle:
                handle.write(contested + "\n")
        _wait_for(lambda: _archived_rows(root, contested) == 1, 120, "the contested video")
        _wait_for(lambda: "is already archived" in _log(root), 60, "the other host's answer")
    finally:
        results = {name: _stop(proc) for name, (_, proc) in hosts.items()}
    for name, (_, proc) in hosts.items():
        assert proc.returncode == 0, results[name][1][-2000:]
    assert "waiting for its claim" in _log(root)  # one host held it while the other waited
    assert _archived_rows(root, contested) == 1
    assert len([p for p in video_files(root) if f"[{contested}]" in p.name]) == 1
    assert sorted(p.name for p in (root / ".locks").iterdir()) == ["host-a", "host-b"]
    assert _slots_held(contested) == 0
    assert_no_partials(root)


def test_a_host_killed_mid_download_lets_its_claim_go_and_another_archives_the_video(
    ytarchive_env, fleet_api_url
) -> None:
    bed = ytarchive_env.testbed
    root = ytarchive_env.output_dir
    video_id = bed.lib.add_video().video_id
    bed.media.bandwidth_cap = 20_000  # far longer than the test: the kill lands mid-download
    doomed = _host("host-a", fleet_api_url, video_id, "-q", "720p")
    work = root / TMP / "host-a" / video_id
    try:
        _wait_for(
            lambda: any(p.stat().st_size > 0 for p in work.glob("*.part")), 180, "bytes on disk"
        )
    finally:
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.communicate(timeout=30)
    assert doomed.returncode == -signal.SIGKILL
    assert _slots_held(video_id) == 1  # the dead host's claim, until its lease lapses
    bed.media.bandwidth_cap = None
    heir = _host("host-b", fleet_api_url, video_id, "-q", "720p")
    try:  # the claim goes within the lease (and the server's 2 s repossessor pass)
        out, err = heir.communicate(timeout=LEASE + 60)
    finally:
        if heir.poll() is None:
            os.killpg(heir.pid, signal.SIGKILL)
    assert heir.returncode == 0, err[-2000:]
    log = _log(root)
    assert "waiting for its claim" in log
    assert f"{video_id}: resuming what host-a left of it" in log
    assert _archived_rows(root, video_id) == 1
    assert len(video_files(root)) == 1
    assert _slots_held(video_id) == 0
    assert_no_partials(root)
