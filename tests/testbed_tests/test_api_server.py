"""The Data API stand-in through the real google-api-python-client."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from tests.testbed.api_payloads import iso_duration
from tests.testbed.fixtures import Testbed

PARTS = "snippet,contentDetails,statistics,status"


def client(bed: Testbed, key: str | None = None) -> Any:
    return build(
        "youtube",
        "v3",
        developerKey=key or bed.api_key,
        client_options={"api_endpoint": bed.api_url},
        static_discovery=True,
        cache_discovery=False,
    )


def error_of(exc: pytest.ExceptionInfo[HttpError]) -> dict[str, Any]:
    return json.loads(exc.value.content)["error"]  # type: ignore[no-any-return]


def test_paging_230_items_takes_5_pages(testbed: Testbed) -> None:
    playlist = testbed.lib.make_playlist(230)
    yt = client(testbed)
    request = yt.playlistItems().list(
        playlistId=playlist.playlist_id, part="snippet,contentDetails", maxResults=50
    )
    pages, ids = 0, []
    while request is not None:
        response = request.execute()
        pages += 1
        ids += [i["contentDetails"]["videoId"] for i in response["items"]]
        assert response["pageInfo"]["totalResults"] == 230
        request = yt.playlistItems().list_next(request, response)
    assert (pages, ids) == (5, playlist.video_ids)
    assert testbed.api.call_count("playlistItems") == 5
    assert testbed.api.units_used == 5


def test_private_and_deleted_items_as_youtube_shows_them(testbed: Testbed) -> None:
    playlist = testbed.lib.make_playlist(4, private=[1], deleted=[2])
    yt = client(testbed)
    items = (
        yt.playlistItems()
        .list(playlistId=playlist.playlist_id, part="snippet,contentDetails,status", maxResults=50)
        .execute()["items"]
    )
    titles = [i["snippet"]["title"] for i in items]
    assert titles[1:3] == ["Private video", "Deleted video"]
    assert [i["snippet"]["resourceId"]["videoId"] for i in items] == playlist.video_ids
    assert items[1]["status"]["privacyStatus"] == "private"
    assert "videoOwnerChannelId" not in items[2]["snippet"]
    videos = yt.videos().list(id=",".join(playlist.video_ids), part=PARTS).execute()
    assert [v["id"] for v in videos["items"]] == [playlist.video_ids[0], playlist.video_ids[3]]


def test_video_resource_shape(testbed: Testbed) -> None:
    testbed.lib.add_video("abcdefghijk", title="T", description="D", tags=["a", "b"], duration=65)
    video = client(testbed).videos().list(id="abcdefghijk", part=PARTS).execute()["items"][0]
    assert video["kind"] == "youtube#video" and video["etag"]
    snippet = video["snippet"]
    assert (snippet["title"], snippet["description"], snippet["tags"]) == ("T", "D", ["a", "b"])
    assert set(snippet["thumbnails"]) == {"default", "medium", "high", "standard", "maxres"}
    assert snippet["publishedAt"].endswith("Z") and snippet["channelTitle"]
    assert video["contentDetails"]["duration"] == "PT1M5S"
    assert all(isinstance(v, str) for v in video["statistics"].values())
    assert video["status"]["privacyStatus"] == "public"
    with urllib.request.urlopen(snippet["thumbnails"]["high"]["url"], timeout=5) as resp:
        assert resp.read(2) == b"\xff\xd8"


def test_120_ids_take_3_calls(testbed: Testbed) -> None:
    ids = testbed.lib.make_playlist(120).video_ids
    yt = client(testbed)
    found = []
    for start in range(0, len(ids), 50):
        found += (
            yt.videos().list(id=",".join(ids[start : start + 50]), part="id").execute()["items"]
        )
    assert len(found) == 120
    assert testbed.api.calls_by_endpoint() == {"videos": 3}
    assert testbed.api.units_used == 3
    with pytest.raises(HttpError) as exc:
        yt.videos().list(id=",".join(ids[:51]), part="id").execute()
    assert exc.value.status_code == 400


def test_key_invalid_body(testbed: Testbed) -> None:
    with pytest.raises(HttpError) as exc:
        client(testbed, key="AIzaWRONG").videos().list(id="abcdefghijk", part="id").execute()
    error = error_of(exc)
    assert exc.value.status_code == 400
    assert error["message"] == "API key not valid. Please pass a valid API key."
    assert error["errors"][0]["reason"] == "badRequest"
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["details"][0]["reason"] == "API_KEY_INVALID"
    assert testbed.api.units_used == 0
    assert all("key" not in r.params for r in testbed.api.requests)


def test_missing_key_is_403(testbed: Testbed) -> None:
    url = f"{testbed.api_url}/youtube/v3/videos?id=abcdefghijk&part=id"
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(url, timeout=5)
    assert exc.value.code == 403
    assert json.loads(exc.value.read())["error"]["errors"][0]["reason"] == "forbidden"


def test_quota_exceeded(testbed: Testbed) -> None:
    testbed.api.set_quota(2)
    yt = client(testbed)
    for _ in range(2):
        yt.channels().list(forHandle="@nobody", part="id").execute()
    with pytest.raises(HttpError) as exc:
        yt.channels().list(forHandle="@nobody", part="id").execute()
    error = error_of(exc)
    assert exc.value.status_code == 403
    assert (error["errors"][0]["reason"], error["errors"][0]["domain"]) == (
        "quotaExceeded",
        "youtube.quota",
    )
    assert "exceeded your" in error["message"]
    assert (testbed.api.units_used, testbed.api.quota_remaining) == (2, 0)


def test_backend_error_then_recovery(testbed: Testbed) -> None:
    testbed.api.fail_next(2, "backendError")
    yt = client(testbed)
    for _ in range(2):
        with pytest.raises(HttpError) as exc:
            yt.videos().list(id="abcdefghijk", part="id").execute()
        assert exc.value.status_code == 503
        assert error_of(exc)["errors"][0]["reason"] == "backendError"
    assert yt.videos().list(id="abcdefghijk", part="id").execute()["items"] == []
    assert testbed.api.call_count("videos") == 3
    assert testbed.api.call_count("videos", status=503) == 2
    assert testbed.api.units_used == 1


def test_playlist_not_found(testbed: Testbed) -> None:
    with pytest.raises(HttpError) as exc:
        client(testbed).playlistItems().list(playlistId="PLnope", part="snippet").execute()
    assert exc.value.status_code == 404
    assert error_of(exc)["errors"][0]["reason"] == "playlistNotFound"
    assert client(testbed).playlists().list(id="PLnope", part="snippet").execute()["items"] == []


def test_channel_uploads_hide_private_and_deleted(testbed: Testbed) -> None:
    channel = testbed.lib.add_channel(handle="@maker", title="Maker")
    public = testbed.lib.add_video(channel=channel.channel_id)
    testbed.lib.add_video(channel=channel.channel_id, privacy="private")
    testbed.lib.add_video(channel=channel.channel_id, privacy="deleted")
    newest = testbed.lib.add_video(channel=channel.channel_id)
    yt = client(testbed)
    found = yt.channels().list(forHandle="@maker", part="snippet,contentDetails").execute()
    uploads = found["items"][0]["contentDetails"]["relatedPlaylists"]["uploads"]
    assert uploads == "UU" + channel.channel_id[2:]
    by_id = yt.channels().list(id=channel.channel_id, part="id").execute()
    assert by_id["items"][0]["id"] == channel.channel_id
    items = yt.playlistItems().list(playlistId=uploads, part="contentDetails").execute()["items"]
    assert [i["contentDetails"]["videoId"] for i in items] == [newest.video_id, public.video_id]
    assert "items" not in yt.channels().list(forHandle="@nobody", part="id").execute()


def test_playlists_list(testbed: Testbed) -> None:
    playlist = testbed.lib.make_playlist(3, title="Mine")
    found = client(testbed).playlists().list(id=playlist.playlist_id, part="snippet,contentDetails")
    item = found.execute()["items"][0]
    assert (item["snippet"]["title"], item["contentDetails"]["itemCount"]) == ("Mine", 3)


@pytest.mark.parametrize(
    ("seconds", "text"), [(65, "PT1M5S"), (3600, "PT1H"), (0, "P0D"), (90061, "P1DT1H1M1S")]
)
def test_iso_duration(seconds: int, text: str) -> None:
    assert iso_duration(seconds) == text
