"""The Python API: `Archive(root)`, one object to archive, browse, search and recover an archive.

A front door like the CLI and the web app: reading goes straight to the catalog (no Prefect, no
yt-dlp); archiving and recovery run the archive flows as real Prefect flow runs against the
long-lived server (PREFECT_API_URL, else the local one, started if needed), so `playlist
status`, the Prefect UI and `recovery` see them whoever started them.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flows.jobs import Job
from ytarchive import archive_files
from ytarchive.errors import InputError, NotFound, YTArchiveError

if TYPE_CHECKING:
    from ytarchive.catalog import Catalog
    from ytarchive.config import Settings

__all__ = ["Archive", "Job"]

logger = logging.getLogger(__name__)
LIST_ORDER = "published_at DESC NULLS LAST, video_id"
MAX_PAGE = 500
HEALTH_TIMEOUT = 120


def _quote(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


class Archive:
    """One archive (its root folder) and everything the CLI and the web app do with it.

    >>> archive = Archive("downloads")
    >>> archive.download(["dQw4w9WgXcQ"], quality="720p")["archived"]   # doctest: +SKIP
    1
    """

    def __init__(self, root: Path | str | None = None, *, settings: Settings | None = None):
        from ytarchive.config import Settings

        base = settings if settings is not None else Settings()
        if root is not None:
            base = base.model_copy(update={"output_dir": Path(root)})
        self.settings = base
        self.root = Path(base.output_dir).expanduser().resolve()

    @property
    def catalog(self) -> Catalog:
        from ytarchive.catalog import Catalog

        return Catalog(self.root)

    def _rows(self, statement: str) -> list[dict[str, Any]]:
        columns, rows = self.catalog.sql(statement)
        return [dict(zip(columns, row, strict=True)) for row in rows]

    # -- reading: the catalog only -------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counts per status, bytes and duration archived, and the same per channel."""
        return self.catalog.stats()

    def search(self, q: str, limit: int = 50) -> list[dict[str, Any]]:
        """Videos whose title, description, tags or channel hold every word of q."""
        return self.catalog.search(q, limit=limit)

    def videos(
        self,
        status: str | None = None,
        channel: str | None = None,
        q: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """One row per video (newest metadata with newest outcome), newest published first;
        filtered by status, channel (id or title) and search words."""
        return self.page(status, channel, q, limit, offset)["items"]

    def page(
        self,
        status: str | None = None,
        channel: str | None = None,
        q: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        """`videos()` with the total it was cut from: {items, total, limit, offset}."""
        from ytarchive.catalog import STATUSES

        if status is not None and status not in STATUSES:
            raise InputError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        if not 0 < limit <= MAX_PAGE or offset < 0:
            raise InputError(f"limit must be 1 to {MAX_PAGE} and offset not negative")
        if q and q.strip():
            rows = self._filter(self.catalog.search(q, limit=100_000), status, channel)
            items = rows[offset : offset + limit]
            return {"items": items, "total": len(rows), **_at(limit, offset)}
        if channel is None:
            rows = self.catalog.list_videos(status=status, limit=limit, offset=offset)
            total = self.catalog.count_videos(status)
            return {"items": rows, "total": total, **_at(limit, offset)}
        where = self._where(status, channel)
        rows = self._rows(
            f"SELECT * FROM archive WHERE {where} ORDER BY {LIST_ORDER} "
            f"LIMIT {int(limit)} OFFSET {int(offset)}"
        )
        total = self._rows(f"SELECT count(*) AS n FROM archive WHERE {where}")[0]["n"]
        return {"items": rows, "total": int(total), **_at(limit, offset)}

    @staticmethod
    def _where(status: str | None, channel: str | None) -> str:
        parts = ["true"]
        if status:
            parts.append(f"status = {_quote(status)}")
        if channel:
            parts.append(f"(channel_id = {_quote(channel)} OR channel_title = {_quote(channel)})")
        return " AND ".join(parts)

    @staticmethod
    def _filter(rows: list[dict], status: str | None, channel: str | None) -> list[dict]:
        return [
            r
            for r in rows
            if (not status or r.get("status") == status)
            and (not channel or channel in (r.get("channel_id"), r.get("channel_title")))
        ]

    def newest(self, limit: int = 24) -> list[dict[str, Any]]:
        """The most recently archived videos, newest first."""
        return self._rows(
            "SELECT * FROM archive WHERE status = 'archived' "
            f"ORDER BY archived_at DESC NULLS LAST, video_id LIMIT {int(limit)}"
        )

    def video(self, video_id: str) -> dict[str, Any]:
        """Everything the catalog knows of one video: its row, metadata and history.

        Raises NotFound for a video the catalog does not hold.
        """
        rows = self._rows(f"SELECT * FROM archive WHERE video_id = {_quote(video_id)}")
        if not rows:
            raise NotFound(f"no video {video_id!r} in the archive")
        row = rows[0]
        record = self.catalog.metadata([video_id]).get(video_id)
        meta = record.model_dump(mode="json") if record else {}
        return {
            **meta,
            **row,
            "metadata": meta or None,
            "history": self.history(video_id),
            "chapters": [
                {"start": c.start, "title": c.title}
                for c in archive_files.chapters(self.root, video_id, meta.get("description"))
            ],
            "subtitles": [s.lang for s in self.subtitles(video_id)],
            "has_media": self.media_file(video_id) is not None,
            "has_thumbnail": self.thumbnail_file(video_id) is not None,
        }

    def history(self, video_id: str) -> list[dict[str, Any]]:
        """Every metadata snapshot of a video, oldest first: views, likes, comments over time."""
        return self._rows(
            "SELECT fetched_at, view_count, like_count, comment_count, title, availability "
            f"FROM video_snapshots WHERE video_id = {_quote(video_id)} "
            "ORDER BY fetched_at, recorded_at"
        )

    def metadata(self, video_id: str) -> dict[str, Any]:
        """Our metadata record: from the catalog when known, else fetched (Data API or yt-dlp).

        Raises NotFound when the video does not exist (deleted, or never was).
        """
        known = self.catalog.metadata([video_id]).get(video_id)
        if known is not None:
            return known.model_dump(mode="json")
        from ytarchive.metadata import MetadataService
        from ytarchive.refs import VideoRef, parse_ref

        ref = parse_ref(video_id)
        if not isinstance(ref, VideoRef):
            raise InputError(f"not a video id or URL: {video_id!r}")
        record = MetadataService(self.settings).videos([ref])[0]
        if record.availability in ("deleted", "unavailable") and not record.title:
            raise NotFound(f"no video {video_id!r}: {record.unavailable_reason or 'not found'}")
        return record.model_dump(mode="json")

    def channel(self, channel: str) -> dict[str, Any]:
        """A channel's title, counts and videos (by channel id or title); NotFound if none."""
        where = self._where(None, channel)
        stats = self._rows(
            "SELECT any_value(channel_id) AS channel_id, any_value(channel_title) AS channel_title,"
            " count(*) AS videos, count(*) FILTER (WHERE status = 'archived') AS archived,"
            " coalesce(sum(bytes) FILTER (WHERE status = 'archived'), 0) AS bytes,"
            " coalesce(sum(duration_seconds) FILTER (WHERE status = 'archived'), 0) AS seconds"
            f" FROM archive WHERE {where}"
        )[0]
        if not stats["videos"]:
            raise NotFound(f"no channel {channel!r} in the archive")
        return {**stats, "items": self.videos(channel=channel, limit=MAX_PAGE)}

    def playlists(self) -> list[dict[str, Any]]:
        """Every playlist (and channel uploads list) the archive has listed, newest first."""
        return self._rows("SELECT * FROM playlists ORDER BY fetched_at DESC, playlist_id")

    def listing(self, playlist_id: str) -> dict[str, Any]:
        """A playlist's newest listing: its row and its items in order, each with its status."""
        found = self._rows(f"SELECT * FROM playlists WHERE playlist_id = {_quote(playlist_id)}")
        if not found:
            raise NotFound(f"no playlist {playlist_id!r} in the archive")
        items = self._rows(
            "SELECT i.position, i.video_id, coalesce(a.title, i.title) AS title, i.availability,"
            " a.status, a.reason, a.channel_title, coalesce(a.duration_seconds,"
            " i.duration_seconds) AS duration_seconds, a.published_at"
            " FROM playlist_items i LEFT JOIN archive a USING (video_id)"
            f" WHERE i.playlist_id = {_quote(playlist_id)} ORDER BY i.position"
        )
        return {**found[0], "items": items}

    # -- files ------------------------------------------------------------------------------

    def _outcome(self, video_id: str) -> dict[str, Any] | None:
        result = self.catalog.latest_outcomes([video_id]).get(video_id)
        return result.model_dump() if result else None

    def media_file(self, video_id: str) -> Path | None:
        """The archived media file of a video (from its catalog row, inside the root)."""
        return archive_files.media_file(self.root, self._outcome(video_id))

    def thumbnail_file(self, video_id: str) -> Path | None:
        if self._outcome(video_id) is None and not self.catalog.metadata([video_id]):
            return None
        return archive_files.thumbnail_file(self.root, video_id)

    def subtitles(self, video_id: str) -> list[archive_files.Subtitle]:
        """The video's WebVTT tracks, by language."""
        if self._outcome(video_id) is None:
            return []
        return archive_files.subtitle_files(self.root, video_id, self.media_file(video_id))

    # -- archiving: real Prefect flow runs -----------------------------------------------------

    def download(
        self, urls: list[str], quality: str = "best", *, wait: bool = True
    ) -> dict[str, Any] | Job:
        """Archive videos (ids or URLs; one playlist or channel URL runs the playlist flow).

        With wait (the default) the summary of the finished run; else the running Job.
        """
        flow, parameters = self._plan_download(list(urls), quality)
        return self._run(flow, parameters, wait)

    def submit(self, urls: list[str], quality: str = "best") -> Job:
        """`download(..., wait=False)`: the running Job, its id the flow run's."""
        flow, parameters = self._plan_download(list(urls), quality)
        return self.start(flow, parameters)

    def playlist(
        self, url: str, quality: str = "best", *, metadata_only: bool = False, wait: bool = True
    ) -> dict[str, Any] | Job:
        """Archive a playlist or a channel's uploads; what the archive holds is skipped."""
        from ytarchive.downloader import validate_quality
        from ytarchive.refs import parse_playlist_ref

        parse_playlist_ref(url)
        params = {"url": url, "metadata_only": metadata_only}
        params.update(self._common(validate_quality(quality)))
        return self._run("archive_playlist_flow", params, wait)

    def _plan_download(self, urls: list[str], quality: str) -> tuple[str, dict[str, Any]]:
        """Which flow and parameters, every input checked first (InputError, nothing started)."""
        from ytarchive.downloader import validate_quality
        from ytarchive.refs import VideoRef, parse_many

        if not urls:
            raise InputError("nothing to download: give at least one URL or video id")
        refs = parse_many(urls)
        common = self._common(validate_quality(quality))
        if len(refs) == 1 and not isinstance(refs[0], VideoRef):
            return "archive_playlist_flow", {"url": urls[0], **common}
        return "archive_videos_flow", {"urls": urls, **common}

    def _common(self, quality: str) -> dict[str, Any]:
        return {
            "quality": quality,
            "output_dir": str(self.root),
            "max_concurrent": int(self.settings.max_concurrent),
        }

    def _run(self, flow_name: str, parameters: dict[str, Any], wait: bool) -> dict | Job:
        job = self.start(flow_name, parameters)
        if not wait:
            return job
        summary = job.wait()
        if summary is None:
            raise YTArchiveError(f"the run ended {job.state}: {job.error or 'no summary'}")
        return summary

    def start(self, flow_name: str, parameters: dict[str, Any], after: Any = None) -> Job:
        """Create a flow run of an archive flow now (its id is the job id) and run it in a
        background thread of this process; `after(state)` runs once it ended."""
        from flows import jobs

        return jobs.start(flow_name, parameters, after)

    def job(self, run: str) -> dict[str, Any]:
        """An archive run's state, counts and per-video rows (`playlist status RUN`)."""
        from flows import jobs

        jobs.connect()
        from flows.status import read_status

        return read_status(run)

    # -- recovery --------------------------------------------------------------------------------

    def plans(self) -> list[dict[str, Any]]:
        """The open recovery plans (failed or crashed runs and the items they still hold)."""
        from flows import jobs
        from ytarchive import recovery

        history = jobs.history()
        return [p.as_dict() for p in recovery.list_plans(self.root, history=history)]

    def retry(self, plan: str) -> Job:
        """Archive a plan's items again, linked to it (`recovery_of`), as `recovery retry` does;
        the running Job (`.wait()` for its summary)."""
        from flows import jobs

        return jobs.retry(plan, self.root, int(self.settings.max_concurrent))

    # -- health ----------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """`ytarchive health --format json`: {"ok": bool, "checks": [...]}, secrets removed."""
        import json

        env = {**os.environ, "YTARCHIVE_OUTPUT_DIR": str(self.root)}
        cmd = [sys.executable, "-m", "ytarchive", "health", "--format", "json"]
        try:
            done = subprocess.run(
                cmd, capture_output=True, text=True, env=env, timeout=HEALTH_TIMEOUT
            )
            data = json.loads(done.stdout)
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            data = {"ok": False, "checks": [_failed_check(exc)]}
        return _scrub(data, self._secrets())

    def _secrets(self) -> list[str]:
        found = [self.settings.youtube_api_key, self.settings.api_token, self.settings.notify]
        return [s.get_secret_value() for s in found if s is not None and s.get_secret_value()]


def _at(limit: int, offset: int) -> dict[str, int]:
    return {"limit": limit, "offset": offset}


def _failed_check(exc: BaseException) -> dict[str, str]:
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return {"check": "health", "status": "fail", "detail": detail}


def _scrub(data: Any, secrets: list[str]) -> Any:
    if isinstance(data, dict):
        return {k: _scrub(v, secrets) for k, v in data.items()}
    if isinstance(data, list):
        return [_scrub(v, secrets) for v in data]
    if isinstance(data, str):
        for secret in secrets:
            data = data.replace(secret, "***")
    return data
