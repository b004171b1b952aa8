"""Real yt-dlp error texts: those the installed yt-dlp holds, and YouTube's words from real logs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yt_dlp
from yt_dlp.extractor.youtube import YoutubeIE
from yt_dlp.utils import ExtractorError, GeoRestrictedError, remove_end

from ytarchive import errors

__all__ = [
    "BASE",
    "COMMON",
    "FROM_SOURCE",
    "FROM_YOUTUBE",
    "SAMPLES",
    "Sample",
    "VIDEO",
    "VIDEO_ID",
    "YT",
]

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
