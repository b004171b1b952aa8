"""Our metadata record's values for yt-dlp's fields: for the tags, chapters, cover and names."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ytarchive import layout

if TYPE_CHECKING:
    from ytarchive.models import VideoMetadata

__all__ = ["merged_fields", "record_fields_pp"]


def record_values(record: VideoMetadata | None) -> dict[str, Any]:
    """yt-dlp field names -> our record's values (only those the record has)."""
    if record is None:
        return {}
    values: dict[str, Any] = {
        "title": record.title,
        "description": record.description,
        "channel": record.channel_title,
        "uploader": record.channel_title,
        "channel_id": record.channel_id,
        "duration": record.duration_seconds,
        "view_count": record.view_count,
        "like_count": record.like_count,
        "tags": record.tags or None,
    }
    if record.published_at is not None:
        values["upload_date"] = record.published_at.strftime("%Y%m%d")
        values["timestamp"] = int(record.published_at.timestamp())
    return {k: v for k, v in values.items() if v not in (None, "")}


def merged_fields(info: dict[str, Any], record: VideoMetadata | None, key: str) -> dict[str, Any]:
    """The info dict with our record's values over yt-dlp's, and `id` our key (file-name safe):
    what an output template is evaluated against."""
    merged = {**info, **record_values(record)}
    merged["id"] = layout.safe_key(key)
    return merged


def record_fields_pp(record: VideoMetadata | None) -> Any:
    """A yt-dlp pre-process post-processor: our values as the embedded tags (meta_*), our
    chapters when yt-dlp found none, and our thumbnail when yt-dlp offers none."""
    from yt_dlp.postprocessor import PostProcessor

    class RecordFieldsPP(PostProcessor):  # type: ignore[misc]
        def run(self, info: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
            _apply(info, record)
            return [], info

    return RecordFieldsPP()


def _apply(info: dict[str, Any], record: VideoMetadata | None) -> None:
    values = {**{k: info.get(k) for k in ("title", "description", "upload_date", "channel")}}
    values["channel"] = values["channel"] or info.get("uploader")
    values.update({k: v for k, v in record_values(record).items() if k in values})
    tags = {
        "meta_title": values["title"],
        "meta_date": values["upload_date"],
        "meta_artist": values["channel"],
        "meta_album_artist": values["channel"],
        "meta_description": values["description"],
        "meta_synopsis": values["description"],
    }
    info.update({k: str(v) for k, v in tags.items() if v})
    if record is None:
        return
    if not info.get("chapters") and record.chapters:
        end = info.get("duration") or record.duration_seconds
        info["chapters"] = [
            {
                "start_time": c.start_time,
                "end_time": c.end_time if c.end_time is not None else end,
                "title": c.title or "",
            }
            for c in record.chapters
        ]
    if not info.get("thumbnails") and record.thumbnail_url:
        info["thumbnails"] = [{"id": "0", "url": record.thumbnail_url}]
