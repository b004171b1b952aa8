"""Real yt-dlp against what the real site does: cookie wall, 429 spells, refused host, subtitles."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yt_dlp

from tests.testbed.closed_port import ClosedPort
from tests.testbed.cookies import CookieVideo
from tests.testbed.fixtures import Testbed
from tests.testbed.media import ffmpeg_exe, probe

pytestmark = pytest.mark.slow


def ydl_options(out: Path, **extra: Any) -> dict[str, Any]:
    return {
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "ignoreconfig": True,
        "cachedir": False,
        "outtmpl": str(out / "%(id)s.%(ext)s"),
        "format": "bestvideo[height<=360]+bestaudio",
        "merge_output_format": "mp4",
        "ffmpeg_location": ffmpeg_exe(),
        "retries": 0,
        **extra,
    }


def download(url: str, out: Path, **extra: Any) -> Path:
    with yt_dlp.YoutubeDL(ydl_options(out, **extra)) as ydl:
        info = ydl.extract_info(url, download=True)
    return Path(info["requested_downloads"][0]["filepath"])


# -- the cookie wall ------------------------------------------------------------------------------


def test_cookie_video_downloads_with_its_cookies_file(
    testbed: Testbed, cookie_video: CookieVideo, tmp_path: Path
) -> None:
    before = cookie_video.cookies_file.read_text()
    path = download(cookie_video.url, tmp_path / "out", cookiefile=str(cookie_video.cookies_file))
    assert probe(path)["height"] == 360
    assert testbed.media.refused_requests(kind=None, fault="cookie") == 0
    assert testbed.media.media_requests(cookie_video.video_id) >= 2
    assert cookie_video.value in cookie_video.cookies_file.read_text()  # yt-dlp rewrote, kept it
    assert before.splitlines()[0] == "# Netscape HTTP Cookie File"


def test_cookie_video_without_cookies_is_http_403(
    testbed: Testbed, cookie_video: CookieVideo, tmp_path: Path
) -> None:
    with pytest.raises(yt_dlp.utils.DownloadError, match="HTTP Error 403: Forbidden"):
        download(cookie_video.url, tmp_path / "out")
    assert testbed.media.refused_requests(kind="manifest", fault="cookie") == 1
    assert testbed.media.media_requests() == 0


def test_a_wrong_cookie_value_is_refused_too(
    testbed: Testbed, cookie_video: CookieVideo, tmp_path: Path
) -> None:
    from tests.testbed.cookies import write_cookies_txt

    wrong = write_cookies_txt(tmp_path / "wrong.txt", {cookie_video.name: "not-the-value"})
    with pytest.raises(yt_dlp.utils.DownloadError, match="HTTP Error 403"):
        download(cookie_video.url, tmp_path / "out", cookiefile=str(wrong))


def test_other_videos_need_no_cookie(testbed: Testbed, tmp_path: Path) -> None:
    video = testbed.lib.add_video()
    assert probe(download(testbed.video_url(video.video_id), tmp_path))["height"] == 360


# -- a site that refuses every request --------------------------------------------------------


def test_refuse_all_answers_429_with_retry_after_and_counts(
    testbed: Testbed, tmp_path: Path
) -> None:
    testbed.media.refuse_all(retry_after=7)
    for n in range(3):
        with pytest.raises(yt_dlp.utils.DownloadError, match="HTTP Error 429: Too Many Requests"):
            download(testbed.video_url(f"refused{n:04d}"), tmp_path)
    assert testbed.media.refused_requests(kind="manifest") == 3
    assert testbed.media.refused_requests(kind="media") == 0
    testbed.media.stop_refusing()
    assert probe(download(testbed.video_url("recovered01"), tmp_path))["height"] == 360


def test_refusing_media_only_after_the_manifest_is_counted_as_media(
    testbed: Testbed, tmp_path: Path
) -> None:
    url = testbed.video_url("midwayRefus")
    with yt_dlp.YoutubeDL(ydl_options(tmp_path)) as ydl:
        info = ydl.extract_info(url, download=False)
        testbed.media.refuse_all()
        with pytest.raises(yt_dlp.utils.DownloadError, match="HTTP Error 429"):
            ydl.process_ie_result(info, download=True)
    assert testbed.media.refused_requests(kind="media") >= 1


def test_retry_after_header_reaches_the_client(testbed: Testbed) -> None:
    import urllib.error
    import urllib.request

    testbed.media.refuse_all(retry_after=42)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(testbed.video_url("headerCheck"), timeout=5)
    assert caught.value.code == 429
    assert caught.value.headers["Retry-After"] == "42"


def test_refusal_for_n_seconds_ends_by_itself(testbed: Testbed, tmp_path: Path) -> None:
    testbed.media.refuse_all(seconds=0.5)
    assert testbed.media.refusing
    deadline = time.monotonic() + 10
    while testbed.media.refusing and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not testbed.media.refusing
    assert probe(download(testbed.video_url("afterPause1"), tmp_path))["height"] == 360


def test_refuse_all_with_403_is_a_cdn_refusal(testbed: Testbed, tmp_path: Path) -> None:
    testbed.media.refuse_all(status=403, retry_after=None)
    with pytest.raises(yt_dlp.utils.DownloadError, match="HTTP Error 403: Forbidden"):
        download(testbed.video_url("cdnRefusal1"), tmp_path)


def test_reset_stops_the_refusal(testbed: Testbed) -> None:
    testbed.media.refuse_all()
    testbed.reset()
    assert not testbed.media.refusing


# -- a host that refuses connections -----------------------------------------------------------


def test_closed_port_refuses_connections(closed_port: ClosedPort, tmp_path: Path) -> None:
    url = closed_port.url_template.format(video_id="noListener1")
    with pytest.raises(yt_dlp.utils.DownloadError, match="Connection refused"):
        download(url, tmp_path)
    assert closed_port.port > 0


# -- subtitles ---------------------------------------------------------------------------------


def test_subtitle_tracks_are_listed_by_ytdlp(testbed: Testbed, tmp_path: Path) -> None:
    video = testbed.lib.add_video(subtitles=("en", "de"))
    with yt_dlp.YoutubeDL(ydl_options(tmp_path)) as ydl:
        info = ydl.extract_info(testbed.video_url(video.video_id), download=False)
    assert set(info["subtitles"]) == {"en", "de"}
    assert info["subtitles"]["en"][0]["ext"] == "vtt"
    assert {f["height"] for f in info["formats"] if f.get("height")} == {1080, 720, 360}


def test_subtitles_are_downloaded_as_webvtt(testbed: Testbed, tmp_path: Path) -> None:
    video = testbed.lib.add_video(subtitles=("en",))
    download(
        testbed.video_url(video.video_id),
        tmp_path,
        writesubtitles=True,
        subtitleslangs=["en"],
    )
    [vtt] = tmp_path.glob("*.en.vtt")
    text = vtt.read_text()
    assert text.startswith("WEBVTT")
    assert video.video_id in text
    assert testbed.media.request_count(video.video_id, kind="subtitle") == 1


def test_videos_without_subtitles_have_none(testbed: Testbed, tmp_path: Path) -> None:
    video = testbed.lib.add_video()
    with yt_dlp.YoutubeDL(ydl_options(tmp_path)) as ydl:
        info = ydl.extract_info(testbed.video_url(video.video_id), download=False)
    assert not info.get("subtitles")
