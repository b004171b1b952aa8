"""The archive's pages, rendered on the server from Jinja2 templates with a little plain JS."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ytarchive import archive_files
from ytarchive.config import QUALITIES
from ytarchive.errors import YTArchiveError

__all__ = ["router", "render", "error_page", "wants_page"]

HERE = Path(__file__).resolve().parent
router = APIRouter(include_in_schema=False)
PAGES = ("/watch/", "/channel/", "/playlist/")
PAGE_PATHS = ("/", "/search", "/playlists", "/failures", "/archive")
API_PREFIXES = ("/videos", "/metadata", "/jobs", "/recovery", "/download", "/health", "/stats")
NEWEST = 24


def _clock(seconds: Any) -> str:
    if seconds is None:
        return ""
    s = int(seconds)
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


def _size(n: Any) -> str:
    value = float(n or 0)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def _day(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    return value.strftime("%Y-%m-%d") if hasattr(value, "strftime") else ""


def _when(value: Any) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M UTC") if hasattr(value, "strftime") else ""


def _number(n: Any) -> str:
    return "" if n is None else f"{int(n):,}"


def _hours(seconds: Any) -> str:
    s = int(seconds or 0)
    return f"{s / 3600:.1f} h" if s >= 3600 else _clock(s)


_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(
    clock=_clock, size=_size, day=_day, when=_when, number=_number, hours=_hours,
    q=lambda s: quote(str(s), safe=""),
)  # fmt: skip
_env.globals["qualities"] = QUALITIES


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page from templates/<name> with the nav's counts unneeded: only what it is given."""
    html = _env.get_template(name).render(request=request, path=request.url.path, **context)
    return HTMLResponse(html, status_code=status)


def wants_page(request: Request) -> bool:
    """Errors on page paths (and on unknown paths a browser asks for) are pages, else JSON."""
    path = request.url.path
    if path.startswith(PAGES) or path in PAGE_PATHS:
        return True
    html = "text/html" in request.headers.get("accept", "")
    return html and request.method == "GET" and not path.startswith(API_PREFIXES)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    title = {404: "Not found", 401: "Not allowed", 400: "Bad request"}.get(status, "Error")
    return render(request, "error.html", status=status, title=title, message=message)


def _archive(request: Request) -> Any:
    return request.app.state.archive


def _with_thumbs(archive: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        row["thumb"] = archive_files.thumbnail_file(archive.root, row["video_id"]) is not None
    return rows


@router.get("/", response_class=HTMLResponse)
def front(request: Request) -> HTMLResponse:
    archive = _archive(request)
    return render(
        request,
        "index.html",
        stats=archive.stats(),
        newest=_with_thumbs(archive, archive.newest(NEWEST)),
        playlists=archive.playlists()[:12],
    )


@router.get("/search", response_class=HTMLResponse, response_model=None)
def search(request: Request, q: str = "", offset: int = 0) -> Any:
    if not q.strip():
        return RedirectResponse("/", status_code=303)
    archive = _archive(request)
    page = archive.page(q=q[:500], limit=60, offset=max(0, offset))
    return render(request, "search.html", q=q, page=_page(archive, page))


def _page(archive: Any, page: dict[str, Any]) -> dict[str, Any]:
    page["items"] = _with_thumbs(archive, page["items"])
    page["next"] = (
        page["offset"] + page["limit"] if page["offset"] + page["limit"] < page["total"] else None
    )
    return page


@router.get("/watch/{video_id}", response_class=HTMLResponse)
def watch(video_id: str, request: Request) -> HTMLResponse:
    found = _archive(request).video(video_id)
    return render(request, "video.html", v=found, chart=_chart(found["history"]))


def _chart(history: list[dict[str, Any]], width: int = 600, height: int = 120) -> dict | None:
    """Views over time as SVG points (None with fewer than two snapshots that count views)."""
    points = [(h["fetched_at"], h["view_count"]) for h in history if h["view_count"] is not None]
    if len(points) < 2:
        return None
    times = [p[0].timestamp() for p in points]
    views = [p[1] for p in points]
    t0, t1 = min(times), max(times)
    v0, v1 = min(views), max(views)

    def xy(t: float, v: int) -> str:
        x = (t - t0) / (t1 - t0 or 1) * (width - 20) + 10
        y = height - 10 - (v - v0) / (v1 - v0 or 1) * (height - 20)
        return f"{x:.1f},{y:.1f}"

    line = " ".join(xy(t, v) for t, v in zip(times, views, strict=True))
    return {"points": line, "width": width, "height": height, "first": v0, "last": views[-1]}


@router.get("/channel/{channel}", response_class=HTMLResponse)
def channel(channel: str, request: Request) -> HTMLResponse:
    archive = _archive(request)
    found = archive.channel(channel)
    found["items"] = _with_thumbs(archive, found["items"])
    return render(request, "channel.html", c=found)


@router.get("/playlist/{playlist_id}", response_class=HTMLResponse)
def playlist(playlist_id: str, request: Request) -> HTMLResponse:
    archive = _archive(request)
    found = archive.listing(playlist_id)
    found["items"] = _with_thumbs(archive, found["items"])
    return render(request, "playlist.html", p=found)


@router.get("/playlists", response_class=HTMLResponse)
def playlists(request: Request) -> HTMLResponse:
    return render(request, "playlists.html", playlists=_archive(request).playlists())


@router.get("/failures", response_class=HTMLResponse)
def failures(request: Request) -> HTMLResponse:
    archive = _archive(request)
    plans, problem = [], None
    try:
        plans = archive.plans()
    except YTArchiveError as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    failed = _with_thumbs(archive, archive.videos(status="failed", limit=100))
    return render(request, "failures.html", plans=plans, problem=problem, failed=failed)


@router.get("/archive", response_class=HTMLResponse)
def archive_form(request: Request, url: str = "") -> HTMLResponse:
    return render(request, "archive.html", url=url[:2000])
