"""The history recovery is given: Prefect's, read by flows/history.py, against the real server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from flows.history import PrefectHistory, process_alive, requested_from_urls, same_archive
from ytarchive.names import VIDEOS_FLOW
from ytarchive.recovery import build_plans

A, B, C = "aaaaaaaaaaa", "bbbbbbbbbbb", "ccccccccccc"


def settled_of(*ids: str):
    return lambda asked: {i for i in asked if i in ids}


def test_requested_from_urls_keeps_youtube_ids_and_other_urls() -> None:
    items = requested_from_urls(
        [
            f"https://youtu.be/{A}",
            A,
            "https://example.org/v/clip.mp4",
            f"https://www.youtube.com/watch?v={B}",
        ]
    )
    assert [i.video_id for i in items] == [A, "https://example.org/v/clip.mp4", B]
    assert items[1].target == "https://example.org/v/clip.mp4"
    assert items[0].target == A


def test_same_archive_compares_resolved_paths(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert same_archive("downloads", tmp_path / "downloads")
    assert same_archive(str(tmp_path / "downloads" / "."), tmp_path / "downloads")
    assert not same_archive(str(tmp_path / "other"), tmp_path / "downloads")
    assert not same_archive(None, tmp_path / "downloads")


def test_process_alive_tells_a_live_process_from_a_dead_or_reused_pid() -> None:
    now = datetime.now(UTC)
    assert process_alive(os.getpid(), started_by=now)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not process_alive(child.pid)
    # A run that started long before this process cannot have been run by it: the pid was reused.
    if Path("/proc/self/stat").exists():
        assert not process_alive(os.getpid(), started_by=now - timedelta(days=3650))


# ---------------------------------------------------------------------------------------------
# Against the session's Prefect server
# ---------------------------------------------------------------------------------------------


def _other_host_run(root: Path, video_id: str) -> str:
    """A Running archive run that a process on another machine claims (no pid we can check)."""
    from prefect.client.orchestration import get_client
    from prefect.states import Running

    flow = SimpleNamespace(name=VIDEOS_FLOW, version=None, retries=None, retry_delay_seconds=None)
    with get_client(sync_client=True) as client:
        run = client.create_flow_run(
            flow,
            parameters={"urls": [video_id], "output_dir": str(root)},
            state=Running(),
            tags=["host:some-other-machine", "pid:1"],
        )
        T_START[str(run.id)] = client.read_flow_run(run.id).start_time
    return str(run.id)


T_START: dict[str, datetime] = {}


def _heartbeat(run_id: str, timeout: float = 20.0) -> datetime:
    """Send a heartbeat for the run as a live flow would; wait until the server has it."""
    from prefect.client.orchestration import get_client
    from prefect.events import emit_event
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    from flows.runtime import drain_workers

    emit_event(
        event="prefect.flow-run.heartbeat",
        resource={"prefect.resource.id": f"prefect.flow-run.{run_id}"},
    )
    drain_workers()
    wanted = EventFilter(
        event=EventNameFilter(name=["prefect.flow-run.heartbeat"]),
        resource=EventResourceFilter(id=[f"prefect.flow-run.{run_id}"]),
    )
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:  # the server persists events every few seconds
            events = client.read_events(filter=wanted, limit=1).events
            if events:
                return events[0].occurred
            time.sleep(0.25)
    pytest.fail("the heartbeat never reached the server")


@pytest.mark.slow
def test_a_run_on_another_host_is_dead_once_its_heartbeats_stop(
    prefect_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.settings import get_current_settings

    root = tmp_path / "archive"
    silent, beating = _other_host_run(root, A), _other_host_run(root, B)
    try:
        runs = {r.id: r for r in PrefectHistory().runs(root)}
        assert runs[silent].alive and runs[beating].alive  # just started: not dead yet

        time.sleep(3.0)
        beat = _heartbeat(beating)
        # Count a run dead after a window that falls between the two: the silent run's start is
        # older than it, the beating run's heartbeat is younger.
        now = datetime.now(UTC)
        window = ((now - T_START[silent]) + (now - beat)).total_seconds() / 2
        frequency = max(get_current_settings().flows.heartbeat_frequency or 30, 30)
        history = PrefectHistory(heartbeats_missed=window / frequency)
        runs = {r.id: r for r in history.runs(root)}
        assert runs[beating].alive, "the heartbeat did not keep the run alive"
        assert not runs[silent].alive
        plans = build_plans(list(runs.values()), settled_of())
        assert [(p.plan_id, p.state, p.video_ids) for p in plans] == [
            (silent, "Crashed (process gone)", [A])
        ]
    finally:
        _cancel(silent, beating)


def _cancel(*run_ids: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelled

    with get_client(sync_client=True) as client:
        for run_id in run_ids:
            client.set_flow_run_state(run_id, Cancelled(), force=True)


def test_the_plan_logic_speaks_prefects_state_types() -> None:
    from prefect.client.schemas.objects import StateType

    from ytarchive import recovery

    names = {s.value for s in StateType}
    assert {recovery.FAILED, recovery.CRASHED, recovery.RUNNING, recovery.COMPLETED} <= names
    assert set(recovery.TAKES_OVER) <= names


@pytest.mark.slow
def test_a_recorded_plan_is_read_back_in_its_archive_only_and_can_be_marked_crashed(
    prefect_server: str, tmp_path: Path
) -> None:
    from ytarchive.names import PLAN_FLOW
    from ytarchive.recovery import Item

    root, other = (tmp_path / "archive").resolve(), (tmp_path / "other").resolve()
    history = PrefectHistory()
    items = [Item(A), Item("https://example.org/v/clip.mp4", "https://example.org/v/clip.mp4")]
    plan_id = history.record_plan(root, items, "lost files", "360p")

    (record,) = history.runs(root)
    assert (record.id, record.flow, record.state, record.message) == (
        plan_id,
        PLAN_FLOW,
        "FAILED",
        "lost files",
    )
    assert record.requested == items  # from its archive-items artifact
    assert record.parameters["quality"] == "360p" and record.output_dir == str(root)
    assert history.runs(other) == []

    history.mark_crashed(plan_id, "the process that ran this flow run is gone")
    (record,) = history.runs(root)
    assert (record.state, record.message) == (
        "CRASHED",
        "the process that ran this flow run is gone",
    )


def _failing_download_run(video_id: str) -> str:
    """A real flow run whose `download-<id>` task fails twice with our Transient error."""
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE

    from flows.runtime import drain_history
    from ytarchive.errors import Transient

    @task(task_run_name="download-{video_id}", cache_policy=NO_CACHE, retries=1)
    def download(video_id: str) -> None:
        raise Transient(f"HTTP Error 500 for {video_id}")

    @flow(name="history-reader-test")
    def archive(video_id: str) -> None:
        download(video_id)

    state = archive(video_id, return_state=True)
    assert state.is_failed()
    run_id = str(state.state_details.flow_run_id)
    drain_history(run_id, expected_task_runs=1)
    return run_id


@pytest.mark.slow
def test_task_infos_give_each_videos_error_class_message_and_attempts(
    prefect_server: str,
) -> None:
    from ytarchive.recovery import TaskInfo

    run_id = _failing_download_run(C)
    assert PrefectHistory().task_infos(run_id) == {
        C: TaskInfo("FAILED", "Transient", f"HTTP Error 500 for {C}", 2)
    }


@pytest.mark.slow
def test_a_server_that_does_not_answer_is_server_unavailable_and_a_crash_mark_is_logged(
    prefect_server: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from ytarchive.errors import ServerUnavailable

    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        with pytest.raises(ServerUnavailable, match="cannot read Prefect's flow-run history"):
            PrefectHistory().runs(tmp_path)
        with caplog.at_level("WARNING", logger="flows.history"):
            PrefectHistory().mark_crashed("00000000-0000-0000-0000-000000000000", "gone")
    assert "left in state Running" in caplog.text
