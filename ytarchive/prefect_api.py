"""Prefect's REST API read over plain HTTP (stdlib), for reads that must not import prefect.

The read-only commands (`recovery list|show`, `playlist status`, `subscriptions`) answer in a
fraction of a second because they never import Prefect (about 3 s) nor httpx (about 0.6 s: its
package imports its own command line, rich and click): a handful of JSON POSTs to
``/api/<objects>/filter`` with the bodies Prefect's client sends, read back as plain dicts.
"""

from __future__ import annotations

import base64
import json
import os
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from ytarchive.errors import ServerUnavailable

__all__ = [
    "PAGE",
    "ApiAnswer",
    "PrefectApi",
    "history_api",
    "heartbeat_frequency",
    "is_final",
    "parse_time",
]

PAGE = 200  # the server's default (and largest) page
FINAL_STATES = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")  # Prefect's TERMINAL_STATES
_TIMEOUT = 30.0
_DEFAULT_HEARTBEAT = 180  # Prefect's PREFECT_FLOWS_HEARTBEAT_FREQUENCY default
_DATABASE_VARS = ("PREFECT_API_DATABASE_CONNECTION_URL", "PREFECT_SERVER_DATABASE_CONNECTION_URL")


class PrefectApi:
    """A Prefect API at api_url (``http://host:port/api``); None: no server and no history, so
    every read finds nothing (a fresh PREFECT_HOME: no server is started just to say so)."""

    def __init__(self, api_url: str | None, timeout: float = _TIMEOUT) -> None:
        self.api_url = api_url.rstrip("/") if api_url else None
        self.timeout = timeout
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        self._headers.update(_auth_headers())

    def post(self, path: str, body: dict[str, Any], doing: str) -> Any:
        """POST body as JSON to path (``/flow_runs/filter``); the decoded answer."""
        if self.api_url is None:
            return []
        return self._call("POST", path, json.dumps(body).encode(), doing)

    def send(self, method: str, path: str, body: dict[str, Any] | None, doing: str) -> Any:
        """Any method; an answer that is not 2xx raises ApiAnswer (its status and headers)."""
        if self.api_url is None:
            raise ServerUnavailable(f"cannot {doing}: no Prefect server")
        data = json.dumps(body).encode() if body is not None else None
        return self._call(method, path, data, doing)

    def get(self, path: str, doing: str) -> Any | None:
        """GET path; None when the server answers 404 (or there is no server)."""
        if self.api_url is None:
            return None
        try:
            return self._call("GET", path, None, doing)
        except _NotFound:
            return None

    def filter(self, objects: str, body: dict[str, Any], doing: str) -> list[dict[str, Any]]:
        """Every object ``/<objects>/filter`` matches, page by page (body without limit/offset)."""
        return list(self.iter_filter(objects, body, doing))

    def iter_filter(
        self, objects: str, body: dict[str, Any], doing: str, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """The matches of ``/<objects>/filter``, fetched a page at a time as they are read."""
        got = 0
        while True:
            size = PAGE if limit is None else min(PAGE, limit - got)
            page = self.post(f"/{objects}/filter", {**body, "limit": size, "offset": got}, doing)
            yield from page
            got += len(page)
            if len(page) < size or (limit is not None and got >= limit):
                return

    def _call(self, method: str, path: str, data: bytes | None, doing: str) -> Any:
        assert self.api_url is not None
        request = urllib.request.Request(
            self.api_url + path, data=data, headers=self._headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                body = resp.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404 and method == "GET":
                raise _NotFound from exc
            detail = exc.read().decode("utf-8", "replace")[:300]
            raise ApiAnswer(
                f"cannot {doing}: HTTP {exc.code} from {path}: {detail}", exc.code, exc.headers
            ) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise ServerUnavailable(f"cannot {doing}: {reason} ({self.api_url})") from exc
        try:
            return json.loads(body) if body else None
        except ValueError as exc:
            raise ServerUnavailable(f"cannot {doing}: {path} did not answer JSON") from exc


class _NotFound(Exception):
    """The API answered 404."""


class ApiAnswer(ServerUnavailable):
    """The API answered, but not with success: `code` (423, 503, ...) and its `headers`."""

    def __init__(self, message: str, code: int, headers: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.headers = headers if headers is not None else {}


def _auth_headers() -> dict[str, str]:
    """What Prefect's client sends for PREFECT_API_KEY (bearer) or PREFECT_API_AUTH_STRING."""
    key, auth = os.environ.get("PREFECT_API_KEY"), os.environ.get("PREFECT_API_AUTH_STRING")
    if key:
        return {"Authorization": f"Bearer {key}"}
    if auth:
        return {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()}
    return {}


def history_api() -> PrefectApi:
    """The API our history is read from: PREFECT_API_URL, else our local server.

    Our server is started (as every command that runs flows does) only when there may be a
    history to read: on a PREFECT_HOME that has no database yet, no server has ever run, so
    there is nothing to read and a read answers at once instead of paying a 20-30 s start.
    """
    from ytarchive import prefect_server

    os.environ.update(prefect_server.server_env())
    env_url = os.environ.get("PREFECT_API_URL")
    if not env_url and not _may_hold_history():
        return PrefectApi(None)
    url = prefect_server.ensure_server()
    os.environ["PREFECT_API_URL"] = url  # as flows.runtime.configure_prefect leaves it
    return PrefectApi(url)


def _may_hold_history() -> bool:
    """A server runs (or ran) for this PREFECT_HOME, or its database exists or is elsewhere."""
    from ytarchive.server_state import prefect_home, state_dir

    home = prefect_home()
    if any(os.environ.get(name) for name in _DATABASE_VARS):
        return True
    return (home / "prefect.db").exists() or (state_dir() / "server.json").exists()


def parse_time(value: str | None) -> datetime | None:
    """A datetime the API gave (ISO 8601, ``Z`` for UTC), None for none."""
    return datetime.fromisoformat(value) if value else None


def is_final(state: dict[str, Any] | None) -> bool:
    """Whether a state (the API's ``state`` object) is final, as Prefect's State.is_final()."""
    return bool(state and state.get("type") in FINAL_STATES)


def heartbeat_frequency() -> int | None:
    """PREFECT_FLOWS_HEARTBEAT_FREQUENCY as Prefect resolves it: the environment, else the
    active profile in profiles.toml, else 180 s (None or 0: heartbeats are off)."""
    for name in ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY"):
        if name in os.environ:
            return _int_or_none(os.environ[name])
    profile = _active_profile()
    for name in ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY"):
        if name in profile:
            return _int_or_none(profile[name])
    return _DEFAULT_HEARTBEAT


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return _DEFAULT_HEARTBEAT


def _active_profile() -> dict[str, Any]:
    from ytarchive.server_state import prefect_home

    path = Path(os.environ.get("PREFECT_PROFILES_PATH") or prefect_home() / "profiles.toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    name = os.environ.get("PREFECT_PROFILE") or data.get("active") or "ephemeral"
    profile = (data.get("profiles") or {}).get(name)
    return profile if isinstance(profile, dict) else {}
