"""The FastAPI app: its routers, the bearer-token check on changes, and one-line JSON errors."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ytarchive.api import Archive
from ytarchive.errors import (
    AuthError,
    InputError,
    NotFound,
    QuotaExceeded,
    ServerUnavailable,
    Transient,
    YTArchiveError,
)

__all__ = ["create_app", "ApiError", "require_token", "secrets_of", "one_line"]

HERE = Path(__file__).resolve().parent
logger = logging.getLogger(__name__)
CSP = (
    "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; "
    "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# Paths whose errors are pages, not JSON
PAGE_PREFIXES = ("/watch/", "/channel/", "/playlist/")


class ApiError(Exception):
    """An HTTP error with a one-line message, answered as {"error": message}."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


def secrets_of(archive: Archive) -> list[str]:
    """The values no response, page or log line may show."""
    s = archive.settings
    found = [s.youtube_api_key, s.api_token, s.notify]
    return [x.get_secret_value() for x in found if x is not None and x.get_secret_value()]


def one_line(text: str, archive: Archive) -> str:
    """The first line of a message, with every secret replaced by ***."""
    line = (str(text).strip().splitlines() or ["error"])[0]
    for secret in secrets_of(archive):
        line = line.replace(secret, "***")
    return line[:500]


def require_token(request: Request) -> None:
    """Every change needs `Authorization: Bearer <YTARCHIVE_API_TOKEN>` (compared in constant
    time); with no token configured, changes are refused."""
    archive: Archive = request.app.state.archive
    expected = archive.settings.api_token
    challenge = {"WWW-Authenticate": "Bearer"}
    if expected is None or not expected.get_secret_value():
        raise ApiError(
            401, "changes are disabled: set YTARCHIVE_API_TOKEN where ytarchive web runs", challenge
        )
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    token = expected.get_secret_value().encode()
    if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(), token):
        raise ApiError(401, "missing or wrong token: send Authorization: Bearer <token>", challenge)


def _status_of(exc: YTArchiveError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, InputError):
        return 400
    if isinstance(exc, ServerUnavailable):
        return 503
    if isinstance(exc, (QuotaExceeded, AuthError, Transient)):
        return 502
    return 500


def _validation_line(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
    return f"{where}: {first.get('msg', 'invalid')}"


def _add_error_handlers(app: FastAPI) -> None:
    from ytarchive.web.pages import error_page, wants_page

    def answer(request: Request, status: int, message: str, headers: Any = None) -> Any:
        text = one_line(message, request.app.state.archive)
        if wants_page(request):
            return error_page(request, status, text)
        return JSONResponse({"error": text}, status_code=status, headers=headers)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Any:
        return answer(request, exc.status, str(exc), exc.headers)

    @app.exception_handler(YTArchiveError)
    async def our_error(request: Request, exc: YTArchiveError) -> Any:
        return answer(request, _status_of(exc), str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Any:
        return answer(request, 422, _validation_line(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Any:
        return answer(request, exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Any:
        logger.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
        return JSONResponse({"error": "internal error (see the server's log)"}, status_code=500)


def create_app(archive: Archive | None = None) -> FastAPI:
    """The app over one archive (default: Settings' output dir)."""
    from ytarchive import __version__
    from ytarchive.web import media, pages, rest

    app = FastAPI(
        title="YTArchive",
        version=__version__,
        description="Browse, search and grow a YTArchive archive. Every POST needs "
        "`Authorization: Bearer <YTARCHIVE_API_TOKEN>`.",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.archive = archive if archive is not None else Archive()
    app.state.jobs = {}
    app.state.health = {}
    _add_error_handlers(app)
    app.include_router(rest.router)
    app.include_router(media.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if response.headers.get("content-type", "").startswith("text/html"):
            if not request.url.path.startswith("/docs"):
                response.headers.setdefault("Content-Security-Policy", CSP)
        return response

    return app
