"""`ytarchive subscribe | subscriptions | unsubscribe | serve`: what a user sees, and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ytarchive.cli import main

PLAYLIST = "https://www.youtube.com/playlist?list=PLsubscribeCliTest01"
CHANNEL = "https://www.youtube.com/@cli-subscriber"


@pytest.fixture
def no_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh PREFECT_HOME and no PREFECT_API_URL: any server start would leave its state here."""
    home = tmp_path / "prefect-home"
    home.mkdir()
    monkeypatch.setenv("PREFECT_HOME", str(home))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    return home


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["subscribe", "https://www.youtube.com/watch?v=dQw4w9WgXcQ"],
            "names no playlist or channel",
        ),
        (["subscribe", "not a url"], "not a URL or video id"),
        (["subscribe", PLAYLIST, "--cron", "61 * * * *"], "--cron: not a valid cron: '61 * * * *'"),
        (["subscribe", PLAYLIST, "--cron", "every hour"], "--cron"),
        (["subscribe", PLAYLIST, "--quality", "999p"], "--quality: '999p' is not one of"),
        (["subscribe", PLAYLIST, "--timezone", "Mars/Olympus"], "--timezone"),
        (["unsubscribe", "https://youtu.be/dQw4w9WgXcQ"], "names no playlist or channel"),
    ],
)
def test_bad_input_exits_2_before_anything_starts(
    argv: list[str], message: str, no_server: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _error(capsys, argv)
    assert err.startswith("Error: ") and message in err, err
    assert "Traceback" not in err
    assert not (no_server / "ytarchive-server").exists(), "a server was started for bad input"


def test_console_script_bad_cron(no_server: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ytarchive", "subscribe", CHANNEL, "--cron", "0 25 * * *"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "Error: --cron: not a valid cron: '0 25 * * *'"
    assert result.stdout == ""
    assert not (no_server / "ytarchive-server").exists()


# ---------------------------------------------------------------------------------------------
# Against the session's Prefect server
# ---------------------------------------------------------------------------------------------


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> object:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def _next(now: datetime, zone: str, hour: int, weekday: int | None = None) -> datetime:
    """The first time after now that is `hour`:00 in `zone` (on `weekday`, 0 = Monday)."""
    local = now.astimezone(ZoneInfo(zone))
    for days in range(8):
        day = (local + timedelta(days=days)).date()
        at = datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo(zone))
        if at > now and (weekday is None or at.weekday() == weekday):
            return at.astimezone(UTC)
    raise AssertionError("unreachable")


def _listed_with_next_runs(
    capsys: pytest.CaptureFixture[str], names: set[str], timeout: float = 60.0
) -> dict[str, dict]:
    """`subscriptions -f json` once the server's scheduler has made a run ahead for each name.

    The session server schedules a new or updated deployment within a few seconds (see
    tests/prefect_fixtures.py): nothing here makes a run.
    """
    deadline = time.monotonic() + timeout
    while True:
        listed = _json(capsys, ["subscriptions", "--format", "json"])
        mine = {row["name"]: row for row in listed if row["name"] in names}
        if set(mine) == names and all(r["next_run"] for r in mine.values()):
            return mine
        if time.monotonic() > deadline:
            pytest.fail(f"the server's scheduler made no run ahead within {timeout:.0f}s: {mine}")
        time.sleep(1.0)


@pytest.mark.slow
def test_subscribe_list_update_unsubscribe(
    prefect_server: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # the table at full width
    created = _json(
        capsys, ["subscribe", PLAYLIST, "--cron", "*/30 * * * *", "-q", "720p", "-f", "json"]
    )
    assert created["created"] is True
    assert created["name"] == "sub-PLsubscribeCliTest01"
    assert (created["cron"], created["quality"], created["timezone"]) == (
        "*/30 * * * *",
        "720p",
        "UTC",
    )
    try:
        assert main(["subscribe", CHANNEL]) == 0
        out = capsys.readouterr().out
        assert "Subscribed to https://www.youtube.com/@cli-subscriber as sub-@cli-subscriber" in out
        assert "'0 3 * * *'" in out  # nightly by default

        updated = _json(
            capsys,
            [
                "subscribe",
                PLAYLIST,
                "--cron",
                "0 6 * * 1",
                "--timezone",
                "Europe/Paris",
                "-f",
                "json",
            ],
        )
        assert updated["created"] is False
        assert updated["deployment_id"] == created["deployment_id"]
        assert (updated["cron"], updated["timezone"], updated["quality"]) == (
            "0 6 * * 1",
            "Europe/Paris",
            "best",
        )

        now = datetime.now(UTC)
        mine = _listed_with_next_runs(capsys, {"sub-PLsubscribeCliTest01", "sub-@cli-subscriber"})
        assert mine["sub-PLsubscribeCliTest01"]["url"] == PLAYLIST
        assert mine["sub-PLsubscribeCliTest01"]["cron"] == "0 6 * * 1"
        assert mine["sub-@cli-subscriber"]["active"] is True
        # The next runs are the ones the server's scheduler made from each cron: the updated
        # schedule's (Mondays 06:00 in Paris), not the replaced "*/30" one's.
        next_run = datetime.fromisoformat(mine["sub-PLsubscribeCliTest01"]["next_run"])
        assert next_run == _next(now, "Europe/Paris", 6, weekday=0)
        nightly = datetime.fromisoformat(mine["sub-@cli-subscriber"]["next_run"])
        assert nightly == _next(now, "UTC", 3)

        assert main(["subscriptions"]) == 0
        table = capsys.readouterr().out
        assert "sub-PLsubscribeCliTest01" in table and "0 6 * * 1" in table
        assert next_run.strftime("%Y-%m-%d") in table  # the next run shows in the table too
    finally:
        main(["unsubscribe", CHANNEL])
        assert main(["unsubscribe", PLAYLIST]) == 0
    out = capsys.readouterr().out
    assert "Unsubscribed from https://www.youtube.com/playlist?list=PLsubscribeCliTest01" in out
    listed = _json(capsys, ["subscriptions", "-f", "json"])
    assert not [
        r for r in listed if r["name"] in ("sub-PLsubscribeCliTest01", "sub-@cli-subscriber")
    ]
    err = _error(capsys, ["unsubscribe", PLAYLIST])
    assert "not subscribed" in err


LATE = "https://www.youtube.com/playlist?list=PLsubscribeLateRun01"


def _scheduled_runs(client: object, deployment_id: str) -> list:
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    return client.read_flow_runs(  # type: ignore[attr-defined]
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
        ),
    )


@pytest.mark.slow
def test_runs_a_replaced_schedule_wrote_after_the_update_are_not_next_and_are_dropped(
    prefect_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The scheduler's race, made to happen: its read of the `*/30` schedule comes before the
    update, its write of that schedule's runs after it (tests/testbed/late_scheduler.py runs the
    server's own two functions). The subscription's next run is still the new schedule's, and
    the sync flow of one whose time comes syncs nothing, and the next update deletes the rest."""
    from prefect.client.orchestration import get_client
    from prefect.flow_engine import run_flow
    from prefect.states import Scheduled

    from deployments.subscriptions import drop_stale_runs
    from flows.subscriptions import sync_subscriptions_flow

    created = _json(capsys, ["subscribe", LATE, "--cron", "*/30 * * * *", "-f", "json"])
    try:
        late = subprocess.Popen(
            [sys.executable, "-m", "tests.testbed.late_scheduler", created["deployment_id"]],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert late.stdin is not None and late.stdout is not None
        read = late.stdout.readline().split()
        assert read[0] == "read" and int(read[1]) >= 3, read
        _json(
            capsys,
            ["subscribe", LATE, "--cron", "0 6 * * 1", "--timezone", "Europe/Paris", "-f", "json"],
        )
        late.stdin.write("\n")
        late.stdin.flush()
        wrote = late.stdout.readline().split()
        assert late.wait(timeout=60) == 0
        assert wrote == ["wrote", read[1]], "the replaced schedule's runs were not written"

        with get_client(sync_client=True) as client:
            deployment = client.read_deployment(created["deployment_id"])
            current = {str(s.id) for s in deployment.schedules}
            made_by = [
                str(r.created_by.id) for r in _scheduled_runs(client, created["deployment_id"])
            ]
            assert len([m for m in made_by if m not in current]) == int(read[1])

            now = datetime.now(UTC)
            mine = _listed_with_next_runs(capsys, {"sub-PLsubscribeLateRun01"})
            next_run = datetime.fromisoformat(mine["sub-PLsubscribeLateRun01"]["next_run"])
            assert next_run == _next(now, "Europe/Paris", 6, weekday=0)

            # One slips past every sweep and its time comes (moved to now, so the test need
            # not wait for it): run as a worker runs it, it syncs nothing.
            stale = next(
                r
                for r in _scheduled_runs(client, created["deployment_id"])
                if str(r.created_by.id) not in current
            )
            client.set_flow_run_state(stale.id, Scheduled(scheduled_time=now), force=True)
            state = run_flow(
                sync_subscriptions_flow,
                flow_run=client.read_flow_run(stale.id),
                parameters=stale.parameters,
                return_type="state",
            )
            assert state.is_completed(), state
            summary = state.result()
            assert summary["skipped"] == "made by a replaced schedule"
            assert summary["subscriptions"] == 0 and summary["results"] == []

            assert drop_stale_runs(client, deployment) == int(read[1]) - 1
            left = _scheduled_runs(client, created["deployment_id"])
            assert left, "the new schedule's runs went too"
            assert {str(r.created_by.id) for r in left} <= current
    finally:
        assert main(["unsubscribe", LATE]) == 0
        capsys.readouterr()


@pytest.mark.slow
def test_subscriptions_json_from_the_console_script(prefect_server: str) -> None:
    """stdout carries only the JSON (Prefect's own output stays off it)."""
    result = subprocess.run(
        [sys.executable, "-m", "ytarchive", "subscriptions", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout), list)


@pytest.mark.slow
def test_subscribe_live_from_start_is_a_run_parameter_of_the_deployment(
    prefect_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from flows.subscribed import read_deployment

    url = "https://www.youtube.com/playlist?list=PLsubscribeLiveTest01"
    created = _json(capsys, ["subscribe", url, "--live-from-start", "-f", "json"])
    try:
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            deployment = read_deployment(client, created["name"])
        assert deployment.parameters == {"urls": [url], "quality": "best", "live_from_start": True}
    finally:
        assert main(["unsubscribe", url]) == 0
