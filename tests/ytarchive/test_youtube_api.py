"""The Data API client: ISO 8601 durations, thumbnails, record mapping, and key redaction."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from ytarchive.coerce import best_thumbnail
from ytarchive.redact import redact
from ytarchive.youtube_api import (
    install_key_redaction,
    item_from_api,
    parse_duration,
    video_from_api,
)

# -- durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT1H2M3S", 3723),
        ("P1DT2H", 93600),
        ("PT0S", 0),
        ("P0D", 0),
        ("PT15M", 900),
        ("PT45S", 45),
        ("PT1M0.6S", 61),
        ("P1W", 604800),
        ("P2DT3H4M5S", 2 * 86400 + 3 * 3600 + 4 * 60 + 5),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", [None, "", "P", "PT", "P1DT", "1H", "PT1X", "garbage", "T1H"])
def test_parse_duration_rejects_what_is_not_a_duration(text: str | None) -> None:
    assert parse_duration(text) is None


# -- thumbnails --------------------------------------------------------------------------------


def _thumb(name: str, w: int, h: int) -> dict:
    return {"url": f"https://i.ytimg.com/vi/x/{name}.jpg", "width": w, "height": h}


def test_best_thumbnail_is_the_largest_whatever_its_name() -> None:
    thumbs = {
        "default": _thumb("default", 120, 90),
        "maxres": _thumb("maxresdefault", 1280, 720),
        "high": _thumb("hqdefault", 480, 360),
        "standard": _thumb("sddefault", 640, 480),
    }
    assert best_thumbnail(thumbs) == "https://i.ytimg.com/vi/x/maxresdefault.jpg"


def test_best_thumbnail_when_maxres_is_missing_and_from_a_list() -> None:
    thumbs = [_thumb("default", 120, 90), _thumb("hqdefault", 480, 360), _thumb("mq", 320, 180)]
    assert best_thumbnail(thumbs) == "https://i.ytimg.com/vi/x/hqdefault.jpg"


def test_best_thumbnail_without_sizes_takes_the_last_and_none_when_empty() -> None:
    assert best_thumbnail([{"url": "a"}, {"url": "b"}]) == "b"
    assert best_thumbnail({}) is None
    assert best_thumbnail(None) is None
    assert best_thumbnail([{"width": 10}]) is None


# -- record mapping ----------------------------------------------------------------------------

RESOURCE = {
    "kind": "youtube#video",
    "id": "dQw4w9WgXcQ",
    "snippet": {
        "publishedAt": "2009-10-25T06:57:33Z",
        "channelId": "UCuAXFkgsw1L7xaCfnd5JJOw",
        "title": "Never Gonna Give You Up",
        "description": "The official video.",
        "thumbnails": {
            "default": _thumb("default", 120, 90),
            "maxres": _thumb("maxresdefault", 1280, 720),
        },
        "channelTitle": "Rick Astley",
        "tags": ["rick astley", "never gonna give you up"],
        "categoryId": "10",
    },
    "contentDetails": {"duration": "PT3M33S"},
    "statistics": {"viewCount": "1500000000", "likeCount": "17000000", "commentCount": "2300000"},
    "status": {"uploadStatus": "processed", "privacyStatus": "public"},
}


def test_video_from_api_maps_every_field() -> None:
    record = video_from_api(RESOURCE)
    data = record.model_dump(mode="json")
    assert data["video_id"] == "dQw4w9WgXcQ"
    assert data["title"] == "Never Gonna Give You Up"
    assert data["description"] == "The official video."
    assert data["channel_id"] == "UCuAXFkgsw1L7xaCfnd5JJOw"
    assert data["channel_title"] == "Rick Astley"
    assert record.published_at == datetime(2009, 10, 25, 6, 57, 33, tzinfo=UTC)
    assert data["published_at"].startswith("2009-10-25T06:57:33")
    assert data["duration_seconds"] == 213
    assert (data["view_count"], data["like_count"], data["comment_count"]) == (
        1500000000,
        17000000,
        2300000,
    )
    assert data["tags"] == ["rick astley", "never gonna give you up"]
    assert data["category_id"] == "10"
    assert data["thumbnail_url"].endswith("maxresdefault.jpg")
    assert data["source"] == "youtube_api"
    assert data["availability"] == "available"
    assert data["fetched_at"]


def test_hidden_statistics_and_missing_tags_are_null_and_empty() -> None:
    resource = {**RESOURCE, "statistics": {"viewCount": "7"}}
    resource["snippet"] = {k: v for k, v in RESOURCE["snippet"].items() if k != "tags"}
    record = video_from_api(resource)
    assert record.view_count == 7
    assert record.like_count is None and record.comment_count is None
    assert record.tags == []


def test_a_rejected_upload_is_unavailable_with_its_reason() -> None:
    resource = {**RESOURCE, "status": {"uploadStatus": "rejected", "rejectionReason": "copyright"}}
    record = video_from_api(resource)
    assert record.availability == "unavailable"
    assert record.unavailable_reason == "upload rejected: copyright"


def _item(title: str, position: int, video_id: str = "abcdefghijk") -> dict:
    return {
        "snippet": {
            "title": title,
            "position": position,
            "resourceId": {"kind": "youtube#video", "videoId": video_id},
        },
        "contentDetails": {"videoId": video_id},
        "status": {"privacyStatus": "public"},
    }


@pytest.mark.parametrize(
    ("title", "availability"),
    [("A song", "available"), ("Private video", "private"), ("Deleted video", "deleted")],
)
def test_playlist_items_mark_private_and_deleted(title: str, availability: str) -> None:
    item = item_from_api(_item(title, 4), "PLx", fallback_position=0)
    assert (item.position, item.video_id, item.availability) == (4, "abcdefghijk", availability)


# -- the key never leaves ----------------------------------------------------------------------


def test_redact_removes_key_parameters_and_known_keys() -> None:
    install_key_redaction("AIzaSyTESTSECRET")
    text = "GET http://h/youtube/v3/videos?part=snippet&key=AIzaSyOTHER&alt=json AIzaSyTESTSECRET"
    out = redact(text)
    assert "AIzaSyOTHER" not in out and "AIzaSyTESTSECRET" not in out
    assert "part=snippet" in out and "alt=json" in out


def test_googleapiclient_log_records_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    install_key_redaction("AIzaSyLOGSECRET")
    caplog.set_level(logging.DEBUG)
    logging.getLogger("googleapiclient.discovery").debug(
        "URL being requested: GET %s", "http://h/v?key=AIzaSyLOGSECRET&alt=json"
    )
    assert "URL being requested" in caplog.text
    assert "AIzaSyLOGSECRET" not in caplog.text


# ---------------------------------------------------------------------------------------------
# Against the loopback API stand-in, through the real Google client
# ---------------------------------------------------------------------------------------------

import random  # noqa: E402
import socket  # noqa: E402
import traceback  # noqa: E402

from ytarchive.config import Settings  # noqa: E402
from ytarchive.errors import AuthError, InputError, QuotaExceeded, Transient  # noqa: E402
from ytarchive.refs import ChannelRef  # noqa: E402
from ytarchive.youtube_api import YouTubeAPI  # noqa: E402


def _settings(testbed, **overrides) -> Settings:
    values = {
        "youtube_api_key": testbed.api_key,
        "youtube_api_url": testbed.api_url,
        "video_url_template": testbed.video_url_template,
        "youtube_api_backoff": 0.01,
        "youtube_api_retries": 3,
    }
    values.update(overrides)
    return Settings(**values)


def test_120_ids_take_3_calls_and_come_back_in_input_order(testbed) -> None:
    playlist = testbed.lib.make_playlist(120, private=(5,), deleted=(7,))
    ids = list(playlist.video_ids)
    random.Random(7).shuffle(ids)
    api = YouTubeAPI(_settings(testbed))
    records = api.videos(ids)
    assert testbed.api.call_count("videos") == 3
    assert [r.video_id for r in records] == ids
    assert api.units_spent == 3 == testbed.api.units_used
    by_id = {r.video_id: r for r in records}
    private, deleted = playlist.video_ids[5], playlist.video_ids[7]
    for vid in (private, deleted):
        assert by_id[vid].availability == "unavailable"
        assert by_id[vid].unavailable_reason
    first = by_id[playlist.video_ids[0]]
    assert first.source == "youtube_api" and first.title == "Video 1 of 120"
    assert first.duration_seconds == 65 and first.view_count == 1000
    assert first.tags == ["testbed", "video1"] and first.category_id == "22"
    assert first.thumbnail_url.endswith("/maxresdefault.jpg")
    assert first.channel_title == "Testbed Channel"
    assert sum(r.availability == "available" for r in records) == 118


def test_duplicate_ids_are_asked_once_and_answered_per_input(testbed) -> None:
    video = testbed.lib.add_video()
    api = YouTubeAPI(_settings(testbed))
    records = api.videos([video.video_id, video.video_id])
    assert [r.video_id for r in records] == [video.video_id] * 2
    assert testbed.api.call_count("videos") == 1
    assert testbed.api.requests[0].params["id"] == video.video_id


def test_a_230_item_playlist_takes_5_pages_with_private_and_deleted_marked(testbed) -> None:
    playlist = testbed.lib.make_playlist(230, title="Big one", private=(3,), deleted=(229,))
    api = YouTubeAPI(_settings(testbed))
    info, items = api.playlist(playlist.playlist_id)
    assert testbed.api.call_count("playlistItems") == 5
    assert testbed.api.call_count("playlists") == 1
    assert api.units_spent == 6 == testbed.api.units_used
    assert (info.title, info.item_count, info.channel_title) == ("Big one", 230, "Testbed Channel")
    assert [i.video_id for i in items] == playlist.video_ids
    assert [i.position for i in items] == list(range(230))
    assert items[3].availability == "private" and items[229].availability == "deleted"
    assert sum(i.availability == "available" for i in items) == 228


def test_a_channel_archives_as_its_uploads_playlist(testbed) -> None:
    channel = testbed.lib.add_channel(handle="makers", title="The Makers")
    for n in range(3):
        testbed.lib.add_video(title=f"Upload {n}", channel=channel.channel_id)
    api = YouTubeAPI(_settings(testbed))
    for ref in (
        ChannelRef(url="https://www.youtube.com/@makers", handle="@makers"),
        ChannelRef(url="https://www.youtube.com/c/makers", custom="makers"),
        ChannelRef(url="https://www.youtube.com/channel/x", channel_id=channel.channel_id),
    ):
        info, items = api.channel_uploads(ref)
        assert info.playlist_id == channel.uploads_playlist_id
        assert (info.channel_title, info.item_count) == ("The Makers", 3)
        assert [i.title for i in items] == ["Upload 2", "Upload 1", "Upload 0"]
    assert testbed.api.call_count("channels") == 3


def test_an_unknown_channel_or_playlist_is_an_input_error(testbed) -> None:
    api = YouTubeAPI(_settings(testbed))
    with pytest.raises(InputError, match="channel not found: @nobody"):
        api.channel_uploads(ChannelRef(url="https://www.youtube.com/@nobody", handle="@nobody"))
    with pytest.raises(InputError, match="playlist not found: PLmissing"):
        list(api.playlist_items("PLmissing"))
    with pytest.raises(InputError, match="playlist not found: PLmissing"):
        api.playlist_info("PLmissing")
    assert api.units_spent == testbed.api.units_used == 3  # Google charges refused requests too


def _assert_no_key(exc: BaseException, key: str) -> None:
    text = "".join(traceback.format_exception(exc))
    assert key not in text and key not in repr(exc)
    assert exc.__cause__ is None and exc.__context__ is None  # no HttpError (URL + key) chained


def test_a_wrong_key_is_an_auth_error_that_never_shows_the_key(testbed, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "AIzaSyWRONG-key-that-must-not-leak-42"
    video = testbed.lib.add_video()
    api = YouTubeAPI(_settings(testbed, youtube_api_key=wrong))
    with pytest.raises(AuthError) as info:
        api.videos([video.video_id])
    assert str(info.value).startswith("the YouTube API key was rejected")
    _assert_no_key(info.value, wrong)
    assert testbed.api.call_count() == 1  # not retried
    assert "URL being requested" in caplog.text  # googleapiclient did log the URL ...
    assert wrong not in caplog.text  # ... without the key
    assert api.units_spent == 0


def test_an_exhausted_quota_stops_with_quota_exceeded(testbed, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    video = testbed.lib.add_video()
    testbed.api.set_quota(10, used=10)
    api = YouTubeAPI(_settings(testbed))
    with pytest.raises(QuotaExceeded, match="quota") as info:
        api.videos([video.video_id])
    _assert_no_key(info.value, testbed.api_key)
    assert testbed.api.call_count() == 1 and api.units_spent == 0
    assert testbed.api_key not in caplog.text


def test_503_twice_then_200_is_retried_with_backoff(testbed, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    video = testbed.lib.add_video(title="Patience")
    testbed.api.fail_next(2, "backendError")
    sleeps: list[float] = []
    api = YouTubeAPI(_settings(testbed, youtube_api_backoff=0.5), sleep=sleeps.append)
    [record] = api.videos([video.video_id])
    assert record.title == "Patience"
    assert testbed.api.call_count("videos", status=503) == 2
    assert testbed.api.call_count("videos", status=200) == 1
    assert len(sleeps) == 2 and 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0
    assert api.units_spent == 1
    assert testbed.api_key not in caplog.text


def test_a_server_that_keeps_failing_gives_up_after_bounded_retries(testbed) -> None:
    video = testbed.lib.add_video()
    testbed.api.fail_next(10, "internalError")
    api = YouTubeAPI(_settings(testbed, youtube_api_retries=2), sleep=lambda s: None)
    with pytest.raises(Transient, match="HTTP 500 internalError") as info:
        api.videos([video.video_id])
    _assert_no_key(info.value, testbed.api_key)
    assert testbed.api.call_count() == 3


def test_rate_limits_are_transient(testbed) -> None:
    video = testbed.lib.add_video()
    testbed.api.fail_next(1, "rateLimitExceeded")
    api = YouTubeAPI(_settings(testbed), sleep=lambda s: None)
    assert api.videos([video.video_id])[0].availability == "available"
    assert testbed.api.call_count() == 2


def test_a_refused_connection_is_transient(testbed) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api = YouTubeAPI(
        _settings(testbed, youtube_api_url=f"http://127.0.0.1:{port}", youtube_api_retries=1),
        sleep=lambda s: None,
    )
    with pytest.raises(Transient, match="cannot reach the YouTube API") as info:
        api.videos(["abcdefghijk"])
    _assert_no_key(info.value, testbed.api_key)


def test_the_client_is_built_once_and_reused_across_threads(testbed) -> None:
    from concurrent.futures import ThreadPoolExecutor

    ids = testbed.lib.make_playlist(8).video_ids
    api = YouTubeAPI(_settings(testbed))
    service = api._service
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda vid: api.videos([vid])[0].video_id, ids))
    assert results == ids and api._service is service
    assert api.units_spent == 8 == testbed.api.units_used
