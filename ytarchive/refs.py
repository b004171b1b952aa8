"""Parse and validate what people type into VideoRef / PlaylistRef / ChannelRef."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, parse_qs, urlsplit

from ytarchive.errors import InputError

__all__ = [
    "VideoRef",
    "PlaylistRef",
    "ChannelRef",
    "Ref",
    "parse_ref",
    "parse_playlist_ref",
    "read_batch_file",
    "batch_line",
    "parse_many",
    "is_video_id",
]

VIDEO_ID_RE = re.compile(r"^[A-Za-z0-9_-]{11}\Z")
PLAYLIST_ID_RE = re.compile(r"^[A-Za-z0-9_-]{2,64}\Z")
CHANNEL_ID_RE = re.compile(r"^UC[A-Za-z0-9_-]{22}\Z")
HANDLE_RE = re.compile(r"^@[A-Za-z0-9._-]{3,30}\Z")
NAME_RE = re.compile(r"^[A-Za-z0-9._%-]{1,100}\Z")

YOUTUBE_HOSTS = {
    "youtube.com",
    "www.youtube.com",
    "m.youtube.com",
    "music.youtube.com",
    "gaming.youtube.com",
    "youtube-nocookie.com",
    "www.youtube-nocookie.com",
}
SHORT_HOSTS = {"youtu.be", "www.youtu.be"}
# Path prefixes whose next segment is the video id.
ID_PATHS = {"shorts", "embed", "live", "v", "e"}


@dataclass(frozen=True)
class VideoRef:
    """One video: a YouTube id, or (video_id None) any URL yt-dlp can fetch."""

    video_id: str | None
    url: str

    @property
    def key(self) -> str:
        return self.video_id or self.url


@dataclass(frozen=True)
class PlaylistRef:
    """A playlist: a YouTube playlist id, or (playlist_id None) another site's playlist URL."""

    playlist_id: str | None
    url: str

    @property
    def key(self) -> str:
        return self.playlist_id or self.url


@dataclass(frozen=True)
class ChannelRef:
    """A YouTube channel, named by id (UC...), @handle, /c/ custom name or /user/ legacy name."""

    url: str
    channel_id: str | None = None
    handle: str | None = None
    custom: str | None = None
    user: str | None = None

    @property
    def key(self) -> str:
        return self.channel_id or self.handle or self.custom or self.user or self.url


Ref = VideoRef | PlaylistRef | ChannelRef


def is_video_id(text: str) -> bool:
    """Whether text is exactly a YouTube video id: 11 of [A-Za-z0-9_-], a leading - or _ too."""
    return bool(VIDEO_ID_RE.match(text))


def _video(video_id: str) -> VideoRef:
    return VideoRef(video_id=video_id, url=f"https://www.youtube.com/watch?v={video_id}")


def _playlist(playlist_id: str) -> PlaylistRef:
    return PlaylistRef(
        playlist_id=playlist_id, url=f"https://www.youtube.com/playlist?list={playlist_id}"
    )


def parse_ref(text: str) -> Ref:
    """Parse one reference. Raises InputError naming the input when it is not one."""
    raw = text
    text = text.strip()
    if not text:
        raise InputError("empty input: expected a URL or an 11-character video id")
    if VIDEO_ID_RE.match(text):
        return _video(text)
    if "://" not in text and re.match(r"^(www\.|m\.|music\.)?(youtube\.com|youtu\.be)/", text):
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in text:
        raise InputError(f"not a URL or video id: {raw!r}")
    host = (parts.hostname or "").lower()
    if host in SHORT_HOSTS:
        return _youtu_be(parts, raw)
    if host in YOUTUBE_HOSTS:
        return _youtube(parts, raw)
    if not host or "." not in host and host != "localhost":
        raise InputError(f"not a URL or video id: {raw!r}")
    # Any other site: yt-dlp decides what it is.
    return VideoRef(video_id=None, url=text)


def _query_value(query: str, name: str) -> str | None:
    values = parse_qs(query).get(name)
    return values[0] if values else None


def _youtu_be(parts: SplitResult, raw: str) -> Ref:
    segment = parts.path.strip("/").split("/")[0]
    if VIDEO_ID_RE.match(segment):
        return _video(segment)
    raise InputError(f"no video id in youtu.be URL: {raw!r}")


def _youtube(parts: SplitResult, raw: str) -> Ref:
    segments = [s for s in parts.path.split("/") if s]
    video_id = _query_value(parts.query, "v")
    list_id = _query_value(parts.query, "list")
    head = segments[0] if segments else ""
    if head == "watch" or (not segments and video_id):
        if video_id and VIDEO_ID_RE.match(video_id):
            return _video(video_id)
        if list_id and PLAYLIST_ID_RE.match(list_id):
            return _playlist(list_id)
        raise InputError(f"no valid video id in URL: {raw!r}")
    if head == "playlist":
        if list_id and PLAYLIST_ID_RE.match(list_id):
            return _playlist(list_id)
        raise InputError(f"no valid playlist id in URL: {raw!r}")
    if head in ID_PATHS and len(segments) >= 2:
        if VIDEO_ID_RE.match(segments[1]):
            return _video(segments[1])
        raise InputError(f"no valid video id in URL: {raw!r}")
    if head.startswith("@") and HANDLE_RE.match(head):
        return ChannelRef(url=f"https://www.youtube.com/{head}", handle=head)
    if head == "channel" and len(segments) >= 2 and CHANNEL_ID_RE.match(segments[1]):
        cid = segments[1]
        return ChannelRef(url=f"https://www.youtube.com/channel/{cid}", channel_id=cid)
    if head == "c" and len(segments) >= 2 and NAME_RE.match(segments[1]):
        return ChannelRef(url=f"https://www.youtube.com/c/{segments[1]}", custom=segments[1])
    if head == "user" and len(segments) >= 2 and NAME_RE.match(segments[1]):
        return ChannelRef(url=f"https://www.youtube.com/user/{segments[1]}", user=segments[1])
    if list_id and PLAYLIST_ID_RE.match(list_id):
        return _playlist(list_id)
    raise InputError(f"not a YouTube video, playlist or channel URL: {raw!r}")


def parse_playlist_ref(text: str) -> PlaylistRef | ChannelRef:
    """A playlist or channel (a watch URL with list= counts); one video alone is an InputError."""
    ref = parse_ref(text)
    if isinstance(ref, (PlaylistRef, ChannelRef)):
        return ref
    if ref.video_id is None:  # another site's URL: yt-dlp will list it
        return PlaylistRef(playlist_id=None, url=ref.url)
    list_id = _query_value(urlsplit(text.strip()).query, "list")
    if list_id and PLAYLIST_ID_RE.match(list_id):
        return _playlist(list_id)
    raise InputError(f"names no playlist or channel: {text.strip()!r}")


def read_batch_file(path: Path | str) -> list[str]:
    """Read a batch file: one URL per line, blank lines and # comments allowed.

    Every line is validated before anything is returned; a bad line is an InputError naming its
    file and line number, and so is a file with no URL in it. Returns the lines' texts, stripped,
    in order.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"batch file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read batch file {path}: {exc}") from None
    lines: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            url = batch_line(line)
        except InputError as exc:
            raise InputError(f"{path}:{number}: {exc}") from None
        if url:
            lines.append(url)
    if not lines:
        why = " (only blank lines and # comments)" if text.strip() else ""
        raise InputError(f"batch file is empty: {path}{why}")
    return lines


def batch_line(line: str) -> str | None:
    """One line of a batch or watched file: its URL, stripped; None for a blank or # comment.

    A line that is neither and names no video, playlist or channel is an InputError.
    """
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    parse_ref(stripped)
    return stripped


def parse_many(texts: list[str]) -> list[Ref]:
    """Parse every input before any work starts; the first bad one is an InputError."""
    return [parse_ref(t) for t in texts]
