"""SQL text builders for the catalog: quoting, Parquet scans and the views over a snapshot."""

from __future__ import annotations

from collections.abc import Sequence

from ytarchive.catalog._files import State
from ytarchive.catalog._schema import (
    ARCHIVE_COLUMNS,
    COLUMNS,
    DOWNLOAD_FIELDS,
    KEYS,
    LATEST,
    STATS_KEYS,
    TYPES,
)

# -- SQL text ---------------------------------------------------------------------------------


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def col_list(spec: list[tuple[str, str]], prefix: str = "") -> str:
    return ", ".join(prefix + ident(n) for n, _ in spec)


def _empty(spec: list[tuple[str, str]]) -> str:
    cols = ", ".join(f"NULL::{TYPES[k]} AS {ident(n)}" for n, k in spec)
    return f"SELECT {cols} WHERE false"


def scan(paths: Sequence[str], row_numbers: bool = False) -> str:
    extra = ", file_row_number = true" if row_numbers else ""
    if len(paths) == 1:
        return f"read_parquet({literal(paths[0])}{extra})"
    listed = ", ".join(literal(p) for p in paths)
    return f"read_parquet([{listed}], union_by_name = true{extra})"


# -- the SQL of the views ---------------------------------------------------------------------


class Sql:
    """Builds the SQL of each view over one snapshot of the files."""

    def __init__(self, state: State) -> None:
        self.state = state

    def history(self, table: str, where: str = "") -> str:
        files = self.state.files[table]
        spec = COLUMNS[table]
        if files.empty:
            return _empty(spec)
        cond = f" WHERE {where}" if where else ""
        return f"SELECT {col_list(spec)} FROM {scan(files.all)}{cond}"

    def latest(self, table: str, where: str = "") -> str:
        """The newest row per key: the base's current rows, overridden by the deduplicated tail."""
        files = self.state.files[table]
        spec = COLUMNS[table]
        key, order = KEYS[table]
        cols = col_list(spec)
        extra = f" AND ({where})" if where else ""
        if files.empty:
            return _empty(spec)

        def newest(source: str) -> str:
            return (
                f"SELECT {cols} FROM ({source}) "
                f"QUALIFY row_number() OVER (PARTITION BY {ident(key)} ORDER BY {order}) = 1"
            )

        tail = f"SELECT {cols} FROM {scan(files.tail)} WHERE true{extra}" if files.tail else ""
        if files.base is None:
            return newest(tail)
        base = f"SELECT {cols} FROM {scan([files.base])} WHERE {LATEST}{extra}"
        if table == "downloads" and self.state.derived is not None:
            # the same rows, in a table indexed by video_id
            base = f"SELECT {cols} FROM {self.state.derived.table('downloads')} WHERE true{extra}"
        if not files.tail:
            return base
        keys = f"SELECT {ident(key)} FROM {scan(files.tail)} WHERE {ident(key)} IS NOT NULL"
        return f"{base} AND {ident(key)} NOT IN ({keys}) UNION ALL " + newest(
            f"{tail} UNION ALL {base} AND {ident(key)} IN ({keys})"
        )

    def playlist_items(self) -> str:
        """Items of each playlist's newest listing."""
        items = self.history("playlist_items")
        playlists = self.latest("playlists")
        return (
            f"SELECT i.* FROM ({items}) i JOIN ({playlists}) p "
            "ON i.playlist_id = p.playlist_id AND i.snapshot_id = p.snapshot_id"
        )

    def live_archive(self, where: str = "", versions: bool = False) -> str:
        """One row per video, computed from the tables (optionally for some video ids only);
        with versions, also which metadata snapshot it shows (metadata_fetched_at and _recorded_at).
        """
        more = ", v.fetched_at AS metadata_fetched_at, v.recorded_at AS metadata_recorded_at"
        hist_where = "status = 'archived'" + (f" AND ({where})" if where else "")
        return (
            f"WITH v AS ({self.latest('videos', where)}), "
            f"d AS ({self.latest('downloads', where)}), "
            f"h AS (SELECT video_id, max(recorded_at) AS archived_at "
            f"FROM ({self.history('downloads', hist_where)}) GROUP BY video_id) "
            "SELECT coalesce(v.video_id, d.video_id) AS video_id, v.title, v.channel_id, "
            "v.channel_title, v.published_at, v.duration_seconds, v.view_count, d.status, "
            "d.reason, d.file_path, d.bytes, d.width, d.height, d.format, d.recorded_at, "
            f"h.archived_at{more if versions else ''} "
            "FROM v FULL OUTER JOIN d ON v.video_id = d.video_id "
            "LEFT JOIN h ON h.video_id = coalesce(v.video_id, d.video_id)"
        )

    def archive_tail(self) -> bool:
        """Whether videos or downloads have rows newer than the bases (see tail_ids)."""
        return any(self.state.files[t].tail for t in ("videos", "downloads"))

    def tail_ids(self, rest: bool = False) -> str:
        """Ids with rows newer than the bases: their archive rows are computed, not read (with
        rest, only those in files the tail index does not cover)."""
        parts = [
            f"SELECT video_id FROM {scan(self.state.rest(t))}"
            for t in ("videos", "downloads")
            if self.state.rest(t)
        ]
        index = self.state.tail_index
        if index is not None and not rest:
            parts.insert(0, f"SELECT video_id FROM {index.table('ids')}")
        return " UNION ".join(parts) if parts else "SELECT NULL::VARCHAR AS video_id WHERE false"

    def stored(self, ids: str) -> str:
        """The archive rows (with versions) the files not yet read give for these ids: the tail
        index's where it has them, else the derived database's."""
        derived, index = self.state.derived, self.state.tail_index
        assert derived is not None
        cols = col_list(
            [*ARCHIVE_COLUMNS, ("metadata_fetched_at", "ts"), ("metadata_recorded_at", "ts")]
        )
        base = f"SELECT {cols} FROM {derived.table('archive')} WHERE video_id IN ({ids})"
        if index is None:
            return base
        mine = index.table("archive")
        return (
            f"SELECT {cols} FROM {mine} WHERE video_id IN ({ids}) UNION ALL "
            f"{base} AND video_id NOT IN (SELECT video_id FROM {mine})"
        )

    def archive(self, where: str = "") -> str:
        derived = self.state.derived
        if derived is None:
            return self.live_archive(where)
        extra = f" AND ({where})" if where else ""
        cols = col_list(ARCHIVE_COLUMNS)
        stored = f"SELECT {cols} FROM {derived.table('archive')} WHERE true{extra}"
        if not self.archive_tail():
            return stored
        return (
            f"{stored} AND video_id NOT IN (SELECT video_id FROM _tail_ids) UNION ALL "
            f"SELECT {cols} FROM ({self.changed_rows(where)})"
        )

    def changed_rows(self, where: str = "") -> str:
        """What tail_archive(where) gives, read from the tail index's archive rows where no
        newer file has rows of the video (those are computed: tail_archive with rest)."""
        index = self.state.tail_index
        if index is None:
            return self.tail_archive(where)
        cols = col_list(ARCHIVE_COLUMNS)
        extra = f" AND ({where})" if where else ""
        stored = f"SELECT {cols} FROM {index.table('archive')} WHERE true{extra}"
        if not any(self.state.rest(t) for t in ("videos", "downloads")):
            return stored
        return (
            f"{stored} AND video_id NOT IN ({self.tail_ids(rest=True)}) UNION ALL "
            f"SELECT {cols} FROM ({self.tail_archive(where, rest=True)})"
        )

    def tail_archive(
        self, where: str = "", old: bool = False, rest: bool = False, versions: bool = False
    ) -> str:
        """Archive rows of the videos changed since the compaction (the ids in _tail_ids; with
        rest, only those in files the tail index does not cover), from the rows in files not
        covered and the stored archive row (see stored), never reading the base files. With
        old, also what the stored row said (old_present, old_channel_title, old_status,
        old_bytes, old_duration_seconds); with versions, metadata_fetched_at and _recorded_at."""
        assert self.state.derived is not None
        extra = f" AND ({where})" if where else ""
        videos, downloads = (self.state.rest(t) for t in ("videos", "downloads"))
        vcols = [
            ("video_id", "str"), ("title", "str"), ("channel_id", "str"),
            ("channel_title", "str"), ("published_at", "ts"), ("duration_seconds", "int"),
            ("view_count", "int"), ("fetched_at", "ts"), ("recorded_at", "ts"),
        ]  # fmt: skip
        dcols = [(n, k) for n, k in COLUMNS["downloads"] if n in ("video_id", *DOWNLOAD_FIELDS)]
        tv, td, ta = _empty(vcols), _empty(dcols), _empty([("video_id", "str"), ("at", "ts")])
        if videos:
            tv = (
                f"SELECT {col_list(vcols)} FROM {scan(videos)} WHERE true{extra} QUALIFY "
                f"row_number() OVER (PARTITION BY video_id ORDER BY {KEYS['videos'][1]}) = 1"
            )
        if downloads:
            td = (
                f"SELECT {col_list(dcols)} FROM {scan(downloads)} WHERE true{extra} QUALIFY "
                f"row_number() OVER (PARTITION BY video_id ORDER BY {KEYS['downloads'][1]}) = 1"
            )
            ta = (
                f"SELECT video_id, max(recorded_at) AS at FROM {scan(downloads)} "
                f"WHERE status = 'archived'{extra} GROUP BY video_id"
            )
        ids = "SELECT video_id FROM _tail_ids" if not rest else self.tail_ids(rest=True)
        ids = f"SELECT video_id FROM ({ids})" + (f" WHERE {where}" if where else "")
        stored = self.stored(ids)
        new_meta = (
            "(tv.video_id IS NOT NULL AND (b.metadata_fetched_at IS NULL "
            "OR tv.fetched_at > b.metadata_fetched_at OR (tv.fetched_at = b.metadata_fetched_at "
            "AND tv.recorded_at >= b.metadata_recorded_at)))"
        )
        new_outcome = (
            "(td.video_id IS NOT NULL AND (b.status IS NULL OR td.recorded_at > b.recorded_at "
            "OR (td.recorded_at = b.recorded_at AND td.status <= b.status)))"
        )
        picked = []
        for name, _ in ARCHIVE_COLUMNS[1:]:
            if name == "archived_at":
                picked.append("greatest(b.archived_at, ta.at) AS archived_at")
            elif name in DOWNLOAD_FIELDS:
                picked.append(f"CASE WHEN {new_outcome} THEN td.{name} ELSE b.{name} END AS {name}")
            else:
                picked.append(f"CASE WHEN {new_meta} THEN tv.{name} ELSE b.{name} END AS {name}")
        if versions:
            picked += [
                f"CASE WHEN {new_meta} THEN tv.{n} ELSE b.metadata_{n} END AS metadata_{n}"
                for n in ("fetched_at", "recorded_at")
            ]
        if old:
            picked.append("b.video_id IS NOT NULL AS old_present")
            picked += [
                f"b.{n} AS old_{n}"
                for n in ("channel_title", "status", "bytes", "duration_seconds")
            ]
        return (
            f"WITH ids AS ({ids}), tv AS ({tv}), td AS ({td}), ta AS ({ta}), b AS ({stored}) "
            f"SELECT ids.video_id, {', '.join(picked)} FROM ids "
            "LEFT JOIN tv ON tv.video_id = ids.video_id LEFT JOIN td ON td.video_id = ids.video_id "
            "LEFT JOIN ta ON ta.video_id = ids.video_id LEFT JOIN b ON b.video_id = ids.video_id"
        )

    def views(self) -> dict[str, str]:
        return {
            "videos": self.latest("videos"),
            "video_snapshots": self.history("videos"),
            "downloads": self.latest("downloads"),
            "download_history": self.history("downloads"),
            "playlists": self.latest("playlists"),
            "playlist_snapshots": self.history("playlists"),
            "playlist_items": self.playlist_items(),
            "archive": self.archive(),
        }


# -- search text ------------------------------------------------------------------------------


def search_text(alias: str = "") -> str:
    a = alias + "." if alias else ""
    return (
        f"lower(concat_ws(' ', {a}title, {a}description, {a}channel_title, "
        f"array_to_string({a}tags, ' ')))"
    )


# -- stats -------------------------------------------------------------------------------------


def stats_agg(prefix: str = "") -> str:
    """The STATS_KEYS aggregates over archive rows (over columns named prefix + "status", ...)."""
    status, size, duration = (f"{prefix}{n}" for n in ("status", "bytes", "duration_seconds"))
    return (
        "count(*) AS videos, "
        f"count(*) FILTER (WHERE {status} = 'archived') AS archived, "
        f"count(*) FILTER (WHERE {status} = 'unavailable') AS unavailable, "
        f"count(*) FILTER (WHERE {status} = 'failed') AS failed, "
        f"count(*) FILTER (WHERE {status} IS NULL) AS pending, "
        f"coalesce(sum({size}) FILTER (WHERE {status} = 'archived'), 0) AS total_bytes, "
        f"coalesce(sum({duration}) FILTER (WHERE {status} = 'archived'), 0) "
        "AS total_duration_seconds"
    )


def stats_sql(source: str, sign: int = 1, prefix: str = "") -> str:
    """STATS_KEYS per channel_title of archive rows (negated with sign=-1); with a prefix, of
    the columns so named."""
    cols = ", ".join(f"{sign} * {k} AS {k}" for k in STATS_KEYS)
    return (
        f"SELECT channel_title, {cols} FROM (SELECT {prefix}channel_title AS channel_title, "
        f"{stats_agg(prefix)} FROM ({source}) GROUP BY {prefix}channel_title)"
    )


# -- compaction internals --------------------------------------------------------------------


def latest_expr(table: str) -> str:
    if table in KEYS:
        key, order = KEYS[table]
        return f"row_number() OVER (PARTITION BY {ident(key)} ORDER BY {order}) = 1"
    return (
        "snapshot_id = first_value(snapshot_id) OVER "
        "(PARTITION BY playlist_id ORDER BY fetched_at DESC NULLS LAST, snapshot_id DESC)"
    )
