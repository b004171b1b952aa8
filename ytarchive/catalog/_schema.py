"""The catalog's schema in one place: tables, columns, keys, orders, file names, tuning."""

from __future__ import annotations

TABLES = ("videos", "downloads", "playlists", "playlist_items")


# archived and unavailable are final (runs skip them); failed is for a retry (recovery plans);
# upcoming (a premiere or stream not begun) and live (streaming now) wait for a later run.
STATUSES = ("archived", "unavailable", "failed", "upcoming", "live")


TYPES = {
    "str": "VARCHAR",
    "int": "BIGINT",
    "ts": "TIMESTAMPTZ",
    "bool": "BOOLEAN",
    "strlist": "VARCHAR[]",
    "chapters": "STRUCT(start_time DOUBLE, end_time DOUBLE, title VARCHAR)[]",
    "subtitles": "STRUCT(lang VARCHAR, automatic BOOLEAN, ext VARCHAR, path VARCHAR)[]",
}


# The columns of every file of each table, in order. `_latest` (the newest row for its key within
# that file) is the last column of every file; the views hide it.
COLUMNS: dict[str, list[tuple[str, str]]] = {
    "videos": [
        ("video_id", "str"),
        ("title", "str"),
        ("description", "str"),
        ("channel_id", "str"),
        ("channel_title", "str"),
        ("published_at", "ts"),
        ("duration_seconds", "int"),
        ("view_count", "int"),
        ("like_count", "int"),
        ("comment_count", "int"),
        ("tags", "strlist"),
        ("category_id", "str"),
        ("thumbnail_url", "str"),
        ("source", "str"),
        ("fetched_at", "ts"),
        ("webpage_url", "str"),
        ("availability", "str"),
        ("unavailable_reason", "str"),
        ("recorded_at", "ts"),
        ("chapters", "chapters"),  # [{start_time, end_time, title}], seconds
    ],
    "downloads": [
        ("video_id", "str"),
        ("status", "str"),
        ("reason", "str"),
        ("error_class", "str"),
        ("file_path", "str"),
        ("bytes", "int"),
        ("width", "int"),
        ("height", "int"),
        ("format", "str"),
        ("quality", "str"),
        ("attempts", "int"),
        ("flow_run_id", "str"),
        ("recorded_at", "ts"),
        ("subtitles", "subtitles"),  # [{lang, automatic, ext, path}] of the archived file
    ],
    "playlists": [
        ("playlist_id", "str"),
        ("title", "str"),
        ("channel_id", "str"),
        ("channel_title", "str"),
        ("item_count", "int"),
        ("url", "str"),
        ("source", "str"),
        ("fetched_at", "ts"),
        ("snapshot_id", "str"),
        ("recorded_at", "ts"),
    ],
    "playlist_items": [
        ("playlist_id", "str"),
        ("position", "int"),
        ("video_id", "str"),
        ("title", "str"),
        ("availability", "str"),
        ("url", "str"),
        ("duration_seconds", "int"),
        ("snapshot_id", "str"),
        ("fetched_at", "ts"),
    ],
}


LATEST = "_latest"


# key and "newest first" order of the tables that keep one current row per key
KEYS = {
    "videos": ("video_id", "fetched_at DESC NULLS LAST, recorded_at DESC NULLS LAST"),
    "downloads": ("video_id", "recorded_at DESC NULLS LAST, status"),
    "playlists": ("playlist_id", "fetched_at DESC NULLS LAST, recorded_at DESC NULLS LAST"),
}


# physical order of a base file: current rows first (row groups of history are skipped), by key
BASE_ORDER = {
    "videos": "_latest DESC, video_id, fetched_at DESC NULLS LAST",
    "downloads": "_latest DESC, video_id, recorded_at DESC NULLS LAST",
    "playlists": "_latest DESC, playlist_id, fetched_at DESC NULLS LAST",
    "playlist_items": "playlist_id, fetched_at DESC NULLS LAST, snapshot_id, position",
}


# one row per video: the newest metadata joined with the newest outcome
ARCHIVE_COLUMNS: list[tuple[str, str]] = [
    ("video_id", "str"),
    ("title", "str"),
    ("channel_id", "str"),
    ("channel_title", "str"),
    ("published_at", "ts"),
    ("duration_seconds", "int"),
    ("view_count", "int"),
    ("status", "str"),
    ("reason", "str"),
    ("file_path", "str"),
    ("bytes", "int"),
    ("width", "int"),
    ("height", "int"),
    ("format", "str"),
    ("recorded_at", "ts"),
    ("archived_at", "ts"),
]


LIST_COLUMNS = [
    "video_id",
    "title",
    "channel_title",
    "status",
    "reason",
    "file_path",
    "bytes",
    "width",
    "height",
    "duration_seconds",
    "published_at",
    "archived_at",
]


VIEWS = (
    "videos",
    "video_snapshots",
    "downloads",
    "download_history",
    "playlists",
    "playlist_snapshots",
    "playlist_items",
    "archive",
)


INDEX_DIR = "_index"


DERIVED_FORMAT = 3  # bump when the derived database's tables change


TAIL_FORMAT = 1  # bump when the tail index's tables change (see TailIndex)


TAIL_PREFIX = "tail-"  # the tail index's files under INDEX_DIR: tail-<time>-<pid>-<rand>.*


SIDECAR = ".sources.json"


TMP_PREFIX = ".tmp-"


MERGE_AT_FILES = 16  # a table with more batch files than this is due a (background) merge


MAX_MERGED_FILES = 8  # merged files beyond this are merged together


AUTO_FULL_MIN_ROWS = 20_000  # a tail of this many rows (and AUTO_FULL_RATIO of the base) ...


AUTO_FULL_RATIO = 0.02  # ... makes a full compaction due (run in the background)


STALE_TMP_SECONDS = 3600.0


COMPACT_MEMORY = "2GB"


MAX_RANGES = 512  # token-id ranges per word written out; beyond, an IN list


INDEX_SLICE = 100_000  # videos tokenised at a time when building the word index


READ_RETRIES = 12


# the order of list_videos, and of the rows (`rid`) of the derived archive table
LIST_ORDER = "published_at DESC NULLS LAST, video_id"


# the archive columns that come from the newest outcome (the rest from the newest metadata)
DOWNLOAD_FIELDS = (
    "status",
    "reason",
    "file_path",
    "bytes",
    "width",
    "height",
    "format",
    "recorded_at",
)


# what stats() counts, overall and per channel
STATS_KEYS = (
    "videos",
    "archived",
    "unavailable",
    "failed",
    "pending",
    "total_bytes",
    "total_duration_seconds",
)


# physical order of a merged file
MERGE_ORDER = {
    "videos": "video_id, fetched_at DESC NULLS LAST",
    "downloads": "video_id, recorded_at DESC NULLS LAST",
    "playlists": "playlist_id, fetched_at DESC NULLS LAST",
    "playlist_items": "playlist_id, fetched_at DESC NULLS LAST, snapshot_id, position",
}


# Parquet content, but never a ".parquet" name: a compactor killed mid-build leaves its scratch
# behind until the next compaction, and nothing under catalog/ may then break the documented
# plain-DuckDB read of 'catalog/**/*.parquet' (an empty or torn scratch file would).
SCRATCH_SUFFIX = ".tokens-part"
