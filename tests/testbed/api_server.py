"""Loopback YouTube Data API v3 stand-in: list endpoints, paging, key check, quota and faults.

google-api-python-client talks to it when built with
`client_options={"api_endpoint": server.base_url}`; it then requests
`{base_url}/youtube/v3/{videos,playlistItems,playlists,channels}?...&key=...`.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.testbed import api_payloads as P
from tests.testbed.httpbase import LoopbackServer, QuietHandler
from tests.testbed.library import Library

__all__ = ["ApiServer", "ApiRequest", "DEFAULT_API_KEY", "FAULT_KINDS"]

DEFAULT_API_KEY = "AIzaSyTESTBED-loopback-0123456789abcdef"
DEFAULT_QUOTA = 10_000
FAULT_KINDS = ("backendError", "internalError", "rateLimitExceeded", "quotaExceeded")
_PREFIX = "/youtube/v3/"


class ApiError(Exception):
    """A Google-format error the handler turns into its JSON body."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@dataclass
class ApiRequest:
    """One request: endpoint ("videos", ...), params without the key, outcome, units charged."""

    endpoint: str
    params: dict[str, str]
    status: int = 0
    units: int = 0
    key_ok: bool | None = None
    error: str | None = None


@dataclass
class _Fault:
    kind: str
    remaining: int
    endpoint: str | None = None


@dataclass
class _Query:
    params: dict[str, str]
    parts: set[str] = field(default_factory=set)

    def ids(self, name: str) -> list[str]:
        raw = self.params.get(name, "")
        return list(dict.fromkeys(i.strip() for i in raw.split(",") if i.strip()))


class _Handler(QuietHandler):
    owner: ApiServer

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path.startswith("/vi/"):
            self.owner._record(ApiRequest("thumbnail", {"path": url.path}, 200))
            self.send_body(200, P.THUMBNAIL_JPEG, "image/jpeg")
            return
        params: dict[str, str] = {}
        for name, value in parse_qsl(url.query, keep_blank_values=True):
            params[name] = f"{params[name]},{value}" if name in params else value
        endpoint = url.path[len(_PREFIX) :].strip("/") if url.path.startswith(_PREFIX) else ""
        status, body = self.owner._handle(endpoint or url.path, params)
        data = json.dumps(body, indent=2).encode()
        self.send_body(status, data, "application/json; charset=UTF-8", {"Vary": "Origin"})


class ApiServer(LoopbackServer):
    """The stand-in. Counters: requests, call_count(), units_used; controls: fail_next, set_quota.

    Quota: each list call costs 1 unit once it passes the key and quota checks (request errors
    such as playlistNotFound cost too, as at Google; injected faults and key errors do not).
    """

    handler_class = _Handler

    def __init__(
        self,
        library: Library | None = None,
        api_key: str = DEFAULT_API_KEY,
        quota_limit: int = DEFAULT_QUOTA,
    ) -> None:
        super().__init__()
        self.library = library if library is not None else Library()
        self.api_key = api_key
        self.quota_limit = quota_limit
        self._default_quota = quota_limit
        self.units_used = 0
        self.requests: list[ApiRequest] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._endpoints: dict[str, Callable[[_Query], dict[str, Any]]] = {
            "videos": self._videos,
            "playlistItems": self._playlist_items,
            "playlists": self._playlists,
            "channels": self._channels,
        }
        self.costs = dict.fromkeys(self._endpoints, 1)

    # -- test controls --------------------------------------------------------------------------
    def fail_next(
        self, n: int = 1, kind: str = "backendError", endpoint: str | None = None
    ) -> None:
        """Answer the next n calls (to `endpoint`, or any) with this Google error."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {FAULT_KINDS}, not {kind!r}")
        with self._lock:
            self._faults.append(_Fault(kind, n, endpoint))

    def set_quota(self, limit: int, used: int | None = None) -> None:
        """Daily limit in units (and optionally what is already spent today)."""
        with self._lock:
            self.quota_limit = limit
            if used is not None:
                self.units_used = used

    def reset(self) -> None:
        """Forget faults and the request log; refill the quota to the default limit."""
        with self._lock:
            self._faults.clear()
            self.requests.clear()
            self.units_used = 0
            self.quota_limit = self._default_quota

    # -- counters -------------------------------------------------------------------------------
    def call_count(self, endpoint: str | None = None, status: int | None = None) -> int:
        """Recorded API calls (thumbnails excluded), optionally by endpoint and HTTP status."""
        with self._lock:
            return sum(
                1
                for r in self.requests
                if r.endpoint != "thumbnail"
                and (endpoint is None or r.endpoint == endpoint)
                and (status is None or r.status == status)
            )

    def calls_by_endpoint(self) -> dict[str, int]:
        with self._lock:
            return dict(Counter(r.endpoint for r in self.requests if r.endpoint != "thumbnail"))

    def units_by_endpoint(self) -> dict[str, int]:
        with self._lock:
            out: Counter[str] = Counter()
            for r in self.requests:
                out[r.endpoint] += r.units
            return {k: v for k, v in out.items() if v}

    @property
    def quota_remaining(self) -> int:
        return max(0, self.quota_limit - self.units_used)

    # -- request pipeline -----------------------------------------------------------------------
    def _record(self, rec: ApiRequest) -> None:
        with self._lock:
            self.requests.append(rec)

    def _take_fault(self, endpoint: str) -> str | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.endpoint in (None, endpoint):
                    fault.remaining -= 1
                    return fault.kind
        return None

    def _charge(self, endpoint: str) -> int | None:
        """Units charged, or None when the daily quota is spent."""
        cost = self.costs[endpoint]
        with self._lock:
            if self.units_used + cost > self.quota_limit:
                return None
            self.units_used += cost
            return cost

    def _handle(self, endpoint: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        key = params.pop("key", None)
        rec = ApiRequest(endpoint, params)
        self._record(rec)
        try:
            if endpoint not in self._endpoints:
                raise ApiError("notFound")
            if not key:
                raise ApiError("missingKey")
            rec.key_ok = key == self.api_key
            if not rec.key_ok:
                raise ApiError("keyInvalid")
            fault = self._take_fault(endpoint)
            if fault:
                raise ApiError(fault)
            units = self._charge(endpoint)
            if units is None:
                raise ApiError("quotaExceeded")
            rec.units = units
            query = _Query(params, {p.strip() for p in params.get("part", "").split(",")})
            if not params.get("part"):
                raise ApiError("missingPart")
            body = self._endpoints[endpoint](query)
            rec.status = 200
            return 200, body
        except ApiError as exc:
            name = exc.name if exc.name != "missingPart" else "missingRequiredParameter"
            status, body = P.error_body(name)
            if exc.name == "missingPart":
                body["error"]["message"] = "Required parameter: part"
                body["error"]["errors"][0]["message"] = "Required parameter: part"
                body["error"]["errors"][0]["location"] = "part"
            rec.status, rec.error = status, name
            return status, body

    # -- endpoints ------------------------------------------------------------------------------
    @staticmethod
    def _list(kind: str, items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": f"youtube#{kind}ListResponse", "etag": P.etag(kind, items)}
        body.update(extra)
        body["items"] = items
        body.setdefault("pageInfo", {"totalResults": len(items), "resultsPerPage": len(items)})
        return body

    @staticmethod
    def _page(q: _Query, total: int) -> tuple[int, int, dict[str, Any]]:
        """(offset, size, tokens + pageInfo) from maxResults/pageToken; 5 per page by default."""
        try:
            size = int(q.params.get("maxResults", "5"))
        except ValueError:
            raise ApiError("maxResults") from None
        if not 0 <= size <= 50:
            raise ApiError("maxResults")
        offset = 0
        if q.params.get("pageToken"):
            offset = _decode_token(q.params["pageToken"])
        extra: dict[str, Any] = {}
        if offset + size < total and size:
            extra["nextPageToken"] = _encode_token(offset + size)
        if offset > 0:
            extra["prevPageToken"] = _encode_token(max(0, offset - size))
        extra["pageInfo"] = {"totalResults": total, "resultsPerPage": size}
        return offset, size, extra

    def _videos(self, q: _Query) -> dict[str, Any]:
        ids = q.ids("id")
        if not ids:
            raise ApiError("missingRequiredParameter")
        if len(ids) > 50:
            raise ApiError("tooManyIds")
        lib = self.library
        with lib._lock:
            found = [lib.videos[i] for i in ids if i in lib.videos and lib.videos[i].available]
            items = [P.video_resource(lib, v, q.parts, self.base_url) for v in found]
        return self._list("video", items)

    def _playlist_items(self, q: _Query) -> dict[str, Any]:
        lib = self.library
        with lib._lock:
            pl = lib.playlists.get(q.params.get("playlistId", ""))
            if pl is None or pl.privacy == "private":
                raise ApiError("playlistNotFound")
            entries = lib.playlist_entries(pl.playlist_id)
            offset, size, extra = self._page(q, len(entries))
            items = [
                P.playlist_item_resource(lib, pl, pos, vid, q.parts, self.base_url)
                for pos, vid in enumerate(entries[offset : offset + size], start=offset)
            ]
        return self._list("playlistItem", items, **extra)

    def _playlists(self, q: _Query) -> dict[str, Any]:
        lib = self.library
        with lib._lock:
            if "channelId" in q.params:
                owned = [
                    p
                    for p in lib.playlists.values()
                    if p.channel_id == q.params["channelId"] and not p.uploads
                ]
                offset, size, extra = self._page(q, len(owned))
                chosen = owned[offset : offset + size]
            else:
                ids = q.ids("id")
                if not ids:
                    raise ApiError("missingRequiredParameter")
                chosen = [lib.playlists[i] for i in ids if i in lib.playlists]
                extra = {}
            chosen = [p for p in chosen if p.privacy != "private"]
            items = [P.playlist_resource(lib, p, q.parts, self.base_url) for p in chosen]
        return self._list("playlist", items, **extra)

    def _channels(self, q: _Query) -> dict[str, Any]:
        lib = self.library
        with lib._lock:
            if "forHandle" in q.params or "forUsername" in q.params:
                handle = q.params.get("forHandle") or q.params.get("forUsername", "")
                found = lib.channel_by_handle(handle)
                chosen = [found] if found else []
            else:
                ids = q.ids("id")
                if not ids:
                    raise ApiError("missingRequiredParameter")
                chosen = [lib.channels[i] for i in ids if i in lib.channels]
            items = [P.channel_resource(lib, c, q.parts, self.base_url) for c in chosen]
        body = self._list(
            "channel", items, pageInfo={"totalResults": len(items), "resultsPerPage": 5}
        )
        if not items:
            del body["items"]  # the real channels.list omits "items" when nothing matched
        return body


def _encode_token(offset: int) -> str:
    return "CA" + base64.urlsafe_b64encode(f"tb:{offset}".encode()).decode().rstrip("=")


def _decode_token(token: str) -> int:
    try:
        raw = token[2:] + "=" * (-len(token[2:]) % 4)
        text = base64.urlsafe_b64decode(raw).decode()
        if not token.startswith("CA") or not text.startswith("tb:"):
            raise ValueError(token)
        return int(text[3:])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError("invalidPageToken") from None
