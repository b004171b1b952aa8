"""Cookies through the CLI as a user passes them: the cookie wall opens, the secret stays secret."""

from __future__ import annotations

import json
import os
from pathlib import Path
from uuid import UUID

import pytest

from tests.helpers import cli_in_process as _cli
from tests.helpers import run_cli, video_files
from tests.testbed.cookies import COOKIE_NAME, new_cookie_value, write_cookies_txt
from ytarchive.cli import main

PLAYLIST = "https://www.youtube.com/playlist?list=PLcookiesCliTest01"


@pytest.fixture
def cli_env(ytarchive_env, prefect_server, monkeypatch):
    monkeypatch.setenv("YTARCHIVE_RETRY_DELAY_SECONDS", "0.05")
    monkeypatch.delenv("YTARCHIVE_COOKIES_FILE", raising=False)
    return ytarchive_env


# -- bad cookie settings: exit 2, one line, nothing written, nothing fetched -----------------


def _not_netscape(tmp_path: Path) -> Path:
    path = tmp_path / "cookies.json"
    path.write_text(json.dumps([{"name": COOKIE_NAME, "value": new_cookie_value()}]))
    return path


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (
            lambda p: (["--cookies", str(p / "missing.txt")], {}),
            "--cookies: cookies file not found",
        ),
        (lambda p: (["--cookies", str(_not_netscape(p))], {}), "is not a Netscape cookies.txt"),
        (
            lambda p: ([], {"YTARCHIVE_COOKIES_FILE": str(_not_netscape(p))}),
            "YTARCHIVE_COOKIES_FILE: ",
        ),
        (
            lambda p: ([], {"YTARCHIVE_COOKIES_FROM_BROWSER": "netscape:default"}),
            "YTARCHIVE_COOKIES_FROM_BROWSER: unsupported browser 'netscape'",
        ),
    ],
)
@pytest.mark.parametrize(
    "command", [["download", "dQw4w9WgXcQ"], ["playlist", "download", PLAYLIST]]
)
def test_bad_cookies_exit_2_before_anything_runs(
    ytarchive_env, tmp_path, capsys, monkeypatch, setup, message, command
) -> None:
    args, env = setup(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, out, err = _cli(capsys, *command, *args)
    assert code == 2, err
    assert err.startswith("Error: ") and message in err and err.count("\n") == 1
    assert out == "" and not ytarchive_env.output_dir.exists()
    assert ytarchive_env.testbed.media.request_count() == 0


def test_a_reserved_ytdlp_option_exits_2(ytarchive_env, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ytarchive.toml").write_text('[ytdlp]\nformat = "worst"\n')
    code, out, err = _cli(capsys, "download", "dQw4w9WgXcQ")
    assert code == 2
    assert err == "Error: ytarchive.toml: [ytdlp] format is set by ytarchive: use --quality\n"
    assert not ytarchive_env.output_dir.exists()


# -- the cookie wall, through the real flow ---------------------------------------------------


def _catalog_text(root: Path) -> str:
    """Every row of every catalog table, read straight from its Parquet files."""
    import duckdb

    rows = []
    for table in sorted((root / "catalog").iterdir()):
        files = sorted(str(p) for p in table.rglob("*.parquet"))
        if files:
            rows += duckdb.sql(
                f"SELECT * FROM read_parquet({files!r}, union_by_name=true)"
            ).fetchall()
    assert rows, "the catalog should hold rows"
    return json.dumps(rows, default=str)


def _run_record(run_id: str) -> str:
    """The flow run as the Prefect server holds it: parameters, logs, artifacts, task runs."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )

    uid = UUID(run_id)
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(uid)
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[uid])))
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[uid]))
        )
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[uid])))
    assert logs and artifacts and tasks
    return json.dumps(
        {
            "run": run.model_dump(mode="json"),
            "logs": [log.message for log in logs],
            "artifacts": [a.model_dump(mode="json") for a in artifacts],
            "tasks": [t.model_dump(mode="json") for t in tasks],
        },
        default=str,
    )


@pytest.mark.slow
def test_with_the_cookies_file_the_walled_video_is_archived_and_the_cookie_leaks_nowhere(
    cli_env, cookie_video
) -> None:
    bed, root = cli_env.testbed, cli_env.output_dir
    before = cookie_video.cookies_file.read_bytes()
    env = {
        **os.environ,
        "YTARCHIVE_COOKIES_FILE": str(cookie_video.cookies_file),
        "YTARCHIVE_LOG_LEVEL": "DEBUG",
    }
    result = run_cli("download", cookie_video.video_id, "-q", "360p", "-f", "json", env=env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["counts"] == {"archived": 1, "unavailable": 0, "failed": 0}
    assert [p.name for p in video_files(root)] == [f"Members cookie [{cookie_video.video_id}].mp4"]
    assert bed.media.refused_requests(kind=None, fault="cookie") == 0
    secret = cookie_video.value
    assert secret not in result.stdout + result.stderr
    log = (root / "logs" / "ytarchive.log").read_text()
    assert cookie_video.video_id in log and secret not in log
    files = [p for p in root.rglob("*") if p.is_file()]
    assert [p for p in files if secret.encode() in p.read_bytes()] == []
    assert secret not in _catalog_text(root)
    record = _run_record(summary["flow_run_id"])
    assert secret not in record
    assert str(cookie_video.cookies_file) not in json.dumps(json.loads(record)["run"]["parameters"])
    assert cookie_video.cookies_file.read_bytes() == before


@pytest.mark.slow
def test_without_cookies_the_walled_video_is_not_archived(cli_env, cookie_video, capsys) -> None:
    code, out, err = _cli(capsys, "download", cookie_video.video_id, "-q", "360p", "-f", "json")
    assert code == 1, err  # failed, not unavailable: cookies would open the wall
    (row,) = json.loads(out)["results"]
    assert row["status"] == "failed" and row["error_class"] == "CdnForbidden"
    assert "403" in row["reason"] and "--cookies FILE" in row["reason"]
    assert video_files(cli_env.output_dir) == []
    assert cli_env.testbed.media.refused_requests(kind=None, fault="cookie") >= 1


@pytest.mark.slow
def test_the_cookies_option_opens_the_wall_for_that_run_only(cli_env, cookie_video, capsys) -> None:
    path = str(cookie_video.cookies_file)
    code, out, err = _cli(
        capsys, "download", cookie_video.video_id, "--cookies", path, "-q", "360p", "-f", "json"
    )
    assert code == 0, err
    assert json.loads(out)["counts"]["archived"] == 1
    assert cookie_video.value not in out + err
    assert "YTARCHIVE_COOKIES_FILE" not in os.environ  # the next command does not inherit it


# -- subscribe --cookies: the path in the job variables, nothing in the parameters ------------


def test_subscribe_with_a_bad_cookies_file_exits_2(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    code, out, err = _cli(capsys, "subscribe", PLAYLIST, "--cookies", str(_not_netscape(tmp_path)))
    assert code == 2 and out == ""
    assert err.startswith("Error: --cookies: ") and "is not a Netscape cookies.txt" in err
    assert not (tmp_path / "home").exists()  # no server started


@pytest.mark.slow
def test_subscribe_keeps_the_cookie_path_in_job_variables(prefect_server, tmp_path, capsys):
    value = new_cookie_value()
    path = write_cookies_txt(tmp_path / "sub-cookies.txt", {COOKIE_NAME: value}).resolve()
    code, out, err = _cli(capsys, "subscribe", PLAYLIST, "--cookies", str(path), "-f", "json")
    assert code == 0, err
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            deployment = client.read_deployment(UUID(json.loads(out)["deployment_id"]))
        assert deployment.job_variables == {"env": {"YTARCHIVE_COOKIES_FILE": str(path)}}
        parameters = json.dumps(deployment.parameters)
        assert value not in parameters and str(path) not in parameters
        assert value not in out + err
        # Subscribing again (a new cron) keeps the cookie file.
        assert _cli(capsys, "subscribe", PLAYLIST, "--cron", "0 5 * * *")[0] == 0
        with get_client(sync_client=True) as client:
            again = client.read_deployment(deployment.id)
        assert again.job_variables == deployment.job_variables
    finally:
        main(["unsubscribe", PLAYLIST])
        capsys.readouterr()
