"""The resident runner: a `download` handed to it behaves as one run in its own process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import assert_no_partials, video_files, wait_for

ROOT = Path(__file__).resolve().parents[2]


def _runner_log() -> Path:
    from ytarchive.server_state import state_dir

    return state_dir() / "runner.log"


@pytest.fixture
def runner(cli_env):
    """The session home's runner, up (started here if no earlier run started it)."""
    from ytarchive.cli.runner import runner_ready

    if not runner_ready():
        log = _runner_log()
        with open(log, "ab") as out:
            subprocess.Popen(
                [sys.executable, "-m", "ytarchive.cli.runner"],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,  # it ends with the session's server
            )
        wait_for(runner_ready, 120, "the runner to take commands")
    return cli_env


def _spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ytarchive", *args],
        cwd=ROOT,
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _runs_since(offset: int) -> list[str]:
    text = _runner_log().read_bytes()[offset:].decode(errors="replace")
    return [line for line in text.splitlines() if " run pid=" in line]


def _wait_for_run(offset: int, exit_status: str) -> None:
    """Wait for the runner to log a child that ended with exit_status (an earlier test's run
    may be logged first: the runner reaps once a second)."""
    wait_for(
        lambda: any(f"exit={exit_status} " in line for line in _runs_since(offset)),
        10,
        f"the runner to log a run that ended with {exit_status}",
    )


@pytest.mark.slow
def test_a_download_handed_to_the_runner_prints_and_exits_as_its_own_run(runner) -> None:
    bed = runner.testbed
    good, gone = bed.lib.add_video().video_id, bed.lib.add_video().video_id
    bed.media.set_fault(gone, "500", times=None)
    offset = _runner_log().stat().st_size
    proc = _spawn("download", good, gone, "-q", "360p", "--format", "json")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err  # one video failed after its retries: exit 1, as always
    summary = json.loads(out)
    assert (summary["archived"], summary["failed"]) == (1, 1)
    assert "Traceback" not in err
    _wait_for_run(offset, "1")  # the run was the runner's child, not the command's process
    from flows.runtime import drain_history

    assert drain_history(summary["flow_run_id"], expected_task_runs=3, timeout=30) == 3


@pytest.mark.slow
def test_kill_9_of_a_command_kills_its_run_in_the_runner_and_a_rerun_completes(runner) -> None:
    bed = runner.testbed
    ids = [bed.lib.add_video(title=f"Runner {i}").video_id for i in range(5)]
    bed.media.bandwidth_cap = 300_000  # about 2 s a video at 360p
    root = runner.output_dir
    offset = _runner_log().stat().st_size
    first = _spawn("download", *ids, "-q", "360p", "-j", "1")
    try:
        wait_for(lambda: len(video_files(root)) >= 2, 90, "two videos archived")
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.communicate(timeout=30)
    _wait_for_run(offset, "-9")  # the run's process died with the command
    from ytarchive.catalog import Catalog

    done_before = Catalog(root).settled_ids(ids)
    assert 1 <= len(done_before) < len(ids)
    requests = bed.media.request_count()
    time.sleep(1.0)  # nothing of the killed run goes on fetching
    assert bed.media.request_count() == requests
    bed.media.requests.clear()
    bed.media.bandwidth_cap = None
    second = _spawn("download", *ids, "-q", "360p", "--format", "json")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert json.loads(out)["archived"] == len(ids)
    for video_id in done_before:
        assert bed.media.request_count(video_id) == 0
    assert_no_partials(root)


@pytest.mark.slow
def test_ctrl_c_of_a_command_reaches_its_run_in_the_runner(runner) -> None:
    bed = runner.testbed
    video = bed.lib.add_video().video_id
    bed.media.bandwidth_cap = 100_000  # several seconds: time to press Ctrl-C
    offset = _runner_log().stat().st_size
    proc = _spawn("download", video, "-q", "360p")
    try:
        wait_for(lambda: bed.media.media_requests(video) >= 1, 90, "the download to start")
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends the command's group
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err  # as the command itself ends on Ctrl-C
    assert "Traceback" not in err
    _wait_for_run(offset, "130")


@pytest.mark.slow
def test_a_watch_handed_to_the_runner_writes_each_line_to_a_log_as_it_comes(
    runner, tmp_path: Path
) -> None:
    """stderr sent to a file is line-buffered in the runner's child, as in a process of its own:
    a `--watch` left running shows what it did, not only once it exits."""
    video = runner.testbed.lib.add_video().video_id
    first = _spawn("download", video, "-q", "360p")
    assert first.wait(timeout=120) == 0
    watched, log = tmp_path / "urls.txt", tmp_path / "stderr.txt"
    watched.write_text(video + "\n")
    offset = _runner_log().stat().st_size
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ytarchive", "download", "--watch", str(watched)],
            cwd=ROOT, env=dict(os.environ), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
        )  # fmt: skip
    try:
        wait_for(lambda: "Skipped 1 line(s) already archived" in log.read_text(), 60,
                 "the watch's first line in its log, while it runs")  # fmt: skip
        assert proc.poll() is None  # still watching: the line came before any exit
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    _wait_for_run(offset, "0")  # the watch ran as the runner's child


def test_a_runner_started_for_a_home_whose_server_is_stopped_exits(tmp_path: Path) -> None:
    """As after `server stop` while the runner a run started was still loading: it exits at
    once instead of waiting out its idle hour, and takes no command."""
    home = tmp_path / "prefect-home"
    home.mkdir()
    env = {**os.environ, "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "ytarchive.cli.runner"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0
    assert "no Prefect server of this home is running: not serving" in result.stderr
    assert not (home / "ytarchive-server" / "runner.sock").exists()
