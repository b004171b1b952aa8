"""The Prefect UI, served by the session's server, shows an archive run: headless Chromium."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import client
from tests.web.browser import HEADLESS_FLAGS, chromium

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def _browse(url: str, profile: Path, *action: str) -> str:
    """Load the page (a single-page app: give its scripts 15 s of virtual time), do `action`."""
    profile.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            chromium(),
            *HEADLESS_FLAGS,
            f"--user-data-dir={profile}",
            "--virtual-time-budget=15000",
            *action,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _run_id_by_name(name: str):
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    with client() as c:
        (run,) = c.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name]))
        )
    return run.id


def test_ui_shows_the_archive_run_by_its_name(
    prefect_server: str, ytarchive_env, testbed, tmp_path: Path
) -> None:
    chromium()
    from flows.archive import archive_playlist_flow
    from flows.runtime import drain_history

    playlist = testbed.lib.make_playlist(1, title="Seen in the UI")
    url = f"https://www.youtube.com/playlist?list={playlist.playlist_id}"
    state = archive_playlist_flow(url=url, quality="360p", return_state=True)
    assert state.is_completed()
    drain_history(state.state_details.flow_run_id, expected_task_runs=3)

    name = f"playlist-{playlist.playlist_id}"  # what the archive flow names its run
    run_id = _run_id_by_name(name)
    assert run_id == state.state_details.flow_run_id
    ui = prefect_server.removesuffix("/api")
    page = _browse(f"{ui}/runs/flow-run/{run_id}", tmp_path / "profile-run", "--dump-dom")
    assert name in page, page[-2000:]
    assert "Completed" in page
    assert "archive-playlist" in page  # the flow's name, linked from the run
    assert ">3 Task runs<" in page  # list-playlist, metadata-batch-1, download-<id>

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "ui-flow-run.png"
    shot.unlink(missing_ok=True)
    _browse(
        f"{ui}/runs/flow-run/{run_id}",
        tmp_path / "profile-shot",
        "--window-size=1400,900",
        f"--screenshot={shot}",
    )
    assert shot.is_file() and shot.stat().st_size > 10_000
    print(f"\nPrefect UI screenshot of flow run {name}: {shot}")
