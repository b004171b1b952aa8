"""yt-dlp's failures as ours: Unavailable, Transient (and who retried it) or DownloadFailed."""

from __future__ import annotations

import http.client
import re
from typing import Any

from ytarchive.downloader.options import clean_message
from ytarchive.errors import DownloadFailed, Transient, Unavailable, YTArchiveError

__all__ = ["RETRIED_BY", "classify_error", "ytdlp_errors"]

RETRIED_BY = "yt-dlp"  # Transient.retried_by of a media request or fragment yt-dlp gave up on

_UNAVAILABLE = re.compile(
    r"HTTP Error (401|403|404|410)|private video|video unavailable|has been removed|"
    r"no longer available|account associated with this video has been terminated|"
    r"sign in to confirm your age|age[- ]restricted|not available in your country|"
    r"geo[- ]?restrict|copyright claim|members[- ]only|premieres in|This live event will begin",
    re.IGNORECASE,
)
_TRANSIENT = re.compile(
    r"HTTP Error (5\d\d|429|408)|timed out|timeout|connection (reset|refused|aborted)|"
    r"remote end closed|temporary failure|incompleteread|unable to download|"
    r"errno 104|errno 111|network is unreachable|bad gateway|service unavailable|"
    r"Got error: \d+ bytes read",
    re.IGNORECASE,
)
_RETRY_AFTER = re.compile(r"retry[- ]after[:=\s]+(\d+(?:\.\d+)?)", re.IGNORECASE)
# yt-dlp's RetryManager ends a media request or fragment it retried in place with this text.
_GAVE_UP = re.compile(r"Giving up after \d+ retries", re.IGNORECASE)
_CAUSED_BY = re.compile(r"\s*\(caused by .*\)\s*$|;\s*please report this issue.*$", re.IGNORECASE)


def ytdlp_errors() -> tuple[type[BaseException], ...]:
    """What a yt-dlp call may fail with that is not our bug: its own errors and the network's."""
    from yt_dlp.utils import YoutubeDLError  # DownloadError, ExtractorError, RequestError, ...

    return (YoutubeDLError, OSError, http.client.HTTPException)


def classify_error(exc: BaseException) -> YTArchiveError:
    """Translate a yt-dlp exception into ours: Unavailable, Transient or DownloadFailed.

    A Transient that yt-dlp already retried in place (a media request or fragment, "Giving up
    after N retries") says so in `retried_by`, so the task does not retry the video again.
    """
    if isinstance(exc, YTArchiveError):
        return exc
    message = clean_message(str(exc))
    short = _CAUSED_BY.sub("", message).strip() or message
    if _UNAVAILABLE.search(message):
        return Unavailable(short)
    if _TRANSIENT.search(message):
        match = _RETRY_AFTER.search(message)
        retry_after = float(match.group(1)) if match else _retry_after(exc)
        retried_by = RETRIED_BY if _GAVE_UP.search(message) else None
        return Transient(short, retry_after=retry_after, retried_by=retried_by)
    return DownloadFailed(short)


def _retry_after(exc: BaseException) -> float | None:
    """The Retry-After of an HTTP 429/503 somewhere in the exception's chain, in seconds."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        err = stack.pop()
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        headers: Any = getattr(getattr(err, "response", None), "headers", None) or getattr(
            err, "headers", None
        )
        value = (
            headers.get("Retry-After") if headers is not None and hasattr(headers, "get") else None
        )
        if value:
            try:
                return max(float(value), 0.0)
            except ValueError:
                return None
        exc_info = getattr(err, "exc_info", None)
        stack += [getattr(err, "cause", None), err.__cause__, err.__context__]
        if isinstance(exc_info, tuple) and len(exc_info) > 1:
            stack.append(exc_info[1])
    return None
