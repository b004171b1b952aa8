"""The refresh flow: new snapshots, vanished videos marked (copy kept), the analytics queries."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ytarchive.models import VideoMetadata

ROOT = Path(__file__).resolve().parents[2]


def _queries() -> list[str]:
    text = (ROOT / "docs" / "analytics.md").read_text()
    return re.findall(r"```sql\n(.*?)```", text, flags=re.S)


def test_the_analytics_page_has_its_queries() -> None:
    assert len(_queries()) == 3


def test_a_vanished_video_keeps_our_last_copy() -> None:
    from flows.refresh import snapshot

    before = VideoMetadata(
        video_id="abcdefghijk", title="Kept", view_count=10, source="youtube_api"
    )
    gone = VideoMetadata(
        video_id="abcdefghijk",
        source="youtube_api",
        availability="unavailable",
        unavailable_reason="not returned by the YouTube API",
        fetched_at=datetime(2030, 1, 1, tzinfo=UTC),
    )
    snap = snapshot("abcdefghijk", before, gone)
    assert (snap.title, snap.view_count, snap.availability) == ("Kept", 10, "unavailable")
    assert snap.unavailable_reason == "not returned by the YouTube API"
    assert snap.fetched_at == gone.fetched_at
    fresh = VideoMetadata(video_id="abcdefghijk", title="New", view_count=99, source="youtube_api")
    assert snapshot("abcdefghijk", before, fresh).view_count == 99


@pytest.mark.slow
def test_refresh_records_snapshots_and_marks_vanished_videos(
    prefect_server: str, ytarchive_env, testbed, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.refresh
    from flows.archive import archive_playlist_flow
    from flows.refresh import refresh_metadata_flow
    from ytarchive.catalog import Catalog
    from ytarchive.layout import find_video_files

    lib = testbed.lib
    playlist = lib.make_playlist(4)
    ids = playlist.video_ids
    url = f"https://www.youtube.com/playlist?list={playlist.playlist_id}"
    assert archive_playlist_flow(url=url, quality="360p")["archived"] == 4
    root = ytarchive_env.output_dir

    for video_id in ids[2:]:  # still up, and watched: +500 views, +5 likes
        lib.video(video_id).view_count += 500
        lib.video(video_id).like_count += 5
    lib.set_privacy(ids[0], "private")
    lib.set_privacy(ids[1], "deleted")
    monkeypatch.setattr(flows.refresh, "BATCH_SIZE", 3)  # 4 videos: two videos.list calls
    calls = testbed.api.call_count("videos")

    summary = refresh_metadata_flow()

    assert testbed.api.call_count("videos") - calls == 2
    assert summary["videos"] == 4 and summary["batches"] == 2
    assert (summary["refreshed"], summary["unavailable"]) == (2, 2)
    assert summary["newly_unavailable"] == sorted(ids[:2])
    assert summary["quota_units"] == 2

    catalog = Catalog(root)
    _, counts = catalog.sql("SELECT video_id, count(*) FROM video_snapshots GROUP BY video_id")
    assert dict(counts) == {v: 2 for v in ids}
    latest = catalog.metadata(ids)
    for video_id in ids[:2]:  # gone upstream: marked, our title and counts kept, file kept
        assert latest[video_id].availability == "unavailable"
        assert latest[video_id].unavailable_reason
        assert latest[video_id].title.startswith("Video ")
        assert latest[video_id].view_count == 1000
        assert find_video_files(root, video_id)
    for video_id in ids[2:]:
        assert (latest[video_id].view_count, latest[video_id].like_count) == (1500, 15)
        assert latest[video_id].availability == "available"
    assert catalog.settled_ids(ids) == set(ids)  # still archived: our copy stays

    weekly, top, gone = _queries()
    cols, rows = catalog.sql(weekly)
    assert cols == ["week", "videos", "views_gained"]
    assert [(r[1], r[2]) for r in rows] == [(4, 1000)]
    cols, rows = catalog.sql(top)
    by_id = {r[0]: dict(zip(cols, r, strict=True)) for r in rows}
    assert [r[0] for r in rows][:2] == sorted(ids[2:])
    assert by_id[ids[2]]["views_gained"] == 500 and by_id[ids[2]]["likes_gained"] == 5
    assert by_id[ids[0]]["views_gained"] == 0
    cols, rows = catalog.sql(gone)
    found = {r[0]: dict(zip(cols, r, strict=True)) for r in rows}
    assert set(found) == set(ids[:2])
    for video_id in ids[:2]:
        assert (root / found[video_id]["file_path"]).is_file()
        assert found[video_id]["availability"] == "unavailable"
