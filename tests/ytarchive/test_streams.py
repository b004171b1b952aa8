"""One video's streams at once, and concurrent fragments: real yt-dlp, ffmpeg, the stand-in."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import assert_no_partials
from tests.testbed.media import probe
from tests.testbed.segmented import SegmentedMedia, generate_segmented_media
from ytarchive.config import Settings
from ytarchive.downloader import DownloadProgress, download_video
from ytarchive.errors import YTArchiveError

VIDEO_720 = "video-720p.mp4"
AUDIO = "audio.m4a"


@pytest.fixture(scope="module")
def segmented(tmp_path_factory: pytest.TempPathFactory) -> SegmentedMedia:
    """2 s at 360p in 0.2 s segments: a timeline of 10 video and about 10 audio fragments."""
    return generate_segmented_media(tmp_path_factory.mktemp("segmented"), 2.0, 0.2, 360)


def _in_flight_together(bed, video_id: str, a: str, b: str) -> bool:
    """Whether a request for file `a` and one for file `b` of this video were open at once."""
    reqs = [r for r in bed.media.requests if r.video_id == video_id and r.kind == "media"]
    firsts = [r for r in reqs if r.path.endswith("/" + a)]
    seconds = [r for r in reqs if r.path.endswith("/" + b)]
    return any(
        x.started < (y.ended or float("inf")) and y.started < (x.ended or float("inf"))
        for x in firsts
        for y in seconds
    )


@pytest.mark.slow
def test_video_and_audio_are_fetched_at_once_and_merged(ytarchive_env) -> None:
    bed = ytarchive_env.testbed
    bed.media.bandwidth_cap = 1_000_000  # the 720p file takes a while: its request stays open
    video = bed.lib.add_video(title="Both at once")
    events: list[DownloadProgress] = []
    result = download_video(video.video_id, Settings(), "720p", events.append)
    path = ytarchive_env.output_dir / result.file_path
    info = probe(path)
    assert (info["width"], info["height"], info["has_audio"]) == (1280, 720, True)
    assert _in_flight_together(bed, video.video_id, VIDEO_720, AUDIO)
    assert events[-1].status == "finished" and events[-1].downloaded_bytes == result.bytes
    assert_no_partials(ytarchive_env.output_dir)


@pytest.mark.slow
def test_fetched_is_called_once_both_streams_are_in_and_before_the_merge(ytarchive_env) -> None:
    """The caller's download slot goes to the next video when the streams are fetched: the
    merge (local work) runs after `fetched()`."""
    from ytarchive import layout

    bed = ytarchive_env.testbed
    video = bed.lib.add_video()
    work = layout.temp_dir(ytarchive_env.output_dir, video.video_id)
    seen: list[tuple[int, list[str]]] = []

    def fetched() -> None:
        files = sorted(p.name for p in work.glob("*") if p.is_file())
        seen.append((bed.media.media_requests(video.video_id), files))

    result = download_video(video.video_id, Settings(), "720p", fetched=fetched)
    assert probe(ytarchive_env.output_dir / result.file_path)["has_audio"]
    assert len(seen) == 1, "fetched() was not called exactly once"
    media, files = seen[0]
    assert media == 2, "fetched() came before both streams were fetched"
    assert not any(name == "media.mp4" for name in files), f"merged before fetched(): {files}"
    assert any(".f" in name for name in files), f"no fetched stream in the work dir: {files}"


@pytest.mark.slow
def test_parallel_streams_off_fetches_them_one_after_the_other(ytarchive_env) -> None:
    bed = ytarchive_env.testbed
    bed.media.bandwidth_cap = 1_000_000
    video = bed.lib.add_video()
    result = download_video(video.video_id, Settings(parallel_streams=False), "720p")
    assert probe(ytarchive_env.output_dir / result.file_path)["has_audio"]
    assert bed.media.max_in_flight(video.video_id) == 1


@pytest.mark.slow
def test_many_segment_dash_fetches_fragments_at_once(ytarchive_env, segmented) -> None:
    bed = ytarchive_env.testbed
    bed.media.bandwidth_cap = 300_000  # a fragment's request stays open while others start
    video = bed.lib.add_video()
    bed.media.set_media(video.video_id, segmented)
    settings = Settings(concurrent_fragments=3)
    result = download_video(video.video_id, settings, "best")
    info = probe(ytarchive_env.output_dir / result.file_path)
    assert (info["height"], info["has_audio"]) == (360, True)
    assert info["duration"] == pytest.approx(2.0, abs=0.2)
    # every fragment of both streams was fetched once, and more than two were open at once
    assert bed.media.media_bytes(video.video_id) == segmented.total_bytes
    assert bed.media.max_in_flight(video.video_id) > 2
    assert_no_partials(ytarchive_env.output_dir)


@pytest.mark.slow
def test_a_rate_limit_keeps_one_connection(ytarchive_env, segmented) -> None:
    bed = ytarchive_env.testbed
    video = bed.lib.add_video()
    bed.media.set_media(video.video_id, segmented)
    settings = Settings(concurrent_fragments=3, rate_limit=50_000_000)
    result = download_video(video.video_id, settings, "best")
    assert probe(ytarchive_env.output_dir / result.file_path)["has_audio"]
    assert bed.media.max_in_flight(video.video_id) == 1


@pytest.mark.slow
def test_one_stream_refused_fails_the_video_at_once_and_leaves_nothing(ytarchive_env) -> None:
    bed = ytarchive_env.testbed
    bed.media.bandwidth_cap = 100_000  # the 720p stream alone would take seconds
    video = bed.lib.add_video()
    bed.media.set_fault(video.video_id, "404", times=None, on="media", name=AUDIO)
    with pytest.raises(YTArchiveError) as info:
        download_video(video.video_id, Settings(), "720p")
    assert "404" in str(info.value)
    sent = sum(
        r.bytes_sent for r in bed.media.requests if r.path.endswith("/" + VIDEO_720) and r.ended
    )
    assert sent < bed.media.media.path(720).stat().st_size  # the other stream was stopped
    assert_no_partials(ytarchive_env.output_dir)
    assert not (ytarchive_env.output_dir / "videos").exists()


_KILLED = """
import sys
from ytarchive.config import Settings
from ytarchive.downloader import download_video
download_video(sys.argv[1], Settings(), "720p")
"""


@pytest.mark.slow
def test_killed_mid_download_then_resumed_without_fetching_anything_twice(ytarchive_env) -> None:
    bed = ytarchive_env.testbed
    bed.media.bandwidth_cap = 150_000  # the audio is done in a moment, the video takes seconds
    video = bed.lib.add_video()
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED, video.video_id],
        env={**os.environ, **ytarchive_env.env},
        start_new_session=True,
    )
    work = ytarchive_env.output_dir / ".tmp"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _audio_done_video_partial(work):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _audio_done_video_partial(work), "the audio should finish while the video is under way"
    assert not (ytarchive_env.output_dir / "videos").exists()  # nothing under a final name
    bed.media.bandwidth_cap = None
    before = len(bed.media.requests)
    result = download_video(video.video_id, Settings(), "720p")
    info = probe(ytarchive_env.output_dir / result.file_path)
    assert (info["height"], info["has_audio"]) == (720, True)
    again = [r for r in bed.media.requests[before:] if r.kind == "media" and r.method == "GET"]
    assert {Path(r.path).name for r in again} == {VIDEO_720}  # the audio was kept
    assert all(r.range and not r.range.startswith("bytes=0-") for r in again)  # resumed
    assert_no_partials(ytarchive_env.output_dir)


def _audio_done_video_partial(work: Path) -> bool:
    if not work.exists():
        return False
    parts = [p for p in work.rglob("*.mp4.part") if p.stat().st_size > 0]
    audio = [p for p in work.rglob("*.m4a") if p.is_file()]
    return bool(parts and audio)
