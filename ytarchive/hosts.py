"""This machine's name in a fleet: YTARCHIVE_HOST, else the hostname (one path segment)."""

from __future__ import annotations

import os
import re
import socket

__all__ = ["host_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def host_name() -> str:
    """The name this host goes by in run tags, work dirs and claims.

    `YTARCHIVE_HOST` overrides the hostname (tests run several "hosts" on one machine); the name
    is made safe as one path segment, so `.tmp/<host>/` can never point elsewhere.
    """
    name = os.environ.get("YTARCHIVE_HOST", "").strip() or socket.gethostname() or "localhost"
    safe = _UNSAFE.sub("_", name).strip(".")
    return safe or "localhost"
