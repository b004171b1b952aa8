"""`ytarchive server ...` and `ytarchive health`, run as a user runs them (a subprocess)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.helpers import run_cli as ytarchive

ROOT = Path(__file__).resolve().parents[2]
SECRET = "AIzaSy-not-a-real-key-0123456789"


def _env(tmp_path: Path, **extra: str | None) -> dict[str, str]:
    env = {**os.environ, "YTARCHIVE_OUTPUT_DIR": str(tmp_path / "archive")}
    for name, value in extra.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _fresh(tmp_path: Path, **extra: str | None) -> dict[str, str]:
    """A PREFECT_HOME that never ran a server, and no PREFECT_API_URL."""
    return _env(
        tmp_path, **{"PREFECT_HOME": str(tmp_path / "home"), "PREFECT_API_URL": None, **extra}
    )


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/api"


def _checks(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, str]]:
    data = json.loads(result.stdout)
    return {c["check"]: c for c in data["checks"]}


# ---------------------------------------------------------------------------------------------
# Without a server
# ---------------------------------------------------------------------------------------------


def test_status_when_no_server_ever_ran(tmp_path: Path) -> None:
    result = ytarchive("server", "status", "--format", "json", env=_fresh(tmp_path))
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert (data["running"], data["healthy"], data["managed"], data["pid"]) == (
        False,
        False,
        True,
        None,
    )
    assert data["log_path"] == str(tmp_path / "home" / "ytarchive-server" / "server.log")


def test_stop_when_nothing_runs_says_so(tmp_path: Path) -> None:
    result = ytarchive("server", "stop", env=_fresh(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "was not running" in result.stdout


def test_health_without_a_server_warns_but_passes(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    result = ytarchive("health", "--format", "json", env=_fresh(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    checks = _checks(result)
    assert checks["prefect"]["status"] == "warn"
    assert "not running" in checks["prefect"]["detail"]
    assert not (tmp_path / "home" / "ytarchive-server" / "server.json").exists()  # none started
    assert checks["ffmpeg"]["status"] == "ok"
    assert "ffmpeg" in checks["ffmpeg"]["detail"]
    assert checks["yt-dlp"]["status"] in {"ok", "warn"}  # warn once the release is 60 days old
    assert checks["yt-dlp"]["detail"].startswith("yt-dlp 20")
    assert "days ago" in checks["yt-dlp"]["detail"]
    runtime = checks["js runtime"]
    assert runtime["status"] == "ok", runtime
    assert runtime["detail"].startswith("deno 2.") and "/deno" in runtime["detail"]
    assert checks["scheduler"]["status"] == "skipped"
    assert checks["server log"]["status"] == "ok"
    assert checks["output dir"]["status"] == "ok"
    assert checks["disk"]["status"] in {"ok", "warn"}
    assert "GB free" in checks["disk"]["detail"]
    assert checks["output dir"]["detail"].endswith("writable")
    assert not list((tmp_path / "archive").glob(".ytarchive-health-*"))  # its probe is gone


def test_health_fails_when_prefect_api_url_does_not_answer(tmp_path: Path) -> None:
    url = _dead_url()
    result = ytarchive("health", "--format", "json", env=_fresh(tmp_path, PREFECT_API_URL=url))
    assert result.returncode == 1
    prefect = _checks(result)["prefect"]
    assert prefect["status"] == "fail"
    assert url in prefect["detail"]


def test_health_fails_when_the_output_dir_is_not_a_directory(tmp_path: Path) -> None:
    env = _fresh(tmp_path)
    blocker = tmp_path / "archive"
    blocker.write_text("a file where the archive should be")
    result = ytarchive("health", "--format", "json", env=env)
    assert result.returncode == 1
    check = _checks(result)["output dir"]
    assert check["status"] == "fail"
    assert "not a directory" in check["detail"]


def test_health_never_prints_the_api_key(tmp_path: Path) -> None:
    env = _fresh(tmp_path, YOUTUBE_API_KEY=SECRET, YTARCHIVE_YOUTUBE_API_URL=_dead_url())
    result = ytarchive("health", "--check-key", "--format", "json", env=env)
    assert SECRET not in result.stdout + result.stderr
    assert _checks(result)["api key"]["status"] == "fail"  # the key was tried, and not shown
    table = ytarchive("health", "--check-key", env=env)
    assert "api key" in table.stdout
    assert SECRET not in table.stdout + table.stderr


def test_health_table_lists_every_check(tmp_path: Path) -> None:
    result = ytarchive("health", env=_fresh(tmp_path))
    assert result.returncode == 0, result.stderr
    for name in ("prefect", "database", "server log", "scheduler", "ffmpeg", "yt-dlp"):
        assert name in result.stdout
    for name in ("js runtime", "output dir", "catalog", "disk"):
        assert name in result.stdout


def test_start_with_a_bad_database_url_is_an_input_error(tmp_path: Path) -> None:
    env = _fresh(tmp_path)
    url = f"mysql://root:{SECRET}@db.lan/prefect"
    result = ytarchive("server", "start", "--database", url, env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("Error: --database ") and result.stderr.count("\n") == 1
    assert "postgresql+asyncpg://" in result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert not (tmp_path / "home").exists()  # nothing written


def test_start_on_an_unreachable_database_says_so_and_starts_nothing(tmp_path: Path) -> None:
    env = _fresh(tmp_path)
    port = _dead_url().split(":")[2].split("/")[0]
    url = f"postgresql://archiver:{SECRET}@127.0.0.1:{port}/prefect"
    result = ytarchive("server", "start", "--database", url, env=env)
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"Error: cannot reach the database postgresql archiver@127.0.0.1:{port}/prefect: "
    )
    assert SECRET not in result.stdout + result.stderr
    state = tmp_path / "home" / "ytarchive-server"
    assert not (state / "server.log").exists() and not (state / "server.json").exists()


# The line Prefect's scheduler logs when it fails (as every loop did with SQLAlchemy 2.1)
SCHEDULER_ERROR = (
    "09:12:01.338 | ERROR   | prefect.server.services.scheduler - Error scheduling deployment "
    "UUID('645e3933-6a0f-450f-bbcc-c3886ec12674')."
)


def test_status_and_health_say_when_the_server_log_holds_errors(tmp_path: Path) -> None:
    env = _fresh(tmp_path)
    log = tmp_path / "home" / "ytarchive-server" / "server.log"
    log.parent.mkdir(parents=True)
    log.write_text(
        f"--- ytarchive: starting Prefect server on 127.0.0.1:4200 at x\n{SCHEDULER_ERROR}\n"
    )
    status = json.loads(ytarchive("server", "status", "--format", "json", env=env).stdout)
    assert (status["log_errors"], status["last_log_error"]) == (1, SCHEDULER_ERROR)
    table = ytarchive("server", "status", env=env).stdout
    assert "log_errors" in table and "prefect.server.services.scheduler" in table
    result = ytarchive("health", "--format", "json", env=env)
    assert result.returncode == 0  # a warning, not a failure
    check = _checks(result)["server log"]
    assert check["status"] == "warn"
    assert "1 ERROR line" in check["detail"] and "Error scheduling deployment" in check["detail"]
    assert str(log) in check["detail"]


def test_check_ytdlp_warns_with_the_upgrade_once_the_release_is_old() -> None:
    from datetime import timedelta

    from ytarchive.cli.cmd_server import _check_ytdlp
    from ytarchive.jsruntime import ytdlp_release_age

    released = ytdlp_release_age().released
    old = _check_ytdlp(released + timedelta(days=75))
    assert old["status"] == "warn"
    assert "75 days ago" in old["detail"]
    assert "uv lock --upgrade-package yt-dlp && uv sync" in old["detail"]
    assert _check_ytdlp(released + timedelta(days=10))["status"] == "ok"


def test_check_js_runtime_fails_with_the_fix_when_there_is_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ytarchive import jsruntime
    from ytarchive.cli.cmd_server import _check_js_runtime

    # No deno wheel (it is a dependency, so this stands in for a broken install) and no
    # runtime on PATH.
    monkeypatch.setattr(jsruntime, "_wheel_deno", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    check = _check_js_runtime()
    assert check["status"] == "fail"
    assert "uv sync" in check["detail"] and "storyboards" in check["detail"]


# ---------------------------------------------------------------------------------------------
# Against the session's server
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_status_reports_the_sessions_server(prefect_server: str, tmp_path: Path) -> None:
    result = ytarchive("server", "status", "--format", "json", env=_env(tmp_path))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["running"], data["healthy"], data["managed"]) == (True, True, True)
    assert data["api_url"] == prefect_server
    assert isinstance(data["pid"], int)
    assert data["ui_url"] == prefect_server.removesuffix("/api")
    assert data["backend"] == "sqlite"
    assert data["database"] == f"sqlite {data['prefect_home']}/prefect.db"

    table = ytarchive("server", "status", env=_env(tmp_path))
    assert table.returncode == 0
    assert prefect_server in table.stdout


@pytest.mark.slow
def test_start_reuses_the_running_server(prefect_server: str, tmp_path: Path) -> None:
    before = json.loads(
        ytarchive("server", "status", "--format", "json", env=_env(tmp_path)).stdout
    )
    result = ytarchive("server", "start", "--format", "json", env=_env(tmp_path))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["note"] == "already running"
    assert (data["pid"], data["api_url"]) == (before["pid"], prefect_server)


@pytest.mark.slow
def test_health_with_the_sessions_server(prefect_server: str, tmp_path: Path) -> None:
    result = ytarchive("health", "--format", "json", env=_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is True
    checks = {c["check"]: c for c in data["checks"]}
    assert checks["prefect"]["status"] == "ok"
    assert prefect_server in checks["prefect"]["detail"]
    assert checks["ffmpeg"]["status"] == "ok"
    assert checks["scheduler"]["status"] == "ok", checks["scheduler"]
    assert checks["js runtime"]["status"] == "ok"
    assert checks["database"]["status"] == "ok"
    assert (
        checks["database"]["detail"].startswith("sqlite /")
        and "prefect.db" in checks["database"]["detail"]
    )


@pytest.mark.slow
def test_health_warns_when_a_scheduled_deployment_has_no_run_ahead(
    prefect_server: str, tmp_path: Path
) -> None:
    """A deployment whose active schedule yields no run ahead (here: its one date is past)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.schedules import RRuleSchedule

    ended = RRuleSchedule(rrule="DTSTART:20200101T000000\nRRULE:FREQ=DAILY;COUNT=1")
    with get_client(sync_client=True) as client:
        deployment_id = client.create_deployment(
            flow_id=client.create_flow_from_name("health-check-flow"),
            name="ended-schedule",
            schedules=[DeploymentScheduleCreate(schedule=ended, active=True)],
        )
    try:
        result = ytarchive("health", "--format", "json", env=_env(tmp_path))
        check = _checks(result)["scheduler"]
        assert check["status"] == "warn", check
        assert "ended-schedule" in check["detail"] and "no Scheduled run ahead" in check["detail"]
    finally:
        with get_client(sync_client=True) as client:
            client.delete_deployment(deployment_id)


@pytest.mark.slow
def test_unmanaged_api_url_is_reported_as_such(prefect_server: str, tmp_path: Path) -> None:
    # Another PREFECT_HOME pointed at the session's server: it is someone else's server there.
    env = _env(tmp_path, PREFECT_HOME=str(tmp_path / "other-home"))
    data = json.loads(ytarchive("server", "status", "--format", "json", env=env).stdout)
    assert (data["managed"], data["healthy"], data["api_url"], data["pid"]) == (
        False,
        True,
        prefect_server,
        None,
    )


@pytest.mark.slow
def test_check_key_spends_one_call_on_a_good_key(ytarchive_env, tmp_path: Path) -> None:
    env = _fresh(tmp_path, YTARCHIVE_OUTPUT_DIR=str(ytarchive_env.output_dir))
    result = ytarchive("health", "--check-key", "--format", "json", env=env)
    key = _checks(result)["api key"]
    assert key["status"] == "ok", key
    assert ytarchive_env.testbed.api.units_used == 1
    assert ytarchive_env.api_key not in result.stdout + result.stderr


@pytest.mark.slow
def test_check_key_fails_on_a_rejected_key(ytarchive_env, tmp_path: Path) -> None:
    env = _fresh(tmp_path, YOUTUBE_API_KEY=SECRET)
    result = ytarchive("health", "--check-key", "--format", "json", env=env)
    assert result.returncode == 1
    key = _checks(result)["api key"]
    assert (key["status"], key["detail"].split(":")[0]) == ("fail", "AuthError")
    assert SECRET not in result.stdout + result.stderr
