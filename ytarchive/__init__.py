"""YTArchive: archive YouTube videos, playlists and channels into a local, queryable archive."""

__version__ = "0.1.0"
