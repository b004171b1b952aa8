"""yt-dlp, and only here: downloads, keyless metadata, formats, cookies, progress, errors."""

from ytarchive.downloader.errors import classify_error
from ytarchive.downloader.metadata import (
    media_key,
    metadata_from_info,
    strip_cookies,
    ytdlp_playlist,
    ytdlp_video_metadata,
)
from ytarchive.downloader.options import (
    QUALITY_FORMATS,
    base_options,
    check_site_settings,
    ffmpeg_location,
    format_for_quality,
    validate_quality,
    ytdlp_version,
)
from ytarchive.downloader.run import download_video, fetch_thumbnail, warm_up
from ytarchive.downloader.tracking import DownloadProgress, ProgressCallback

__all__ = [
    "QUALITY_FORMATS",
    "DownloadProgress",
    "ProgressCallback",
    "base_options",
    "check_site_settings",
    "classify_error",
    "download_video",
    "fetch_thumbnail",
    "ffmpeg_location",
    "format_for_quality",
    "media_key",
    "metadata_from_info",
    "strip_cookies",
    "validate_quality",
    "warm_up",
    "ytdlp_playlist",
    "ytdlp_version",
    "ytdlp_video_metadata",
]
