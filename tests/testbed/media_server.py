"""Loopback media server: /v/{video_id}/manifest.mpd and its files, with Range, faults and a cap."""

from __future__ import annotations

import io
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal, Protocol
from urllib.parse import unquote, urlsplit

from tests.testbed.httpbase import LoopbackServer, QuietHandler
from tests.testbed.library import Library, Video
from tests.testbed.media import DashMedia
from tests.testbed.subtitles import subtitle_lang, webvtt, with_subtitles

__all__ = ["MediaServer", "MediaRequest", "FAULT_KINDS", "ServedMedia"]

FAULT_KINDS = ("500", "429", "reset", "403", "404")
_DEFAULT_TIMES = {"500": 1, "429": 1, "reset": 1, "403": None, "404": None}
_DEFAULT_ON = {"500": "manifest", "429": "manifest", "reset": "media", "403": "any", "404": "any"}
_PATH = re.compile(r"^/v/(?P<video_id>[^/]+)/(?P<name>[^/]+)$")
_CHUNK = 64 * 1024

PRIVATE_TEXT = "Private video. Sign in if you've been granted access to this video"
REMOVED_TEXT = "Video unavailable. This video has been removed by the uploader"
FORBIDDEN_TEXT = "Forbidden: this stream needs the viewer's cookie"
REFUSED_TEXT = "Too Many Requests (the site refuses every request for now)"
_TYPES = {
    ".mpd": "application/dash+xml",
    ".mp4": "video/mp4",
    ".m4a": "audio/mp4",
    ".m4s": "video/iso.segment",
}


class ServedMedia(Protocol):
    """What the server needs of a generated set (DashMedia, SegmentedMedia)."""

    @property
    def manifest(self) -> bytes: ...

    @property
    def files(self) -> dict[str, Path]: ...

    @property
    def duration(self) -> float: ...


_VTT = "text/vtt; charset=utf-8"


@dataclass
class MediaRequest:
    """One request as the server saw it (`kind`: "manifest", "media", "subtitle" or "other"),
    with the headers it carried.

    `fault` names what refused it: an injected fault kind, "site" (refuse_all) or "cookie".
    """

    method: str
    path: str
    video_id: str | None
    kind: str
    status: int = 0
    range: str | None = None
    bytes_sent: int = 0
    fault: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # as sent (tests look for theirs)
    started: float = field(default_factory=time.monotonic)  # when the request came in
    ended: float | None = None  # when its answer was sent (None: still in flight)


@dataclass
class _Refusal:
    status: int
    retry_after: int | None
    until: float | None  # time.monotonic() deadline; None: until stop_refusing()


@dataclass
class _Fault:
    kind: str
    remaining: int | None  # None: every time
    on: str  # "manifest" | "media" | "any"
    name: str | None = None  # only requests for this file name (None: any)


class _InjectedReset(ConnectionResetError):
    """Raised after we reset a connection on purpose, to end the handler quietly."""


class _Handler(QuietHandler):
    owner: MediaServer

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _serve(self, head: bool) -> None:
        rec = self._route()
        try:
            self._answer(rec, head)
        finally:
            rec.ended = time.monotonic()

    # -- routing --------------------------------------------------------------------------------
    def _route(self) -> MediaRequest:
        server = self.owner
        path = urlsplit(self.path).path
        m = _PATH.match(path)
        video_id = unquote(m["video_id"]) if m else None
        name = unquote(m["name"]) if m else ""
        media = server.media_for(video_id) if video_id else None
        video = server.library.video(video_id) if video_id else None
        subs = video.subtitles if video else ()
        if media is not None and name.endswith(".mpd"):
            kind = "manifest"
        elif media is not None and name in media.files:
            kind = "media"
        elif media is not None and subtitle_lang(name, subs):
            kind = "subtitle"
        else:
            kind = "other"
        rec = MediaRequest(
            self.command,
            path,
            video_id,
            kind,
            range=self.headers.get("Range"),
            headers=dict(self.headers.items()),
        )
        server._record(rec)
        return rec

    def _answer(self, rec: MediaRequest, head: bool) -> None:
        server = self.owner
        video_id, kind = rec.video_id, rec.kind
        m = _PATH.match(rec.path)
        name = unquote(m["name"]) if m else ""
        media = server.media_for(video_id) if video_id else None
        video = server.library.video(video_id) if video_id else None
        subs = video.subtitles if video else ()
        refusal = server._refusal()
        if refusal is not None:
            rec.fault = "site"
            extra = {"Retry-After": str(refusal.retry_after)} if refusal.retry_after else None
            text = REFUSED_TEXT if refusal.status == 429 else FORBIDDEN_TEXT
            self._text(rec, refusal.status, text, head, extra)
            return
        if kind == "other" or media is None or video_id is None:
            self._text(rec, 404, "No such file on the testbed media server", head)
            return
        fault = server._take_fault(video_id, kind, head, name)
        if fault is None and not _carries_cookie(self.headers.get("Cookie"), video):
            fault = "cookie"
        rec.fault = fault
        if fault == "cookie":
            self._text(rec, 403, FORBIDDEN_TEXT, head, reason="Forbidden")
        elif fault == "500":
            self._text(rec, 500, "Internal Server Error (injected)", head)
        elif fault == "429":
            self._text(rec, 429, "Too Many Requests (injected)", head, {"Retry-After": "1"})
        elif fault == "403" or server.video_status(video_id) == "private":
            self._text(rec, 403, PRIVATE_TEXT, head, reason="Private video")
        elif fault == "404" or server.video_status(video_id) == "deleted":
            self._text(rec, 404, REMOVED_TEXT, head, reason="Video unavailable")
        elif kind == "manifest":
            manifest = with_subtitles(media.manifest, subs)
            self._content(rec, manifest, _TYPES[".mpd"], head, fault == "reset")
        elif kind == "subtitle":
            lang = subtitle_lang(name, subs) or ""
            self._content(rec, webvtt(lang, video_id, media.duration), _VTT, head, False)
        else:
            path_on_disk = media.files[name]
            ctype = _TYPES.get(path_on_disk.suffix, "application/octet-stream")
            self._file(rec, path_on_disk, ctype, head, fault == "reset")

    # -- responses ------------------------------------------------------------------------------
    def _text(
        self,
        rec: MediaRequest,
        status: int,
        text: str,
        head: bool,
        headers: dict[str, str] | None = None,
        reason: str | None = None,
    ) -> None:
        rec.status = status
        body = text.encode() + b"\n"
        self.send_body(status, body, "text/plain; charset=utf-8", headers, reason, head)
        rec.bytes_sent = 0 if head else len(body)

    def _content(self, rec: MediaRequest, data: bytes, ctype: str, head: bool, reset: bool) -> None:
        self._send_ranged(rec, io.BytesIO(data), len(data), ctype, head, reset)

    def _file(self, rec: MediaRequest, path: Path, ctype: str, head: bool, reset: bool) -> None:
        with path.open("rb") as fh:
            size = fh.seek(0, 2)
            self._send_ranged(rec, fh, size, ctype, head, reset)

    def _send_ranged(
        self, rec: MediaRequest, fh: BinaryIO, size: int, ctype: str, head: bool, reset: bool
    ) -> None:
        try:
            span = _parse_range(rec.range, size)
        except _Unsatisfiable:
            rec.status = 416
            self.send_body(416, b"", "text/plain", {"Content-Range": f"bytes */{size}"}, head=head)
            return
        start, end = span if span else (0, size - 1)
        length = max(0, end - start + 1)
        rec.status = 206 if span else 200
        self.send_response(rec.status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        if span:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if head:
            return
        fh.seek(start)
        limit = length // 2 if reset else length
        cap = self.owner.bandwidth_cap
        chunk = min(_CHUNK, max(1024, cap // 20)) if cap else _CHUNK
        began = time.monotonic()
        while rec.bytes_sent < limit:
            data = fh.read(min(chunk, limit - rec.bytes_sent))
            if not data:
                break
            if cap:  # paced before each write: the last byte goes out at bytes / cap, and the
                # request ends then (not one chunk's pause after the client has it all)
                ahead = (rec.bytes_sent + len(data)) / cap - (time.monotonic() - began)
                if ahead > 0:
                    time.sleep(ahead)
            self.wfile.write(data)
            rec.bytes_sent += len(data)
        if reset:
            self._reset_connection()

    def _reset_connection(self) -> None:
        """Abort with a TCP RST (SO_LINGER 0), as a flaky CDN would mid-body."""
        self.wfile.flush()
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()
        self.connection.close()
        raise _InjectedReset("testbed: injected connection reset")


def _carries_cookie(header: str | None, video: Video | None) -> bool:
    """Whether a Cookie header holds the name=value the video requires (True if none)."""
    if video is None or not video.cookie:
        return True
    sent = {part.strip() for part in (header or "").split(";")}
    return video.cookie.strip() in sent


class _Unsatisfiable(ValueError):
    """The Range header asks for bytes the file does not have (416)."""


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end) of one byte range, or None to send it all; raises _Unsatisfiable."""
    if not header:
        return None
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if not m or (not m[1] and not m[2]):
        return None  # multiple ranges or garbage: a 200 with everything is allowed
    if not m[1]:
        suffix = int(m[2])
        if suffix == 0:
            raise _Unsatisfiable(header)
        return max(0, size - suffix), size - 1
    start = int(m[1])
    end = min(int(m[2]), size - 1) if m[2] else size - 1
    if start >= size or end < start:
        raise _Unsatisfiable(header)
    return start, end


class MediaServer(LoopbackServer):
    """Serves the same DASH set for any video id; private/deleted library videos get 403/404.

    Faults (per video id, or "*" for all): set_fault(video_id, kind, times=..., on=...).
    kind: "500" / "429" (Retry-After: 1) on the manifest, default once; "reset" (RST half way
    through a media body), default once; "403" / "404" on everything, default forever.
    times=None means every time. bandwidth_cap: bytes/second per response, None = unlimited.
    A library video with `cookie="name=value"` answers 403 Forbidden to requests without it;
    one with `subtitles=("en", ...)` has WebVTT text AdaptationSets in its manifest.
    refuse_all() makes the whole site answer 429 (or 403) to everything, for a while.
    """

    handler_class = _Handler

    def __init__(
        self, media: DashMedia, library: Library | None = None, bandwidth_cap: int | None = None
    ) -> None:
        super().__init__()
        self.media = media
        self.library = library if library is not None else Library()
        self.bandwidth_cap = bandwidth_cap
        self._default_cap = bandwidth_cap
        self._lock = threading.Lock()
        self._faults: dict[str, list[_Fault]] = {}
        self._media_for: dict[str, ServedMedia] = {}
        self._refusing: _Refusal | None = None
        self.requests: list[MediaRequest] = []

    # -- test controls --------------------------------------------------------------------------
    def video_url(self, video_id: str) -> str:
        return f"{self.base_url}/v/{video_id}/manifest.mpd"

    @property
    def url_template(self) -> str:
        return f"{self.base_url}/v/{{video_id}}/manifest.mpd"

    def set_fault(
        self,
        video_id: str,
        kind: str,
        times: int | None | Literal["default"] = "default",
        on: str | None = None,
        name: str | None = None,
    ) -> None:
        """Inject a fault for one video id ("*" = any); see the class docstring.

        `name` keeps it to one served file (e.g. "audio.m4a": one stream of a merged format).
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {FAULT_KINDS}, not {kind!r}")
        count: int | None = _DEFAULT_TIMES[kind] if times == "default" else times
        target = on or _DEFAULT_ON[kind]
        if target not in ("manifest", "media", "any"):
            raise ValueError("on must be 'manifest', 'media' or 'any'")
        with self._lock:
            self._faults.setdefault(video_id, []).append(_Fault(kind, count, target, name))

    def clear_faults(self, video_id: str | None = None) -> None:
        with self._lock:
            if video_id is None:
                self._faults.clear()
            else:
                self._faults.pop(video_id, None)

    def refuse_all(
        self, seconds: float | None = None, status: int = 429, retry_after: int | None = 1
    ) -> None:
        """Answer every request with `status` (+ Retry-After), for `seconds` or until stopped."""
        if status not in (429, 403):
            raise ValueError("status must be 429 or 403")
        until = None if seconds is None else time.monotonic() + seconds
        with self._lock:
            self._refusing = _Refusal(status, retry_after, until)

    def stop_refusing(self) -> None:
        """The site recovers: requests are served again."""
        with self._lock:
            self._refusing = None

    @property
    def refusing(self) -> bool:
        return self._refusal() is not None

    def set_media(self, video_id: str, media: ServedMedia) -> None:
        """Serve a different generated set (a longer one, or a SegmentedMedia) for this id."""
        with self._lock:
            self._media_for[video_id] = media

    def reset(self) -> None:
        """Forget faults, per-video media, the request log, and restore the bandwidth cap."""
        with self._lock:
            self._faults.clear()
            self._media_for.clear()
            self._refusing = None
            self.requests.clear()
            self.bandwidth_cap = self._default_cap

    # -- counters -------------------------------------------------------------------------------
    def _select(
        self, video_id: str | None, kind: str | None, method: str | None
    ) -> list[MediaRequest]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (video_id is None or r.video_id == video_id)
                and (kind is None or r.kind == kind)
                and (method is None or r.method == method)
            ]

    def request_count(
        self, video_id: str | None = None, kind: str | None = None, method: str | None = None
    ) -> int:
        return len(self._select(video_id, kind, method))

    def media_requests(self, video_id: str | None = None) -> int:
        """Requests (GET or HEAD) for rendition files; 0 means nothing was downloaded."""
        return len(self._select(video_id, "media", None))

    def refused_requests(self, kind: str | None = "media", fault: str | None = "site") -> int:
        """Requests refused by refuse_all ("site") or the cookie wall ("cookie"); kind None: all."""
        return sum(1 for r in self._select(None, kind, None) if fault is None or r.fault == fault)

    def manifest_requests(self, video_id: str | None = None) -> int:
        return len(self._select(video_id, "manifest", None))

    def bytes_sent(self, video_id: str | None = None) -> int:
        return sum(r.bytes_sent for r in self._select(video_id, None, None))

    def media_bytes(self, video_id: str | None = None) -> int:
        """Bytes of rendition files (segments included) sent: what the wire had to carry."""
        return sum(r.bytes_sent for r in self._select(video_id, "media", "GET"))

    def max_in_flight(self, video_id: str | None = None, kind: str | None = "media") -> int:
        """The most requests (of this video and kind) that were open at the same moment."""
        events = []
        for r in self._select(video_id, kind, None):
            events += [(r.started, 1), (r.ended if r.ended is not None else float("inf"), -1)]
        most = now = 0
        for _, step in sorted(events, key=lambda e: (e[0], e[1])):  # an end before a start
            now += step
            most = max(most, now)
        return most

    def busy_seconds(self, kind: str | None = "media") -> float:
        """Wall seconds during which at least one request of this kind was open (any video)."""
        now = time.monotonic()
        spans = sorted((r.started, r.ended or now) for r in self._select(None, kind, None))
        total, until = 0.0, float("-inf")
        for start, end in spans:
            if end > until:
                total += end - max(start, until)
                until = end
        return total

    def video_ids_requested(self) -> set[str]:
        return {r.video_id for r in self._select(None, None, None) if r.video_id}

    # -- used by the handler --------------------------------------------------------------------
    def _record(self, rec: MediaRequest) -> None:
        with self._lock:
            self.requests.append(rec)

    def media_for(self, video_id: str) -> ServedMedia:
        with self._lock:
            return self._media_for.get(video_id, self.media)

    def _refusal(self) -> _Refusal | None:
        with self._lock:
            refusal = self._refusing
            if refusal is not None and refusal.until is not None:
                if time.monotonic() >= refusal.until:
                    self._refusing = refusal = None
            return refusal

    def video_status(self, video_id: str) -> str | None:
        video = self.library.video(video_id)
        return video.privacy if video else None

    def _take_fault(self, video_id: str, kind: str, head: bool, name: str = "") -> str | None:
        with self._lock:
            for key in (video_id, "*"):
                for fault in self._faults.get(key, []):
                    if fault.on not in ("any", kind) or (fault.kind == "reset" and head):
                        continue
                    if fault.name is not None and fault.name != name:
                        continue
                    if fault.remaining is not None:
                        if fault.remaining <= 0:
                            continue
                        fault.remaining -= 1
                    return fault.kind
        return None
