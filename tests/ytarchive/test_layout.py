"""Where files go: names carry the id, writes are atomic, locks hold across processes."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import threading
import time
from pathlib import Path

import pytest

from ytarchive import layout
from ytarchive.hosts import host_name
from ytarchive.models import VideoMetadata


def test_video_filename_has_title_slug_and_id() -> None:
    name = layout.video_filename("Hello: World / part [2]?", "dQw4w9WgXcQ", "mp4")
    assert name == "Hello World part 2 [dQw4w9WgXcQ].mp4"


def test_video_filename_without_title_and_for_non_youtube_keys() -> None:
    assert layout.video_filename(None, "dQw4w9WgXcQ", ".webm") == "untitled [dQw4w9WgXcQ].webm"
    # safe on every filesystem, and one to one: "/" and " " are spelled out, not collapsed
    assert layout.video_filename("Clip", "generic:a/b c", "mp4") == "Clip [generic_a.2Fb.20c].mp4"


EDGE_IDS = [
    "_KV5zjR3j1t",
    "KV5zjR3j1t_",
    "-abcdefghij",
    "__abcdefgh_",
    "-_-_-_-_-_-",
    "a.bcdefghij",
]


@pytest.mark.parametrize("video_id", EDGE_IDS[:5])
def test_a_youtube_id_is_kept_exactly_in_every_path(tmp_path: Path, video_id: str) -> None:
    assert layout.safe_key(video_id) == video_id
    assert layout.video_filename("T", video_id, "mp4") == f"T [{video_id}].mp4"
    assert layout.metadata_path(tmp_path, video_id).name == f"{video_id}.json"
    assert layout.thumbnail_path(tmp_path, video_id, "jpg").name == f"{video_id}.jpg"
    assert layout.temp_dir(tmp_path, video_id) == tmp_path / ".tmp" / host_name() / video_id
    with layout.video_lock(tmp_path, video_id):
        assert (tmp_path / ".locks" / host_name() / f"{video_id}.lock").exists()


def test_no_two_keys_share_a_name() -> None:
    keys = [
        *EDGE_IDS,
        "KV5zjR3j1t",  # what the old name of _KV5zjR3j1t and KV5zjR3j1t_ was
        "generic:a/b c", "generic:a_b_c", "generic_a_b_c", "generic:a.2Fb.20c", "generic:a:b:c",
        "ab:cdefghij", "ab_cdefghij", "ab.3Acdefghij", "vimeo:x", "vimeo_x", "vimeo:_x",
        "url-0123456789abcdef", ":x", ".x", "x" * 300, "x" * 301, "é:ü", "e:u",
    ]  # fmt: skip
    names = [layout.safe_key(k) for k in keys]
    assert len(set(names)) == len(keys)
    for key, name in zip(keys, names, strict=True):
        assert re.fullmatch(r"[A-Za-z0-9_.-]{1,120}", name), (key, name)
        if name != key:  # a changed key never takes the name of a YouTube id
            assert not re.fullmatch(r"[A-Za-z0-9_-]{11}", name), (key, name)


def test_find_video_files_tells_apart_ids_the_old_names_merged(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    for video_id in ("_KV5zjR3j1t", "KV5zjR3j1t_"):
        (videos / layout.video_filename("Same title", video_id, "mp4")).write_bytes(b"x")
    found = layout.find_video_files(tmp_path, "_KV5zjR3j1t")
    assert [p.name for p in found] == ["Same title [_KV5zjR3j1t].mp4"]


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
        removed = layout.sweep_temp(tmp_path, stale_after=60)
    assert removed == [f"{host_name()}/stale"]
    assert not stale.exists()
    assert (live / "media.f1.mp4.part").exists()


def _partial_of(root: Path, host: str, key: str, age: float) -> Path:
    """What a download on `host` left of `key`, last written `age` seconds ago."""
    folder = root / ".tmp" / host / key
    folder.mkdir(parents=True)
    part = folder / "media.f1.mp4.part"
    part.write_bytes(b"partial")
    when = time.time() - age
    for path in (part, folder):
        os.utime(path, (when, when))
    return folder


def test_sweep_leaves_another_hosts_partials_until_they_are_older_than_a_lease(
    tmp_path: Path,
) -> None:
    fresh = _partial_of(tmp_path, "other-host", "fresh", age=30)
    old = _partial_of(tmp_path, "other-host", "old", age=90)
    assert layout.sweep_temp(tmp_path, stale_after=60) == ["other-host/old"]
    assert not old.exists()
    assert (fresh / "media.f1.mp4.part").exists()  # its host may be writing it now


def test_the_claim_holder_adopts_what_other_hosts_left_of_its_video(tmp_path: Path) -> None:
    older = _partial_of(tmp_path, "host-a", "vid", age=20)
    newer = _partial_of(tmp_path, "host-b", "vid", age=10)
    other_video = _partial_of(tmp_path, "host-b", "other", age=10)
    assert layout.adopt_temp(tmp_path, "vid") == ["host-a", "host-b"]
    mine = layout.temp_dir(tmp_path, "vid")
    assert (mine / "media.f1.mp4.part").read_bytes() == b"partial"  # resumed from host-b's
    assert not older.exists() and not newer.exists()
    assert other_video.exists()  # not this video: not ours to take
    assert layout.adopt_temp(tmp_path, "vid") == []


@pytest.mark.parametrize("data", [b"", b"abc" * 1000])
def test_atomic_write_replaces_whole(tmp_path: Path, data: bytes) -> None:
    target = tmp_path / "sub" / "f.bin"
    layout.atomic_write_bytes(target, b"old")
    layout.atomic_write_bytes(target, data)
    assert target.read_bytes() == data
    assert sorted(os.listdir(target.parent)) == ["f.bin"]


_KILLED_MID_WRITE = """
import os, sys, time
from pathlib import Path
from ytarchive import layout
root, staged = Path(sys.argv[1]), sys.argv[2] == "staged"
os.fsync = lambda fd: (print("writing", flush=True), time.sleep(60))  # stalls mid-write
work = root / ".tmp" / "host" / "key"
if staged:
    with layout.writes_staged_in(work):
        layout.atomic_write_text(root / "videos" / "Clip [key].info.json", "{}")
else:
    layout.atomic_write_text(root / "videos" / "Clip [key].info.json", "{}")
"""


@pytest.mark.parametrize("staged", [True, False])
def test_a_write_killed_midway_leaves_its_temp_file_only_in_the_work_dir_when_staged(
    tmp_path: Path, staged: bool
) -> None:
    """A download's sidecars are written staged in its .tmp/ work dir: kill -9 mid-write leaves
    nothing in videos/ (the video's next download, or the sweep of .tmp/, removes the rest)."""
    import signal
    import subprocess
    import sys

    work = tmp_path / ".tmp" / "host" / "key"
    work.mkdir(parents=True)
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_MID_WRITE, str(tmp_path), "staged" if staged else "beside"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "writing"
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    in_videos = sorted(p.name for p in (tmp_path / "videos").iterdir())
    in_work = sorted(p.name for p in work.iterdir())
    if staged:
        assert in_videos == []
        assert len(in_work) == 1 and in_work[0].startswith(".Clip [key].info.json.")
    else:  # unstaged (metadata written outside a download): beside the final name, as before
        assert len(in_videos) == 1 and in_videos[0].endswith(".tmp") and in_work == []
