"""The shared renderer prints data as it is, in every format."""

from __future__ import annotations

import json

from ytarchive.cli.app import OutputFormat, render

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
