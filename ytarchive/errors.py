"""The error tree: every failure YTArchive reports is one of these."""

from __future__ import annotations

__all__ = [
    "YTArchiveError",
    "InputError",
    "Unavailable",
    "Transient",
    "QuotaExceeded",
    "AuthError",
    "DownloadFailed",
    "ServerUnavailable",
    "CatalogError",
]


class YTArchiveError(Exception):
    """Base of every error YTArchive raises on purpose."""

    exit_code = 1
    attempt = 1  # the attempt of its task that raised it (set when the task's body is ours)


class InputError(YTArchiveError):
    """A bad URL, id, option or batch line, found before any work starts."""

    exit_code = 2


class Unavailable(YTArchiveError):
    """The video is private, deleted, removed or blocked: permanent, never retried."""


class Transient(YTArchiveError):
    """A network error, HTTP 5xx or 429 that may pass: retried with backoff, by one layer."""

    def __init__(
        self, message: str, retry_after: float | None = None, retried_by: str | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        # The layer that owns this failure's retries and has spent them ("yt-dlp" for a media
        # request or fragment, "youtube-api" for a Data API call); None: the task retries it.
        self.retried_by = retried_by


class QuotaExceeded(YTArchiveError):
    """The YouTube Data API quota for today is spent: stop calling it."""


class AuthError(YTArchiveError):
    """The YouTube API key was rejected."""


class DownloadFailed(YTArchiveError):
    """A download failed for a reason that is neither transient nor unavailability."""


class ServerUnavailable(YTArchiveError):
    """The Prefect API cannot be reached, or the local Prefect server would not start."""


class CatalogError(YTArchiveError):
    """The catalog's Parquet files could not be read or written."""
