"""An info dict made safe to keep: no cookies, no request headers, no private yt-dlp keys."""

from __future__ import annotations

from typing import Any

__all__ = ["sanitize_info"]

_SECRET_KEYS = frozenset({"cookies", "http_headers", "__files_to_move", "__postprocessors"})


def sanitize_info(info: Any) -> Any:
    """A copy of a yt-dlp info dict (or any part of one) without what may carry a secret.

    Drops every `cookies` and `http_headers` entry at any depth (yt-dlp puts the cookies it
    sent into `formats[].cookies` and request headers into `http_headers`), any `Cookie` or
    `Authorization` header left elsewhere, and yt-dlp's private `__...` keys.
    """
    if isinstance(info, dict):
        out = {}
        for key, value in info.items():
            name = str(key)
            if name in _SECRET_KEYS or name.startswith("__"):
                continue
            if name.lower() in ("cookie", "set-cookie", "authorization"):
                continue
            out[key] = sanitize_info(value)
        return out
    if isinstance(info, list | tuple):
        return [sanitize_info(v) for v in info]
    return info
