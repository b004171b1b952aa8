"""What a new user tried (issue 14), and what they should have seen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import video_files
from ytarchive.cli import main

ROOT = Path(__file__).resolve().parents[2]


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
