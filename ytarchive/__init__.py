"""YTArchive: archive YouTube videos, playlists and channels into a local, queryable archive."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Archive", "__version__"]

if TYPE_CHECKING:
    from ytarchive.api import Archive


def __getattr__(name: str) -> Any:
    """`from ytarchive import Archive`, imported on first use so the CLI starts light."""
    if name == "Archive":
        from ytarchive.api import Archive

        return Archive
    raise AttributeError(f"module 'ytarchive' has no attribute {name!r}")
