"""Recovery plans: the rules that turn run records into plans, and the process check."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from ytarchive.models import DownloadResult
from ytarchive.recovery import (
    PLAN_FLOW,
    PLAYLIST_FLOW,
    VIDEOS_FLOW,
    Item,
    RunRecord,
    TaskInfo,
    attach_errors,
    build_plans,
    check_outcomes,
    owner_tags,
    process_alive,
    requested_from_urls,
    same_archive,
)

T0 = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
A, B, C = "aaaaaaaaaaa", "bbbbbbbbbbb", "ccccccccccc"


def run(
    run_id: str,
    minute: int,
    state: str = "FAILED",
    flow: str = VIDEOS_FLOW,
    items: list[str] | None = None,
    alive: bool = True,
    **params,
) -> RunRecord:
    requested = None if items is None else [Item(v) for v in items]
    return RunRecord(
        id=run_id,
        name=f"run-{run_id}",
        flow=flow,
        state=state,
        message=None,
        created=T0 + timedelta(minutes=minute),
        parameters={"output_dir": "/archive", **params},
        requested=requested,
        alive=alive,
    )


def settled_of(*ids: str):
    return lambda asked: {i for i in asked if i in ids}


def open_ids(runs, *settled: str) -> dict[str, list[str]]:
    return {p.plan_id: p.video_ids for p in build_plans(runs, settled_of(*settled))}


def test_a_failed_run_is_a_plan_of_the_items_the_catalog_does_not_hold() -> None:
    runs = [run("p1", 0, items=[A, B, C])]
    assert open_ids(runs, A, C) == {"p1": [B]}


def test_completed_cancelled_and_live_runs_are_not_plans() -> None:
    runs = [
        run("ok", 0, state="COMPLETED", items=[A]),
        run("cancelled", 1, state="CANCELLED", items=[A]),
        run("live", 2, state="RUNNING", items=[A], alive=True),
    ]
    assert open_ids(runs) == {}


def test_a_running_run_whose_process_is_gone_is_a_crashed_plan() -> None:
    plans = build_plans([run("dead", 0, state="RUNNING", items=[A, B], alive=False)], settled_of(A))
    assert [(p.plan_id, p.state, p.video_ids) for p in plans] == [
        ("dead", "Crashed (process gone)", [B])
    ]


def test_a_plan_with_nothing_left_is_done_and_listed_only_with_all() -> None:
    runs = [run("p1", 0, items=[A])]
    assert open_ids(runs, A) == {}
    (plan,) = build_plans(runs, settled_of(A), include_closed=True)
    assert (plan.status, plan.video_ids) == ("done", [])


def test_a_retry_that_still_fails_is_the_only_open_plan_of_the_chain() -> None:
    runs = [
        run(
            "p1",
            0,
            items=[A, B],
            url="https://www.youtube.com/playlist?list=PLx",
            flow=PLAYLIST_FLOW,
        ),
        run("r1", 5, items=[B], recovery_of="p1"),
        run("r2", 9, items=[B], recovery_of="r1"),
    ]
    plans = build_plans(runs, settled_of(A), include_closed=True)
    by_id = {p.plan_id: p for p in plans}
    assert [p.plan_id for p in plans if p.is_open] == ["r2"]
    assert (by_id["p1"].status, by_id["p1"].closed_by) == ("recovered", "r1")
    assert (by_id["r1"].status, by_id["r1"].closed_by) == ("recovered", "r2")
    # the chain keeps the source the user gave first
    assert by_id["r2"].source == "https://www.youtube.com/playlist?list=PLx"
    assert by_id["r2"].root == "p1"


def test_a_cancelled_or_scheduled_retry_leaves_the_plan_open() -> None:
    runs = [
        run("p1", 0, items=[A]),
        run("r1", 1, state="CANCELLED", items=[A], recovery_of="p1"),
        run("r2", 2, state="SCHEDULED", items=[A], recovery_of="p1"),
    ]
    assert open_ids(runs) == {"p1": [A]}


def test_a_later_run_asked_for_every_remaining_item_supersedes_the_plan() -> None:
    url = "https://www.youtube.com/playlist?list=PLx"
    runs = [
        run("night1", 0, flow=PLAYLIST_FLOW, items=[A, B], url=url),
        run("night2", 60, flow=PLAYLIST_FLOW, items=[A, B, C], url=url),
    ]
    plans = build_plans(runs, settled_of(A), include_closed=True)
    assert [p.plan_id for p in plans if p.is_open] == ["night2"]
    assert {p.plan_id: p.status for p in plans} == {"night1": "superseded", "night2": "open"}


def test_a_later_run_that_misses_an_item_does_not_supersede() -> None:
    runs = [run("p1", 0, items=[A, B]), run("p2", 1, items=[B, C])]
    assert open_ids(runs) == {"p2": [B, C], "p1": [A, B]}


def test_an_earlier_run_never_supersedes_a_later_plan() -> None:
    runs = [run("p1", 0, items=[A, B, C]), run("p2", 1, items=[A])]
    assert set(open_ids(runs)) == {"p1", "p2"}


def test_a_playlist_killed_before_listing_is_open_with_unknown_items() -> None:
    url = "https://www.youtube.com/playlist?list=PLx"
    runs = [run("p1", 0, flow=PLAYLIST_FLOW, items=None, url=url, state="CRASHED")]
    (plan,) = build_plans(runs, settled_of())
    assert plan.items is None and plan.playlist_url == url and plan.is_open
    later = [*runs, run("p2", 3, flow=PLAYLIST_FLOW, items=[A], url=url, state="COMPLETED")]
    assert open_ids(later, A) == {}


def test_a_user_plan_is_a_plan_and_its_source_is_its_urls() -> None:
    runs = [run("u1", 0, flow=PLAN_FLOW, items=[A], urls=[A])]
    (plan,) = build_plans(runs, settled_of())
    assert (plan.flow, plan.source, plan.video_ids) == (PLAN_FLOW, [A], [A])


def test_plan_json_has_the_documented_fields() -> None:
    (plan,) = build_plans([run("p1", 0, items=[A], urls=[A])], settled_of())
    data = plan.as_dict()
    for key in ("plan_id", "created", "flow", "source", "video_ids", "errors", "items", "status"):
        assert key in data
    assert data["video_ids"] == [A]


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


def test_attach_errors_prefers_the_catalog_then_the_task_run() -> None:
    (plan,) = build_plans([run("p1", 0, items=[A, B, C])], settled_of())
    failed = DownloadResult(
        video_id=A, status="failed", error_class="Transient", reason="HTTP Error 500", attempts=4
    )
    tasks = {B: TaskInfo("FAILED", "DownloadFailed", "no formats", 1)}
    attach_errors(plan, {A: failed}, tasks)
    got = {i.video_id: (i.error_class, i.message, i.attempts) for i in plan.items}
    assert got == {
        A: ("Transient", "HTTP Error 500", 4),
        B: ("DownloadFailed", "no formats", 1),
        C: (None, None, 0),
    }
    assert plan.as_dict()["errors"] == {
        A: "Transient: HTTP Error 500",
        B: "DownloadFailed: no formats",
    }


def test_same_archive_compares_resolved_paths(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert same_archive("downloads", tmp_path / "downloads")
    assert same_archive(str(tmp_path / "downloads" / "."), tmp_path / "downloads")
    assert not same_archive(str(tmp_path / "other"), tmp_path / "downloads")
    assert not same_archive(None, tmp_path / "downloads")


def test_owner_tags_name_this_host_and_pid() -> None:
    host, pid = owner_tags()
    assert host.startswith("host:") and pid == f"pid:{os.getpid()}"


def test_process_alive_tells_a_live_process_from_a_dead_or_reused_pid() -> None:
    now = datetime.now(UTC)
    assert process_alive(os.getpid(), started_by=now)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not process_alive(child.pid)
    # A run that started long before this process cannot have been run by it: the pid was reused.
    if Path("/proc/self/stat").exists():
        assert not process_alive(os.getpid(), started_by=now - timedelta(days=3650))


@pytest.mark.parametrize("state", ["FAILED", "CRASHED"])
def test_failed_and_crashed_are_both_plans(state: str) -> None:
    assert open_ids([run("p", 0, state=state, items=[A])]) == {"p": [A]}


# ---------------------------------------------------------------------------------------------
# storage verify's file checks
# ---------------------------------------------------------------------------------------------


def _outcome(video_id: str, file_path: str | None, size: int | None, **extra) -> SimpleNamespace:
    return SimpleNamespace(
        video_id=video_id, status="archived", file_path=file_path, bytes=size, **extra
    )


def test_check_outcomes_names_each_kind_of_damage(tmp_path: Path) -> None:
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "ok.mp4").write_bytes(b"12345")
    (tmp_path / "videos" / "sum.mp4").write_bytes(b"12345")
    good_sum = hashlib.sha256(b"12345").hexdigest()
    outcomes = [
        _outcome(A, "videos/ok.mp4", 5, sha256=good_sum),
        _outcome(B, "videos/ok.mp4", 6),
        _outcome(C, "videos/gone.mp4", 5),
        _outcome("ddddddddddd", "videos/sum.mp4", 5, sha256="0" * 64),
        _outcome("eeeeeeeeeee", None, None),
        SimpleNamespace(video_id="fffffffffff", status="failed", file_path=None, bytes=None),
    ]
    found = {p.video_id: (p.problem, p.error_class) for p in check_outcomes(tmp_path, outcomes)}
    assert found == {
        B: ("size", "SizeMismatch"),
        C: ("missing", "MissingFile"),
        "ddddddddddd": ("checksum", "ChecksumMismatch"),
        "eeeeeeeeeee": ("no-file", "MissingFile"),
    }


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

    from ytarchive import recovery

    root = tmp_path / "archive"
    silent, beating = _other_host_run(root, A), _other_host_run(root, B)
    try:
        runs = {r.id: r for r in recovery.read_history(root)}
        assert runs[silent].alive and runs[beating].alive  # just started: not dead yet

        time.sleep(3.0)
        beat = _heartbeat(beating)
        # Count a run dead after a window that falls between the two: the silent run's start is
        # older than it, the beating run's heartbeat is younger.
        now = datetime.now(UTC)
        window = ((now - T_START[silent]) + (now - beat)).total_seconds() / 2
        frequency = max(get_current_settings().flows.heartbeat_frequency or 30, 30)
        monkeypatch.setattr(recovery, "HEARTBEATS_MISSED", window / frequency)
        runs = {r.id: r for r in recovery.read_history(root)}
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
