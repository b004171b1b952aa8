"""Loopback media server: /v/{video_id}/manifest.mpd and its files, with Range, faults and a cap."""

from __future__ import annotations

import io
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal
from urllib.parse import unquote, urlsplit

from tests.testbed.httpbase import LoopbackServer, QuietHandler
from tests.testbed.library import Library
from tests.testbed.media import DashMedia

__all__ = ["MediaServer", "MediaRequest", "FAULT_KINDS"]

FAULT_KINDS = ("500", "429", "reset", "403", "404")
_DEFAULT_TIMES = {"500": 1, "429": 1, "reset": 1, "403": None, "404": None}
_DEFAULT_ON = {"500": "manifest", "429": "manifest", "reset": "media", "403": "any", "404": "any"}
_PATH = re.compile(r"^/v/(?P<video_id>[^/]+)/(?P<name>[^/]+)$")
_CHUNK = 64 * 1024

PRIVATE_TEXT = "Private video. Sign in if you've been granted access to this video"
REMOVED_TEXT = "Video unavailable. This video has been removed by the uploader"
_TYPES = {".mpd": "application/dash+xml", ".mp4": "video/mp4", ".m4a": "audio/mp4"}


@dataclass
class MediaRequest:
    """One request as the server saw it (`kind` is "manifest", "media" or "other")."""

    method: str
    path: str
    video_id: str | None
    kind: str
    status: int = 0
    range: str | None = None
    bytes_sent: int = 0
    fault: str | None = None


@dataclass
class _Fault:
    kind: str
    remaining: int | None  # None: every time
    on: str  # "manifest" | "media" | "any"


class _InjectedReset(ConnectionResetError):
    """Raised after we reset a connection on purpose, to end the handler quietly."""


class _Handler(QuietHandler):
    owner: MediaServer

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    # -- routing --------------------------------------------------------------------------------
    def _serve(self, head: bool) -> None:
        server = self.owner
        path = urlsplit(self.path).path
        m = _PATH.match(path)
        video_id = unquote(m["video_id"]) if m else None
        name = unquote(m["name"]) if m else ""
        media = server.media_for(video_id) if video_id else None
        if media is not None and name.endswith(".mpd"):
            kind = "manifest"
        elif media is not None and name in media.files:
            kind = "media"
        else:
            kind = "other"
        rec = MediaRequest(self.command, path, video_id, kind, range=self.headers.get("Range"))
        server._record(rec)
        if kind == "other" or media is None or video_id is None:
            self._text(rec, 404, "No such file on the testbed media server", head)
            return
        fault = server._take_fault(video_id, kind, head)
        rec.fault = fault
        if fault == "500":
            self._text(rec, 500, "Internal Server Error (injected)", head)
        elif fault == "429":
            self._text(rec, 429, "Too Many Requests (injected)", head, {"Retry-After": "1"})
        elif fault == "403" or server.video_status(video_id) == "private":
            self._text(rec, 403, PRIVATE_TEXT, head, reason="Private video")
        elif fault == "404" or server.video_status(video_id) == "deleted":
            self._text(rec, 404, REMOVED_TEXT, head, reason="Video unavailable")
        elif kind == "manifest":
            self._content(rec, media.manifest, _TYPES[".mpd"], head, fault == "reset")
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
            self.wfile.write(data)
            rec.bytes_sent += len(data)
            if cap:
                ahead = rec.bytes_sent / cap - (time.monotonic() - began)
                if ahead > 0:
                    time.sleep(ahead)
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
        self._media_for: dict[str, DashMedia] = {}
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
    ) -> None:
        """Inject a fault for one video id ("*" = any); see the class docstring."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {FAULT_KINDS}, not {kind!r}")
        count: int | None = _DEFAULT_TIMES[kind] if times == "default" else times
        target = on or _DEFAULT_ON[kind]
        if target not in ("manifest", "media", "any"):
            raise ValueError("on must be 'manifest', 'media' or 'any'")
        with self._lock:
            self._faults.setdefault(video_id, []).append(_Fault(kind, count, target))

    def clear_faults(self, video_id: str | None = None) -> None:
        with self._lock:
            if video_id is None:
                self._faults.clear()
            else:
                self._faults.pop(video_id, None)

    def set_media(self, video_id: str, media: DashMedia) -> None:
        """Serve a different generated set (e.g. a longer one) for this video id."""
        with self._lock:
            self._media_for[video_id] = media

    def reset(self) -> None:
        """Forget faults, per-video media, the request log, and restore the bandwidth cap."""
        with self._lock:
            self._faults.clear()
            self._media_for.clear()
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

    def manifest_requests(self, video_id: str | None = None) -> int:
        return len(self._select(video_id, "manifest", None))

    def bytes_sent(self, video_id: str | None = None) -> int:
        return sum(r.bytes_sent for r in self._select(video_id, None, None))

    def video_ids_requested(self) -> set[str]:
        return {r.video_id for r in self._select(None, None, None) if r.video_id}

    # -- used by the handler --------------------------------------------------------------------
    def _record(self, rec: MediaRequest) -> None:
        with self._lock:
            self.requests.append(rec)

    def media_for(self, video_id: str) -> DashMedia:
        with self._lock:
            return self._media_for.get(video_id, self.media)

    def video_status(self, video_id: str) -> str | None:
        video = self.library.video(video_id)
        return video.privacy if video else None

    def _take_fault(self, video_id: str, kind: str, head: bool) -> str | None:
        with self._lock:
            for key in (video_id, "*"):
                for fault in self._faults.get(key, []):
                    if fault.on not in ("any", kind) or (fault.kind == "reset" and head):
                        continue
                    if fault.remaining is not None:
                        if fault.remaining <= 0:
                            continue
                        fault.remaining -= 1
                    return fault.kind
        return None
