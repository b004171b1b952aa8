"""yt-dlp's error messages, as YouTube and yt-dlp word them, translated into our error classes."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ytarchive.errors import (
    AgeRestricted,
    BotCheck,
    CdnForbidden,
    DownloadFailed,
    FormatUnavailable,
    LiveNow,
    MembersOnly,
    NotFound,
    Private,
    RateLimited,
    RegionBlocked,
    RemovedByUploader,
    RemovedForCopyright,
    Transient,
    Unavailable,
    Upcoming,
    YTArchiveError,
)

__all__ = [
    "classify",
    "classify_exception",
    "clean_message",
    "live_status_error",
    "offered_qualities",
    "retry_after_of",
]

_I = re.IGNORECASE
_APOS = "['\u2019]"  # YouTube writes "you’re" with U+2019; yt-dlp's own texts use "'"

# Tails yt-dlp adds for its own CLI (extractor/common.py _login_hint, youtube/_base.py
# _youtube_login_hint, YoutubeDL.py "Use --list-formats", utils ExtractorError "(caused by")
# and YouTube's "Learn more" link text: our users pass cookies to ytarchive, not to yt-dlp.
_TAILS = re.compile(
    r"\s*(?:\.\s*)?(?:Use --cookies(?:-from-browser)?\b.*"
    r"|Use --list-formats for a list of available formats.*"
    r"|This helps protect our community\.?(?: Learn more)?.*"
    r"|\(caused by .*\)"
    r"|;\s*please report this issue.*"
    r"|It is recommended to use `-t sleep`.*)$",
    _I,
)
_PREFIX = re.compile(r"^(?:ERROR:\s*)?(?:\[[\w:.+-]+\]\s+[\w.+-]+:\s+)?")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_RETRY_AFTER = re.compile(r"retry[- ]after[:=\s]+(\d+(?:\.\d+)?)", _I)
_HTTP = re.compile(r"HTTP Error (\d{3})")


def clean_message(message: str) -> str:
    """yt-dlp's message as one line: no colour, no "ERROR: [youtube] <id>:", no CLI hints."""
    text = _ANSI.sub("", message or "").strip()
    # "ERROR: \r[download] Got error: ...": the \r of a progress line is no end of the message
    text = re.sub(r"^ERROR:\s*", "", text)
    text = next((line.strip() for line in text.splitlines() if line.strip()), "")
    text = _PREFIX.sub("", text, count=1)
    text = _TAILS.sub("", text).strip().rstrip(".").strip()
    return text or "unknown yt-dlp error"


_Builder = Callable[[str, dict[str, Any]], YTArchiveError]

# First match wins, so the specific texts come before the bare HTTP status codes. Where each
# text comes from is in tests/ytarchive/ytdlp_messages.py; the tests check it against yt-dlp.
_RULES: list[tuple[re.Pattern[str], _Builder]] = [
    (
        re.compile(r"Requested format is not available", _I),
        lambda m, kw: FormatUnavailable(_format_text(kw), kw["quality"], kw["offered"]),
    ),
    (
        re.compile(r"--live-from-start is passed, but there are no formats", _I),
        lambda m, kw: LiveNow(m),
    ),
    (
        re.compile(r"\bPremieres in\b|\blive event will begin\b|\bPremiere will begin\b", _I),
        lambda m, kw: Upcoming(m),
    ),
    (
        re.compile(
            rf"confirm you{_APOS}re not a bot|Your IP is likely being blocked"
            r"|requiring a captcha challenge",
            _I,
        ),
        lambda m, kw: BotCheck(m),
    ),
    (
        # yt-dlp's YoutubeIE._is_agegated() reasons, and its own age_limit skip message
        re.compile(
            r"confirm your age|age-restricted|age restricted|inappropriate for some users"
            r"|age_verification_required|age_check_required",
            _I,
        ),
        lambda m, kw: AgeRestricted(m),
    ),
    (
        re.compile(r"members-only|channel's members|Join this channel", _I),
        lambda m, kw: MembersOnly(m),
    ),
    (re.compile(r"private video|video is private", _I), lambda m, kw: Private(m)),
    (
        re.compile(
            r"available in your country|from your location|geo[- ]?restrict"
            r"|blocked it in your country|not available in your region",
            _I,
        ),
        lambda m, kw: RegionBlocked(m, kw.get("countries")),
    ),
    (
        re.compile(r"copyright claim|on copyright grounds|copyright infringement", _I),
        lambda m, kw: RemovedForCopyright(m),
    ),
    (re.compile(r"removed by the uploader", _I), lambda m, kw: RemovedByUploader(m)),
    (
        re.compile(r"HTTP Error 429|Too Many Requests|rate-limited by YouTube", _I),
        lambda m, kw: RateLimited(m, kw["retry_after"]),
    ),
    (re.compile(r"HTTP Error 403", _I), lambda m, kw: CdnForbidden(m, kw["retry_after"])),
    (
        re.compile(r"HTTP Error (?:404|410)|This video does not exist", _I),
        lambda m, kw: NotFound(m),
    ),
    (
        re.compile(
            r"HTTP Error 401|video unavailable|video is unavailable|has been removed"
            r"|no longer available|account associated with this video has been terminated"
            r"|This video is not available",
            _I,
        ),
        lambda m, kw: Unavailable(m),
    ),
    (
        re.compile(
            r"HTTP Error (?:5\d\d|408)|timed out|timeout|connection (?:reset|refused|aborted)"
            r"|remote end closed|temporary failure|incompleteread|unable to download"
            r"|errno 104|errno 111|network is unreachable|bad gateway|service unavailable"
            r"|Got error: \d+ bytes read|A network error has occurred",
            _I,
        ),
        lambda m, kw: Transient(m, kw["retry_after"]),
    ),
]


def classify(
    message: str,
    *,
    quality: str | None = None,
    offered: list[str] | None = None,
    retry_after: float | None = None,
    countries: list[str] | None = None,
) -> YTArchiveError:
    """Our error for one yt-dlp message; its str() is the cleaned text, `.reason` adds advice.

    quality/offered: what was asked and what the video has (FormatUnavailable says both);
    retry_after: the server's Retry-After in seconds, when the caller has the response.
    """
    text = clean_message(message)
    if retry_after is None:
        found = _RETRY_AFTER.search(message or "")
        retry_after = float(found.group(1)) if found else None
    kw = dict(quality=quality, offered=offered, retry_after=retry_after, countries=countries)
    for pattern, build in _RULES:
        if pattern.search(text):
            return build(text, kw)
    return DownloadFailed(text)


def _format_text(kw: Mapping[str, Any]) -> str:
    """ "Requested format is not available (asked for 1080p; offered: 720p, 360p, audio)"."""
    parts = [f"asked for {kw['quality']}"] if kw.get("quality") else []
    if kw.get("offered") is not None:
        parts.append(f"offered: {', '.join(kw['offered']) or 'nothing'}")
    detail = f" ({'; '.join(parts)})" if parts else ""
    return f"Requested format is not available{detail}"


def classify_exception(
    exc: BaseException, *, quality: str | None = None, offered: list[str] | None = None
) -> YTArchiveError:
    """classify() for a raised yt-dlp error: its text, Retry-After and geo countries."""
    if isinstance(exc, YTArchiveError):
        return exc
    countries = None
    for err in _chain(exc):
        countries = countries or getattr(err, "countries", None)
    return classify(
        str(exc),
        quality=quality,
        offered=offered,
        retry_after=retry_after_of(exc),
        countries=list(countries) if countries else None,
    )


def _chain(exc: BaseException) -> Iterable[Any]:
    """The exception, its causes and contexts, and yt-dlp's exc_info, each once."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        err = stack.pop()
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        yield err
        stack += [getattr(err, "cause", None), err.__cause__, err.__context__]
        exc_info = getattr(err, "exc_info", None)
        if isinstance(exc_info, tuple) and len(exc_info) > 1:
            stack.append(exc_info[1])


def retry_after_of(exc: BaseException) -> float | None:
    """The Retry-After (seconds) of an HTTP 429/503 anywhere in the exception's chain."""
    for err in _chain(exc):
        response = getattr(err, "response", None)
        headers: Any = getattr(response, "headers", None) or getattr(err, "headers", None)
        if not hasattr(headers, "get"):
            continue
        value = headers.get("Retry-After") if headers is not None else None
        if value:
            try:
                return max(float(value), 0.0)
            except ValueError:
                return None
    return None


def live_status_error(
    info: Mapping[str, Any], *, live_from_start: bool = False
) -> YTArchiveError | None:
    """Upcoming or LiveNow for an info dict whose live_status says so (None: go ahead).

    yt-dlp's live_status (extractor/common.py): 'is_upcoming' for a premiere or a scheduled
    stream, 'is_live' while it streams; a live stream is skipped unless live_from_start.
    """
    status = info.get("live_status") or ("is_live" if info.get("is_live") else None)
    when = info.get("release_timestamp")
    if status == "is_upcoming":
        text = "Premiere or live stream not started yet"
        if isinstance(when, int | float):
            from datetime import UTC, datetime

            text += f" (scheduled for {datetime.fromtimestamp(when, UTC):%Y-%m-%d %H:%M} UTC)"
        return Upcoming(text, float(when) if isinstance(when, int | float) else None)
    if status == "is_live" and not live_from_start:
        return LiveNow("Live now: the stream has not ended")
    return None


def offered_qualities(formats: Iterable[Mapping[str, Any]]) -> list[str]:
    """The qualities a video's formats offer, best first: "1080p", "720p", ..., "audio"."""
    formats = list(formats)
    heights = sorted(
        {int(f["height"]) for f in formats if f.get("vcodec") != "none" and f.get("height")},
        reverse=True,
    )
    names = [f"{h}p" for h in heights]
    audio = any(
        f.get("vcodec") == "none" and f.get("acodec") not in (None, "none") for f in formats
    )
    return names + (["audio"] if audio else [])
