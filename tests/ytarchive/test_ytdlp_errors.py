"""The classifier fed yt-dlp's real messages (in its source, or cited) and real stand-in faults."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yt_dlp
from yt_dlp.utils import GeoRestrictedError

from tests.testbed.closed_port import ClosedPort
from tests.testbed.cookies import CookieVideo
from tests.testbed.fixtures import Testbed
from tests.testbed.media import ffmpeg_exe
from tests.ytarchive.ytdlp_messages import (
    BASE,
    COMMON,
    FROM_SOURCE,
    FROM_YOUTUBE,
    SAMPLES,
    VIDEO,
    VIDEO_ID,
    YT,
    Sample,
)
from ytarchive import errors
from ytarchive.ytdlp_errors import (
    classify,
    classify_exception,
    clean_message,
    live_status_error,
    offered_qualities,
)


def _id(sample: Sample) -> str:
    return f"{sample.expected.__name__}:{clean_message(sample.message)[:40]}"


@pytest.mark.parametrize("sample", SAMPLES, ids=_id)
def test_each_real_message_is_classified(sample: Sample) -> None:
    error = classify(sample.message)
    assert type(error) is sample.expected, (sample.message, type(error).__name__)
    text = str(error)
    assert text and "\n" not in text
    assert "--cookies" not in text and "yt-dlp/wiki" not in text  # yt-dlp's CLI hints dropped
    assert not text.startswith(("ERROR", "[youtube]", VIDEO_ID))
    assert error.reason.startswith(text)
    assert error.error_class == sample.expected.__name__


@pytest.mark.parametrize("sample", [s for s in SAMPLES if s.source], ids=_id)
def test_each_sample_text_is_still_in_the_installed_ytdlp(sample: Sample) -> None:
    assert sample.source is not None and sample.needle is not None
    assert sample.needle in sample.source.read_text(encoding="utf-8"), (
        f"yt-dlp {yt_dlp.version.__version__} no longer says {sample.needle!r} in "
        f"{sample.source.relative_to(YT)}: update the classifier and this sample"
    )


def test_youtubes_own_words_are_cited() -> None:
    assert all(s.cited for s in FROM_YOUTUBE)


def test_the_mirrored_code_is_still_in_ytdlp() -> None:
    video, base, common = (p.read_text(encoding="utf-8") for p in (VIDEO, BASE, COMMON))
    assert "if 'sign in' in reason.lower():" in video
    assert "reason = remove_end(reason, 'This helps protect our community. Learn more')" in video
    assert "self.raise_no_formats(reason, expected=True)" in video
    assert "def _youtube_login_hint(self):" in base
    assert "'cookies': f'Use --cookies-from-browser or --cookies for the authentication." in common
    assert "else 'is_upcoming' if is_upcoming" in video  # live_status_error's input


def test_every_youtube_error_class_has_a_real_sample() -> None:
    wanted = {
        errors.BotCheck, errors.AgeRestricted, errors.MembersOnly, errors.Private,
        errors.RemovedByUploader, errors.RemovedForCopyright, errors.RegionBlocked,
        errors.Upcoming, errors.LiveNow, errors.FormatUnavailable, errors.RateLimited,
        errors.CdnForbidden, errors.NotFound,
    }  # fmt: skip
    assert wanted <= {s.expected for s in SAMPLES}


# -- what each class means to the run --------------------------------------------------------


def test_the_bot_check_needs_cookies_and_brakes_the_run() -> None:
    error = classify(FROM_YOUTUBE[0].message)
    assert isinstance(error, errors.NeedsCookies) and error.site_refusal
    assert not isinstance(error, errors.Transient | errors.Unavailable)  # no per-video retries
    assert "YTARCHIVE_COOKIES_FILE" in error.reason


def test_age_restricted_is_failed_with_its_reason_not_unavailable() -> None:
    error = classify(FROM_YOUTUBE[1].message)
    assert not isinstance(error, errors.Unavailable)
    assert error.status == "failed" and not error.site_refusal
    assert error.reason.startswith("Sign in to confirm your age")
    assert "cookies" in error.reason


@pytest.mark.parametrize(
    "cls",
    [errors.MembersOnly, errors.Private, errors.RemovedByUploader, errors.RemovedForCopyright],
)
def test_walls_and_removals_are_unavailable_for_good(cls: type[errors.YTArchiveError]) -> None:
    [sample] = [s for s in FROM_YOUTUBE if s.expected is cls][:1]
    error = classify(sample.message)
    assert isinstance(error, errors.Unavailable) and error.permanent
    assert error.status == "unavailable"


def test_region_block_keeps_youtubes_reason_and_the_countries() -> None:
    exc = GeoRestrictedError(
        "The uploader has not made this video available in your country.",
        countries=["DE", "AT"],
        video_id=VIDEO_ID,
        ie="youtube",
    )
    error = classify_exception(exc)
    assert isinstance(error, errors.RegionBlocked)
    assert error.countries == ["DE", "AT"]
    assert str(error) == "The uploader has not made this video available in your country"


@pytest.mark.parametrize("sample", [s for s in SAMPLES if s.expected is errors.Upcoming], ids=_id)
def test_premieres_and_upcoming_streams_are_not_unavailable(sample: Sample) -> None:
    error = classify(sample.message)
    assert isinstance(error, errors.NotYet)
    assert not isinstance(error, errors.Unavailable | errors.Transient)
    assert error.status == "upcoming" and not error.permanent  # a later sync takes it


def test_format_unavailable_says_what_was_asked_and_offered() -> None:
    message = next(s.message for s in FROM_SOURCE if s.expected is errors.FormatUnavailable)
    error = classify(message, quality="1080p", offered=["720p", "360p", "audio"])
    assert isinstance(error, errors.FormatUnavailable)
    assert str(error) == (
        "Requested format is not available (asked for 1080p; offered: 720p, 360p, audio)"
    )
    assert error.quality == "1080p" and error.offered == ["720p", "360p", "audio"]
    assert "--quality" in error.reason
    bare = classify(message)
    assert str(bare) == "Requested format is not available" and "health" in bare.reason


def test_rate_limits_and_cdn_refusals_are_site_refusals_that_carry_retry_after() -> None:
    error = classify("ERROR: HTTP Error 429: Too Many Requests", retry_after=30)
    assert isinstance(error, errors.RateLimited) and error.site_refusal
    assert error.retry_after == 30
    assert classify("HTTP Error 429: Too Many Requests; Retry-After: 12").retry_after == 12
    cdn = classify("ERROR: unable to download video data: HTTP Error 403: Forbidden")
    assert isinstance(cdn, errors.CdnForbidden) and cdn.site_refusal


def test_network_faults_are_transient_but_not_site_refusals() -> None:
    error = classify(
        "ERROR: [generic] manifest: Unable to download webpage: HTTPConnection(host='127.0.0.1',"
        " port=1): Failed to establish a new connection: [Errno 111] Connection refused"
    )
    assert type(error) is errors.Transient and not error.site_refusal


def test_anything_else_is_a_plain_download_failure() -> None:
    error = classify("ERROR: Postprocessing: something odd")
    assert type(error) is errors.DownloadFailed
    assert str(error) == "Postprocessing: something odd"


def test_clean_message_keeps_ids_that_begin_with_a_dash_or_underscore_out() -> None:
    assert clean_message("ERROR: [youtube] _KV5zjR3j1t: Private video") == "Private video"
    assert clean_message("\x1b[0;31mERROR:\x1b[0m [youtube] -abcdefghij: Video unavailable") == (
        "Video unavailable"
    )
    assert clean_message("") == "unknown yt-dlp error"
    assert clean_message("first line\nsecond line") == "first line"


def test_live_status_from_the_info_dict() -> None:
    upcoming = live_status_error({"live_status": "is_upcoming", "release_timestamp": 1767225600})
    assert isinstance(upcoming, errors.Upcoming)
    assert upcoming.release_timestamp == 1767225600
    assert "2026-01-01 00:00 UTC" in str(upcoming)
    assert isinstance(live_status_error({"live_status": "is_live"}), errors.LiveNow)
    assert isinstance(live_status_error({"is_live": True}), errors.LiveNow)
    assert live_status_error({"live_status": "is_live"}, live_from_start=True) is None
    for status in ("was_live", "not_live", "post_live", None):
        assert live_status_error({"live_status": status}) is None


def test_offered_qualities_from_formats() -> None:
    formats: list[dict[str, Any]] = [
        {"height": 360, "vcodec": "avc1", "acodec": "none"},
        {"height": 720, "vcodec": "avc1", "acodec": "none"},
        {"vcodec": "none", "acodec": "mp4a"},
        {"height": 90, "vcodec": "none", "acodec": "none"},  # a storyboard: no video codec
        {"height": 720, "vcodec": "vp9", "acodec": "none"},
    ]
    assert offered_qualities(formats) == ["720p", "360p", "audio"]
    assert offered_qualities([]) == []


def test_the_classifier_does_not_import_ytdlp() -> None:
    code = "import sys, ytarchive.ytdlp_errors; sys.exit('yt_dlp' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# -- real downloads from the stand-in ----------------------------------------------------------


def _fail(url: str, tmp_path: Path, **extra: Any) -> BaseException:
    opts = {
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "ignoreconfig": True,
        "cachedir": False,
        "outtmpl": str(tmp_path / "%(id)s.%(ext)s"),
        "format": "bestvideo[height<=360]+bestaudio",
        "ffmpeg_location": ffmpeg_exe(),
        "retries": 0,
        **extra,
    }
    with pytest.raises(yt_dlp.utils.DownloadError) as caught, yt_dlp.YoutubeDL(opts) as ydl:
        ydl.extract_info(url, download=True)
    return caught.value


@pytest.mark.slow
def test_real_cookie_wall_is_a_cdn_refusal(cookie_video: CookieVideo, tmp_path: Path) -> None:
    error = classify_exception(_fail(cookie_video.url, tmp_path))
    assert isinstance(error, errors.CdnForbidden) and error.site_refusal
    assert cookie_video.value not in error.reason


@pytest.mark.slow
def test_real_429_carries_the_servers_retry_after(testbed: Testbed, tmp_path: Path) -> None:
    testbed.media.refuse_all(retry_after=7)
    error = classify_exception(_fail(testbed.video_url("rateLimit01"), tmp_path))
    assert isinstance(error, errors.RateLimited)
    assert error.retry_after == 7


@pytest.mark.slow
@pytest.mark.parametrize(
    ("privacy", "expected"), [("private", errors.Private), ("deleted", errors.NotFound)]
)
def test_real_private_and_deleted(
    testbed: Testbed, tmp_path: Path, privacy: str, expected: type[errors.YTArchiveError]
) -> None:
    video = testbed.lib.add_video(privacy=privacy)
    error = classify_exception(_fail(testbed.video_url(video.video_id), tmp_path))
    assert type(error) is expected and error.permanent


@pytest.mark.slow
def test_real_format_unavailable_names_what_is_offered(testbed: Testbed, tmp_path: Path) -> None:
    url = testbed.video_url("noSuch1440p")
    opts = {"quiet": True, "ignoreconfig": True, "cachedir": False}
    with yt_dlp.YoutubeDL(opts) as ydl:
        offered = offered_qualities(ydl.extract_info(url, download=False)["formats"])
    exc = _fail(url, tmp_path, format="bestvideo[height=1440]")
    error = classify_exception(exc, quality="1440p", offered=offered)
    assert isinstance(error, errors.FormatUnavailable)
    assert str(error) == (
        "Requested format is not available (asked for 1440p; offered: 1080p, 720p, 360p, audio)"
    )


@pytest.mark.slow
def test_real_refused_connection_is_transient(closed_port: ClosedPort, tmp_path: Path) -> None:
    exc = _fail(closed_port.url_template.format(video_id="nobodyHome1"), tmp_path)
    error = classify_exception(exc)
    assert type(error) is errors.Transient and not error.site_refusal
