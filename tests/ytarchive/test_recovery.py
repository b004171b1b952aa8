"""Recovery plans: the rules that turn run records into plans, over a stand-in history.

The real history (Prefect's, flows/history.py) is tested against the session's server in
tests/flows/test_history.py; here the plan logic gets a History in memory and a real catalog.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ytarchive import recovery
from ytarchive.catalog import Catalog
from ytarchive.errors import InputError
from ytarchive.models import DownloadResult
from ytarchive.names import PLAN_FLOW, PLAYLIST_FLOW, VIDEOS_FLOW
from ytarchive.recovery import (
    Item,
    RunRecord,
    TaskInfo,
    attach_errors,
    build_plans,
)
from ytarchive.refs import parse_many
from ytarchive.verify import Problem

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


@pytest.mark.parametrize("state", ["FAILED", "CRASHED"])
def test_failed_and_crashed_are_both_plans(state: str) -> None:
    assert open_ids([run("p", 0, state=state, items=[A])]) == {"p": [A]}


# ---------------------------------------------------------------------------------------------
# The entry points over a stand-in history and a real catalog
# ---------------------------------------------------------------------------------------------


class StandInHistory:
    """A History in memory: the runs a test gives, plans recorded as failed runs, crash marks."""

    def __init__(self, *runs: RunRecord) -> None:
        self.records = list(runs)
        self.tasks: dict[str, dict[str, TaskInfo]] = {}
        self.crashed: list[tuple[str, str]] = []

    def runs(self, root: Path) -> list[RunRecord]:
        return [r for r in self.records if Path(r.output_dir or "") == Path(root)]

    def task_infos(self, run_id: str) -> dict[str, TaskInfo]:
        return dict(self.tasks.get(run_id, {}))

    def record_plan(
        self, root: Path, items: Sequence[Item], message: str, quality: str | None
    ) -> str:
        plan_id = str(uuid.uuid4())
        parameters = {"urls": [i.target for i in items], "output_dir": str(root)}
        self.records.append(
            RunRecord(
                id=plan_id,
                name=f"plan-{len(self.records)}",
                flow=PLAN_FLOW,
                state="FAILED",
                message=message,
                created=T0 + timedelta(hours=len(self.records)),
                parameters={**parameters, "quality": quality},
                requested=list(items),
            )
        )
        return plan_id

    def mark_crashed(self, run_id: str, message: str) -> None:
        self.crashed.append((run_id, message))
        for record in self.records:
            if record.id == run_id:
                record.state, record.message = "CRASHED", message


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return (tmp_path / "archive").resolve()


def in_archive(root: Path, run_id: str, minute: int, **kwargs) -> RunRecord:
    record = run(run_id, minute, **kwargs)
    record.output_dir = str(root)
    return record


def outcome(video_id: str, status: str, **fields) -> DownloadResult:
    return DownloadResult(video_id=video_id, status=status, quality="720p", **fields)


def test_list_plans_reads_this_archives_runs_and_the_catalogs_errors(root: Path) -> None:
    history = StandInHistory(
        in_archive(root, "p1", 0, items=[A, B, C]), run("elsewhere", 1, items=[A])
    )
    Catalog(root).record_outcomes(
        [
            outcome(A, "archived", file_path="videos/a.mp4", bytes=1),
            outcome(B, "failed", error_class="Transient", reason="HTTP Error 500", attempts=3),
        ]
    )
    (plan,) = recovery.list_plans(root, history=history)
    assert (plan.plan_id, plan.video_ids) == ("p1", [B, C])
    assert plan.as_dict()["errors"] == {B: "Transient: HTTP Error 500"}
    assert plan.items[0].attempts == 3


def test_get_plan_by_id_prefix_or_name_with_its_task_runs(root: Path) -> None:
    history = StandInHistory(
        in_archive(root, "3f2a9c1e-one", 0, items=[A]),
        in_archive(root, "3f2a0000-two", 1, items=[B]),
    )
    history.tasks["3f2a9c1e-one"] = {A: TaskInfo("FAILED", "DownloadFailed", "no formats", 1)}
    found = recovery.get_plan(root, "3f2a9c", history=history)
    assert found.plan_id == "3f2a9c1e-one"
    assert (found.items[0].error_class, found.items[0].message) == ("DownloadFailed", "no formats")
    assert recovery.get_plan(root, "run-3f2a0000-two", history=history).video_ids == [B]
    with pytest.raises(InputError, match="ambiguous"):
        recovery.get_plan(root, "3f2a", history=history)
    with pytest.raises(InputError, match="no recovery plan"):
        recovery.get_plan(root, "nope", history=history)


def test_a_refetch_plan_marks_what_the_catalog_holds_and_lists_as_open(root: Path) -> None:
    history = StandInHistory()
    (root / "videos").mkdir(parents=True)
    (root / "videos" / "a.mp4").write_bytes(b"12345")
    Catalog(root).record_outcomes(
        [
            outcome(A, "archived", file_path="videos/a.mp4", bytes=5),
            outcome(B, "archived", file_path="videos/gone.mp4", bytes=5),
        ]
    )
    refs = parse_many([A, f"https://youtu.be/{B}", C])  # as `recovery create` hands them
    plan_id = recovery.create_refetch_plan(root, refs, "360p", history=history)

    (plan,) = recovery.list_plans(root, history=history)
    assert (plan.plan_id, plan.flow, plan.quality) == (plan_id, PLAN_FLOW, "360p")
    assert plan.message == recovery.USER_PLAN_MESSAGE
    assert plan.video_ids == [A, B, C]  # the archived ones are held too: marked failed
    latest = Catalog(root).latest_outcomes([A, B])
    assert {v: (o.status, o.error_class) for v, o in latest.items()} == {
        A: ("failed", "RefetchRequested"),
        B: ("failed", "MissingFile"),
    }
    assert all(plan_id in (o.reason or "") for o in latest.values())


def test_a_verify_plan_holds_the_damaged_videos_with_their_quality(root: Path) -> None:
    history = StandInHistory()
    Catalog(root).record_outcomes([outcome(A, "archived", file_path="videos/a.mp4", bytes=9)])
    problem = Problem(A, "size", "videos/a.mp4", 9, 4, "size 4 bytes, recorded 9: videos/a.mp4")
    plan_id = recovery.create_verify_plan(root, [problem], history=history)

    (plan,) = recovery.list_plans(root, history=history)
    assert (plan.plan_id, plan.video_ids, plan.quality) == (plan_id, [A], "720p")
    assert plan.message.startswith(recovery.VERIFY_PLAN_MESSAGE)
    assert (plan.items[0].error_class, plan.items[0].attempts) == ("SizeMismatch", 0)


def test_only_a_run_whose_process_is_gone_is_marked_crashed(root: Path) -> None:
    dead = in_archive(root, "dead", 0, state="RUNNING", items=[A], alive=False)
    failed = in_archive(root, "failed", 1, items=[B])
    history = StandInHistory(dead, failed)
    plans = {p.plan_id: p for p in recovery.list_plans(root, history=history)}
    assert plans["dead"].state == "Crashed (process gone)"
    assert plans["dead"].items[0].message.startswith("not finished")
    for plan in plans.values():
        recovery.settle_dead_run(plan, history, recovered_by="r1")
    assert history.crashed == [
        ("dead", "the process that ran this flow run is gone; recovered by flow run r1")
    ]
    states = {p.plan_id: p.state for p in recovery.list_plans(root, history=history)}
    assert states == {"dead": "Crashed", "failed": "Failed"}
