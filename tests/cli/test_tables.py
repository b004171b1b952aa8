"""`metadata` and `playlist info` tables, at 80 columns and piped, as a user reads them."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

ANSI = re.compile(r"\x1b\[[0-9;]*m")
LONG = "A title long enough that it could never fit in an eighty column terminal at all"


def _metadata(env, ids: list[str], **extra: str) -> list[str]:
    full = {**os.environ, **env.env, "YTARCHIVE_YOUTUBE_API_BACKOFF": "0.01", **extra}
    result = subprocess.run(
        [sys.executable, "-m", "ytarchive", "metadata", "--", *ids],  # ids may start with -
        capture_output=True,
        text=True,
        env=full,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return ANSI.sub("", result.stdout).splitlines()


@pytest.fixture
def videos(ytarchive_env) -> list[str]:
    lib = ytarchive_env.testbed.lib
    made = [
        lib.add_video(video_id="-dxssW2wP5i", title=LONG, channel="Some Channel", duration=205),
        lib.add_video(video_id="_P5iMdxssW0", title=LONG, duration=3723),
    ]
    return [v.video_id for v in made]


def test_metadata_at_80_columns_in_a_terminal_keeps_ids_whole(ytarchive_env, videos) -> None:
    lines = _metadata(ytarchive_env, videos, TTY_COMPATIBLE="1", NO_COLOR="1", COLUMNS="80")
    assert max(len(line) for line in lines) <= 80
    rows = {line.split()[0]: line for line in lines if line.split() and line.split()[0] in videos}
    assert set(rows) == set(videos)  # one line each, the id whole
    assert "…" in rows[videos[0]] and "3:25" in rows[videos[0]]
    assert "1:02:03" in rows[videos[1]]


def test_metadata_piped_is_plain_and_whole(ytarchive_env, videos) -> None:
    lines = _metadata(ytarchive_env, videos, COLUMNS="80")
    assert len(lines) == 3 and lines[0].split()[0] == "video_id"
    assert all(LONG in line for line in lines[1:])
    assert [line.split()[0] for line in lines[1:]] == videos
