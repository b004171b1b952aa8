"""yt-dlp's failures as ours (ytdlp_errors.classify_exception), and who already retried them."""

from __future__ import annotations

import http.client
import re

from ytarchive.errors import Transient, YTArchiveError
from ytarchive.ytdlp_errors import classify_exception

__all__ = ["RETRIED_BY", "classify_error", "ytdlp_errors"]

RETRIED_BY = "yt-dlp"  # Transient.retried_by of a media request or fragment yt-dlp gave up on

# yt-dlp's RetryManager ends a media request or fragment it retried in place with this text.
_GAVE_UP = re.compile(r"Giving up after \d+ retries", re.IGNORECASE)


def ytdlp_errors() -> tuple[type[BaseException], ...]:
    """What a yt-dlp call may fail with that is not our bug: its own errors and the network's."""
    from yt_dlp.utils import YoutubeDLError  # DownloadError, ExtractorError, RequestError, ...

    return (YoutubeDLError, OSError, http.client.HTTPException)


def classify_error(
    exc: BaseException, *, quality: str | None = None, offered: list[str] | None = None
) -> YTArchiveError:
    """Our error class for a yt-dlp exception (see ytarchive.ytdlp_errors.classify).

    quality/offered: what was asked and what the video offers (FormatUnavailable says both).
    A Transient that yt-dlp already retried in place (a media request or fragment, "Giving up
    after N retries") says so in `retried_by`, so the task does not retry the video again.
    """
    error = classify_exception(exc, quality=quality, offered=offered)
    if isinstance(error, Transient) and error is not exc and _GAVE_UP.search(str(exc)):
        error.retried_by = RETRIED_BY
    return error
