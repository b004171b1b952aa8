"""MetadataService and the keyless (yt-dlp) records: mapping, source choice, input order."""

from __future__ import annotations

from datetime import UTC, datetime

from ytarchive.downloader.metadata import _flat_item, media_key, metadata_from_info

INFO = {
    "id": "clip",
    "title": "A clip",
    "description": "About the clip.",
    "channel_id": "UCabcdefghijklmnopqrstuv",
    "channel": "The Channel",
    "uploader": "someone else",
    "timestamp": 1700000000,
    "upload_date": "20231114",
    "duration": 65.4,
    "view_count": 12,
    "like_count": None,
    "tags": ["a", "b"],
    "categories": ["Music"],
    "thumbnails": [
        {"url": "http://t/small.jpg", "width": 120, "height": 90},
        {"url": "http://t/big.jpg", "width": 1280, "height": 720},
        {"url": "http://t/mid.jpg", "width": 480, "height": 360},
    ],
    "webpage_url": "http://media.example/v/clip/manifest.mpd",
    "extractor_key": "Generic",
}


def test_a_ytdlp_info_dict_maps_to_the_same_record_fields() -> None:
    record = metadata_from_info(INFO, url="http://media.example/v/clip/manifest.mpd")
    assert record.source == "yt_dlp"
    assert record.video_id == media_key(INFO)  # the key its download is archived under
    assert record.video_id.startswith("generic:clip")
    assert record.title == "A clip" and record.description == "About the clip."
    assert (record.channel_id, record.channel_title) == ("UCabcdefghijklmnopqrstuv", "The Channel")
    assert record.published_at == datetime.fromtimestamp(1700000000, tz=UTC)
    assert record.duration_seconds == 65
    assert (record.view_count, record.like_count, record.comment_count) == (12, None, None)
    assert record.tags == ["a", "b"]
    assert record.category_id is None
    assert record.thumbnail_url == "http://t/big.jpg"
    assert record.webpage_url == "http://media.example/v/clip/manifest.mpd"


def test_a_youtube_id_keys_the_record_and_upload_date_is_used_without_timestamp() -> None:
    info = {k: v for k, v in INFO.items() if k != "timestamp"}
    record = metadata_from_info(info, video_id="dQw4w9WgXcQ", url="http://m/v/x/manifest.mpd")
    assert record.video_id == "dQw4w9WgXcQ"
    assert record.webpage_url is None
    assert record.published_at == datetime(2023, 11, 14, tzinfo=UTC)


def test_flat_youtube_entries_mark_private_and_deleted_and_count_from_zero() -> None:
    entries = [
        {"ie_key": "Youtube", "id": "aaaaaaaaaaa", "title": "One", "duration": 61.0},
        {"ie_key": "Youtube", "id": "bbbbbbbbbbb", "title": "[Private video]"},
        {"ie_key": "Youtube", "id": "ccccccccccc", "title": "[Deleted video]"},
    ]
    items = [_flat_item("PLx", n, e) for n, e in enumerate(entries)]
    assert [(i.position, i.video_id, i.availability) for i in items] == [
        (0, "aaaaaaaaaaa", "available"),
        (1, "bbbbbbbbbbb", "private"),
        (2, "ccccccccccc", "deleted"),
    ]
    assert items[0].duration_seconds == 61 and items[0].url is None


def test_flat_entries_of_other_sites_keep_their_url() -> None:
    item = _flat_item("generic:list", 0, {"ie_key": "Generic", "id": "v1", "url": "http://h/v1"})
    assert item.url == "http://h/v1"
    # the same key the download of that URL gets
    assert item.video_id == media_key(
        {"extractor_key": "Generic", "id": "v1", "webpage_url": "http://h/v1"}
    )


# ---------------------------------------------------------------------------------------------
# MetadataService against the loopback stand-ins
# ---------------------------------------------------------------------------------------------

import pytest  # noqa: E402

from ytarchive.config import Settings  # noqa: E402
from ytarchive.errors import InputError  # noqa: E402
from ytarchive.metadata import MetadataService, total_duration  # noqa: E402
from ytarchive.refs import ChannelRef, PlaylistRef, VideoRef, parse_ref  # noqa: E402


def _settings(testbed, key: bool = True) -> Settings:
    return Settings(
        youtube_api_key=testbed.api_key if key else None,
        youtube_api_url=testbed.api_url,
        video_url_template=testbed.video_url_template,
        youtube_api_backoff=0.01,
    )


def _ref(video_id: str) -> VideoRef:
    ref = parse_ref(video_id)
    assert isinstance(ref, VideoRef)
    return ref


def test_with_a_key_ids_go_to_the_api_and_other_urls_to_ytdlp_in_input_order(testbed) -> None:
    videos = [testbed.lib.add_video(title=f"V{n}") for n in range(3)]
    manifest = VideoRef(video_id=None, url=testbed.video_url("elsewhere01"))
    refs = [_ref(videos[2].video_id), manifest, _ref(videos[0].video_id), _ref(videos[1].video_id)]
    service = MetadataService(_settings(testbed))
    records = service.videos(refs)
    assert [r.source for r in records] == ["youtube_api", "yt_dlp", "youtube_api", "youtube_api"]
    assert [r.title for r in records][::2] == ["V2", "V0"]
    assert records[1].webpage_url == testbed.video_url("elsewhere01")
    assert testbed.api.call_count("videos") == 1 and service.units_spent == 1
    assert testbed.media.manifest_requests("elsewhere01") >= 1
    assert testbed.media.manifest_requests(videos[0].video_id) == 0


def test_without_a_key_ids_go_through_ytdlp_keyed_by_the_id_asked(testbed) -> None:
    public = testbed.lib.add_video(title="Public")
    private = testbed.lib.add_video(privacy="private")
    service = MetadataService(_settings(testbed, key=False))
    records = service.videos([_ref(public.video_id), _ref(private.video_id)])
    assert [r.video_id for r in records] == [public.video_id, private.video_id]
    assert [r.source for r in records] == ["yt_dlp", "yt_dlp"]
    assert records[0].availability == "available" and records[0].webpage_url is None
    assert records[1].availability == "unavailable"
    assert "403" in (records[1].unavailable_reason or "")
    assert testbed.api.call_count() == 0 and service.units_spent == 0
    assert testbed.media.manifest_requests(public.video_id) >= 1


def test_playlists_and_channels_through_the_api(testbed) -> None:
    playlist = testbed.lib.make_playlist(60, title="Sixty", deleted=(1,))
    service = MetadataService(_settings(testbed))
    info, items = service.playlist(PlaylistRef(playlist.playlist_id, "https://x/playlist"))
    assert (info.title, info.item_count, info.source) == ("Sixty", 60, "youtube_api")
    assert len(items) == 60
    assert items[1].availability == "deleted"
    assert service.units_spent == 3  # playlists.list + 2 pages
    channel = testbed.lib.default_channel()
    info, items = service.playlist(ChannelRef(url="https://y/@testbed", handle="@testbed"))
    # the uploads list hides the deleted video, as the real API does
    assert (info.playlist_id, len(items)) == (channel.uploads_playlist_id, 59)
    assert info.url == "https://y/@testbed"


def test_an_unknown_playlist_is_an_input_error(testbed) -> None:
    service = MetadataService(_settings(testbed))
    with pytest.raises(InputError, match="playlist not found: PLnothingHere"):
        service.playlist(PlaylistRef("PLnothingHere", "https://x"))


def test_without_a_key_another_sites_url_lists_as_a_playlist_of_one(testbed) -> None:
    service = MetadataService(_settings(testbed, key=False))
    info, items = service.playlist(PlaylistRef(None, testbed.video_url("solo0000001")))
    assert info.source == "yt_dlp" and info.item_count == 1
    assert [(i.position, i.url) for i in items] == [(0, testbed.video_url("solo0000001"))]


def test_total_duration_counts_the_known() -> None:
    assert total_duration([60, None, 5]) == (65, 2)
    assert total_duration([]) == (0, 0)
