"""THE proof: real yt-dlp, in-process, fetches from the stand-in, picks 720p, merges with ffmpeg."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import imageio_ffmpeg
import pytest
import yt_dlp

from tests.testbed.fixtures import Testbed
from tests.testbed.media import ffmpeg_exe, probe

pytestmark = pytest.mark.slow

FORMAT_720 = "bestvideo[height<=720]+bestaudio/best[height<=720]"


def download(url: str, out: Path, ffmpeg: str | None = None, **extra: Any) -> Path:
    opts = {
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "ignoreconfig": True,
        "cachedir": False,
        "outtmpl": str(out / "%(id)s.%(ext)s"),
        "format": FORMAT_720,
        "merge_output_format": "mp4",
        "ffmpeg_location": ffmpeg or ffmpeg_exe(),
        # In-process YoutubeDL has no retries unless asked (the CLI's default of 10 is not applied).
        "retries": 3,
        "retry_sleep_functions": {"http": lambda n: 0.0},
        **extra,
    }
    with yt_dlp.YoutubeDL(opts) as ydl:
        info = ydl.extract_info(url, download=True)
    return Path(info["requested_downloads"][0]["filepath"])


def test_download_selects_720p_and_merges_audio(testbed: Testbed, tmp_path: Path) -> None:
    path = download(testbed.video_url("dQw4w9WgXcQ"), tmp_path)
    info = probe(path)
    assert (info["width"], info["height"], info["has_audio"]) == (1280, 720, True)
    assert info["duration"] == pytest.approx(2.0, abs=0.3)
    fetched = {r.path.rsplit("/", 1)[1] for r in testbed.media.requests if r.kind == "media"}
    assert fetched == {"video-720p.mp4", "audio.m4a"}


def test_merge_with_the_imageio_ffmpeg_binary(testbed: Testbed, tmp_path: Path) -> None:
    path = download(testbed.video_url("imageioFfmp"), tmp_path, imageio_ffmpeg.get_ffmpeg_exe())
    info = probe(path)
    assert (info["height"], info["has_audio"]) == (720, True)


def test_manifest_500_twice_then_success(testbed: Testbed, tmp_path: Path) -> None:
    testbed.media.set_fault("flakyFlaky1", "500", times=2)
    url = testbed.video_url("flakyFlaky1")
    for _ in range(2):  # the generic extractor does not retry a manifest
        with pytest.raises(yt_dlp.utils.DownloadError, match="HTTP Error 500"):
            download(url, tmp_path)
    assert probe(download(url, tmp_path))["height"] == 720
    assert testbed.media.manifest_requests("flakyFlaky1") == 3


def test_429_is_reported(testbed: Testbed, tmp_path: Path) -> None:
    testbed.media.set_fault("tooManyReqs", "429")
    with pytest.raises(yt_dlp.utils.DownloadError, match="HTTP Error 429"):
        download(testbed.video_url("tooManyReqs"), tmp_path)


@pytest.mark.parametrize(("privacy", "code"), [("private", "403"), ("deleted", "404")])
def test_private_and_deleted_fail_without_media_requests(
    testbed: Testbed, tmp_path: Path, privacy: str, code: str
) -> None:
    video = testbed.lib.add_video(privacy=privacy)
    with pytest.raises(yt_dlp.utils.DownloadError, match=f"HTTP Error {code}"):
        download(testbed.video_url(video.video_id), tmp_path)
    assert testbed.media.media_requests() == 0


def test_reset_mid_body_is_survived_by_ytdlp_retries(testbed: Testbed, tmp_path: Path) -> None:
    testbed.media.set_fault("resetResetR", "reset", times=2)
    info = probe(download(testbed.video_url("resetResetR"), tmp_path))
    assert (info["height"], info["has_audio"]) == (720, True)
    media = [r for r in testbed.media.requests if r.kind == "media"]
    assert [r.fault for r in media].count("reset") == 2
    assert any(r.status == 206 for r in media)  # resumed with a Range request
