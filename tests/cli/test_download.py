"""`ytarchive download`, `playlist download` and `playlist status`, as a user runs them."""

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
from tests.helpers import cli_in_process as _cli

ROOT = Path(__file__).resolve().parents[2]


def _playlist_url(playlist_id: str) -> str:
    return f"https://www.youtube.com/playlist?list={playlist_id}"


def _spawn(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ytarchive", *args],
        cwd=kwargs.pop("cwd", ROOT),
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **kwargs,
    )


# -- bad input: exit 2, one line, nothing written, no Prefect ---------------------------------


def test_bad_url_exits_2_writes_nothing_and_starts_no_server(tmp_path: Path) -> None:
    home, out = tmp_path / "prefect-home", tmp_path / "out"
    home.mkdir()
    code = (
        "import sys\n"
        "from ytarchive.cli import main\n"
        "try:\n    main(['download', 'not a url'])\n"
        "except SystemExit as exc:\n    code = exc.code\n"
        "heavy = [m for m in ('prefect', 'yt_dlp', 'duckdb') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, "PREFECT_HOME": str(home), "YTARCHIVE_OUTPUT_DIR": str(out)}
    env.pop("PREFECT_API_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr == "Error: not a URL or video id: 'not a url'\n"
    assert "HEAVY []" in result.stdout
    assert not out.exists()
    assert list(home.iterdir()) == []  # no server state, no database


def test_console_script_reports_bad_input_the_same_way(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ytarchive", "download", "not a url", "-o", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.strip() == "Error: not a URL or video id: 'not a url'"
    assert not (tmp_path / "o").exists()


def test_batch_file_with_a_bad_line_downloads_nothing(ytarchive_env, tmp_path, capsys) -> None:
    bed = ytarchive_env.testbed
    good = bed.lib.add_video().video_id
    batch = tmp_path / "batch.txt"
    batch.write_text(f"# my list\n{good}\n\nhttps://example.com/ok\nnot a url\n")
    code, out, err = _cli(capsys, "download", "--batch", str(batch))
    assert code == 2
    assert err.startswith(f"Error: {batch}:5: not a URL or video id")
    assert err.count("\n") == 1 and out == ""
    assert bed.media.request_count() == 0 and bed.api.call_count() == 0
    assert not ytarchive_env.output_dir.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["playlist", "download", "dQw4w9WgXcQ"], "names no playlist or channel: 'dQw4w9WgXcQ'"),
        (["download", "dQw4w9WgXcQ", "-q", "superhigh"], "unknown --quality 'superhigh'"),
        (
            ["download", "dQw4w9WgXcQ", "--max-concurrent", "0"],
            "--max-concurrent must be at least 1",
        ),
        (["download"], "nothing to download"),
        (["download", "--batch", "/no/such/file"], "batch file not found: /no/such/file"),
        (["download", "--watch", "/no/such/file"], "watch file not found: /no/such/file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(ytarchive_env, capsys, args, message) -> None:
    code, out, err = _cli(capsys, *args)
    assert code == 2
    assert err.startswith("Error: ") and message in err and err.count("\n") == 1
    assert not ytarchive_env.output_dir.exists()


# -- runs -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_json_summary_then_playlist_status(cli_env, capsys) -> None:
    bed = cli_env.testbed
    video, private = bed.lib.add_video(title="Shown"), bed.lib.add_video(privacy="private")
    code, out, err = _cli(
        capsys, "download", video.video_id, private.video_id, "-q", "720p", "--format", "json"
    )
    assert code == 0, err
    summary = json.loads(out)  # stdout is the JSON and nothing else
    assert summary["counts"] == {"archived": 1, "unavailable": 1, "failed": 0}
    assert summary["quota_units"] == 1
    assert summary["flow_run_name"] == f"videos-{video.video_id}+1"
    by_id = {r["video_id"]: r for r in summary["results"]}
    assert by_id[video.video_id]["file_path"] == f"videos/Shown [{video.video_id}].mp4"
    assert by_id[video.video_id]["height"] == 720
    assert by_id[private.video_id]["status"] == "unavailable"
    assert cli_env.api_key not in out + err

    code, out, _ = _cli(capsys, "playlist", "status", summary["flow_run_id"], "--format", "json")
    assert code == 0
    status = json.loads(out)
    assert status["state"] == "Completed" and status["final"] is True
    assert status["counts"] == {"Completed": 2}
    assert status["outcomes"] == {"archived": 1, "unavailable": 1}
    code, out, _ = _cli(capsys, "playlist", "status", summary["flow_run_name"])
    assert code == 0 and video.video_id in out and "Completed" in out


@pytest.mark.slow
def test_failed_video_exits_1_with_the_run_named_on_stderr(cli_env, capsys, monkeypatch) -> None:
    monkeypatch.setenv("YTARCHIVE_MAX_RETRIES", "1")
    bed = cli_env.testbed
    good, bad = bed.lib.add_video(), bed.lib.add_video()
    bed.media.set_fault(bad.video_id, "500", times=None)
    code, out, err = _cli(capsys, "download", good.video_id, bad.video_id, "-q", "360p")
    assert code == 1
    assert err.startswith(f"Run videos-{good.video_id}+1 (")
    assert "1 archived (1 new), 0 unavailable, 1 failed" in out
    assert "HTTP Error 500" in out
    code, out, _ = _cli(capsys, "playlist", "status", f"videos-{good.video_id}+1", "-f", "json")
    status = json.loads(out)
    assert status["state"] == "Failed"
    assert status["counts"] == {"Completed": 1, "Failed": 1}


@pytest.mark.slow
def test_playlist_download_and_a_rerun_that_downloads_nothing(cli_env, capsys) -> None:
    bed = cli_env.testbed
    playlist = bed.lib.add_playlist(video_ids=[bed.lib.add_video().video_id for _ in range(3)])
    url = _playlist_url(playlist.playlist_id)
    code, out, _ = _cli(capsys, "playlist", "download", url, "-q", "360p", "-j", "2")
    assert code == 0
    assert "3 archived (3 new)" in out
    bed.media.reset()
    code, out, _ = _cli(capsys, "download", url, "--format", "json")  # a playlist URL: same flow
    assert code == 0
    summary = json.loads(out)
    assert (summary["downloaded"], summary["skipped"]) == (0, 3)
    assert summary["flow_run_name"] == f"playlist-{playlist.playlist_id}"
    assert bed.media.request_count() == 0


@pytest.mark.slow
def test_run_killed_mid_way_then_rerun_archives_each_video_once(cli_env) -> None:
    bed = cli_env.testbed
    ids = [bed.lib.add_video(title=f"Clip {i}").video_id for i in range(8)]
    bed.media.bandwidth_cap = 400_000  # about 2 s a video at 720p
    root = cli_env.output_dir
    first = _spawn("download", *ids, "-q", "720p", "-j", "2")
    from ytarchive.catalog import Catalog

    def some_recorded() -> bool:  # a file in place is recorded a moment later: wait for both
        return len(video_files(root)) >= 2 and bool(Catalog(root).settled_ids(ids))

    try:
        wait_for(some_recorded, 90, "two videos archived, one of them recorded")
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.communicate(timeout=30)
    assert first.returncode == -signal.SIGKILL

    done_before = Catalog(root).settled_ids(ids)  # what the killed run finished and recorded
    assert 1 <= len(done_before) < len(ids)
    bed.media.requests.clear()
    bed.media.bandwidth_cap = None
    second = _spawn("download", *ids, "-q", "720p", "--format", "json")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    summary = json.loads(out)
    assert summary["archived"] == len(ids) and summary["failed"] == 0
    names = [p.name for p in video_files(root)]
    assert sorted(n.rsplit("[", 1)[1].split("]")[0] for n in names) == sorted(ids)
    for video_id in done_before:  # what the killed run finished was not fetched again
        assert bed.media.request_count(video_id) == 0
    assert_no_partials(root)


@pytest.mark.slow
def test_watch_archives_appended_lines_skips_bad_ones_and_stops_on_ctrl_c(
    cli_env, tmp_path
) -> None:
    bed = cli_env.testbed
    first, second = bed.lib.add_video().video_id, bed.lib.add_video().video_id
    watched = tmp_path / "urls.txt"
    watched.write_text(first + "\n")
    root = cli_env.output_dir
    proc = _spawn("download", "--watch", str(watched), "-q", "360p")
    try:
        wait_for(lambda: len(video_files(root)) == 1, 90, "the first line archived")
        with watched.open("a") as handle:
            handle.write("not a url\n" + second + "\n")
        wait_for(lambda: len(video_files(root)) == 2, 60, "the appended line archived")
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, err
    assert f"Skipped {watched}:2: not a URL or video id: 'not a url'" in err
    assert "Stopped watching" in err
    assert "Traceback" not in err
    assert out.count("archived (1 new)") == 2
