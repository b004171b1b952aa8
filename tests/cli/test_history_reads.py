"""The read-only history commands read Prefect's REST API without importing Prefect, and a
PREFECT_HOME that never had a server answers them without starting one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import cli_in_process

ROOT = Path(__file__).resolve().parents[2]
VID = "historyRd01"

# Each command runs in one fresh interpreter, which then says what it imported.
_PROBE = """
import json, sys
from ytarchive.cli import main
outs = {}
for args in json.loads(sys.argv[1]):
    try:
        code = main(args)
    except SystemExit as exc:
        code = exc.code
    outs[" ".join(args)] = code
heavy = ("prefect", "yt_dlp", "flows", "deployments", "httpx")
sys.stderr.write(json.dumps({"codes": outs, "loaded": [m for m in heavy if m in sys.modules]}))
"""


def _probe(commands: list[list[str]], env: dict[str, str] | None = None) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(commands)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    return json.loads(result.stderr.strip().splitlines()[-1])


@pytest.mark.slow
def test_history_reads_import_neither_prefect_nor_yt_dlp(
    capsys, prefect_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YTARCHIVE_OUTPUT_DIR", str(tmp_path / "archive"))
    code, out, err = cli_in_process(capsys, "recovery", "create", VID)
    assert code == 0, err
    plan_id = out.strip()

    probe = _probe(
        [
            ["recovery", "list", "-f", "json"],
            ["recovery", "list", "--all"],
            ["recovery", "show", plan_id[:8]],
            ["playlist", "status", plan_id, "-f", "json"],
            ["playlist", "status", "no-such-run"],
            ["subscriptions", "-f", "json"],
            ["server", "status", "-f", "json"],
        ]
    )
    assert probe["loaded"] == []
    assert probe["codes"] == {
        "recovery list -f json": 0,
        "recovery list --all": 0,
        f"recovery show {plan_id[:8]}": 0,
        f"playlist status {plan_id} -f json": 0,
        "playlist status no-such-run": 2,
        "subscriptions -f json": 0,
        "server status -f json": 0,
    }


def test_a_prefect_home_without_a_server_answers_reads_without_starting_one(
    capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "prefect-home"
    monkeypatch.setenv("PREFECT_HOME", str(home))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("YTARCHIVE_OUTPUT_DIR", str(tmp_path / "archive"))

    assert cli_in_process(capsys, "recovery", "list", "-f", "json")[:2] == (0, "[]\n")
    assert cli_in_process(capsys, "recovery", "list") == (0, "", "No open recovery plans.\n")
    code, out, err = cli_in_process(capsys, "recovery", "show", "abcd")
    assert (code, out) == (2, "")
    assert (
        err
        == "Error: no recovery plan 'abcd' for the archive (see `ytarchive recovery list --all`)\n"
    )
    assert cli_in_process(capsys, "subscriptions", "-f", "json")[:2] == (0, "[]\n")
    code, _, err = cli_in_process(capsys, "playlist", "status", "playlist-PL1")
    assert code == 2
    assert (
        err == "Error: no flow run named 'playlist-PL1' (give the id or name `download` printed)\n"
    )
    assert not (home / "ytarchive-server" / "server.json").exists()  # no server was started
    assert not (home / "prefect.db").exists()


def test_an_api_that_does_not_answer_is_one_line_and_exit_1(
    capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setenv("YTARCHIVE_OUTPUT_DIR", str(tmp_path / "archive"))
    for args in (["recovery", "list"], ["playlist", "status", "x"], ["subscriptions"]):
        code, out, err = cli_in_process(capsys, *args)
        assert (code, out) == (1, "")
        assert err.startswith("Error: PREFECT_API_URL http://127.0.0.1:9/api does not answer")
        assert err.count("\n") == 1


def test_the_heartbeat_frequency_is_prefects_env_then_profile_then_180(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ytarchive.prefect_api import heartbeat_frequency

    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    for name in ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("PREFECT_PROFILE", raising=False)
    monkeypatch.delenv("PREFECT_PROFILES_PATH", raising=False)
    assert heartbeat_frequency() == 180
    (tmp_path / "profiles.toml").write_text(
        'active = "mine"\n[profiles.mine]\nPREFECT_FLOWS_HEARTBEAT_FREQUENCY = "60"\n'
    )
    assert heartbeat_frequency() == 60
    monkeypatch.setenv("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "45")
    assert heartbeat_frequency() == 45
