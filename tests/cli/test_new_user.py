"""What a new user tried (issue 14), and what they should have seen."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import cli_in_process as _cli
from tests.helpers import video_files

ROOT = Path(__file__).resolve().parents[2]


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


# -- 2. the output dir is checked before anything starts ------------------------------------


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env}
    full.pop("PREFECT_API_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "ytarchive", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=full,
        timeout=120,
    )


def test_download_to_a_file_exits_2_before_any_run(tmp_path: Path) -> None:
    home, target = tmp_path / "prefect-home", tmp_path / "notes.txt"
    home.mkdir()
    target.write_text("mine\n")
    result = _run("download", "dQw4w9WgXcQ", "-o", str(target), env={"PREFECT_HOME": str(home)})
    assert result.returncode == 2
    assert result.stderr == f"Error: the archive root {target} (--output) is not a directory\n"
    assert result.stdout == ""
    assert target.read_text() == "mine\n"
    assert list(home.iterdir()) == []  # no server, no flow run, so no recovery plan
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "prefect-home"]


@pytest.mark.parametrize(
    "args",
    [
        ["storage", "stats"],
        ["storage", "list"],
        ["storage", "search", "piano"],
        ["storage", "verify"],
        ["storage", "compact"],
        ["sql", "SELECT count(*) FROM videos"],
    ],
)
def test_read_only_commands_on_a_file_say_so_in_one_line(tmp_path: Path, args) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("mine\n")
    result = _run(*args, env={"YTARCHIVE_OUTPUT_DIR": str(target)})
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: the archive root {target} (YTARCHIVE_OUTPUT_DIR) is not a directory\n"
    )
    assert target.read_text() == "mine\n"


@pytest.mark.parametrize(
    "args",
    [["storage", "stats"], ["storage", "list"], ["storage", "verify"], ["sql", "SELECT 1"]],
)
def test_read_only_commands_on_a_missing_archive_say_so_in_one_line(tmp_path: Path, args) -> None:
    """A mistyped -o is not an empty archive: one line, exit 2, and the path is not made."""
    missing = tmp_path / "archvie"
    result = _run(*args, env={"YTARCHIVE_OUTPUT_DIR": str(missing)})
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"Error: no archive at {missing} (")
    assert result.stderr.endswith(": nothing has been archived there yet\n")
    assert len(result.stderr.splitlines()) == 1
    assert not missing.exists()


@pytest.fixture
def read_only_archive(tmp_path: Path) -> Iterator[Path]:
    """An archive with a catalog, made immutable (refused even to root, as a read-only mount)."""
    from ytarchive.catalog import Catalog
    from ytarchive.models import VideoMetadata

    root = tmp_path / "archive"
    Catalog(root).record_metadata([VideoMetadata(video_id="dQw4w9WgXcQ", source="yt_dlp")])
    made = subprocess.run(["chattr", "-R", "+i", str(root)], capture_output=True)
    if made.returncode != 0:
        if os.geteuid() == 0:
            pytest.skip("chattr +i is not supported here")
        root.chmod(0o555)
    try:
        yield root
    finally:
        subprocess.run(["chattr", "-R", "-i", str(root)], capture_output=True)
        root.chmod(0o755)


def test_a_read_only_archive_is_one_line_and_no_library_noise(read_only_archive: Path) -> None:
    before = sorted(read_only_archive.rglob("*"))
    for args in (["storage", "compact"], ["download", "dQw4w9WgXcQ"]):
        result = _run(*args, "-o", str(read_only_archive), env={})
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(
            f"Error: cannot write to the archive root {read_only_archive}"
        )
        assert result.stderr.count("\n") == 1  # no traceback, no `nanobind: leaked` lines
    result = _run("storage", "list", "-f", "json", "-o", str(read_only_archive), env={})
    assert result.returncode == 0 and json.loads(result.stdout)[0]["video_id"] == "dQw4w9WgXcQ"
    assert result.stderr == ""
    assert sorted(read_only_archive.rglob("*")) == before


# -- 3. run names: the run the user means, id prefixes, a percentage that agrees ------------


def _playlist_url(playlist_id: str) -> str:
    return f"https://www.youtube.com/playlist?list={playlist_id}"


@pytest.mark.slow
def test_status_by_name_after_a_rerun_shows_the_run_that_did_work(cli_env, capsys) -> None:
    bed = cli_env.testbed
    playlist = bed.lib.add_playlist(video_ids=[bed.lib.add_video().video_id for _ in range(2)])
    url = _playlist_url(playlist.playlist_id)
    code, out, err = _cli(capsys, "playlist", "download", url, "-q", "360p", "-f", "json")
    assert code == 0, err
    first = json.loads(out)
    code, out, err = _cli(capsys, "playlist", "download", url, "-f", "json")  # a no-op re-run
    assert code == 0 and json.loads(out)["downloaded"] == 0
    name = f"playlist-{playlist.playlist_id}"

    code, out, err = _cli(capsys, "playlist", "status", name, "-f", "json")
    assert code == 0, err
    status = json.loads(out)
    assert status["flow_run_id"] == first["flow_run_id"]
    assert status["progress_note"] == "2 of 2 videos done"
    assert (
        status["picked"]
        == f"the newest run named {name} that did work (1 newer run had nothing to do)"
    )
    code, out, _ = _cli(capsys, "playlist", "status", name)
    assert out.splitlines()[0] == f"Showing {status['picked']}"
    assert "100% (2 of 2 videos done)" in out

    code, out, err = _cli(capsys, "playlist", "status", first["flow_run_id"][:6], "-f", "json")
    assert code == 0, err
    assert json.loads(out)["flow_run_id"] == first["flow_run_id"]
    code, out, err = _cli(capsys, "playlist", "status", "abc")
    assert (
        code == 2
        and err == "Error: no flow run named 'abc' (give the id or name `download` printed)\n"
    )


@pytest.mark.slow
def test_status_during_a_run_gives_a_percentage_that_agrees_with_the_counts(cli_env) -> None:
    bed = cli_env.testbed
    ids = [bed.lib.add_video().video_id for _ in range(4)]
    bed.media.bandwidth_cap = 300_000
    proc = _spawn("download", *ids, "-q", "720p", "-j", "1")
    seen = []
    try:
        while proc.poll() is None and len(seen) < 3:
            result = _run_status(f"videos-{ids[0]}+3")
            if result is None or result["final"] or result["progress"] is None:
                continue
            done = sum(n for s, n in result["counts"].items() if s in ("Completed", "Failed"))
            assert result["progress"] == pytest.approx(100.0 * done / 4)
            assert result["progress_note"] == f"{done} of 4 videos done"
            if done:
                seen.append(done)
        proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        bed.media.bandwidth_cap = None
    assert seen, "never saw the run between its first and last video"


def _run_status(name: str) -> dict | None:
    result = subprocess.run(
        [sys.executable, "-m", "ytarchive", "playlist", "status", name, "-f", "json"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    return json.loads(result.stdout) if result.returncode == 0 else None


def _spawn(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ytarchive", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=kwargs.pop("stdout", subprocess.PIPE),
        stderr=kwargs.pop("stderr", subprocess.PIPE),
        text=True,
        start_new_session=True,
        **kwargs,
    )


# -- 4. Prefect's own lines stay off the terminal -------------------------------------------


@pytest.mark.slow
def test_recovery_retry_prints_no_prefect_log_lines(cli_env, monkeypatch) -> None:
    monkeypatch.setenv("YTARCHIVE_MAX_RETRIES", "0")
    bed = cli_env.testbed
    video = bed.lib.add_video().video_id
    bed.media.set_fault(video, "500", times=1)
    first = subprocess.run(
        [sys.executable, "-m", "ytarchive", "download", video, "-q", "360p"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert first.returncode == 1, first.stderr
    plan = first.stderr.split("(", 1)[1].split(")", 1)[0]
    retry = subprocess.run(
        [sys.executable, "-m", "ytarchive", "recovery", "retry", plan[:8]],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert retry.returncode == 0, retry.stderr
    for stream in (first.stderr, retry.stderr, retry.stdout):
        assert "| INFO" not in stream and "Flow run" not in stream
        assert "Still processing items" not in stream
    assert "Completed" in retry.stdout and "COMPLETED" not in retry.stdout
    assert "none" in retry.stdout  # nothing remaining, said so
    log = (cli_env.output_dir / "logs" / "ytarchive.log").read_text()
    assert f"Recovery of flow run {plan}" in log  # Prefect's run log kept in the file


# -- 5. playlist title, --watch over lines already there, --metadata-only, no network ---------


@pytest.mark.slow
def test_playlist_download_records_the_title_and_metadata_only_says_what_it_saved(
    cli_env, capsys
) -> None:
    bed = cli_env.testbed
    ids = [bed.lib.add_video().video_id for _ in range(2)]
    playlist = bed.lib.add_playlist(title="Piano sonatas", video_ids=ids)
    url = _playlist_url(playlist.playlist_id)
    code, out, err = _cli(capsys, "playlist", "download", url, "--metadata-only")
    assert code == 0, err
    assert "metadata saved for 2 video(s), 0 already archived" in out
    assert "archived (0 new)" not in out
    assert sorted(p.stem for p in (cli_env.output_dir / "metadata").glob("*.json")) == sorted(ids)
    assert video_files(cli_env.output_dir) == []
    code, out, _ = _cli(
        capsys, "sql", "SELECT title FROM playlists", "-f", "json", "-o", str(cli_env.output_dir)
    )
    assert json.loads(out) == [{"title": "Piano sonatas"}]
    log = (cli_env.output_dir / "logs" / "ytarchive.log").read_text()
    assert f"Playlist {playlist.playlist_id} (Piano sonatas): 2 items" in log
    assert "(untitled)" not in log


@pytest.mark.slow
def test_watch_skips_lines_already_archived_without_a_new_run(cli_env, tmp_path, capsys) -> None:
    video = cli_env.testbed.lib.add_video().video_id
    code, out, err = _cli(capsys, "download", video, "-q", "360p")
    assert code == 0, err
    watched = tmp_path / "urls.txt"
    watched.write_text(video + "\n")
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr:
        proc = _spawn("download", "--watch", str(watched), stderr=stderr)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any(
            s in log.read_text() for s in ("Skipped", "Run ")
        ):
            time.sleep(0.2)
        time.sleep(1.0)
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    err = log.read_text()
    assert proc.returncode == 0, err
    assert "Skipped 1 line(s) already archived" in err
    assert "Run " not in err and out == ""


@pytest.mark.slow
def test_no_network_at_all_is_its_own_error_and_exit_code(cli_env, closed_port, capsys) -> None:
    bad = f"{closed_port.base_url}/video"
    code, out, err = _cli(capsys, "download", bad)
    assert code == 3
    run_line, error = err.splitlines()  # the run's name (stderr is not a terminal), the error
    assert run_line.startswith("Run videos-")
    assert error.startswith("Error: cannot reach the site for the video (")
    assert error.endswith("check the network, then run `ytarchive recovery retry --all`")
    assert video_files(cli_env.output_dir) == []


# -- 6. progress from the first second, in a terminal ----------------------------------------


@pytest.mark.slow
def test_a_terminal_sees_what_the_run_waits_for(cli_env, closed_port, monkeypatch) -> None:
    """The quick start with the site down: a spinner names each wait, then the one line."""
    import pty

    monkeypatch.delenv("YOUTUBE_API_KEY")  # keyless: metadata through yt-dlp, from the site
    monkeypatch.setenv("YTARCHIVE_VIDEO_URL_TEMPLATE", closed_port.url_template)
    monkeypatch.setenv("YTARCHIVE_MAX_RETRIES", "1")
    monkeypatch.setenv("YTARCHIVE_RETRY_DELAY_SECONDS", "1")
    leader, follower = pty.openpty()
    proc = _spawn(
        "download", "dQw4w9WgXcQ", env={"COLUMNS": "120", "TERM": "xterm"},
        stdout=follower, stderr=follower,
    )  # fmt: skip
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    proc.wait(timeout=60)
    os.close(leader)
    text = seen.decode("utf-8", "replace")
    assert proc.returncode == 3, text[-2000:]
    assert "connecting to the Prefect server" in text
    assert "reading the videos' metadata" in text or "retrying the site in 1 s" in text
    assert "retrying the site in 1 s" in text
    assert "Error: cannot reach the site for the video" in text
    assert "Traceback" not in text
