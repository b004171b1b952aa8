"""Where files go: names carry the id, writes are atomic, locks hold across processes."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
from pathlib import Path

import pytest

from ytarchive import layout
from ytarchive.models import VideoMetadata


def test_video_filename_has_title_slug_and_id() -> None:
    name = layout.video_filename("Hello: World / part [2]?", "dQw4w9WgXcQ", "mp4")
    assert name == "Hello World part 2 [dQw4w9WgXcQ].mp4"


def test_video_filename_without_title_and_for_non_youtube_keys() -> None:
    assert layout.video_filename(None, "dQw4w9WgXcQ", ".webm") == "untitled [dQw4w9WgXcQ].webm"
    assert layout.video_filename("Clip", "generic:a/b c", "mp4") == "Clip [generic_a_b_c].mp4"


def test_slug_keeps_unicode_and_stays_short() -> None:
    assert layout.slugify("Café – naïve 日本語") == "Café – naïve 日本語"
    long = layout.slugify("x" * 500)
    assert len(long) <= layout.MAX_SLUG
    assert len(layout.video_filename("é" * 500, "dQw4w9WgXcQ", "mp4").encode()) < 255


def test_find_video_files_matches_only_that_id(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("A [aaaaaaaaaaa].mp4", "B [bbbbbbbbbbb].mkv", "A [aaaaaaaaaaa].mp4.part"):
        (videos / name).write_bytes(b"x")
    found = layout.find_video_files(tmp_path, "aaaaaaaaaaa")
    assert [p.name for p in found] == ["A [aaaaaaaaaaa].mp4"]
    assert layout.find_video_files(tmp_path / "nowhere", "aaaaaaaaaaa") == []


def test_write_metadata_is_the_record_and_leaves_no_temp(tmp_path: Path) -> None:
    record = VideoMetadata(video_id="dQw4w9WgXcQ", title="T", source="youtube_api")
    path = layout.write_metadata(tmp_path, record)
    assert path == tmp_path / "metadata" / "dQw4w9WgXcQ.json"
    assert json.loads(path.read_text())["title"] == "T"
    assert VideoMetadata.model_validate_json(path.read_text()) == record
    assert os.listdir(path.parent) == ["dQw4w9WgXcQ.json"]


def test_relative_paths_use_forward_slashes(tmp_path: Path) -> None:
    assert layout.relative(tmp_path, tmp_path / "videos" / "a.mp4") == "videos/a.mp4"


def _hold_lock(root: str, video_id: str, ready, release) -> None:  # in a child process
    with layout.video_lock(Path(root), video_id):
        ready.set()
        release.wait(10)


def test_video_lock_excludes_another_process_until_released(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_hold_lock, args=(str(tmp_path), "vid", ready, release))
    child.start()
    try:
        assert ready.wait(10)
        started = time.monotonic()
        threading.Timer(0.3, release.set).start()  # the holder lets go in a moment
        with layout.video_lock(tmp_path, "vid") as free:
            waited = time.monotonic() - started
        assert free is False  # we had to wait for the holder
    finally:
        release.set()
        child.join(10)
    assert waited >= 0.25
    with layout.video_lock(tmp_path, "vid") as free:
        assert free is True


def test_lock_of_a_killed_holder_is_released(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_hold_lock, args=(str(tmp_path), "vid", ready, release))
    child.start()
    assert ready.wait(10)
    child.kill()
    child.join(10)
    with layout.video_lock(tmp_path, "vid") as free:
        assert free is True


def test_sweep_temp_removes_what_nobody_holds(tmp_path: Path) -> None:
    stale = layout.temp_dir(tmp_path, "stale")
    live = layout.temp_dir(tmp_path, "live")
    for folder in (stale, live):
        folder.mkdir(parents=True)
        (folder / "media.f1.mp4.part").write_bytes(b"partial")
    with layout.video_lock(tmp_path, "live"):
        removed = layout.sweep_temp(tmp_path)
    assert removed == ["stale"]
    assert not stale.exists()
    assert (live / "media.f1.mp4.part").exists()


@pytest.mark.parametrize("data", [b"", b"abc" * 1000])
def test_atomic_write_replaces_whole(tmp_path: Path, data: bytes) -> None:
    target = tmp_path / "sub" / "f.bin"
    layout.atomic_write_bytes(target, b"old")
    layout.atomic_write_bytes(target, data)
    assert target.read_bytes() == data
    assert sorted(os.listdir(target.parent)) == ["f.bin"]
