"""The catalog: what goes in comes out newest-first per id, through every read path, before and
after compaction, and to plain DuckDB with no project code."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from ytarchive.catalog import TABLES, Catalog
from ytarchive.errors import InputError
from ytarchive.models import DownloadResult, PlaylistInfo, PlaylistItem, VideoMetadata

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def meta(video_id: str, **kw) -> VideoMetadata:
    kw.setdefault("title", f"Title of {video_id}")
    kw.setdefault("source", "youtube_api")
    return VideoMetadata(video_id=video_id, **kw)


def outcome(video_id: str, status: str = "archived", **kw) -> DownloadResult:
    if status == "archived":
        kw.setdefault("file_path", f"videos/x [{video_id}].mp4")
        kw.setdefault("bytes", 1000)
    return DownloadResult(video_id=video_id, status=status, **kw)


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return Catalog(tmp_path)


def parquet_files(root: Path) -> list[Path]:
    return sorted((root / "catalog").rglob("*.parquet"))


# -- an empty archive ---------------------------------------------------------------------------


def test_a_missing_catalog_reads_as_empty(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "nothing-here")
    assert catalog.list_videos() == []
    assert catalog.stats()["videos"] == 0
    assert catalog.stats()["total_bytes"] == 0
    assert catalog.search("anything") == []
    assert catalog.settled_ids(["a", "b"]) == set()
    assert catalog.latest_outcomes() == {}
    assert catalog.metadata(["a"]) == {}
    for view in ("videos", "downloads", "playlists", "playlist_items", "archive"):
        assert catalog.sql(f"SELECT count(*) FROM {view}") == (["count_star()"], [(0,)])
    assert catalog.compact() == {
        t: 0 for t in ("videos", "downloads", "playlists", "playlist_items")
    }
    assert not (tmp_path / "nothing-here").exists() or not parquet_files(tmp_path / "nothing-here")


# -- writing and reading back ---------------------------------------------------------------


def test_each_call_writes_one_parquet_file_that_reads_back(
    catalog: Catalog, tmp_path: Path
) -> None:
    record = meta("aaaaaaaaaaa", tags=["Lo Fi", "cats"], published_at=T0, duration_seconds=61)
    catalog.record_metadata([record])
    catalog.record_outcomes([outcome("aaaaaaaaaaa", width=1280, height=720, format="mp4")])
    files = parquet_files(tmp_path)
    assert [f.parent.name for f in files] == ["downloads", "videos"]
    assert catalog.metadata(["aaaaaaaaaaa"])["aaaaaaaaaaa"] == record
    got = catalog.latest_outcomes(["aaaaaaaaaaa"])["aaaaaaaaaaa"]
    assert (got.status, got.height, got.format, got.bytes) == ("archived", 720, "mp4", 1000)
    assert got.recorded_at.tzinfo is not None


def test_newest_record_per_id_wins_in_every_view(catalog: Catalog) -> None:
    catalog.record_metadata([meta("v1", title="old", fetched_at=T0)])
    catalog.record_metadata([meta("v1", title="new", fetched_at=T0 + timedelta(days=1))])
    catalog.record_metadata([meta("v1", title="late but older", fetched_at=T0 - timedelta(days=1))])
    catalog.record_outcomes([outcome("v1", "failed", recorded_at=T0)])
    catalog.record_outcomes([outcome("v1", "archived", recorded_at=T0 + timedelta(hours=1))])
    catalog.record_outcomes([outcome("v2", "archived", recorded_at=T0), outcome("v2", "failed")])
    for _ in range(2):  # before and after a full compaction
        assert catalog.metadata()["v1"].title == "new"
        assert catalog.latest_outcomes()["v1"].status == "archived"
        assert catalog.latest_outcomes()["v2"].status == "failed"
        assert catalog.sql("SELECT title FROM videos")[1] == [("new",)]
        assert catalog.sql("SELECT count(*) FROM video_snapshots")[1] == [(3,)]
        assert catalog.sql("SELECT count(*) FROM download_history")[1] == [(4,)]
        row = {r["video_id"]: r for r in catalog.list_videos()}
        assert row["v1"]["title"] == "new" and row["v1"]["status"] == "archived"
        assert row["v2"]["status"] == "failed"
        catalog.compact()


def test_settled_ids_are_archived_or_unavailable_by_newest_outcome(catalog: Catalog) -> None:
    catalog.record_outcomes(
        [
            outcome("a", "archived", recorded_at=T0),
            outcome("b", "unavailable", reason="Private video", recorded_at=T0),
            outcome("c", "failed", recorded_at=T0),
            outcome("d", "archived", recorded_at=T0),
        ]
    )
    catalog.record_outcomes([outcome("d", "failed", recorded_at=T0 + timedelta(seconds=1))])
    catalog.record_outcomes([outcome("c", "archived", recorded_at=T0 + timedelta(seconds=1))])
    assert catalog.settled_ids(["a", "b", "c", "d", "e"]) == {"a", "b", "c"}
    assert catalog.settled_ids() == {"a", "b", "c"}
    assert catalog.settled_ids([]) == set()
    assert set(catalog.latest_outcomes(["a", "zzz"])) == {"a"}


def test_many_ids_go_through_a_temporary_table(catalog: Catalog) -> None:
    catalog.record_outcomes([outcome(f"id{i}") for i in range(3000)])
    ids = [f"id{i}" for i in range(0, 6000, 2)]
    assert catalog.settled_ids(ids) == {f"id{i}" for i in range(0, 3000, 2)}


def test_archived_at_is_the_newest_archived_outcome(catalog: Catalog) -> None:
    catalog.record_outcomes([outcome("v", "archived", recorded_at=T0)])
    catalog.record_outcomes([outcome("v", "failed", recorded_at=T0 + timedelta(days=1))])
    (row,) = catalog.list_videos()
    assert row["status"] == "failed"
    assert row["archived_at"] == T0
    catalog.compact()
    assert catalog.list_videos()[0]["archived_at"] == T0


def test_list_filters_pages_and_orders_newest_published_first(catalog: Catalog) -> None:
    day = timedelta(days=1)
    catalog.record_metadata([meta(f"v{i}", published_at=T0 + i * day) for i in range(6)])
    statuses = ["archived", "failed", "unavailable", "archived", "failed"]
    catalog.record_outcomes([outcome(f"v{i}", s) for i, s in enumerate(statuses)])
    catalog.record_outcomes([outcome("nometa", "unavailable", reason="Private video")])

    def check() -> None:
        ids = [r["video_id"] for r in catalog.list_videos()]
        assert ids == ["v5", "v4", "v3", "v2", "v1", "v0", "nometa"]  # no date: last
        assert [r["video_id"] for r in catalog.list_videos(status="failed")] == ["v4", "v1"]
        assert [r["video_id"] for r in catalog.list_videos(limit=2, offset=2)] == ["v3", "v2"]
        page = catalog.list_videos(status="unavailable", limit=1, offset=1)
        assert [r["video_id"] for r in page] == ["nometa"]
        assert catalog.list_videos(limit=0) == []
        assert catalog.count_videos() == 7 and catalog.count_videos("archived") == 2
        assert catalog.list_videos()[0]["status"] is None  # v5 has no outcome yet

    check()
    catalog.compact()
    check()
    # newer rows past the compaction: a changed outcome, new metadata, a new video
    catalog.record_outcomes([outcome("v3", "failed")])
    catalog.record_metadata([meta("v0", published_at=T0 + 10 * day), meta("v9", published_at=T0)])
    ids = [r["video_id"] for r in catalog.list_videos()]
    assert ids == ["v0", "v5", "v4", "v3", "v2", "v1", "v9", "nometa"]
    assert [r["video_id"] for r in catalog.list_videos(status="failed")] == ["v4", "v3", "v1"]
    assert [r["video_id"] for r in catalog.list_videos(limit=3, offset=1)] == ["v5", "v4", "v3"]
    assert [r["video_id"] for r in catalog.list_videos(status="failed", limit=1, offset=1)] == [
        "v3"
    ]
    assert catalog.count_videos() == 8 and catalog.count_videos("failed") == 3
    with pytest.raises(InputError):
        catalog.list_videos(status="done")
    with pytest.raises(InputError):
        catalog.list_videos(limit=-1)


def test_stats_add_up_to_the_bytes_on_disk(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path)
    rng = random.Random(1)
    videos = tmp_path / "videos"
    videos.mkdir()
    results, metas = [], []
    for i in range(40):
        vid = f"vid{i:08d}"
        metas.append(meta(vid, channel_title=f"chan {i % 3}", duration_seconds=10 + i))
        if i % 5 == 4:
            results.append(outcome(vid, "unavailable", reason="Private video"))
            continue
        path = videos / f"clip [{vid}].mp4"
        path.write_bytes(rng.randbytes(rng.randint(1, 5000)))
        results.append(outcome(vid, file_path=f"videos/{path.name}", bytes=path.stat().st_size))
    catalog.record_metadata(metas)
    for r in results:
        catalog.record_outcomes([r])  # one file per outcome, as the pipeline does
    on_disk = sum(p.stat().st_size for p in videos.iterdir())
    for _ in range(2):
        stats = catalog.stats()
        assert stats["total_bytes"] == on_disk
        assert (stats["archived"], stats["unavailable"], stats["failed"]) == (32, 8, 0)
        assert stats["videos"] == 40
        archived = [m for m, r in zip(metas, results, strict=True) if r.status == "archived"]
        assert stats["total_duration_seconds"] == sum(m.duration_seconds for m in archived)
        channels = {c["channel_title"]: c for c in stats["channels"]}
        assert sum(c["total_bytes"] for c in channels.values()) == on_disk
        assert sum(c["videos"] for c in channels.values()) == 40
        assert channels["chan 0"]["videos"] == 14
        catalog.compact()


# -- search -----------------------------------------------------------------------------------

WORDS = [
    "Piano",
    "guitar",
    "CAT",
    "cats",
    "concatenate",
    "lo-fi",
    "Über",
    "jazz",
    "rock'n'roll",
    "50%",
    "x_y",
    "remix",
]


def _random_videos(n: int, seed: int) -> list[VideoMetadata]:
    rng = random.Random(seed)

    def text(k: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, k)))

    return [
        meta(
            f"s{seed}-{i:04d}",
            title=text(3) or None,
            description=text(8) + rng.choice(["", "\nline two", ", comma"]),
            tags=[text(2) for _ in range(rng.randint(0, 2))],
            channel_title=rng.choice(["Jazz Channel", "Rocks", None]),
            published_at=T0 + timedelta(days=rng.randint(0, 1000)) if rng.random() < 0.9 else None,
        )
        for i in range(n)
    ]


def _expected(videos: dict[str, VideoMetadata], query: str) -> dict[str, bool]:
    """The definition: every word is a case-insensitive substring of title, description, tags
    or channel; title_match when every word is in the title."""
    words = [w.lower() for w in query.split()]
    out = {}
    for v in videos.values():
        text = " ".join(
            [v.title or "", v.description or "", v.channel_title or "", *v.tags]
        ).lower()
        if all(w in text for w in words):
            out[v.video_id] = all(w in (v.title or "").lower() for w in words)
    return out


QUERIES = [
    "piano",
    "CAT",
    "cat piano",
    "über",
    "rock'n",
    "50%",
    "x_y",
    "jazz channel",
    "fi",
    "concatenate cats",
    "nothing-like-this",
    "a",
    "%",
    "_",
]


def test_search_finds_exactly_the_videos_holding_every_word(catalog: Catalog) -> None:
    videos = {v.video_id: v for v in _random_videos(300, seed=1)}
    catalog.record_metadata(list(videos.values()))

    def check(stage: str) -> None:
        for q in QUERIES:
            want = _expected(videos, q)
            got = catalog.search(q, limit=10_000)
            assert {r["video_id"]: r["title_match"] for r in got} == want, (stage, q)
            flags = [r["title_match"] for r in got]
            assert flags == sorted(flags, reverse=True), "title matches rank first"
            assert len({r["video_id"] for r in got}) == len(got)

    check("appended files only (read)")
    catalog.compact()
    check("compacted (word index)")
    changed = _random_videos(60, seed=2)
    renamed = [v.model_copy(update={"video_id": f"s1-{i:04d}"}) for i, v in enumerate(changed)]
    catalog.record_metadata(renamed[:30])  # new metadata for indexed videos
    catalog.record_metadata(_random_videos(40, seed=3))  # new videos
    videos.update({v.video_id: v for v in renamed[:30]})
    videos.update({v.video_id: v for v in _random_videos(40, seed=3)})
    check("index plus newer files")
    catalog.compact()
    check("compacted again")


def test_search_ranks_title_matches_first_then_newest(catalog: Catalog) -> None:
    catalog.record_metadata(
        [
            meta("old-title", title="Piano night", published_at=T0),
            meta("new-title", title="piano morning", published_at=T0 + timedelta(days=9)),
            meta(
                "desc-only",
                title="Evening",
                description="a PIANO piece",
                published_at=T0 + timedelta(days=99),
            ),
            meta("tag-only", title="Nothing", tags=["piano"], published_at=None),
            meta("other", title="Guitar", description="strings"),
        ]
    )
    for _ in range(2):
        got = [r["video_id"] for r in catalog.search("piano")]
        assert got == ["new-title", "old-title", "desc-only", "tag-only"]
        assert [r["video_id"] for r in catalog.search("piano", limit=1)] == ["new-title"]
        catalog.compact()


def test_search_rows_carry_the_newest_outcome(catalog: Catalog) -> None:
    catalog.record_metadata([meta("v1", title="Sonata")])
    catalog.record_outcomes([outcome("v1", "failed")])
    catalog.compact()
    catalog.record_outcomes([outcome("v1", "archived", bytes=77)])
    (row,) = catalog.search("sonata")
    assert (row["status"], row["bytes"]) == ("archived", 77)


def test_search_needs_words(catalog: Catalog) -> None:
    with pytest.raises(InputError):
        catalog.search("   ")


# -- SQL --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "DROP VIEW videos",
        "CREATE TABLE t AS SELECT 1",
        "INSERT INTO videos SELECT * FROM videos",
        "COPY (SELECT 1) TO 'out.csv'",
        "ATTACH 'x.db' AS x",
        "INSTALL fts",
        "LOAD fts",
        "SET threads = 1",
        "PRAGMA enable_profiling",
        "EXPORT DATABASE 'dump'",
        "SELECT 1; DROP VIEW videos",
        "CALL pragma_version()",
        "SELECT * FROM query('COPY (SELECT 1) TO ''x.csv''')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "not sql at all",
    ],
)
def test_sql_refuses_anything_but_reading(
    catalog: Catalog, tmp_path: Path, monkeypatch, statement: str
) -> None:
    monkeypatch.chdir(tmp_path)
    catalog.record_outcomes([outcome("v1")])
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(InputError):
        catalog.sql(statement)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert catalog.sql("SELECT count(*) FROM downloads")[1] == [(1,)]


def test_sql_views_answer_questions(catalog: Catalog) -> None:
    catalog.record_metadata([meta("v1", channel_title="C"), meta("v2", channel_title="C")])
    catalog.record_outcomes([outcome("v1", bytes=10), outcome("v2", "failed")])
    catalog.record_playlist(
        PlaylistInfo(playlist_id="PL1", title="first", source="yt_dlp"),
        [PlaylistItem(playlist_id="PL1", position=i, video_id=f"v{i}") for i in (1, 2)],
    )
    catalog.record_playlist(
        PlaylistInfo(playlist_id="PL1", title="second", source="yt_dlp"),
        [PlaylistItem(playlist_id="PL1", position=0, video_id="v2")],
    )
    for _ in range(2):
        cols, rows = catalog.sql(
            "SELECT channel_title, count(*), sum(bytes) FROM archive GROUP BY ALL"
        )
        assert rows == [("C", 2, 10)]
        assert catalog.sql("SELECT title FROM playlists")[1] == [("second",)]
        assert catalog.sql("SELECT video_id FROM playlist_items")[1] == [("v2",)]
        assert catalog.sql("SELECT count(*) FROM playlist_snapshots")[1] == [(2,)]
        catalog.compact()


# -- compaction and the files on disk ---------------------------------------------------------


def test_plain_duckdb_reads_every_table_with_no_project_code(
    catalog: Catalog, tmp_path: Path
) -> None:
    catalog.record_metadata([meta("v1"), meta("v2")])
    catalog.record_outcomes([outcome("v2"), outcome("v3", "unavailable")])
    catalog.record_playlist(
        PlaylistInfo(playlist_id="PL1", source="yt_dlp"),
        [PlaylistItem(playlist_id="PL1", position=0, video_id="v4")],
    )
    glob = f"{tmp_path}/catalog/**/*.parquet"
    statement = f"select count(distinct video_id) from read_parquet('{glob}', union_by_name=true)"
    for _ in range(2):
        assert duckdb.sql(statement).fetchall() == [(4,)]
        newest = duckdb.sql(
            f"select video_id, status from read_parquet('{tmp_path}/catalog/downloads/*.parquet') "
            "qualify row_number() over (partition by video_id order by recorded_at desc) = 1 "
            "order by 1"
        ).fetchall()
        assert newest == [("v2", "archived"), ("v3", "unavailable")]
        catalog.compact()


def test_writers_never_merge_the_background_step_does_and_keeps_every_row(
    catalog: Catalog, tmp_path: Path
) -> None:
    folder = tmp_path / "catalog" / "downloads"
    for i in range(150):
        catalog.record_outcomes([outcome(f"v{i}", recorded_at=T0 + timedelta(seconds=i))])
    assert len(list(folder.glob("batch-*.parquet"))) == 150  # a write only writes its file
    assert not list(folder.glob("merged-*.parquet"))
    assert catalog.compaction_due() == "merge"
    assert catalog.maintain() == {
        "compaction": "merge",
        "videos": 0,
        "downloads": 150,
        "playlists": 0,
        "playlist_items": 0,
    }
    assert [p.name.split("-")[0] for p in folder.glob("*.parquet")] == ["merged"]
    assert catalog.compaction_due() is None
    assert catalog.maintain() == {"compaction": None, **dict.fromkeys(TABLES, 0)}
    assert catalog.sql("SELECT count(*), count(DISTINCT video_id) FROM download_history")[1] == [
        (150, 150)
    ]


def test_the_background_step_skips_while_another_compactor_holds_the_election(
    catalog: Catalog,
) -> None:
    """The guard the flows layer injects (elected through the Prefect server) decides."""
    import contextlib

    for i in range(20):
        catalog.record_outcomes([outcome(f"v{i}")])
    asked: list[bool] = []

    @contextlib.contextmanager
    def lost(wait: bool):
        asked.append(wait)
        yield False

    assert catalog.maintain(guard=lost) is None
    assert asked == [False]  # the background step never waits for its turn
    assert catalog.compaction_due() == "merge"  # nothing was merged
    assert catalog.sql("SELECT count(*) FROM download_history")[1] == [(20,)]


def test_compaction_is_one_file_per_table_and_changes_no_answer(
    catalog: Catalog, tmp_path: Path
) -> None:
    for i in range(30):
        catalog.record_metadata([meta(f"v{i}", channel_title=f"c{i % 4}")])
        catalog.record_outcomes([outcome(f"v{i}", "archived" if i % 3 else "failed")])
    before = (catalog.stats(), catalog.list_videos(), catalog.search("title"))
    merged = catalog.compact()
    assert merged["videos"] == 30 and merged["downloads"] == 30
    for table in ("videos", "downloads"):
        assert len(list((tmp_path / "catalog" / table).glob("*.parquet"))) == 1
    assert (catalog.stats(), catalog.list_videos(), catalog.search("title")) == before
    assert catalog.compact()["videos"] == 0  # nothing new: nothing rewritten
    for path in parquet_files(tmp_path):
        pq.read_table(path)


def test_leftovers_of_a_killed_compactor_are_ignored_then_cleaned(
    catalog: Catalog, tmp_path: Path
) -> None:
    """A compactor killed after renaming its file but before deleting its sources: readers drop
    the sources the sidecar names, and the next compaction deletes them."""
    for i in range(5):
        catalog.record_outcomes([outcome(f"v{i}")])
    folder = tmp_path / "catalog" / "downloads"
    sources = sorted(folder.glob("batch-*.parquet"))
    kept = {p.name: p.read_bytes() for p in sources}
    catalog.compact()
    for name, data in kept.items():  # the sources come back, as if never deleted
        (folder / name).write_bytes(data)
    (folder / ".tmp-base-0-0-dead.parquet.tmp").write_bytes(b"partial")
    assert catalog.sql("SELECT count(*) FROM download_history")[1] == [(5,)]
    catalog.record_outcomes([outcome("v9")])
    catalog.compact()
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".compact")) == sorted(
        [p.name for p in folder.glob("base-*.parquet")] + [p.name for p in folder.glob("*.json")]
    )
    assert catalog.sql("SELECT count(*) FROM download_history")[1] == [(6,)]


def test_search_limit_counts_videos_not_matching_tokens(catalog: Catalog) -> None:
    """One video holding the word in nine different tokens still counts once."""
    noisy = "piano piano, piano. piano! piano? (piano) piano: piano; pianos"
    catalog.record_metadata(
        [
            meta("noisy", title=noisy, published_at=T0 + timedelta(days=2)),
            meta("quiet", title="piano", published_at=T0 + timedelta(days=1)),
            meta("body1", title="x", description=noisy, published_at=T0 + timedelta(days=2)),
            meta("body2", title="y", description="piano", published_at=T0),
        ]
    )
    for _ in range(2):
        assert [r["video_id"] for r in catalog.search("piano", limit=2)] == ["noisy", "quiet"]
        assert [r["video_id"] for r in catalog.search("piano", limit=4)] == [
            "noisy",
            "quiet",
            "body1",
            "body2",
        ]
        catalog.compact()


def _same_answers(root: Path, tmp: Path) -> None:
    """The catalog (derived files plus newer rows) answers like the same rows read directly."""
    import shutil

    plain = tmp / "plain"
    shutil.rmtree(plain, ignore_errors=True)
    shutil.copytree(root / "catalog", plain / "catalog", ignore=shutil.ignore_patterns("_index"))
    fast, slow = Catalog(root), Catalog(plain)
    assert fast.list_videos() == slow.list_videos()
    for status in ("archived", "unavailable", "failed"):
        assert fast.list_videos(status=status) == slow.list_videos(status=status)
        assert fast.list_videos(status=status, limit=3, offset=2) == slow.list_videos(
            status=status, limit=3, offset=2
        )
    assert fast.list_videos(limit=7, offset=5) == slow.list_videos(limit=7, offset=5)
    assert fast.stats() == slow.stats()
    for q in ("piano", "cat piano", "jazz", "über x_y", "a"):
        assert fast.search(q, limit=500) == slow.search(q, limit=500), q
    query = "SELECT * FROM archive ORDER BY video_id"
    assert fast.sql(query) == slow.sql(query)
    ids = [f"s1-{i:04d}" for i in range(0, 120, 3)] + ["nometa-1", "nobody"]
    assert fast.latest_outcomes(ids) == slow.latest_outcomes(ids)
    assert fast.settled_ids(ids) == slow.settled_ids(ids)


def test_newer_rows_over_a_compaction_answer_like_the_rows_themselves(
    catalog: Catalog, tmp_path: Path
) -> None:
    rng = random.Random(7)
    videos = _random_videos(120, seed=1)
    catalog.record_metadata(videos)
    statuses = ["archived", "unavailable", "failed"]
    catalog.record_outcomes(
        [outcome(v.video_id, rng.choice(statuses), recorded_at=T0) for v in videos[:100]]
    )
    catalog.record_outcomes([outcome("nometa-1", "unavailable", recorded_at=T0)])
    catalog.compact()
    _same_answers(tmp_path, tmp_path / "check")
    for round_ in range(3):
        later = T0 + timedelta(days=round_ + 1)
        earlier = T0 - timedelta(days=round_ + 1)
        picked = rng.sample(videos, 30)
        catalog.record_outcomes(  # newer outcomes, and some that arrive late with older times
            [
                outcome(v.video_id, rng.choice(statuses), recorded_at=rng.choice([later, earlier]))
                for v in picked
            ]
        )
        changed = [
            v.model_copy(
                update={
                    "title": f"renamed {round_} piano",
                    "channel_title": rng.choice(["Jazz Channel", "New"]),
                    "fetched_at": rng.choice([later, earlier]),
                    "published_at": T0 + timedelta(days=rng.randint(0, 2000)),
                }
            )
            for v in rng.sample(videos, 20)
        ]
        catalog.record_metadata(changed)
        catalog.record_metadata(_random_videos(10, seed=100 + round_))
        catalog.record_outcomes([outcome(f"unknown-{round_}", "failed")])
        _same_answers(tmp_path, tmp_path / "check")
        catalog.compact(full=False)
        _same_answers(tmp_path, tmp_path / "check")
    catalog.compact()
    _same_answers(tmp_path, tmp_path / "check")
