"""The shared in-memory catalog of fake videos, playlists and channels both stand-ins serve."""

from __future__ import annotations

import random
import string
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = ["Video", "Playlist", "Channel", "Library", "PRIVACY", "EDGE_VIDEO_IDS"]

PRIVACY = ("public", "unlisted", "private", "deleted")
_ID_CHARS = string.ascii_letters + string.digits + "-_"
_EPOCH = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
# Valid ids at the edges: about 1 real id in 64 begins with "_", as many with "-" (which reads as
# a CLI option). "_KV5zjR3j1t" and "KV5zjR3j1t_" once shared one file name (a stripped "_").
# The generated ids avoid a leading "-" or "_"; tests that need these add them by name.
EDGE_VIDEO_IDS = ("_KV5zjR3j1t", "KV5zjR3j1t_", "-abcdefghij", "-_aBc-9_xYz", "__xQz0_9-aB")


@dataclass
class Video:
    """One fake video; `privacy` "private"/"deleted" make both stand-ins treat it as unavailable."""

    video_id: str
    title: str
    channel_id: str
    description: str = ""
    tags: list[str] = field(default_factory=list)
    duration: int = 65
    privacy: str = "public"
    published_at: datetime = _EPOCH
    category_id: str = "22"
    view_count: int = 1000
    like_count: int = 10
    comment_count: int = 2
    cookie: str | None = None  # "name=value": the media server answers 403 to requests without it
    subtitles: tuple[str, ...] = ()  # languages of WebVTT tracks in its DASH manifest

    @property
    def available(self) -> bool:
        return self.privacy in ("public", "unlisted")


@dataclass
class Playlist:
    """A playlist: an ordered, mutable list of video ids owned by a channel."""

    playlist_id: str
    title: str
    channel_id: str
    video_ids: list[str] = field(default_factory=list)
    description: str = ""
    privacy: str = "public"
    published_at: datetime = _EPOCH
    uploads: bool = False  # a channel's uploads list: the API omits private/deleted entries


@dataclass
class Channel:
    """A channel with a handle and an uploads playlist ("UU" + id[2:])."""

    channel_id: str
    handle: str
    title: str
    uploads_playlist_id: str
    description: str = ""
    published_at: datetime = _EPOCH


class Library:
    """Thread-safe catalog. Ids are generated deterministically from `seed`."""

    def __init__(self, seed: int = 1234) -> None:
        self._seed = seed
        self._lock = threading.RLock()
        self.clear()

    # -- ids ------------------------------------------------------------------------------------
    def _random_id(self, length: int, prefix: str = "") -> str:
        while True:
            body = "".join(self._rng.choice(_ID_CHARS) for _ in range(length))
            if body[0] in "-_":  # a leading dash reads as a CLI option; keep test ids friendly
                continue
            candidate = prefix + body
            if candidate not in self._used_ids:
                self._used_ids.add(candidate)
                return candidate

    def new_video_id(self) -> str:
        """A fresh, unused id matching [A-Za-z0-9_-]{11}."""
        with self._lock:
            return self._random_id(11)

    def new_playlist_id(self) -> str:
        """A fresh "PL" + 32 characters playlist id."""
        with self._lock:
            return self._random_id(32, "PL")

    def new_channel_id(self) -> str:
        """A fresh "UC" + 22 characters channel id."""
        with self._lock:
            return self._random_id(22, "UC")

    # -- building -------------------------------------------------------------------------------
    def clear(self) -> None:
        """Forget everything (the fixtures call this between tests) but the ids already handed
        out: as on the real site, an id is never used twice, so a claim a killed test left on the
        session's Prefect server (held until its lease runs out) never meets the next test."""
        with self._lock:
            if not hasattr(self, "_rng"):
                self._rng = random.Random(self._seed)
                self._used_ids: set[str] = set()
            self.videos: dict[str, Video] = {}
            self.playlists: dict[str, Playlist] = {}
            self.channels: dict[str, Channel] = {}
            self._default_channel: str | None = None

    def add_channel(
        self,
        channel_id: str | None = None,
        handle: str | None = None,
        title: str | None = None,
        uploads: str | None = None,
        description: str = "",
    ) -> Channel:
        """Add a channel; its uploads playlist is created (empty) alongside."""
        with self._lock:
            channel_id = channel_id or self.new_channel_id()
            self._used_ids.add(channel_id)
            handle = "@" + (handle or f"channel{len(self.channels) + 1}").lstrip("@")
            uploads = uploads or "UU" + channel_id[2:]
            title = title or f"Channel {len(self.channels) + 1}"
            channel = Channel(channel_id, handle, title, uploads, description)
            self.channels[channel_id] = channel
            self.playlists[uploads] = Playlist(
                uploads, f"Uploads from {title}", channel_id, uploads=True
            )
            return channel

    def default_channel(self) -> Channel:
        """The channel videos belong to when none is given ("@testbed")."""
        with self._lock:
            if self._default_channel is None:
                ch = self.add_channel(handle="testbed", title="Testbed Channel")
                self._default_channel = ch.channel_id
            return self.channels[self._default_channel]

    def _channel_id(self, channel: str | None) -> str:
        if channel is None:
            return self.default_channel().channel_id
        if channel.startswith("@"):
            found = self.channel_by_handle(channel)
            return found.channel_id if found else self.add_channel(handle=channel).channel_id
        if channel not in self.channels:
            self.add_channel(channel)
        return channel

    def add_video(
        self,
        video_id: str | None = None,
        title: str | None = None,
        description: str = "",
        tags: list[str] | tuple[str, ...] = (),
        channel: str | None = None,
        duration: int = 65,
        privacy: str = "public",
        published_at: datetime | None = None,
        **extra: object,
    ) -> Video:
        """Add (or replace) a video; it joins the front of its channel's uploads playlist."""
        if privacy not in PRIVACY:
            raise ValueError(f"privacy must be one of {PRIVACY}, not {privacy!r}")
        with self._lock:
            video_id = video_id or self.new_video_id()
            self._used_ids.add(video_id)
            channel_id = self._channel_id(channel)
            n = len(self.videos)
            video = Video(
                video_id=video_id,
                title=title or f"Test video {n + 1}",
                channel_id=channel_id,
                description=description,
                tags=list(tags),
                duration=duration,
                privacy=privacy,
                published_at=published_at or _EPOCH + timedelta(days=n),
                **extra,  # type: ignore[arg-type]
            )
            self.videos[video_id] = video
            uploads = self.playlists[self.channels[channel_id].uploads_playlist_id]
            if video_id not in uploads.video_ids:
                uploads.video_ids.insert(0, video_id)  # newest first, like YouTube
            return video

    def add_playlist(
        self,
        playlist_id: str | None = None,
        title: str | None = None,
        video_ids: list[str] | tuple[str, ...] = (),
        channel: str | None = None,
        description: str = "",
        privacy: str = "public",
    ) -> Playlist:
        """Add a playlist; ids not yet in the library are added as public videos."""
        with self._lock:
            playlist_id = playlist_id or self.new_playlist_id()
            self._used_ids.add(playlist_id)
            channel_id = self._channel_id(channel)
            for vid in video_ids:
                if vid not in self.videos:
                    self.add_video(vid, channel=channel_id)
            playlist = Playlist(
                playlist_id,
                title or f"Test playlist {len(self.playlists) + 1}",
                channel_id,
                list(video_ids),
                description,
                privacy,
            )
            self.playlists[playlist_id] = playlist
            return playlist

    def make_playlist(
        self,
        n: int,
        *,
        title: str | None = None,
        playlist_id: str | None = None,
        channel: str | None = None,
        private: tuple[int, ...] | list[int] = (),
        deleted: tuple[int, ...] | list[int] = (),
        duration: int = 65,
    ) -> Playlist:
        """n fresh videos in a new playlist; `private`/`deleted` are positions (0-based)."""
        with self._lock:
            channel_id = self._channel_id(channel)
            ids = []
            for i in range(n):
                privacy = "private" if i in private else "deleted" if i in deleted else "public"
                video = self.add_video(
                    title=f"Video {i + 1} of {n}",
                    description=f"Description of video {i + 1}.",
                    tags=["testbed", f"video{i + 1}"],
                    channel=channel_id,
                    duration=duration + i,
                    privacy=privacy,
                )
                ids.append(video.video_id)
            return self.add_playlist(playlist_id, title, ids, channel=channel_id)

    def set_privacy(self, video_id: str, privacy: str) -> None:
        """Change a video's status (e.g. it went private since the last sync)."""
        if privacy not in PRIVACY:
            raise ValueError(f"privacy must be one of {PRIVACY}, not {privacy!r}")
        with self._lock:
            self.videos[video_id].privacy = privacy

    # -- lookups --------------------------------------------------------------------------------
    def video(self, video_id: str) -> Video | None:
        with self._lock:
            return self.videos.get(video_id)

    def playlist(self, playlist_id: str) -> Playlist | None:
        with self._lock:
            return self.playlists.get(playlist_id)

    def channel(self, channel_id: str) -> Channel | None:
        with self._lock:
            return self.channels.get(channel_id)

    def channel_by_handle(self, handle: str) -> Channel | None:
        wanted = "@" + handle.lstrip("@").lower()
        with self._lock:
            return next((c for c in self.channels.values() if c.handle.lower() == wanted), None)

    def playlist_entries(self, playlist_id: str) -> list[str]:
        """The ids the API lists for a playlist (uploads lists hide private/deleted videos)."""
        with self._lock:
            playlist = self.playlists[playlist_id]
            if not playlist.uploads:
                return list(playlist.video_ids)
            return [v for v in playlist.video_ids if self.videos[v].available]
