"""Lenient readers of outside data (API resources, yt-dlp info dicts): numbers, thumbnails."""

from __future__ import annotations

from typing import Any

__all__ = ["int_or_none", "best_thumbnail"]


def int_or_none(value: Any) -> int | None:
    """An int from an int or a numeric string; None for anything missing or unreadable."""
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def best_thumbnail(thumbnails: dict[str, Any] | list[dict[str, Any]] | None) -> str | None:
    """The URL of the largest thumbnail offered (by pixel area; later entries win ties).

    Takes the Data API's dict of named sizes or yt-dlp's list (which it orders worst first).
    """
    if not thumbnails:
        return None
    entries = list(thumbnails.values()) if isinstance(thumbnails, dict) else list(thumbnails)
    entries = [t for t in entries if isinstance(t, dict) and t.get("url")]
    if not entries:
        return None
    ranked = sorted(
        enumerate(entries),
        key=lambda it: ((it[1].get("width") or 0) * (it[1].get("height") or 0), it[0]),
    )
    return str(ranked[-1][1]["url"])
