"""YouTube Data API v3 (google-api-python-client, only here): batched, paged, quota-counted."""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from ytarchive.chapters import chapters_from_description
from ytarchive.coerce import best_thumbnail, int_or_none
from ytarchive.config import Settings
from ytarchive.errors import AuthError, InputError, QuotaExceeded, Transient, YTArchiveError
from ytarchive.models import Availability, PlaylistInfo, PlaylistItem, VideoMetadata
from ytarchive.redact import redact, redact_loggers, register_secret
from ytarchive.refs import ChannelRef

__all__ = [
    "YouTubeAPI",
    "BATCH_SIZE",
    "QUOTA_COST",
    "parse_duration",
    "video_from_api",
    "item_from_api",
    "install_key_redaction",
]

log = logging.getLogger(__name__)

BATCH_SIZE = 50  # videos.list takes up to 50 ids; playlistItems.list returns up to 50 a page
VIDEO_PARTS = "snippet,contentDetails,statistics,status"
ITEM_PARTS = "snippet,contentDetails,status"
# Quota units per call (https://developers.google.com/youtube/v3/determine_quota_cost).
QUOTA_COST = {"videos.list": 1, "playlistItems.list": 1, "playlists.list": 1, "channels.list": 1}
MAX_RETRY_SLEEP = 60.0
RETRIED_BY = "youtube-api"  # Transient.retried_by of a call whose retries are spent
HTTP_TIMEOUT = 30

_QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded", "RATE_LIMIT_EXCEEDED_DAILY"}
_AUTH_REASONS = {
    "keyInvalid",
    "keyExpired",
    "forbidden",
    "API_KEY_INVALID",
    "API_KEY_EXPIRED",
    "API_KEY_SERVICE_BLOCKED",
    "API_KEY_HTTP_REFERRER_BLOCKED",
    "API_KEY_IP_ADDRESS_BLOCKED",
    "accessNotConfigured",
    "ipRefererBlocked",
    "SERVICE_DISABLED",
    "UNAUTHENTICATED",
}
_TRANSIENT_REASONS = {
    "backendError",
    "internalError",
    "rateLimitExceeded",
    "userRateLimitExceeded",
    "UNAVAILABLE",
}
_NOT_FOUND = {"playlistNotFound": "playlist", "channelNotFound": "channel"}
_UNAVAILABLE_TITLES: dict[str, Availability] = {
    "Private video": "private",
    "Deleted video": "deleted",
}


# ---------------------------------------------------------------------------------------------
# Pure mapping: durations, thumbnails, API resources -> our records
# ---------------------------------------------------------------------------------------------

_DURATION_RE = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:[.,]\d+)?)S)?)?$"
)


def parse_duration(text: str | None) -> int | None:
    """Seconds in an ISO 8601 duration as the API writes them (PT1H2M3S, P1DT2H, P0D); else None."""
    if not text:
        return None
    match = _DURATION_RE.match(text.strip())
    if not match or text.strip() in ("P", "PT") or text.strip().endswith("T"):
        return None
    parts = {k: float((v or "0").replace(",", ".")) for k, v in match.groupdict().items()}
    seconds = (
        parts["w"] * 604800 + parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]
    )
    return int(round(seconds))


def _timestamp(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def video_from_api(resource: dict[str, Any]) -> VideoMetadata:
    """One videos.list resource as our metadata record (source youtube_api)."""
    snippet = resource.get("snippet") or {}
    details = resource.get("contentDetails") or {}
    stats = resource.get("statistics") or {}
    status = resource.get("status") or {}
    upload = status.get("uploadStatus")
    unavailable = upload in ("deleted", "failed", "rejected")
    reason = status.get("rejectionReason") or status.get("failureReason")
    return VideoMetadata(
        video_id=resource["id"],
        title=snippet.get("title"),
        description=snippet.get("description"),
        channel_id=snippet.get("channelId"),
        channel_title=snippet.get("channelTitle"),
        published_at=_timestamp(snippet.get("publishedAt")),
        duration_seconds=parse_duration(details.get("duration")),
        view_count=int_or_none(stats.get("viewCount")),
        like_count=int_or_none(stats.get("likeCount")),
        comment_count=int_or_none(stats.get("commentCount")),
        tags=list(snippet.get("tags") or []),
        category_id=snippet.get("categoryId"),
        thumbnail_url=best_thumbnail(snippet.get("thumbnails")),
        source="youtube_api",
        availability="unavailable" if unavailable else "available",
        unavailable_reason=f"upload {upload}" + (f": {reason}" if reason else "")
        if unavailable
        else None,
        chapters=chapters_from_description(
            snippet.get("description"), parse_duration(details.get("duration"))
        ),
    )


def missing_video(video_id: str) -> VideoMetadata:
    """The record for an id videos.list did not return: private, deleted or never existed."""
    return VideoMetadata(
        video_id=video_id,
        source="youtube_api",
        availability="unavailable",
        unavailable_reason="not returned by the YouTube API (private, deleted or nonexistent)",
    )


def item_from_api(
    resource: dict[str, Any], playlist_id: str, fallback_position: int
) -> PlaylistItem:
    """One playlistItems.list resource as a PlaylistItem; private and deleted entries marked."""
    snippet = resource.get("snippet") or {}
    details = resource.get("contentDetails") or {}
    status = resource.get("status") or {}
    video_id = (snippet.get("resourceId") or {}).get("videoId") or details.get("videoId") or ""
    title = snippet.get("title")
    availability = _UNAVAILABLE_TITLES.get(title or "", "available")
    if availability == "available" and status.get("privacyStatus") == "private":
        availability = "private"
    position = snippet.get("position")
    return PlaylistItem(
        playlist_id=playlist_id,
        position=position if isinstance(position, int) else fallback_position,
        video_id=video_id,
        title=title,
        availability=availability,
    )


_GOOGLE_LOGGERS = ("googleapiclient.discovery", "googleapiclient.http", "googleapiclient.model")


class _Quiet403(logging.Filter):
    """googleapiclient warns of every 403 it sees; we report it ourselves, so it is debug noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and str(record.msg).startswith("Encountered 403"):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


_QUIET_403 = _Quiet403()


def install_key_redaction(secret: str | None = None) -> None:
    """Mask the key everywhere, and in googleapiclient's loggers (they log request URLs)."""
    register_secret(secret)
    redact_loggers(*_GOOGLE_LOGGERS)
    for name in _GOOGLE_LOGGERS:
        logger = logging.getLogger(name)
        if _QUIET_403 not in logger.filters:
            logger.addFilter(_QUIET_403)


# ---------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------


class YouTubeAPI:
    """The Data API v3 behind our records and errors; counts the quota units it spends.

    The discovery client is built once per object from the document shipped in the wheel; each
    thread gets its own httplib2 connection (httplib2.Http is not thread-safe).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not settings.has_api_key:
            raise AuthError("no YouTube API key is configured (set YOUTUBE_API_KEY)")
        assert settings.youtube_api_key is not None
        self._key = settings.youtube_api_key.get_secret_value()
        install_key_redaction(self._key)
        self.api_url = settings.youtube_api_url.rstrip("/")
        self.max_retries = settings.youtube_api_retries
        self.backoff = settings.youtube_api_backoff
        self._sleep = sleep
        self._local = threading.local()
        self._lock = threading.Lock()
        self.units_spent = 0
        self.calls: dict[str, int] = {}
        self._service = self._build()

    def __repr__(self) -> str:  # never the key
        return f"YouTubeAPI(api_url={self.api_url!r}, units_spent={self.units_spent})"

    # -- public ---------------------------------------------------------------------------

    def videos(self, video_ids: Sequence[str]) -> list[VideoMetadata]:
        """Metadata for these ids in input order, 50 ids a videos.list call; missing ids marked."""
        unique = list(dict.fromkeys(video_ids))
        found: dict[str, VideoMetadata] = {}
        for start in range(0, len(unique), BATCH_SIZE):
            batch = unique[start : start + BATCH_SIZE]
            request = self._service.videos().list(part=VIDEO_PARTS, id=",".join(batch))
            response = self._execute("videos.list", request)
            for resource in response.get("items") or []:
                record = video_from_api(resource)
                found[record.video_id] = record
        return [found.get(vid) or missing_video(vid) for vid in video_ids]

    def playlist(self, playlist_id: str) -> tuple[PlaylistInfo, list[PlaylistItem]]:
        """A playlist's title, owner and count (playlists.list), then all its items."""
        info = self.playlist_info(playlist_id)
        items = list(self.playlist_items(playlist_id))
        return info, items

    def playlist_info(self, playlist_id: str, url: str | None = None) -> PlaylistInfo:
        """playlists.list for one id; an unknown playlist is an InputError."""
        request = self._service.playlists().list(
            part="snippet,contentDetails", id=playlist_id, maxResults=1
        )
        response = self._execute("playlists.list", request, subject=playlist_id)
        items = response.get("items") or []
        if not items:
            raise InputError(f"playlist not found: {playlist_id}")
        snippet = items[0].get("snippet") or {}
        return PlaylistInfo(
            playlist_id=playlist_id,
            title=snippet.get("title"),
            channel_id=snippet.get("channelId"),
            channel_title=snippet.get("channelTitle"),
            item_count=int_or_none((items[0].get("contentDetails") or {}).get("itemCount")),
            url=url or f"https://www.youtube.com/playlist?list={playlist_id}",
            source="youtube_api",
        )

    def playlist_items(
        self, playlist_id: str, total: list[int] | None = None
    ) -> Iterator[PlaylistItem]:
        """Every item of a playlist in order, 50 a page, following nextPageToken."""
        token: str | None = None
        position = 0
        while True:
            params: dict[str, Any] = {
                "part": ITEM_PARTS,
                "playlistId": playlist_id,
                "maxResults": BATCH_SIZE,
            }
            if token:
                params["pageToken"] = token
            request = self._service.playlistItems().list(**params)
            response = self._execute("playlistItems.list", request, subject=playlist_id)
            if total is not None and not total:
                total.append(int_or_none((response.get("pageInfo") or {}).get("totalResults")) or 0)
            for resource in response.get("items") or []:
                yield item_from_api(resource, playlist_id, position)
                position += 1
            token = response.get("nextPageToken")
            if not token:
                return

    def channel_uploads(self, ref: ChannelRef) -> tuple[PlaylistInfo, list[PlaylistItem]]:
        """A channel as its uploads playlist: channels.list (id, handle or user), then its items."""
        channel = self._channel(ref)
        snippet = channel.get("snippet") or {}
        uploads = ((channel.get("contentDetails") or {}).get("relatedPlaylists") or {}).get(
            "uploads"
        )
        if not uploads:
            raise InputError(f"channel has no uploads playlist: {ref.key}")
        total: list[int] = []
        items = list(self.playlist_items(uploads, total=total))
        title = snippet.get("title")
        info = PlaylistInfo(
            playlist_id=uploads,
            title=f"Uploads from {title}" if title else None,
            channel_id=channel.get("id"),
            channel_title=title,
            item_count=total[0] if total else len(items),
            url=ref.url,
            source="youtube_api",
        )
        return info, items

    # -- internals ------------------------------------------------------------------------

    def _channel(self, ref: ChannelRef) -> dict[str, Any]:
        params: dict[str, Any] = {"part": "snippet,contentDetails"}
        if ref.channel_id:
            params["id"] = ref.channel_id
        elif ref.user:
            params["forUsername"] = ref.user
        else:
            # /c/ custom names are resolved as handles: YouTube turned custom URLs into handles
            # in 2022, and channels.list has no lookup by custom URL.
            handle = ref.handle or f"@{ref.custom}"
            params["forHandle"] = handle
        request = self._service.channels().list(**params)
        response = self._execute("channels.list", request, subject=ref.key)
        items = response.get("items") or []
        if not items:
            raise InputError(f"channel not found: {ref.key}")
        return items[0]

    def _build(self) -> Any:
        from googleapiclient.discovery import build

        started = time.perf_counter()
        service = build(
            "youtube",
            "v3",
            developerKey=self._key,
            client_options={"api_endpoint": self.api_url},
            static_discovery=True,
            cache_discovery=False,
            http=self._http(),
        )
        log.debug("built the YouTube API client in %.1f ms", (time.perf_counter() - started) * 1e3)
        return service

    def _http(self) -> Any:
        http = getattr(self._local, "http", None)
        if http is None:
            import httplib2

            http = self._local.http = httplib2.Http(timeout=HTTP_TIMEOUT)
        return http

    def _execute(self, method: str, request: Any, subject: str | None = None) -> dict[str, Any]:
        """Run one call, retrying transient failures with jittered exponential backoff."""
        for attempt in range(self.max_retries + 1):
            response, error = self._attempt(method, request, subject)
            if error is None or _charged(error):
                self._spend(method)
            if error is None:
                return response
            if not isinstance(error, Transient) or attempt == self.max_retries:
                if isinstance(error, Transient):
                    error.retried_by = RETRIED_BY  # spent here: the task does not retry it again
                raise error  # raised outside any except block: no HttpError (URL, key) chained
            delay = self._delay(attempt, error.retry_after)
            log.info(
                "%s: %s; retry %d of %d in %.2f s",
                method,
                error,
                attempt + 1,
                self.max_retries,
                delay,
            )
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(
        self, method: str, request: Any, subject: str | None
    ) -> tuple[Any, YTArchiveError | None]:
        import http.client

        import httplib2
        from googleapiclient.errors import HttpError

        try:
            return request.execute(http=self._http(), num_retries=0), None
        except HttpError as exc:
            return None, self._map_http_error(method, exc, subject)
        except (OSError, httplib2.HttpLib2Error, http.client.HTTPException) as exc:
            detail = redact(str(exc)) or type(exc).__name__
            return None, Transient(f"cannot reach the YouTube API ({method}): {detail}")
        except ValueError:  # a 2xx body that is not JSON (a proxy's error page)
            return None, Transient(
                f"the YouTube API answered {method} with a body that is not JSON"
            )

    def _map_http_error(self, method: str, exc: Any, subject: str | None) -> YTArchiveError:
        status = int(getattr(exc.resp, "status", 0) or 0)
        reasons, message = _error_reasons(exc.content)
        reason = reasons[0] if reasons else f"HTTP {status}"
        found = set(reasons)
        if found & _QUOTA_REASONS:
            return QuotaExceeded(
                "the YouTube API daily quota is exhausted (quotaExceeded); "
                "it resets at midnight Pacific time"
            )
        if found & _AUTH_REASONS or status == 401:
            return AuthError(f"the YouTube API key was rejected ({reason})")
        for name, what in _NOT_FOUND.items():
            if name in found:
                return InputError(f"{what} not found: {subject or '?'}")
        if status >= 500 or status == 429 or found & _TRANSIENT_REASONS:
            retry_after = _retry_after(exc.resp)
            return Transient(
                f"the YouTube API failed {method}: HTTP {status} {reason}", retry_after
            )
        text = f": {redact(message)}" if message else ""
        return YTArchiveError(f"the YouTube API refused {method}: HTTP {status} {reason}{text}")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_SLEEP)
        return min(self.backoff * 2**attempt * (0.5 + random.random() / 2), MAX_RETRY_SLEEP)

    def _spend(self, method: str) -> None:
        cost = QUOTA_COST.get(method, 1)
        with self._lock:
            self.units_spent += cost
            self.calls[method] = self.calls.get(method, 0) + 1
            total = self.units_spent
        log.debug("%s: %d unit(s), %d spent by this client", method, cost, total)


def _charged(error: YTArchiveError) -> bool:
    """Google charges a request it processed and refused (playlistNotFound, a bad parameter),
    not one it turned away for the key, the quota, a rate limit or a server fault."""
    return not isinstance(error, (Transient, QuotaExceeded, AuthError))


def _error_reasons(content: bytes | str | None) -> tuple[list[str], str | None]:
    """Reasons in Google's error body: error.errors[].reason, .details[].reason, .status."""
    if not content:
        return [], None
    try:
        data = json.loads(content.decode("utf-8") if isinstance(content, bytes) else content)
    except (UnicodeDecodeError, ValueError):
        return [], None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return [], None
    reasons: list[str] = []
    for entry in (error.get("errors") or []) + (error.get("details") or []):
        if isinstance(entry, dict) and isinstance(entry.get("reason"), str):
            reasons.append(entry["reason"])
    if isinstance(error.get("status"), str):
        reasons.append(error["status"])
    message = error.get("message") if isinstance(error.get("message"), str) else None
    return reasons, message


def _retry_after(resp: Any) -> float | None:
    try:
        value = resp.get("retry-after") if resp is not None else None
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None
