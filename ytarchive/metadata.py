"""Metadata for videos and playlists: the YouTube Data API when there is a key, yt-dlp when not."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ytarchive.config import Settings
from ytarchive.errors import AuthError, QuotaExceeded, Transient, Unavailable, YTArchiveError
from ytarchive.models import PlaylistInfo, PlaylistItem, VideoMetadata
from ytarchive.refs import ChannelRef, PlaylistRef, VideoRef

if TYPE_CHECKING:
    from ytarchive.youtube_api import YouTubeAPI

__all__ = ["MetadataService", "known_playlist_title", "total_duration"]

log = logging.getLogger(__name__)


class MetadataService:
    """Chooses the source per item: YouTube ids through the Data API when a key is configured,
    everything else (and everything, without a key) through yt-dlp. Counts the API units spent."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._api: YouTubeAPI | None = None

    @property
    def uses_api(self) -> bool:
        """True when YouTube ids and playlists go through the Data API."""
        return self.settings.has_api_key

    @property
    def units_spent(self) -> int:
        """Data API quota units spent by this object (0 when it never called the API)."""
        return self._api.units_spent if self._api is not None else 0

    def videos(self, refs: Sequence[VideoRef]) -> list[VideoMetadata]:
        """One record per ref, in input order. Ids the API does not return (private, deleted)
        and videos yt-dlp reports unavailable come back with availability "unavailable"."""
        records: dict[int, VideoMetadata] = {}
        by_api = [(i, r.video_id) for i, r in enumerate(refs) if r.video_id and self.uses_api]
        if by_api:
            before = self.units_spent
            found = self.api.videos([vid for _, vid in by_api if vid])
            records.update((i, record) for (i, _), record in zip(by_api, found, strict=True))
            log.info(
                "metadata for %d video(s) from the YouTube API: %d quota unit(s)",
                len(by_api),
                self.units_spent - before,
            )
        for i, ref in enumerate(refs):
            if i not in records:
                records[i] = self._ytdlp_video(ref)
        return [records[i] for i in range(len(refs))]

    def videos_each(self, refs: Sequence[VideoRef]) -> list[VideoMetadata | YTArchiveError]:
        """Like videos(refs), but one item's failure is that item's alone: when the Data API
        refuses the call for the batch, each id is asked on its own; what still fails comes back
        as its error, in its place. The API down (Transient, after our client's retries), a spent
        quota or a rejected key is no item's fault and stops the batch (raised): asking each id
        would multiply the requests against a failing service."""
        out: dict[int, VideoMetadata | YTArchiveError] = {}
        by_api = [i for i, r in enumerate(refs) if r.video_id and self.uses_api]
        if len(by_api) > 1:
            try:
                out.update(zip(by_api, self.videos([refs[i] for i in by_api]), strict=True))
            except (QuotaExceeded, AuthError, Transient):
                raise
            except YTArchiveError as exc:
                log.info("metadata for %d videos failed (%s): asking one by one", len(by_api), exc)
        for i, ref in enumerate(refs):
            if i not in out:
                out[i] = self._one(ref)
        return [out[i] for i in range(len(refs))]

    def _one(self, ref: VideoRef) -> VideoMetadata | YTArchiveError:
        try:
            return self.videos([ref])[0]
        except (QuotaExceeded, AuthError):
            raise
        except YTArchiveError as exc:
            return exc

    def playlist(self, ref: PlaylistRef | ChannelRef) -> tuple[PlaylistInfo, list[PlaylistItem]]:
        """A playlist's (or a channel's uploads') title, owner, count and every item, all pages."""
        before = self.units_spent
        if self.uses_api and isinstance(ref, ChannelRef):
            info, items = self.api.channel_uploads(ref)
        elif self.uses_api and isinstance(ref, PlaylistRef) and ref.playlist_id:
            info = self.api.playlist_info(ref.playlist_id, url=ref.url)
            items = list(self.api.playlist_items(ref.playlist_id))
        else:
            info, items = self._ytdlp_playlist(ref)
        log.info(
            "playlist %s: %d item(s) via %s, %d quota unit(s)",
            info.playlist_id,
            len(items),
            info.source,
            self.units_spent - before,
        )
        return info, items

    def playlist_items(
        self, ref: PlaylistRef | ChannelRef, known_title: str | None = None
    ) -> tuple[PlaylistInfo, list[PlaylistItem]]:
        """What archiving needs of a playlist: its items, and its title.

        A playlist id through the API costs 1 unit a page, and a playlists.list (1 unit) for the
        title only when the archive does not know it yet (`known_title`), so a fully archived
        playlist costs exactly one unit per 50 items. Channels and keyless listings are
        `playlist(ref)`.
        """
        playlist_id = ref.playlist_id if isinstance(ref, PlaylistRef) else None
        if not (self.uses_api and playlist_id and known_title):
            return self.playlist(ref)
        items = list(self.api.playlist_items(playlist_id))
        info = PlaylistInfo(
            playlist_id=playlist_id,
            title=known_title,
            item_count=len(items),
            url=ref.url,
            source="youtube_api",
        )
        return info, items

    @property
    def api(self) -> YouTubeAPI:
        """The Data API client, built on first use (once per service object)."""
        if self._api is None:
            from ytarchive.youtube_api import YouTubeAPI

            self._api = YouTubeAPI(self.settings)
        return self._api

    def _ytdlp_video(self, ref: VideoRef) -> VideoMetadata:
        from ytarchive.downloader import ytdlp_video_metadata

        url = self.settings.video_url(ref.video_id) if ref.video_id else ref.url
        try:
            return ytdlp_video_metadata(url, video_id=ref.video_id, settings=self.settings)
        except Unavailable as exc:
            return VideoMetadata(
                video_id=ref.key,
                source="yt_dlp",
                webpage_url=None if ref.video_id else ref.url,
                availability="unavailable",
                unavailable_reason=str(exc),
            )

    def _ytdlp_playlist(
        self, ref: PlaylistRef | ChannelRef
    ) -> tuple[PlaylistInfo, list[PlaylistItem]]:
        from ytarchive.downloader import ytdlp_playlist

        if isinstance(ref, PlaylistRef):
            return ytdlp_playlist(ref.url, ref.playlist_id, settings=self.settings)
        if ref.channel_id:  # a channel's uploads are the playlist UU + the id's tail
            uploads = "UU" + ref.channel_id[2:]
            url = f"https://www.youtube.com/playlist?list={uploads}"
            info, items = ytdlp_playlist(url, uploads, settings=self.settings)
        else:
            info, items = ytdlp_playlist(ref.url.rstrip("/") + "/videos", settings=self.settings)
        info.url = ref.url
        return info, items


def known_playlist_title(root: Path, ref: PlaylistRef | ChannelRef) -> str | None:
    """The newest title the archive's catalog recorded for this playlist (None: not known)."""
    playlist_id = getattr(ref, "playlist_id", None)
    if not playlist_id or not re.fullmatch(r"[A-Za-z0-9_-]+", playlist_id):
        return None
    from ytarchive.catalog import Catalog

    return Catalog(root).playlist_title(playlist_id)


def total_duration(durations: Sequence[int | None]) -> tuple[int, int]:
    """(seconds, how many were known) over a list of durations that may be unknown."""
    known = [d for d in durations if d is not None]
    return sum(known), len(known)
