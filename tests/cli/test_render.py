"""The shared renderer: tables that fit a terminal or a pipe; JSON and CSV exact."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from rich.console import Console

from ytarchive.cli.app import OutputFormat, render
from ytarchive.cli.tables import Column, human_duration, human_size

ROWS = [{"video_id": "dQw4w9WgXcQ", "file_path": "videos/Song [dQw4w9WgXcQ].mp4", "tags": ["a"]}]


def test_table_keeps_brackets_in_cells(capsys) -> None:
    render(ROWS, OutputFormat.table)
    assert "videos/Song [dQw4w9WgXcQ].mp4" in capsys.readouterr().out


def test_json_is_a_list_of_objects(capsys) -> None:
    render(ROWS, OutputFormat.json)
    assert json.loads(capsys.readouterr().out) == ROWS


def test_csv_has_a_header_and_json_encoded_lists(capsys) -> None:
    render(ROWS, OutputFormat.csv, columns=["video_id", "tags"])
    assert capsys.readouterr().out == 'video_id,tags\ndQw4w9WgXcQ,"[""a""]"\n'


# -- tables that fit ----------------------------------------------------------------------------

LONG = [
    {
        "video_id": "_P5iM-dxssW",
        "title": "A very long title about a great many things, " * 3,
        "file_path": "/srv/archive/videos/Some Channel/A very long title [_P5iM-dxssW].mp4",
        "bytes": 14924275,
        "duration_seconds": 3723,
        "published_at": datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
    },
    {
        "video_id": "-bbbbbbbbbb",
        "title": "Short",
        "file_path": None,
        "bytes": None,
        "duration_seconds": 205,
        "published_at": None,
    },
]
SPECS = [
    Column("video_id", kind="id", priority=1),
    Column("title", priority=2, min_width=12),
    Column("bytes", "size", kind="size", priority=3),
    Column("duration_seconds", "duration", kind="duration", priority=3),
    Column("published_at", "published", kind="date", priority=4),
    Column("file_path", "file", kind="path", priority=5, min_width=12),
]


def _terminal(width: int) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=True, width=width, color_system=None), buf


@pytest.mark.parametrize("width", [80, 160])
def test_a_terminal_table_fits_its_width_and_never_cuts_an_id(width: int) -> None:
    console, buf = _terminal(width)
    render(LONG, OutputFormat.table, columns=SPECS, title="Videos", console=console)
    lines = buf.getvalue().splitlines()
    assert max(len(line) for line in lines) <= width
    rows = [line for line in lines if line.startswith(("_P5iM-dxssW", "-bbbbbbbbbb"))]
    assert len(rows) == 2  # each id whole, each row on one line
    assert "…" in rows[0]  # the long title is cut with an ellipsis
    assert "14.9 MB" in rows[0] and "1:02:03" in rows[0] and "3:25" in rows[1]


def test_when_too_narrow_the_least_important_go_and_the_caption_names_them() -> None:
    console, buf = _terminal(60)
    render(LONG, OutputFormat.table, columns=SPECS, console=console)
    out = buf.getvalue()
    header = out.splitlines()[0]
    assert header.split()[:4] == ["video_id", "title", "size", "duration"]
    assert "file" not in header
    assert "hidden: file (see --format csv)" in " ".join(out.split())


def test_at_160_columns_a_path_keeps_its_end() -> None:
    console, buf = _terminal(160)
    render(LONG, OutputFormat.table, columns=SPECS, console=console)
    out = buf.getvalue()
    assert "hidden:" not in out
    assert "2024-05-01" in out and "12:30" not in out  # a date column shows the date
    assert "…" in out and "[_P5iM-dxssW].mp4" in out  # cut at the start: the id stays


def test_piped_a_table_is_plain_aligned_text_with_every_value_whole(capsys) -> None:
    render(LONG, OutputFormat.table, columns=SPECS, title="Videos")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3  # the header and one line per row; no title, no rules
    assert not any(ch in "".join(lines) for ch in "│┃━─┏└…")
    assert lines[0].split() == ["video_id", "title", "size", "duration", "published", "file"]
    assert LONG[0]["title"].strip() in lines[1] and LONG[0]["file_path"] in lines[1]
    assert lines[1].startswith("_P5iM-dxssW  ") and lines[2].startswith("-bbbbbbbbbb  ")
    assert lines[1].index("14.9 MB") == lines[0].index("size") - 3  # right-aligned under it
    assert lines[1].index("2024-05-01") == lines[0].index("published")


def test_json_and_csv_keep_the_raw_numbers(capsys) -> None:
    render(LONG, OutputFormat.json, columns=SPECS)
    rows = json.loads(capsys.readouterr().out)
    assert (rows[0]["bytes"], rows[0]["duration_seconds"]) == (14924275, 3723)
    assert rows[0]["published_at"] == "2024-05-01T12:30:00+00:00"
    render(LONG, OutputFormat.csv, columns=SPECS)
    got = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert (got[0]["bytes"], got[0]["duration_seconds"]) == ("14924275", "3723")
    assert got[0]["title"] == LONG[0]["title"]


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (5000, "5.0 kB"),
        (14924275, "14.9 MB"),
        (2_500_000_000, "2.5 GB"),
    ],
)
def test_human_sizes(count: int, shown: str) -> None:
    assert human_size(count) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"), [(0, "0:00"), (59, "0:59"), (205, "3:25"), (3723, "1:02:03")]
)
def test_human_durations(seconds: int, shown: str) -> None:
    assert human_duration(seconds) == shown


def test_a_blank_cell_can_have_a_name_in_the_table_only(capsys) -> None:
    rows = [{"channel_title": None, "videos": 2}]
    specs = [Column("channel_title", "channel", blank="(no channel)"), "videos"]
    render(rows, OutputFormat.table, columns=specs)
    assert "(no channel)" in capsys.readouterr().out
    render(rows, OutputFormat.csv, columns=specs)
    assert capsys.readouterr().out == "channel_title,videos\n,2\n"


def test_plain_keys_make_ids_whole_and_numbers_right_aligned() -> None:
    console, buf = _terminal(40)
    rows = [{"plan_id": "3f2a9c1e-aaaa-bbbb", "note": "x" * 80, "n": 7}]
    render(rows, OutputFormat.table, columns=["plan_id", "note", "n"], console=console)
    out = buf.getvalue()
    assert "3f2a9c1e-aaaa-bbbb" in out and max(len(line) for line in out.splitlines()) <= 40
