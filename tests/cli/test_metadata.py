"""`ytarchive metadata` and `ytarchive playlist info`, run as a user runs them (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def _run(env, *args: str, extra_env: dict[str, str] | None = None, debug_logs: bool = False):
    """The real CLI in a subprocess; debug_logs turns on DEBUG logging for every logger first."""
    import os

    full = {**os.environ, **env.env, "YTARCHIVE_YOUTUBE_API_BACKOFF": "0.01", **(extra_env or {})}
    full = {k: v for k, v in full.items() if v != ""}
    if debug_logs:
        code = (
            "import logging, sys; logging.basicConfig(level=logging.DEBUG);"
            "from ytarchive.cli import main; sys.exit(main(sys.argv[1:]))"
        )
        command = [sys.executable, "-c", code, *args]
    else:
        command = [sys.executable, "-m", "ytarchive", *args]
    return subprocess.run(command, capture_output=True, text=True, env=full, timeout=120)


def _one_line_error(result, code: int) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def test_metadata_json_is_one_record_per_input_in_input_order(ytarchive_env) -> None:
    lib = ytarchive_env.testbed.lib
    a, b = lib.add_video(title="Alpha"), lib.add_video(title="Beta", tags=["x"])
    result = _run(ytarchive_env, "metadata", "--format", "json", b.video_id, a.video_id)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    records = json.loads(result.stdout)
    assert [r["video_id"] for r in records] == [b.video_id, a.video_id]
    names = {
        "video_id", "title", "description", "channel_id", "channel_title", "published_at",
        "duration_seconds", "view_count", "like_count", "comment_count", "tags", "category_id",
        "thumbnail_url", "source", "fetched_at",
    }  # fmt: skip
    assert names <= set(records[0])
    assert records[0]["title"] == "Beta" and records[0]["tags"] == ["x"]
    assert records[0]["source"] == "youtube_api"
    assert records[0]["published_at"].endswith("Z")  # ISO 8601, UTC
    assert ytarchive_env.api_key not in result.stdout


def test_metadata_table_shows_titles_and_quota_on_stderr(ytarchive_env, tmp_path: Path) -> None:
    ids = ytarchive_env.testbed.lib.make_playlist(51).video_ids
    batch = tmp_path / "batch.txt"
    batch.write_text("# my list\n\n" + "\n".join(f"https://youtu.be/{v}" for v in ids) + "\n")
    result = _run(ytarchive_env, "metadata", "--batch", str(batch), extra_env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    assert "Video 1 of 51" in result.stdout and "Video 51 of 51" in result.stdout
    assert result.stderr.strip() == "quota: 2 units"
    assert ytarchive_env.testbed.api.call_count("videos") == 2


def test_a_bad_batch_line_is_named_and_nothing_is_called(ytarchive_env, tmp_path: Path) -> None:
    batch = tmp_path / "batch.txt"
    batch.write_text("dQw4w9WgXcQ\n# fine\nnot a url at all\n")
    line = _one_line_error(_run(ytarchive_env, "metadata", "--batch", str(batch)), 2)
    assert f"{batch}:3" in line
    playlist_line = tmp_path / "p.txt"
    playlist_line.write_text("dQw4w9WgXcQ\nhttps://www.youtube.com/playlist?list=PLabc\n")
    line = _one_line_error(_run(ytarchive_env, "metadata", "--batch", str(playlist_line)), 2)
    assert f"{playlist_line}:2" in line and "playlist info" in line
    assert ytarchive_env.testbed.api.call_count() == 0


@pytest.mark.slow
def test_a_wrong_key_is_one_line_exit_1_and_the_key_is_nowhere(ytarchive_env) -> None:
    wrong = "AIzaSyWRONG-cli-key-never-shown-7"
    video = ytarchive_env.testbed.lib.add_video()
    result = _run(ytarchive_env, "metadata", video.video_id, extra_env={"YOUTUBE_API_KEY": wrong})
    line = _one_line_error(result, 1)
    assert line.startswith("Error: the YouTube API key was rejected")
    assert wrong not in result.stdout + result.stderr
    logged = _run(
        ytarchive_env, "metadata", video.video_id, extra_env={"YOUTUBE_API_KEY": wrong},
        debug_logs=True,
    )  # fmt: skip
    assert logged.returncode == 1
    assert "URL being requested" in logged.stderr  # DEBUG logs were on ...
    assert wrong not in logged.stdout + logged.stderr  # ... and never carried the key


def test_an_exhausted_quota_is_one_line_exit_1(ytarchive_env) -> None:
    video = ytarchive_env.testbed.lib.add_video()
    ytarchive_env.testbed.api.set_quota(5, used=5)
    result = _run(ytarchive_env, "metadata", video.video_id)
    line = _one_line_error(result, 1)
    assert "quota" in line
    assert ytarchive_env.api_key not in result.stdout + result.stderr


def test_503_twice_then_200_answers_and_logs_no_key(ytarchive_env) -> None:
    video = ytarchive_env.testbed.lib.add_video(title="Third time lucky")
    ytarchive_env.testbed.api.fail_next(2, "backendError")
    result = _run(ytarchive_env, "metadata", "--format", "json", video.video_id, debug_logs=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["title"] == "Third time lucky"
    assert ytarchive_env.testbed.api.call_count("videos", status=503) == 2
    assert "retry 2 of" in result.stderr and "Traceback" not in result.stderr
    assert ytarchive_env.api_key not in result.stdout + result.stderr


def test_a_server_that_never_recovers_is_one_line_exit_1(ytarchive_env) -> None:
    video = ytarchive_env.testbed.lib.add_video()
    ytarchive_env.testbed.api.fail_next(50, "backendError")
    result = _run(
        ytarchive_env, "metadata", video.video_id, extra_env={"YTARCHIVE_YOUTUBE_API_RETRIES": "2"}
    )
    assert "503" in _one_line_error(result, 1)
    assert ytarchive_env.testbed.api.call_count() == 3


@pytest.mark.slow
def test_without_a_key_metadata_answers_for_a_media_url_via_ytdlp(ytarchive_env) -> None:
    url = ytarchive_env.testbed.video_url("keyless0001")
    result = _run(
        ytarchive_env, "metadata", "--format", "json", url, extra_env={"YOUTUBE_API_KEY": ""}
    )
    assert result.returncode == 0, result.stderr
    [record] = json.loads(result.stdout)
    assert record["source"] == "yt_dlp" and record["webpage_url"] == url
    assert record["availability"] == "available"
    assert ytarchive_env.testbed.api.call_count() == 0
    assert ytarchive_env.testbed.media.manifest_requests("keyless0001") >= 1


@pytest.mark.slow
def test_playlist_info_json_and_table(ytarchive_env) -> None:
    playlist = ytarchive_env.testbed.lib.make_playlist(
        55, title="Fifty-five", private=(2,), deleted=(4,), duration=60
    )
    url = f"https://www.youtube.com/playlist?list={playlist.playlist_id}"
    result = _run(ytarchive_env, "playlist", "info", url, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["title"], data["item_count"], data["channel_title"]) == (
        "Fifty-five",
        55,
        "Testbed Channel",
    )
    assert [i["position"] for i in data["items"]] == list(range(55))
    assert data["items"][2]["availability"] == "private"
    assert data["items"][4]["availability"] == "deleted"
    # durations 60 + i for the 53 available videos
    assert data["total_duration_seconds"] == sum(60 + i for i in range(55) if i not in (2, 4))
    assert data["quota_units"] == 1 + 2 + 2  # playlists.list, 2 pages, 2 videos.list batches
    table = _run(ytarchive_env, "playlist", "info", url, extra_env={"COLUMNS": "200"})
    assert table.returncode == 0, table.stderr
    assert "Fifty-five" in table.stdout and "Testbed Channel" in table.stdout
    assert "55 (53 available, 1 deleted, 1 private)" in table.stdout
    assert "Video 55 of 55" in table.stdout
    assert table.stderr.strip() == "quota: 5 units"


@pytest.mark.parametrize(
    "url", ["https://www.youtube.com/watch?v=dQw4w9WgXcQ", "https://www.youtube.com/playlist"]
)
def test_playlist_info_rejects_what_names_no_playlist(ytarchive_env, url: str) -> None:
    _one_line_error(_run(ytarchive_env, "playlist", "info", url), 2)
    assert ytarchive_env.testbed.api.call_count() == 0


def test_an_unknown_playlist_is_exit_2(ytarchive_env) -> None:
    url = "https://www.youtube.com/playlist?list=PLdoesNotExist"
    line = _one_line_error(_run(ytarchive_env, "playlist", "info", url), 2)
    assert "playlist not found: PLdoesNotExist" in line
