"""What a new user tried (issue 14), and what they should have seen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import video_files
from ytarchive.cli import main


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cli_env(ytarchive_env, prefect_server, monkeypatch):
    monkeypatch.setenv("YTARCHIVE_RETRY_DELAY_SECONDS", "0.05")
    return ytarchive_env


@pytest.mark.slow
def test_an_unreachable_url_fails_on_its_own_and_the_good_id_is_archived(
    cli_env, closed_port, capsys
) -> None:
    good = cli_env.testbed.lib.add_video().video_id
    bad = f"{closed_port.base_url}/video"
    code, out, err = _cli(capsys, "download", good, bad, "-q", "360p")
    assert code == 1, err
    assert len(video_files(cli_env.output_dir)) == 1
    assert "1 archived (1 new), 0 unavailable, 1 failed" in out
    failed = [line for line in out.splitlines() if line.startswith("failed")]
    assert len(failed) == 1 and bad in failed[0]
