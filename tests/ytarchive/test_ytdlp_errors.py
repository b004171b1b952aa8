"""The classifier, fed the messages yt-dlp really gives: texts the installed yt-dlp holds are
checked against its source (an upgrade that rewords one fails here), YouTube's own words are
quoted from public logs (cited), and the stand-in's faults are real downloads."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yt_dlp
from yt_dlp.extractor.youtube import YoutubeIE
from yt_dlp.utils import ExtractorError, GeoRestrictedError, remove_end

from tests.testbed.closed_port import ClosedPort
from tests.testbed.cookies import CookieVideo
from tests.testbed.fixtures import Testbed
from tests.testbed.media import ffmpeg_exe
from ytarchive import errors
from ytarchive.ytdlp_errors import (
    classify,
    classify_exception,
    clean_message,
    live_status_error,
    offered_qualities,
)

YT = Path(yt_dlp.__file__).parent
VIDEO = YT / "extractor" / "youtube" / "_video.py"
BASE = YT / "extractor" / "youtube" / "_base.py"
COMMON = YT / "extractor" / "common.py"
YDL = YT / "YoutubeDL.py"
HTTP = YT / "networking" / "exceptions.py"
VIDEO_ID = "-KV5zjR3j1t"  # a real-shaped id with a leading dash, as 1 in 64 are


def youtube_says(reason: str, video_id: str = VIDEO_ID) -> str:
    """The error text yt-dlp raises for a YouTube playability `reason`.

    Mirrors YoutubeIE._real_extract (_video.py): a reason that says "sign in" loses YouTube's
    "Learn more" tail and gains _youtube_login_hint; raise_no_formats(reason, expected=True);
    ExtractorError prefixes "[youtube] <id>: "; YoutubeDL.report_error adds "ERROR: ".
    test_the_mirrored_code_is_still_in_ytdlp checks those lines are still there.
    """
    if "sign in" in reason.lower():
        reason = remove_end(reason, "This helps protect our community. Learn more")
        reason = f"{remove_end(reason.strip(), '.')}. {YoutubeIE()._youtube_login_hint}"
    return "ERROR: " + str(ExtractorError(reason, expected=True, video_id=video_id, ie="youtube"))


def ytdlp_says(text: str, video_id: str = VIDEO_ID) -> str:
    """An error yt-dlp itself words, as YoutubeDL reports it."""
    return "ERROR: " + str(ExtractorError(text, expected=True, video_id=video_id, ie="youtube"))


@dataclass(frozen=True)
class Sample:
    message: str
    expected: type[errors.YTArchiveError]
    source: Path | None  # the installed yt-dlp file that holds `needle`
    needle: str | None
    cited: str | None = None  # where YouTube's words were seen, when yt-dlp does not hold them


# Texts the installed yt-dlp holds itself (each needle is asserted to be in its source file).
FROM_SOURCE = [
    Sample(
        ytdlp_says("All player responses are invalid. Your IP is likely being blocked by Youtube"),
        errors.BotCheck,
        VIDEO,
        "All player responses are invalid. Your IP is likely being blocked by Youtube",
    ),
    Sample(
        ytdlp_says("Video unavailable. YouTube is requiring a captcha challenge before playback"),
        errors.BotCheck,
        VIDEO,
        ". YouTube is requiring a captcha challenge before playback",
    ),
    Sample(
        # _video.py: "This content isn't available, try again later" gets yt-dlp's explanation
        ytdlp_says(
            "This content isn't available, try again later. The current session has been "
            "rate-limited by YouTube for up to an hour. It is recommended to use `-t sleep` to "
            "add a delay between video requests to avoid exceeding the rate limit."
        ),
        errors.RateLimited,
        VIDEO,
        "has been rate-limited by YouTube for up to an hour",
    ),
    Sample(
        "ERROR: "
        + str(
            GeoRestrictedError(
                "The uploader has not made this video available in your country.",
                countries=["DE"],
                video_id=VIDEO_ID,
                ie="youtube",
            )
        ),
        errors.RegionBlocked,
        VIDEO,
        "The uploader has not made this video available in your country",
    ),
    Sample(
        ytdlp_says(
            "Requested format is not available. Use --list-formats for a list of available formats"
        ),  # fmt: skip
        errors.FormatUnavailable,
        YDL,
        "Requested format is not available. Use --list-formats for a list of available formats",
    ),
    Sample(
        ytdlp_says(
            "--live-from-start is passed, but there are no formats that can be downloaded from "
            "the start. If you want to download from the current time, use --no-live-from-start"
        ),
        errors.LiveNow,
        YDL,
        "--live-from-start is passed, but there are no formats that can be downloaded",
    ),
    Sample(
        'ERROR: Skipping "Some title" because it is age restricted',
        errors.AgeRestricted,
        YDL,
        "because it is age restricted",
    ),
    # YouTube's texts that yt-dlp's own test cases record ('skip': ... in _video.py)
    Sample(youtube_says("Private video"), errors.Private, VIDEO, "'skip': 'Private video'"),
    Sample(
        youtube_says("This video does not exist."),
        errors.NotFound,
        VIDEO,
        "'skip': 'This video does not exist.'",
    ),
    Sample(youtube_says("Video unavailable"), errors.Unavailable, VIDEO, "'Video unavailable'"),
    Sample(
        youtube_says("This video is not available."),
        errors.Unavailable,
        VIDEO,
        "'skip': 'This video is not available.'",
    ),
    Sample(
        youtube_says("This video has been removed for violating YouTube's policy on hate speech."),
        errors.Unavailable,
        VIDEO,
        "This video has been removed for violating YouTube\\'s policy on hate speech.",
    ),
    # HTTP errors: networking/exceptions.py HTTPError words them "HTTP Error {status}: {reason}";
    # the full texts below are what the stand-in made yt-dlp say (see the real downloads below)
    Sample(
        "ERROR: [generic] manifest: Unable to download webpage: HTTP Error 429: Too Many Requests"
        " (caused by <HTTPError 429: Too Many Requests>)",
        errors.RateLimited,
        HTTP,
        "msg = f'HTTP Error {response.status}: {response.reason}'",
    ),
    Sample(
        "ERROR: unable to download video data: HTTP Error 403: Forbidden",
        errors.CdnForbidden,
        YDL,
        "unable to download video data: {err}",
    ),
    Sample(
        "ERROR: [generic] manifest: Unable to download webpage: HTTP Error 404: Not Found"
        " (caused by <HTTPError 404: Not Found>)",
        errors.NotFound,
        COMMON,
        "Unable to download webpage",
    ),
]

# YouTube's own words (playabilityStatus reasons) that no yt-dlp file holds: quoted from logs of
# real runs, cited. They reach the user through the code youtube_says() mirrors.
FROM_YOUTUBE = [
    Sample(
        youtube_says(
            "Sign in to confirm you’re not a bot. This helps protect our community. Learn more"
        ),  # fmt: skip
        errors.BotCheck,
        None,
        None,
        "github.com/yt-dlp/yt-dlp/issues/11981, /issues/15527; skorokithakis/catt#456",
    ),
    Sample(
        youtube_says(
            "Sign in to confirm your age. This video may be inappropriate for some users."
        ),  # fmt: skip
        errors.AgeRestricted,
        VIDEO,
        "'confirm your age', 'age-restricted', 'inappropriate',  # reason",
        "github.com/yt-dlp/yt-dlp/issues/3873; KurtBestor/Hitomi-Downloader#8604",
    ),
    Sample(
        youtube_says(
            "Join this channel to get access to members-only content like this video, "
            "and other exclusive perks."
        ),  # fmt: skip
        errors.MembersOnly,
        None,
        None,
        "github.com/ytdl-org/youtube-dl/issues/32765 (a yt-dlp log)",
    ),
    Sample(
        youtube_says(
            "Join this channel from your computer or Android app to get access to "
            "members-only content like this video."
        ),  # fmt: skip
        errors.MembersOnly,
        None,
        None,
        "github.com/Unrud/video-downloader/issues/319; Joystream/youtube-synch#351",
    ),
    Sample(
        youtube_says(
            "This video is available to this channel's members on level: Tomato (or any"
            " higher level). Join this channel to get access to members-only content "
            "and other exclusive perks."
        ),  # fmt: skip
        errors.MembersOnly,
        None,
        None,
        "github.com/KurtBestor/Hitomi-Downloader/issues/2384; Joystream/youtube-synch#353",
    ),
    Sample(
        youtube_says("Private video. Sign in if you've been granted access to this video"),
        errors.Private,
        None,
        None,
        "github.com/yt-dlp/yt-dlp/issues/2027",
    ),
    Sample(
        youtube_says("Video unavailable. This video has been removed by the uploader"),
        errors.RemovedByUploader,
        None,
        None,
        "github.com/vididataset/VIDI/issues/1; TeamNewPipe/NewPipe#7225",
    ),
    Sample(
        youtube_says(
            "Video unavailable. This video is no longer available due to a copyright "
            "claim by Sarah Ann Kennedy"
        ),  # fmt: skip
        errors.RemovedForCopyright,
        None,
        None,
        "github.com/meeb/tubesync/issues/478",
    ),
    Sample(
        youtube_says(
            "Video unavailable. This video contains content from Paramount Global (CBS),"
            " who has blocked it in your country on copyright grounds"
        ),  # fmt: skip
        errors.RegionBlocked,
        None,
        None,
        "github.com/chelaxian/tg-ytdlp-bot/issues/176",
    ),
    Sample(
        youtube_says(
            "Video unavailable. This video is no longer available because the YouTube "
            "account associated with this video has been terminated."
        ),  # fmt: skip
        errors.Unavailable,
        None,
        None,
        "github.com/vididataset/VIDI/issues/1",
    ),
    Sample(
        youtube_says("Premieres in 2 hours"),
        errors.Upcoming,
        None,
        None,
        "github.com/tgbot-collection/ytdlbot/issues/128; yt-dlp/yt-dlp#11617, #782",
    ),
    Sample(
        youtube_says("This live event will begin in 14 minutes."),
        errors.Upcoming,
        None,
        None,
        "github.com/yt-dlp/yt-dlp/issues/1968",
    ),
    Sample(
        youtube_says("This live event will begin in 17 days."),
        errors.Upcoming,
        None,
        None,
        "github.com/lovezzzxxx/liverecord/issues/73",
    ),
]

SAMPLES = FROM_SOURCE + FROM_YOUTUBE


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
    assert error.status == "failed" and not error.permanent


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
