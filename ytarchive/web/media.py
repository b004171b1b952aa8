"""A video's files over HTTP: the media (with Range, so a browser can seek), thumbnail, subtitles.

Every path comes from the catalog row of the id asked for (ytarchive/archive_files.py) and is
checked to stay under the archive root; nothing in a request is ever joined into a path.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from ytarchive.archive_files import MEDIA_TYPES
from ytarchive.errors import NotFound

__all__ = ["router"]

router = APIRouter(tags=["media"])


def _file(path: Path | None, what: str, cache: str = "private, max-age=3600") -> FileResponse:
    if path is None:
        raise NotFound(f"no {what}")
    kind = MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
    return FileResponse(path, media_type=kind, headers={"Cache-Control": cache})


@router.get("/videos/{video_id}/media", summary="The archived media file (HTTP Range)")
def media(video_id: str, request: Request) -> FileResponse:
    """The file, or a byte range of it: `Range: bytes=1000-1999` answers 206."""
    return _file(request.app.state.archive.media_file(video_id), f"media file for {video_id!r}")


@router.get("/videos/{video_id}/thumbnail", summary="The archived thumbnail")
def thumbnail(video_id: str, request: Request) -> FileResponse:
    found = request.app.state.archive.thumbnail_file(video_id)
    return _file(found, f"thumbnail for {video_id!r}", cache="private, max-age=86400")


@router.get("/videos/{video_id}/subtitles/{lang}.vtt", summary="A WebVTT subtitle track")
def subtitles(video_id: str, lang: str, request: Request) -> FileResponse:
    """One of the languages `GET /videos/{id}` lists under `subtitles`."""
    tracks = request.app.state.archive.subtitles(video_id)
    found = next((t.path for t in tracks if t.lang == lang), None)
    return _file(found, f"{lang!r} subtitles for {video_id!r}")
