"""The guide's REST API: health, metadata, download and jobs, videos, stats, recovery."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ytarchive.api import Archive
from ytarchive.errors import InputError, NotFound
from ytarchive.web.app import ApiError, require_token

__all__ = ["router", "DownloadRequest", "links"]

router = APIRouter()
HEALTH_CACHE = 10.0  # seconds
_health_lock = threading.Lock()


class DownloadRequest(BaseModel):
    """What to archive: one of `video_id`, `url` or `urls`; `quality` as for `download -q`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"video_id": "dQw4w9WgXcQ", "quality": "720p"}]},
    )

    video_id: str | None = Field(default=None, max_length=200)
    url: str | None = Field(default=None, max_length=2000)
    urls: list[str] | None = Field(default=None, max_length=1000)
    quality: str = Field(default="best", max_length=200)

    def targets(self) -> list[str]:
        given = [x for x in (self.video_id, self.url, self.urls) if x is not None]
        if len(given) != 1:
            raise InputError("give exactly one of video_id, url or urls")
        if self.urls is not None:
            if not self.urls:
                raise InputError("urls is empty")
            return list(self.urls)
        return [str(given[0])]


def _archive(request: Request) -> Archive:
    return request.app.state.archive


def links(video_id: str) -> dict[str, str]:
    """Where a video's page, record, media and thumbnail are."""
    from urllib.parse import quote

    key = quote(video_id, safe="")
    return {
        "page": f"/watch/{key}",
        "self": f"/videos/{key}",
        "media": f"/videos/{key}/media",
        "thumbnail": f"/videos/{key}/thumbnail",
    }


@router.get("/health", tags=["status"], summary="The `ytarchive health` checks")
def health(request: Request) -> JSONResponse:
    """The checks `ytarchive health` runs; 200 when none fails, else 503. They take seconds
    (a `ytarchive health` process), so an answer is reused for HEALTH_CACHE seconds."""
    with _health_lock:
        cache = request.app.state.health
        at, data = cache.get("last", (0.0, None))
        if data is None or time.monotonic() - at > HEALTH_CACHE:
            data = _archive(request).health()
            cache["last"] = (time.monotonic(), data)
    return JSONResponse(data, status_code=200 if data.get("ok") else 503)


@router.get("/metadata/{video_id}", tags=["videos"], summary="A video's metadata record")
def metadata(video_id: str, request: Request) -> dict[str, Any]:
    """From the catalog when the archive knows the video, else fetched (Data API or yt-dlp);
    404 for an id that does not exist (or is not a video id or URL at all)."""
    try:
        return _archive(request).metadata(video_id)
    except InputError as exc:
        raise NotFound(str(exc)) from None


@router.post(
    "/download",
    tags=["archiving"],
    status_code=202,
    dependencies=[Depends(require_token)],
    summary="Start an archive run",
)
def download(body: DownloadRequest, request: Request) -> JSONResponse:
    """Start archiving in this process (a real Prefect flow run); poll `status_url`."""
    job = _archive(request).submit(body.targets(), body.quality)
    request.app.state.jobs[job.id] = job
    return _accepted(job.id)


def _accepted(job_id: str, **extra: Any) -> JSONResponse:
    status_url = f"/jobs/{job_id}"
    return JSONResponse(
        {"job_id": job_id, "status_url": status_url, **extra},
        status_code=202,
        headers={"Location": status_url},
    )


@router.get("/jobs/{job_id}", tags=["archiving"], summary="An archive run's progress")
def job(job_id: str, request: Request) -> dict[str, Any]:
    """State, counts by state and per-video rows: the data of `playlist status`."""
    try:
        uuid.UUID(job_id)
    except ValueError:
        raise NotFound(f"no job {job_id!r}") from None
    try:
        status = _archive(request).job(job_id)
    except InputError as exc:
        raise NotFound(str(exc)) from None
    started = request.app.state.jobs.get(job_id)
    if started is not None:  # started here: finished once its history is recorded too
        status["finished"] = started.done
    if started is not None and started.done:
        if started.summary:
            status["summary"] = {
                k: started.summary.get(k)
                for k in ("archived", "downloaded", "skipped", "unavailable", "failed", "total")
            }
        if started.error:
            status["error"] = started.error
    return status


@router.get("/videos", tags=["videos"], summary="Videos, paged and filtered")
def videos(
    request: Request,
    status: str | None = Query(None, description="archived, unavailable or failed"),
    channel: str | None = Query(None, description="channel id or title"),
    q: str | None = Query(None, description="words that must all appear", max_length=500),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> dict[str, Any]:
    """One row per video (newest metadata with newest outcome), newest published first."""
    page = _archive(request).page(status=status, channel=channel, q=q, limit=limit, offset=offset)
    for row in page["items"]:
        row["links"] = links(row["video_id"])
    nxt = offset + limit
    page["next_offset"] = nxt if nxt < page["total"] else None
    return page


@router.get("/videos/{video_id}", tags=["videos"], summary="One video")
def video(video_id: str, request: Request) -> dict[str, Any]:
    """Its row, metadata, metadata history, chapters and subtitle languages."""
    found = _archive(request).video(video_id)
    found["links"] = links(video_id)
    return found


@router.get("/stats", tags=["status"], summary="Counts, bytes and duration")
def stats(request: Request) -> dict[str, Any]:
    """Counts per status, bytes and duration archived, and the same per channel."""
    return _archive(request).stats()


@router.get("/recovery", tags=["recovery"], summary="Open recovery plans")
def recovery(request: Request) -> dict[str, Any]:
    """Failed or crashed runs and the items they still hold (`ytarchive recovery list`)."""
    return {"plans": _archive(request).plans()}


@router.post(
    "/recovery/{plan}/retry",
    tags=["recovery"],
    status_code=202,
    dependencies=[Depends(require_token)],
    summary="Retry a recovery plan",
)
def retry(plan: str, request: Request) -> JSONResponse:
    """Archive the plan's items again, linked to it; poll `status_url`."""
    if not plan.strip() or len(plan) > 200:
        raise ApiError(400, "give a plan id")
    job = _archive(request).retry(plan)
    request.app.state.jobs[job.id] = job
    return _accepted(job.id, plan=plan)
