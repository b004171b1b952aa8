"""`ytarchive subscribe | subscriptions | unsubscribe | serve`: what a user sees, and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

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


def _schedule_a_run(deployment_id: str) -> datetime:
    """A Scheduled run soon, as the server's scheduler makes them (it runs once a minute)."""
    from prefect.client.orchestration import get_client
    from prefect.states import Scheduled

    when = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=2)
    with get_client(sync_client=True) as client:
        client.create_flow_run_from_deployment(
            UUID(deployment_id), state=Scheduled(scheduled_time=when)
        )
    return when


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

        when = _schedule_a_run(updated["deployment_id"])
        listed = _json(capsys, ["subscriptions", "--format", "json"])
        mine = {
            row["name"]: row
            for row in listed
            if row["name"] in ("sub-PLsubscribeCliTest01", "sub-@cli-subscriber")
        }
        assert set(mine) == {"sub-PLsubscribeCliTest01", "sub-@cli-subscriber"}
        assert mine["sub-PLsubscribeCliTest01"]["url"] == PLAYLIST
        assert mine["sub-PLsubscribeCliTest01"]["cron"] == "0 6 * * 1"
        assert mine["sub-@cli-subscriber"]["active"] is True
        next_run = datetime.fromisoformat(mine["sub-PLsubscribeCliTest01"]["next_run"])
        assert next_run == when

        assert main(["subscriptions"]) == 0
        table = capsys.readouterr().out
        assert "sub-PLsubscribeCliTest01" in table and "0 6 * * 1" in table
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
