"""This machine's name in a fleet: YTARCHIVE_HOST, else the hostname (one path segment)."""

from __future__ import annotations

import os
import re
import socket

__all__ = ["host_name", "alone_on_server"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def host_name() -> str:
    """The name this host goes by in run tags, work dirs and claims.

    `YTARCHIVE_HOST` overrides the hostname (tests run several "hosts" on one machine); the name
    is made safe as one path segment, so `.tmp/<host>/` can never point elsewhere.
    """
    name = os.environ.get("YTARCHIVE_HOST", "").strip() or socket.gethostname() or "localhost"
    safe = _UNSAFE.sub("_", name).strip(".")
    return safe or "localhost"


def alone_on_server(api_url: str | None) -> bool:
    """True when no other host can work through the server at api_url: YTARCHIVE_HOST is not
    set, and api_url is this PREFECT_HOME's own server, started listening on loopback only
    (api_url None: PREFECT_API_URL, else the server this home would start, on loopback unless
    its last start said otherwise).

    Then every worker that can reach the server runs on this machine, where the video's lock
    (`.locks/<host>/`) already keeps two downloads of a video apart, and the catalog's fcntl
    lock two compactions: a claim or an election across hosts would only cost round trips. A
    named host, another server, a server listening on other interfaces (`server start --host
    0.0.0.0`) or state that cannot be read: False.
    """
    if os.environ.get("YTARCHIVE_HOST", "").strip():
        return False
    from ytarchive.server_state import read_json, state_dir

    api_url = api_url or os.environ.get("PREFECT_API_URL") or None
    started = read_json(state_dir() / "last-start.json")
    if api_url is None:  # our own server, as it would be started
        return started is None or started.get("bind") in _LOOPBACK
    state = read_json(state_dir() / "server.json") or {}
    ours = str(state.get("api_url") or "").rstrip("/") == api_url.rstrip("/")
    return ours and started is not None and started.get("bind") in _LOOPBACK
