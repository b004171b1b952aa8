"""Recovery against real Prefect history and the loopback stand-ins: fail, kill, retry, close."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.history import PrefectHistory
from ytarchive import recovery
from ytarchive.config import Settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
HISTORY = PrefectHistory()  # the real one: Prefect's flow-run history on the session's server


@pytest.fixture
def env(prefect_server: str, ytarchive_env, monkeypatch: pytest.MonkeyPatch):
    """The test bed, the session's Prefect server, and retries that do not wait."""
    monkeypatch.setenv("YTARCHIVE_MAX_RETRIES", "1")
    monkeypatch.setenv("YTARCHIVE_RETRY_DELAY_SECONDS", "0")
    from flows.runtime import configure_prefect

    configure_prefect()
    return ytarchive_env


def _playlist_url(playlist_id: str) -> str:
    return f"https://www.youtube.com/playlist?list={playlist_id}"


def _settled(root: Path, ids: list[str]) -> set[str]:
    from ytarchive.catalog import Catalog

    return Catalog(root).settled_ids(ids)


def test_a_failing_video_is_one_open_plan_until_a_retry_archives_it(env) -> None:
    from flows.archive import archive_playlist_flow
    from flows.recovery import retry_plan

    bed, root = env.testbed, env.output_dir
    playlist = bed.lib.make_playlist(3)
    bad = playlist.video_ids[1]
    bed.media.set_fault(bad, "500", times=None)

    state = archive_playlist_flow(
        url=_playlist_url(playlist.playlist_id), output_dir=str(root), return_state=True
    )
    assert state.is_failed()
    run_id = str(state.state_details.flow_run_id)

    (plan,) = recovery.list_plans(root, history=HISTORY)
    assert (plan.plan_id, plan.flow, plan.video_ids) == (run_id, "archive-playlist", [bad])
    assert plan.source == _playlist_url(playlist.playlist_id)
    assert plan.items[0].error_class == "Transient"
    assert "500" in (plan.items[0].message or "")
    assert plan.items[0].attempts == 2  # the first try and one retry

    # The site still fails: the retry run takes the plan over and is the one open plan.
    again = retry_plan(plan, Settings())
    assert (again.exit_code, again.remaining) == (1, [bad])
    (still,) = recovery.list_plans(root, history=HISTORY)
    assert (still.plan_id, still.video_ids, still.recovery_of) == (again.flow_run_id, [bad], run_id)
    assert still.source == plan.source  # the chain keeps the playlist it started from

    # The site recovers: the retry archives the video and no plan is left open.
    bed.media.clear_faults()
    done = retry_plan(still, Settings())
    assert (done.exit_code, done.remaining) == (0, [])
    assert _settled(root, [bad]) == {bad}
    assert recovery.list_plans(root, history=HISTORY) == []
    closed = {
        p.plan_id: (p.status, p.closed_by) for p in recovery.list_plans(root, True, history=HISTORY)
    }
    assert closed == {
        run_id: ("recovered", again.flow_run_id),
        again.flow_run_id: ("recovered", done.flow_run_id),
    }


_KILLABLE_RUN = """
import sys
from flows.archive import archive_playlist_flow
archive_playlist_flow(url=sys.argv[1], output_dir=sys.argv[2], max_concurrent=2)
"""


def test_a_run_killed_with_sigkill_is_a_plan_of_the_videos_not_finished(env) -> None:
    from flows.recovery import retry_failed_flow

    bed, root = env.testbed, env.output_dir
    playlist = bed.lib.make_playlist(4)
    first, *rest = playlist.video_ids
    for video_id in rest:  # these fail, then wait a minute before their retry: killed meanwhile
        bed.media.set_fault(video_id, "500", times=None)
    child_env = {**os.environ, "YTARCHIVE_RETRY_DELAY_SECONDS": "60"}
    url = _playlist_url(playlist.playlist_id)
    log = root.parent / "killed-run.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", _KILLABLE_RUN, url, str(root)],
            cwd=ROOT,
            env=child_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait(lambda: _settled(root, playlist.video_ids) == {first}, proc, log, timeout=90)
        _wait(lambda: bed.media.manifest_requests(rest[0]) >= 1, proc, log, timeout=30)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    (plan,) = recovery.list_plans(root, history=HISTORY)
    assert plan.state == "Crashed (process gone)"
    assert sorted(plan.video_ids) == sorted(rest)
    assert all(i.message for i in plan.items)  # each says why it is there

    # The daily deployment's flow retries it once the site is back.
    bed.media.clear_faults()
    summary = retry_failed_flow(output_dir=str(root))
    assert summary["plans"] == 1
    assert _settled(root, playlist.video_ids) == set(playlist.video_ids)
    assert recovery.list_plans(root, history=HISTORY) == []
    (closed,) = recovery.list_plans(root, include_closed=True, history=HISTORY)
    assert closed.plan_id == plan.plan_id and closed.status == "recovered"
    assert closed.state == "Crashed"  # no longer "Running": marked Crashed once recovered


def _wait(predicate, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            pytest.fail(f"the run exited early ({proc.returncode}): {tail}")
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for the run to get there")
        time.sleep(0.2)
