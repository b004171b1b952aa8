"""Ids that begin with `_` or `-` are kept exactly: files, metadata, thumbnails, catalog, runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import assert_no_partials, video_files
from tests.helpers import cli_in_process as _cli
from tests.testbed.library import EDGE_VIDEO_IDS
from ytarchive.catalog import Catalog


def _assert_archived_under_its_id(root: Path, video_id: str, title: str) -> None:
    assert (root / "videos" / f"{title} [{video_id}].mp4").is_file()
    record = json.loads((root / "metadata" / f"{video_id}.json").read_text())
    assert record["video_id"] == video_id
    assert (root / "thumbnails" / f"{video_id}.jpg").is_file()


@pytest.mark.slow
def test_a_playlist_of_edge_ids_archives_each_under_its_exact_id(cli_env, capsys) -> None:
    bed = cli_env.testbed
    ids = list(EDGE_VIDEO_IDS)
    for n, video_id in enumerate(ids):
        bed.lib.add_video(video_id, title=f"Edge {n}")
    playlist = bed.lib.add_playlist(video_ids=ids)
    url = f"https://www.youtube.com/playlist?list={playlist.playlist_id}"
    code, out, err = _cli(capsys, "playlist", "download", url, "-q", "360p", "--format", "json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["counts"] == {"archived": len(ids), "unavailable": 0, "failed": 0}
    by_id = {r["video_id"]: r for r in summary["results"]}
    assert sorted(by_id) == sorted(ids)
    root = cli_env.output_dir
    for n, video_id in enumerate(ids):
        assert by_id[video_id]["file_path"] == f"videos/Edge {n} [{video_id}].mp4"
        _assert_archived_under_its_id(root, video_id, f"Edge {n}")
    assert len(video_files(root)) == len(ids)  # no two ids share a file
    assert sorted(p.stem for p in (root / "metadata").iterdir()) == sorted(ids)
    assert sorted(p.stem for p in (root / "thumbnails").iterdir()) == sorted(ids)
    catalog = Catalog(root)
    _, rows = catalog.sql("SELECT video_id, count(*) FROM download_history GROUP BY video_id")
    assert dict(rows) == dict.fromkeys(ids, 1)  # one catalog row each
    assert sorted(catalog.metadata(ids)) == sorted(ids)
    assert {r["video_id"]: r["status"] for r in catalog.list_videos()} == dict.fromkeys(
        ids, "archived"
    )
    assert_no_partials(root)

    code, out, _ = _cli(capsys, "playlist", "status", summary["flow_run_id"], "--format", "json")
    assert code == 0
    run_ids = [v["video_id"] for v in json.loads(out)["videos"]]  # from "download-<id>" runs
    assert sorted(run_ids) == sorted(ids)

    bed.media.reset()
    code, out, err = _cli(capsys, "playlist", "download", url, "--format", "json")
    assert code == 0, err
    again = json.loads(out)
    assert (again["downloaded"], again["skipped"]) == (0, len(ids))  # found under their ids
    assert bed.media.request_count() == 0


@pytest.mark.slow
def test_a_dash_id_after_double_dash_is_downloaded(cli_env, capsys) -> None:
    bed = cli_env.testbed
    video_id = "-abcdefghij"
    bed.lib.add_video(video_id, title="Dash")
    code, out, err = _cli(capsys, "download", "-q", "360p", "--format", "json", "--", video_id)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["flow_run_name"] == f"videos-{video_id}"
    [row] = summary["results"]
    assert (row["video_id"], row["status"]) == (video_id, "archived")
    _assert_archived_under_its_id(cli_env.output_dir, video_id, "Dash")


def test_a_bare_dash_id_gets_a_one_line_hint(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "ytarchive", "download", "-abcdefghij"],
        capture_output=True,
        text=True,
        env={**os.environ, "YTARCHIVE_OUTPUT_DIR": str(out_dir)},
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "Error: '-abcdefghij' looks like a video id that begins with '-': put `--` before it: "
        "ytarchive download -- -abcdefghij\n"
    )
    assert not out_dir.exists()


@pytest.mark.parametrize("args", [["-o", "-abcdefghij", "x"], ["--", "-abcdefghij", "x"]])
def test_no_hint_for_an_option_value_or_after_double_dash(capsys, args) -> None:
    code, _, err = _cli(capsys, "download", *args)
    assert code == 2
    assert err == "Error: not a URL or video id: 'x'\n"
