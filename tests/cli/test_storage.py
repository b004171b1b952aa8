"""`ytarchive storage list|stats|search|compact` and `ytarchive sql`, as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ytarchive.catalog import Catalog
from ytarchive.cli import main
from ytarchive.models import DownloadResult, VideoMetadata

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def _run(*args: str, root: Path, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "YTARCHIVE_OUTPUT_DIR": str(root), "COLUMNS": "200", **(extra_env or {})}
    return subprocess.run(
        [sys.executable, "-m", "ytarchive", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=60,
    )


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    catalog = Catalog(tmp_path)
    catalog.record_metadata(
        [
            VideoMetadata(
                video_id="aaaaaaaaaaa",
                title="Moonlight Sonata (piano)",
                description="Beethoven, played slowly",
                tags=["classical", "Piano"],
                channel_title="Keys",
                duration_seconds=900,
                published_at=T0,
                source="youtube_api",
            ),
            VideoMetadata(
                video_id="bbbbbbbbbbb",
                title="Cat plays guitar",
                description="my cat on the piano later",
                channel_title="Pets",
                duration_seconds=30,
                published_at=T0 + timedelta(days=1),
                source="youtube_api",
            ),
            VideoMetadata(video_id="ccccccccccc", title="Gone", source="youtube_api"),
        ]
    )
    catalog.record_outcomes(
        [
            DownloadResult(
                video_id="aaaaaaaaaaa",
                status="archived",
                file_path="videos/Moonlight [aaaaaaaaaaa].mp4",
                bytes=5000,
                width=1280,
                height=720,
                format="mp4",
                recorded_at=T0,
            ),
            DownloadResult(
                video_id="bbbbbbbbbbb",
                status="failed",
                reason="HTTP Error 500",
                recorded_at=T0 + timedelta(hours=1),
            ),
            DownloadResult(
                video_id="ccccccccccc",
                status="unavailable",
                reason="Private video",
                recorded_at=T0 + timedelta(hours=2),
            ),
        ]
    )
    return tmp_path


def test_list_as_json_has_one_row_per_video_with_its_outcome(archive: Path) -> None:
    result = _run("storage", "list", "--format", "json", root=archive)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["video_id"] for r in rows] == ["bbbbbbbbbbb", "aaaaaaaaaaa", "ccccccccccc"]
    first = rows[1]
    for key in (
        "video_id",
        "title",
        "channel_title",
        "status",
        "reason",
        "file_path",
        "bytes",
        "width",
        "height",
        "duration_seconds",
        "published_at",
        "archived_at",
    ):
        assert key in first
    assert (first["status"], first["bytes"], first["height"]) == ("archived", 5000, 720)
    assert first["archived_at"].startswith("2024-05-01T00:00:00")
    assert rows[2]["reason"] == "Private video"


def test_list_filters_by_status_and_pages(archive: Path, capsys) -> None:
    assert main(["storage", "list", "--status", "failed", "-f", "csv", "-o", str(archive)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["video_id"], r["reason"]) for r in rows] == [("bbbbbbbbbbb", "HTTP Error 500")]
    assert (
        main(["storage", "list", "--limit", "1", "--offset", "1", "-f", "json", "-o", str(archive)])
        == 0
    )
    assert [r["video_id"] for r in json.loads(capsys.readouterr().out)] == ["aaaaaaaaaaa"]


def test_list_as_a_table_names_the_videos(archive: Path) -> None:
    result = _run("storage", "list", root=archive)
    assert result.returncode == 0, result.stderr
    assert "Moonlight Sonata (piano)" in result.stdout
    assert "archived" in result.stdout and "unavailable" in result.stdout


def test_a_bad_status_is_an_input_error(archive: Path) -> None:
    result = _run("storage", "list", "--status", "done", root=archive)
    assert result.returncode == 2
    assert result.stderr.startswith("Error: --status must be one of")
    assert "Traceback" not in result.stderr


def test_stats_as_json(archive: Path) -> None:
    result = _run("storage", "stats", "--format", "json", root=archive)
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert (stats["archived"], stats["unavailable"], stats["failed"]) == (1, 1, 1)
    assert stats["total_bytes"] == 5000 and stats["total_duration_seconds"] == 900
    channels = {c["channel_title"]: c for c in stats["channels"]}
    assert channels["Keys"]["archived"] == 1 and channels["Pets"]["failed"] == 1


def test_stats_as_table_and_csv(archive: Path, capsys) -> None:
    assert main(["storage", "stats", "-o", str(archive), "-f", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["channel_title"] == "(all)" and rows[0]["total_bytes"] == "5000"
    assert {r["channel_title"] for r in rows[1:]} == {"Keys", "Pets", ""}
    result = _run("storage", "stats", root=archive)
    assert "total_bytes" in result.stdout and "5.0 kB" in result.stdout and "Keys" in result.stdout


def test_search_every_word_any_case_title_matches_first(archive: Path) -> None:
    result = _run("storage", "search", "PIANO", "--format", "json", root=archive)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(r["video_id"], r["title_match"]) for r in rows] == [
        ("aaaaaaaaaaa", True),
        ("bbbbbbbbbbb", False),
    ]
    result = _run("storage", "search", "cat piano", "-f", "json", root=archive)
    assert [r["video_id"] for r in json.loads(result.stdout)] == ["bbbbbbbbbbb"]
    result = _run("storage", "search", "piano", "violin", root=archive)
    assert result.returncode == 0 and "No video matches" in result.stderr


def test_sql_reads_and_refuses_writes(archive: Path) -> None:
    result = _run(
        "sql",
        "SELECT status, count(*) AS n FROM downloads GROUP BY 1 ORDER BY 1",
        "-f",
        "json",
        root=archive,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"status": "archived", "n": 1},
        {"status": "failed", "n": 1},
        {"status": "unavailable", "n": 1},
    ]
    before = sorted(str(p) for p in archive.rglob("*"))
    for statement in ("DROP VIEW videos", "COPY (SELECT 1) TO 'x.csv'", "SELECT 1; SELECT 2"):
        result = _run("sql", statement, root=archive)
        assert result.returncode == 2, statement
        assert result.stderr.startswith("Error: SQL:"), result.stderr
        assert result.stdout == ""
    assert sorted(str(p) for p in archive.rglob("*")) == before


def test_sql_error_in_a_select_is_an_input_error(archive: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["sql", "SELECT no_such_column FROM videos", "-o", str(archive)])
    assert exit_info.value.code == 2
    assert "no_such_column" in capsys.readouterr().err


def test_an_archive_with_no_catalog_yet(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()  # the archive root exists; nothing has been recorded in it
    assert (
        json.loads(
            _run(
                "storage",
                "list",
                "-f",
                "json",
                root=tmp_path,
                extra_env={"YTARCHIVE_OUTPUT_DIR": str(empty)},
            ).stdout
        )
        == []
    )
    stats = json.loads(
        _run(
            "storage",
            "stats",
            "-f",
            "json",
            root=tmp_path,
            extra_env={"YTARCHIVE_OUTPUT_DIR": str(empty)},
        ).stdout
    )
    assert stats["videos"] == 0 and stats["channels"] == []
    result = _run(
        "sql",
        "SELECT count(*) AS n FROM archive",
        "-f",
        "json",
        root=tmp_path,
        extra_env={"YTARCHIVE_OUTPUT_DIR": str(empty)},
    )
    assert json.loads(result.stdout) == [{"n": 0}]
    assert list(empty.iterdir()) == []  # reading wrote nothing


def test_compact_keeps_the_answers(archive: Path, capsys, prefect_server: str) -> None:
    """One compaction at a time (this machine's lock; in a fleet, the server's election)."""
    assert main(["storage", "list", "-f", "json", "-o", str(archive)]) == 0
    before = capsys.readouterr().out
    assert main(["storage", "compact", "-f", "json", "-o", str(archive)]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["compaction"] == "full" and done["videos"] == 1
    assert main(["storage", "list", "-f", "json", "-o", str(archive)]) == 0
    assert capsys.readouterr().out == before
    assert main(["storage", "compact", "--if-needed", "-o", str(archive)]) == 0
    assert "Nothing was due." in capsys.readouterr().err


def test_the_archive_root_comes_from_ytarchive_toml(archive: Path, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "ytarchive.toml").write_text(f'output_dir = "{archive}"\n')
    env = {k: v for k, v in os.environ.items() if k.upper() != "YTARCHIVE_OUTPUT_DIR"}
    result = subprocess.run(
        [sys.executable, "-m", "ytarchive", "storage", "stats", "-f", "json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=workdir,
        timeout=60,
    )
    assert json.loads(result.stdout)["archived"] == 1


@pytest.mark.parametrize(
    "args",
    [
        ["storage", "stats"],
        ["storage", "list", "-f", "json"],
        ["storage", "search", "piano"],
        ["sql", "SELECT count(*) FROM videos"],
    ],
)
def test_read_only_commands_never_import_prefect_or_yt_dlp(archive: Path, args: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ytarchive", *args],
        capture_output=True,
        text=True,
        cwd=archive,
        timeout=60,
        env={**os.environ, "YTARCHIVE_OUTPUT_DIR": str(archive)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "duckdb" in imported  # the import log is read right
    assert "prefect" not in imported
    assert "yt_dlp" not in imported
    assert "googleapiclient" not in imported


# -- tables that fit ----------------------------------------------------------------------------

WIDE_IDS = ["_P5iMdxssW0", "-dxssW2wP5i", "W2wP5iMdxss", "Zz9_-Aa8Bb7"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
CHANNEL = "A Channel With Quite A Long Name"


@pytest.fixture
def wide_archive(tmp_path: Path) -> Path:
    """Four videos with long titles, channels and paths, as the catalog records them."""
    catalog = Catalog(tmp_path)
    catalog.record_metadata(
        [
            VideoMetadata(
                video_id=vid,
                title=f"Part {n}: a long title about the many things that happened that day",
                channel_title=CHANNEL if n % 2 else None,
                duration_seconds=205 + 3518 * n,
                published_at=T0 + timedelta(days=n),
                source="youtube_api",
            )
            for n, vid in enumerate(WIDE_IDS)
        ]
    )
    catalog.record_outcomes(
        [
            DownloadResult(
                video_id=vid,
                status="archived",
                file_path=f"{tmp_path}/videos/{CHANNEL}/Part {n} [{vid}].mp4",
                bytes=14924275 * (n + 1),
                width=1920,
                height=1080,
                format="mp4",
                recorded_at=T0 + timedelta(days=n, hours=1),
            )
            for n, vid in enumerate(WIDE_IDS)
        ]
    )
    return tmp_path


def test_list_piped_to_a_file_at_80_columns_keeps_every_id_whole(wide_archive: Path) -> None:
    out = wide_archive / "list.txt"
    env = {**os.environ, "YTARCHIVE_OUTPUT_DIR": str(wide_archive), "COLUMNS": "80"}
    with out.open("w") as sink:
        result = subprocess.run(
            [sys.executable, "-m", "ytarchive", "storage", "list"],
            stdout=sink,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=wide_archive,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 1 + len(WIDE_IDS)  # a header, then one line per video: nothing wraps
    assert [line.split()[0] for line in lines[1:]] == WIDE_IDS[::-1]  # newest published first
    assert not any(ch in out.read_text() for ch in "│┃━─…")
    assert f"{CHANNEL}/Part 3 [Zz9_-Aa8Bb7].mp4" in lines[1]
    assert "59.7 MB" in lines[1] and "2:59:19" in lines[1]


def _in_a_terminal(root: Path, width: int, *args: str) -> list[str]:
    """What a terminal of that width shows (rich treats TTY_COMPATIBLE=1 as a terminal)."""
    env = {"TTY_COMPATIBLE": "1", "NO_COLOR": "1", "COLUMNS": str(width)}
    result = _run(*args, root=root, extra_env=env)
    assert result.returncode == 0, result.stderr
    return ANSI.sub("", result.stdout).splitlines()


@pytest.mark.parametrize("width", [80, 160])
def test_list_in_a_terminal_fits_and_keeps_every_id_whole(wide_archive: Path, width: int) -> None:
    lines = _in_a_terminal(wide_archive, width, "storage", "list")
    assert max(len(line) for line in lines) <= width
    rows = [line for line in lines if line.split() and line.split()[0] in WIDE_IDS]
    assert len(rows) == len(WIDE_IDS)  # one line each: no id split, no cell wrapped
    assert all("…" in row for row in rows)  # the long titles are cut, with an ellipsis
    assert all(" MB " in row + " " for row in rows)
    if width == 160:
        header = next(line for line in lines if line.startswith("video_id"))
        assert "file" in header and "published" in header


def test_stats_table_names_the_channelless_row_and_reads_human(wide_archive: Path) -> None:
    result = _run("storage", "stats", root=wide_archive)
    assert result.returncode == 0, result.stderr
    assert "(no channel)" in result.stdout
    assert "149.2 MB" in result.stdout  # 14924275 * (1+2+3+4) bytes
    assert "6:05:28" in result.stdout  # 205*4 + 3518*6 seconds
    stats = json.loads(_run("storage", "stats", "-f", "json", root=wide_archive).stdout)
    assert stats["total_bytes"] == 149242750 and stats["total_duration_seconds"] == 21928
    assert {c["channel_title"] for c in stats["channels"]} == {
        "A Channel With Quite A Long Name",
        None,
    }
    rows = list(
        csv.DictReader(io.StringIO(_run("storage", "stats", "-f", "csv", root=wide_archive).stdout))
    )
    assert rows[0]["total_bytes"] == "149242750"
    assert {r["channel_title"] for r in rows} == {"(all)", CHANNEL, ""}


def test_list_as_csv_and_json_stays_exact(wide_archive: Path) -> None:
    rows = json.loads(_run("storage", "list", "-f", "json", root=wide_archive).stdout)
    assert rows[0]["bytes"] == 59697100 and rows[0]["duration_seconds"] == 10759
    got = list(
        csv.DictReader(io.StringIO(_run("storage", "list", "-f", "csv", root=wide_archive).stdout))
    )
    assert (got[0]["video_id"], got[0]["bytes"]) == ("Zz9_-Aa8Bb7", "59697100")
    assert got[0]["published_at"] == "2024-05-04T00:00:00+00:00"
