"""The error tree: every failure YTArchive reports is one of these."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "YTArchiveError",
    "InputError",
    "Unavailable",
    "Private",
    "RemovedByUploader",
    "RemovedForCopyright",
    "RegionBlocked",
    "MembersOnly",
    "NotFound",
    "Transient",
    "RateLimited",
    "CdnForbidden",
    "QuotaExceeded",
    "AuthError",
    "DownloadFailed",
    "NeedsCookies",
    "BotCheck",
    "AgeRestricted",
    "FormatUnavailable",
    "NotYet",
    "Upcoming",
    "LiveNow",
    "Braked",
    "ServerUnavailable",
    "CatalogError",
]

COOKIES_HINT = "set YTARCHIVE_COOKIES_FILE (or pass --cookies FILE) to a signed-in cookies.txt"


class YTArchiveError(Exception):
    """Base of every error YTArchive raises on purpose."""

    exit_code = 1
    #: the downloads row's status: "unavailable" (final), "failed" (tried again later), or
    #: "upcoming" / "live" (NotYet: neither final nor failed; the next run or sync takes it)
    status = "failed"
    #: retrying as things are cannot help: the video is recorded as final, not kept for retry
    permanent = False
    #: the site refused us (not the video): counts toward the run-wide brake
    site_refusal = False
    #: what the user should do, one clause ("" when nothing helps)
    advice = ""

    @property
    def reason(self) -> str:
        """The one line the catalog's `reason` column and `recovery show` carry: what, then how."""
        what = str(self).strip() or type(self).__doc__ or type(self).__name__
        return f"{what}; {self.advice}" if self.advice else what

    @property
    def error_class(self) -> str:
        """The catalog's `error_class` column: our class name."""
        return type(self).__name__

    #: the attempt of its task that raised it (set when the task's body is ours)
    attempt = 1


class InputError(YTArchiveError):
    """A bad URL, id, option or batch line, found before any work starts."""

    exit_code = 2


class Unavailable(YTArchiveError):
    """The video is private, deleted, removed or blocked: permanent, never retried."""

    status = "unavailable"
    permanent = True


class Private(Unavailable):
    """The uploader made the video private: only accounts they granted access may watch it."""

    advice = "only the cookies of an account the uploader granted access can archive it"


class RemovedByUploader(Unavailable):
    """The uploader deleted the video."""


class RemovedForCopyright(Unavailable):
    """YouTube took the video down after a copyright claim."""


class RegionBlocked(Unavailable):
    """The video is blocked in the country YouTube thinks we are in."""

    advice = "it can only be archived from a country where it is allowed (a proxy in [ytdlp])"

    def __init__(self, message: str, countries: Sequence[str] | None = None) -> None:
        super().__init__(message)
        self.countries = list(countries) if countries else None


class MembersOnly(Unavailable):
    """The video is for the channel's paying members: unavailable to this account."""

    advice = "only the cookies of an account that is a member of the channel can archive it"


class NotFound(Unavailable):
    """The site answers 404: no such video (deleted, or a wrong id)."""


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


class RateLimited(Transient):
    """The site answers HTTP 429 (too many requests): the run brakes, then stops."""

    site_refusal = True
    advice = "wait (Retry-After, or an hour), lower YTARCHIVE_RATE_LIMIT, raise the sleeps"


class CdnForbidden(Transient):
    """The media host answers HTTP 403: a refused or expired stream URL; the run brakes."""

    site_refusal = True
    advice = f"try later; if it persists, {COOKIES_HINT} and upgrade yt-dlp"


class QuotaExceeded(YTArchiveError):
    """The YouTube Data API quota for today is spent: stop calling it."""


class AuthError(YTArchiveError):
    """The YouTube API key was rejected."""


class DownloadFailed(YTArchiveError):
    """A download failed for a reason that is neither transient nor unavailability."""


class NeedsCookies(DownloadFailed):
    """YouTube wants a signed-in session for this video: pass cookies, then retry."""

    advice = COOKIES_HINT


class BotCheck(NeedsCookies):
    """YouTube asks to "sign in to confirm you're not a bot": the run brakes and stops."""

    site_refusal = True


class AgeRestricted(NeedsCookies):
    """The video is age-restricted: it needs the cookies of an adult, signed-in account."""

    advice = f"{COOKIES_HINT} of an age-verified account"


class FormatUnavailable(DownloadFailed):
    """None of the video's formats matches the quality asked for."""

    def __init__(
        self, message: str, quality: str | None = None, offered: Sequence[str] | None = None
    ) -> None:
        super().__init__(message)
        self.quality = quality
        self.offered = list(offered) if offered is not None else None
        if self.offered:
            self.advice = f"ask --quality for one of {', '.join(self.offered)}, or best"
        else:
            self.advice = "see `ytarchive health` (js runtime, yt-dlp age), then --quality best"


class NotYet(YTArchiveError):
    """The video exists but cannot be archived yet: the first sync after it is ready takes it."""


class Upcoming(NotYet):
    """A premiere or live stream that has not started: taken by the first sync after it starts."""

    status = "upcoming"
    advice = "the first sync after it starts archives it"

    def __init__(self, message: str, release_timestamp: float | None = None) -> None:
        super().__init__(message)
        self.release_timestamp = release_timestamp


class LiveNow(NotYet):
    """The video is live right now: skipped until it ends, unless --live-from-start."""

    status = "live"
    advice = "it is taken once the stream ends; pass --live-from-start to record it now"


class Braked(YTArchiveError):
    """Not tried: the run stopped after the site refused several downloads in a row."""


class ServerUnavailable(YTArchiveError):
    """The Prefect API cannot be reached, or the local Prefect server would not start."""


class CatalogError(YTArchiveError):
    """The catalog's Parquet files could not be read or written."""
