"""JSON the YouTube Data API v3 stand-in answers with: resources and Google's error bodies."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from typing import Any

from tests.testbed.library import Channel, Library, Playlist, Video

__all__ = [
    "ERRORS",
    "THUMBNAIL_JPEG",
    "error_body",
    "etag",
    "iso_duration",
    "video_resource",
    "playlist_item_resource",
    "playlist_resource",
    "channel_resource",
]

THUMBNAIL_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAgAAAQABAAD//gAQTGF2YzU5LjM3LjEwMAD/2wBDAAgUFBcUFxsbGxsbGyAeICEhISAgICAhIS"
    "EkJCQqKiokJCQhISQkKCgqKi4vLisrKisvLzIyMjw8OTlGRkhWVmf/xABMAAEBAAAAAAAAAAAAAAAAAAAABgEBAQAA"
    "AAAAAAAAAAAAAAAABgcQAQAAAAAAAAAAAAAAAAAAAAARAQAAAAAAAAAAAAAAAAAAAAD/wAARCAAIABADASIAAhEAAx"
    "EA/9oADAMBAAIRAxEAPwCLAFF/f//Z"
)

_QUOTA_MSG = (
    "The request cannot be completed because you have exceeded your "
    '<a href="/youtube/v3/getting-started#quota">quota</a>.'
)
_KEY_MSG = "API key not valid. Please pass a valid API key."

# name -> (HTTP status, message, domain, reason, status string or None, extra error fields)
ERRORS: dict[str, tuple[int, str, str, str, str | None, dict[str, str]]] = {
    "keyInvalid": (400, _KEY_MSG, "global", "badRequest", "INVALID_ARGUMENT", {}),
    "missingKey": (
        403,
        "The request is missing a valid API key.",
        "global",
        "forbidden",
        "PERMISSION_DENIED",
        {},
    ),
    "quotaExceeded": (403, _QUOTA_MSG, "youtube.quota", "quotaExceeded", None, {}),
    "rateLimitExceeded": (
        403,
        "Rate Limit Exceeded",
        "usageLimits",
        "rateLimitExceeded",
        "PERMISSION_DENIED",
        {},
    ),
    "backendError": (
        503,
        "The service is currently unavailable.",
        "global",
        "backendError",
        "UNAVAILABLE",
        {},
    ),
    "internalError": (
        500,
        "Internal error encountered.",
        "global",
        "internalError",
        "INTERNAL",
        {},
    ),
    "playlistNotFound": (
        404,
        "The playlist identified with the request's <code>playlistId</code> parameter cannot be "
        "found.",
        "youtube.playlistItem",
        "playlistNotFound",
        None,
        {"location": "playlistId", "locationType": "parameter"},
    ),
    "invalidPageToken": (
        400,
        "The request specifies an invalid page token.",
        "youtube.parameter",
        "invalidPageToken",
        None,
        {"location": "pageToken", "locationType": "parameter"},
    ),
    "maxResults": (
        400,
        "Invalid value at 'max_results' (TYPE_UINT32), must be within the range: [0, 50]",
        "global",
        "invalid",
        "INVALID_ARGUMENT",
        {},
    ),
    "missingRequiredParameter": (
        400,
        "No filter selected. Expected one of: id, chart, myRating.",
        "youtube.parameter",
        "missingRequiredParameter",
        None,
        {"location": "parameters.", "locationType": "other"},
    ),
    "tooManyIds": (
        400,
        "The request specifies an invalid filter parameter.",
        "youtube.parameter",
        "invalidFilters",
        None,
        {"location": "parameters.", "locationType": "other"},
    ),
    "notFound": (404, "Not Found", "global", "notFound", "NOT_FOUND", {}),
}


def error_body(name: str) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) in Google's JSON error format for one of ERRORS."""
    code, message, domain, reason, status, extra = ERRORS[name]
    error: dict[str, Any] = {
        "code": code,
        "message": message,
        "errors": [{"message": message, "domain": domain, "reason": reason, **extra}],
    }
    if status:
        error["status"] = status
    if name == "keyInvalid":
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "youtube.googleapis.com"},
            },
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": _KEY_MSG,
            },
        ]
    return code, {"error": error}


def etag(*parts: object) -> str:
    digest = hashlib.sha1(json.dumps(parts, default=str, sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:27]


def iso_duration(seconds: int) -> str:
    """ISO 8601 as the API writes it: PT1M5S, PT1H, P1DT2H3M, and P0D for zero."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    out = "P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "")
    return out if out != "P" else "P0D"


def _ts(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _thumbnails(base_url: str, video_id: str) -> dict[str, dict[str, Any]]:
    sizes = {
        "default": ("default", 120, 90),
        "medium": ("mqdefault", 320, 180),
        "high": ("hqdefault", 480, 360),
        "standard": ("sddefault", 640, 480),
        "maxres": ("maxresdefault", 1280, 720),
    }
    return {
        key: {"url": f"{base_url}/vi/{video_id}/{name}.jpg", "width": w, "height": h}
        for key, (name, w, h) in sizes.items()
    }


def video_resource(lib: Library, v: Video, parts: set[str], base_url: str) -> dict[str, Any]:
    """A youtube#video with the requested parts."""
    channel = lib.channels[v.channel_id]
    item: dict[str, Any] = {"kind": "youtube#video", "etag": etag("v", v), "id": v.video_id}
    if "snippet" in parts:
        item["snippet"] = {
            "publishedAt": _ts(v.published_at),
            "channelId": v.channel_id,
            "title": v.title,
            "description": v.description,
            "thumbnails": _thumbnails(base_url, v.video_id),
            "channelTitle": channel.title,
            **({"tags": list(v.tags)} if v.tags else {}),  # the API omits an empty tag list
            "categoryId": v.category_id,
            "liveBroadcastContent": "none",
            "defaultAudioLanguage": "en",
            "localized": {"title": v.title, "description": v.description},
        }
    if "contentDetails" in parts:
        item["contentDetails"] = {
            "duration": iso_duration(v.duration),
            "dimension": "2d",
            "definition": "hd",
            "caption": "false",
            "licensedContent": False,
            "contentRating": {},
            "projection": "rectangular",
        }
    if "statistics" in parts:
        item["statistics"] = {
            "viewCount": str(v.view_count),
            "likeCount": str(v.like_count),
            "favoriteCount": "0",
            "commentCount": str(v.comment_count),
        }
    if "status" in parts:
        item["status"] = {
            "uploadStatus": "processed",
            "privacyStatus": v.privacy,
            "license": "youtube",
            "embeddable": True,
            "publicStatsViewable": True,
            "madeForKids": False,
        }
    return item


def playlist_item_resource(
    lib: Library, pl: Playlist, position: int, video_id: str, parts: set[str], base_url: str
) -> dict[str, Any]:
    """A youtube#playlistItem; private/deleted videos show as YouTube shows them to others."""
    v = lib.videos[video_id]
    owner = lib.channels[pl.channel_id]
    item_id = base64.b64encode(f"{pl.playlist_id}.{video_id}.{position}".encode()).decode()
    item: dict[str, Any] = {
        "kind": "youtube#playlistItem",
        "etag": etag("pi", pl.playlist_id, position, v),
        "id": item_id.rstrip("="),
    }
    if "snippet" in parts:
        snippet: dict[str, Any] = {
            "publishedAt": _ts(pl.published_at),
            "channelId": pl.channel_id,
            "title": v.title,
            "description": v.description,
            "thumbnails": _thumbnails(base_url, video_id),
            "channelTitle": owner.title,
            "playlistId": pl.playlist_id,
            "position": position,
            "resourceId": {"kind": "youtube#video", "videoId": video_id},
        }
        if v.available:
            video_owner = lib.channels[v.channel_id]
            snippet["videoOwnerChannelTitle"] = video_owner.title
            snippet["videoOwnerChannelId"] = video_owner.channel_id
        elif v.privacy == "private":
            snippet.update(title="Private video", description="This video is private.")
            snippet["thumbnails"] = {}
        else:
            snippet.update(title="Deleted video", description="This video is unavailable.")
            snippet["thumbnails"] = {}
        item["snippet"] = snippet
    if "contentDetails" in parts:
        details = {"videoId": video_id}
        if v.available:
            details["videoPublishedAt"] = _ts(v.published_at)
        item["contentDetails"] = details
    if "status" in parts:
        privacy = v.privacy if v.privacy != "deleted" else "privacyStatusUnspecified"
        item["status"] = {"privacyStatus": privacy}
    return item


def playlist_resource(lib: Library, pl: Playlist, parts: set[str], base_url: str) -> dict[str, Any]:
    """A youtube#playlist."""
    owner = lib.channels[pl.channel_id]
    entries = lib.playlist_entries(pl.playlist_id)
    item: dict[str, Any] = {"kind": "youtube#playlist", "etag": etag("p", pl), "id": pl.playlist_id}
    if "snippet" in parts:
        first = entries[0] if entries else pl.playlist_id
        item["snippet"] = {
            "publishedAt": _ts(pl.published_at),
            "channelId": pl.channel_id,
            "title": pl.title,
            "description": pl.description,
            "thumbnails": _thumbnails(base_url, first),
            "channelTitle": owner.title,
            "localized": {"title": pl.title, "description": pl.description},
        }
    if "contentDetails" in parts:
        item["contentDetails"] = {"itemCount": len(entries)}
    if "status" in parts:
        item["status"] = {"privacyStatus": pl.privacy}
    return item


def channel_resource(lib: Library, ch: Channel, parts: set[str], base_url: str) -> dict[str, Any]:
    """A youtube#channel; contentDetails.relatedPlaylists.uploads is its uploads playlist."""
    item: dict[str, Any] = {"kind": "youtube#channel", "etag": etag("c", ch), "id": ch.channel_id}
    uploads = lib.playlist_entries(ch.uploads_playlist_id)
    if "snippet" in parts:
        item["snippet"] = {
            "title": ch.title,
            "description": ch.description,
            "customUrl": ch.handle.lower(),
            "publishedAt": _ts(ch.published_at),
            "thumbnails": {
                k: v for k, v in _thumbnails(base_url, ch.channel_id).items() if k != "standard"
            },
            "localized": {"title": ch.title, "description": ch.description},
        }
    if "contentDetails" in parts:
        item["contentDetails"] = {
            "relatedPlaylists": {"likes": "", "uploads": ch.uploads_playlist_id}
        }
    if "statistics" in parts:
        item["statistics"] = {
            "viewCount": str(sum(lib.videos[v].view_count for v in uploads)),
            "subscriberCount": "100",
            "hiddenSubscriberCount": False,
            "videoCount": str(len(uploads)),
        }
    if "status" in parts:
        item["status"] = {"privacyStatus": "public", "isLinked": True, "madeForKids": False}
    return item
