"""Chapters of a video: yt-dlp's own, or YouTube's rule for timestamps in a description."""

from __future__ import annotations

import re
from typing import Any

from ytarchive.models import Chapter

__all__ = ["chapters_from_description", "chapters_from_info"]

_STAMP = re.compile(r"^\s*\(?((?:\d{1,2}:)?\d{1,2}:\d{2})\)?\s*[-–—:|]?\s*(\S.*?)\s*$")


def chapters_from_info(info: dict[str, Any]) -> list[Chapter]:
    """yt-dlp's `chapters` (start_time, end_time, title), else the description's."""
    listed = info.get("chapters") or []
    try:
        found = [
            Chapter(
                start_time=float(c["start_time"]), end_time=c.get("end_time"), title=c.get("title")
            )
            for c in listed
        ]
    except (KeyError, TypeError, ValueError):
        found = []
    return found or chapters_from_description(info.get("description"), info.get("duration"))


def chapters_from_description(description: str | None, duration: Any = None) -> list[Chapter]:
    """Chapters as YouTube makes them from a description: lines that start with a timestamp,
    at least two, the first at 0:00, in increasing order. Each ends where the next starts."""
    starts: list[tuple[int, str]] = []
    for line in (description or "").splitlines():
        match = _STAMP.match(line)
        if match:
            starts.append((_seconds(match.group(1)), match.group(2)[:200]))
    if len(starts) < 2 or starts[0][0] != 0:
        return []
    if any(b[0] <= a[0] for a, b in zip(starts, starts[1:], strict=False)):
        return []
    end = float(duration) if isinstance(duration, int | float) and duration > 0 else None
    out = []
    for i, (start, title) in enumerate(starts):
        stop = float(starts[i + 1][0]) if i + 1 < len(starts) else end
        out.append(Chapter(start_time=float(start), end_time=stop, title=title))
    return out


def _seconds(stamp: str) -> int:
    total = 0
    for part in stamp.split(":"):
        total = total * 60 + int(part)
    return total
