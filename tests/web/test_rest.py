"""The guide's REST API against a real `ytarchive web` (uvicorn), with real archive runs.

One archive for the module, built through POST /download itself: a single video and a
playlist of two, run at once in the web process against the session's Prefect server.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import TOKEN, WebApp, playlist_url, run_web

pytestmark = pytest.mark.slow

CHAPTERED = "0:00 Arrival at the cliffs\n0:01 Lighting the lamp\nFilmed on a windy day."


@pytest.fixture(scope="module")
def web(prefect_server, module_bed, tmp_path_factory) -> WebApp:
    root = tmp_path_factory.mktemp("web-rest") / "downloads"
    with run_web(root, module_bed) as app:
        yield app


@pytest.fixture(scope="module")
def archived(web: WebApp) -> dict[str, Any]:
    """A video and a playlist archived through POST /download (two runs at once)."""
    lib = web.bed.lib
    single = lib.add_video(title="Lighthouse keeper at dawn", description=CHAPTERED)
    playlist = lib.make_playlist(2, title="Harbour films")
    one = web.download({"video_id": single.video_id, "quality": "720p"})
    many = web.download({"url": playlist_url(playlist.playlist_id)})
    return {
        "single": single,
        "playlist": playlist,
        "jobs": {"single": web.wait_job(one), "playlist": web.wait_job(many)},
        "job_ids": {"single": one, "playlist": many},
    }


def _get(web: WebApp, path: str, **kwargs: Any) -> Any:
    answer = web.client.get(path, **kwargs)
    assert answer.status_code == 200, (path, answer.status_code, answer.text)
    return answer.json()


def test_health_is_the_health_checks_as_json(web: WebApp) -> None:
    answer = web.client.get("/health")
    data = answer.json()
    checks = {c["check"]: c["status"] for c in data["checks"]}
    assert answer.status_code == (200 if data["ok"] else 503)
    assert {"prefect", "ffmpeg", "yt-dlp", "output dir", "catalog"} <= set(checks)
    assert checks["prefect"] == "ok" and checks["ffmpeg"] == "ok"


def test_post_download_runs_the_job_and_videos_and_stats_show_it(
    web: WebApp, archived: dict[str, Any]
) -> None:
    single, playlist = archived["single"], archived["playlist"]
    job = archived["jobs"]["single"]
    assert job["state"] == "Completed", web.log_tail()
    assert job["flow_run_id"] == archived["job_ids"]["single"]
    assert job["flow_run_name"] == f"videos-{single.video_id}"
    assert job["outcomes"] == {"archived": 1} and job["summary"]["downloaded"] == 1
    assert [v["video_id"] for v in job["videos"]] == [single.video_id]
    assert archived["jobs"]["playlist"]["outcomes"] == {"archived": 2}

    listed = _get(web, "/videos")
    ids = {v["video_id"] for v in listed["items"]}
    assert {single.video_id, *playlist.video_ids} <= ids and listed["total"] == 3
    row = next(v for v in listed["items"] if v["video_id"] == single.video_id)
    assert row["status"] == "archived" and row["height"] == 720
    assert row["links"]["media"] == f"/videos/{single.video_id}/media"
    stats = _get(web, "/stats")
    assert stats["archived"] == 3 and stats["failed"] == 0 and stats["total_bytes"] > 0


def test_videos_filters_and_pages(web: WebApp, archived: dict[str, Any]) -> None:
    single = archived["single"]
    found = _get(web, "/videos", params={"q": "lighthouse"})
    assert [v["video_id"] for v in found["items"]] == [single.video_id]
    channel = _get(web, "/videos", params={"channel": single.channel_id, "status": "archived"})
    assert channel["total"] == 3
    first = _get(web, "/videos", params={"limit": 2})
    second = _get(web, "/videos", params={"limit": 2, "offset": 2})
    assert first["next_offset"] == 2 and second["next_offset"] is None
    assert len({v["video_id"] for v in first["items"] + second["items"]}) == 3
    assert _get(web, "/videos", params={"status": "failed"})["items"] == []


def test_one_video_has_its_record_chapters_and_history(
    web: WebApp, archived: dict[str, Any]
) -> None:
    single = archived["single"]
    video = _get(web, f"/videos/{single.video_id}")
    assert video["title"] == "Lighthouse keeper at dawn" and video["status"] == "archived"
    assert video["chapters"] == [
        {"start": 0, "title": "Arrival at the cliffs"},
        {"start": 1, "title": "Lighting the lamp"},
    ]
    assert video["history"][0]["view_count"] == single.view_count
    assert video["has_media"] and video["subtitles"] == []


def test_metadata_from_the_catalog_and_404_for_an_id_that_does_not_exist(
    web: WebApp, archived: dict[str, Any]
) -> None:
    single = archived["single"]
    api_calls = len(web.bed.api.requests)
    record = _get(web, f"/metadata/{single.video_id}")
    assert record["title"] == single.title and record["source"] == "youtube_api"
    assert len(web.bed.api.requests) == api_calls  # the catalog answered
    fresh = web.bed.lib.add_video(title="Not archived, only looked up")
    assert _get(web, f"/metadata/{fresh.video_id}")["title"] == "Not archived, only looked up"
    missing = web.client.get("/metadata/Zz9Zz9Zz9Zz")
    assert missing.status_code == 404 and missing.json()["error"].startswith("no video")


def test_a_post_without_the_token_is_401_and_starts_nothing(web: WebApp) -> None:
    video = web.bed.lib.add_video(title="Must not be fetched")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        answer = web.client.post("/download", json={"video_id": video.video_id}, headers=headers)
        assert answer.status_code == 401, answer.text
        assert answer.headers["www-authenticate"] == "Bearer"
        assert "token" in answer.json()["error"]
    retry = web.client.post("/recovery/anything/retry")
    assert retry.status_code == 401
    assert web.bed.media.manifest_requests(video.video_id) == 0
    assert web.client.get(f"/videos/{video.video_id}").status_code == 404
    assert _flow_runs_named(f"videos-{video.video_id}") == []


def _flow_runs_named(name: str) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    with get_client(sync_client=True) as client:
        found = FlowRunFilter(name=FlowRunFilterName(any_=[name]))
        return client.read_flow_runs(flow_run_filter=found)


def test_bad_input_is_a_one_line_json_error(web: WebApp) -> None:
    cases = [
        ({}, 400),
        ({"video_id": "dQw4w9WgXcQ", "url": "https://youtu.be/dQw4w9WgXcQ"}, 400),
        ({"video_id": "not a video!"}, 400),
        ({"video_id": "dQw4w9WgXcQ", "quality": "sharpest"}, 400),
        ({"urls": []}, 400),
        ({"video_id": 42}, 422),
        ({"video_id": "dQw4w9WgXcQ", "colour": "red"}, 422),
    ]
    for body, status in cases:
        answer = web.client.post("/download", json=body, headers=web.auth)
        assert answer.status_code == status, (body, answer.text)
        error = answer.json()["error"]
        assert "\n" not in error and "Traceback" not in answer.text
    broken = web.client.post("/download", content=b"{not json", headers=web.auth)
    assert broken.status_code == 422 and "\n" not in broken.json()["error"]
    assert web.client.get("/videos", params={"limit": 0}).status_code == 422
    assert web.client.get("/videos", params={"status": "lost"}).status_code == 400
    assert web.client.get("/jobs/not-a-job").status_code == 404
    assert web.client.get("/jobs/00000000-0000-0000-0000-000000000000").status_code == 404
    assert web.client.get("/videos/Zz9Zz9Zz9Zz").status_code == 404


def test_media_answers_a_range_with_206_and_exactly_those_bytes(
    web: WebApp, archived: dict[str, Any]
) -> None:
    single = archived["single"]
    video = _get(web, f"/videos/{single.video_id}")
    data = (web.root / video["file_path"]).read_bytes()
    part = web.client.get(f"/videos/{single.video_id}/media", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
    assert part.content == data[1000:2000]
    whole = web.client.get(f"/videos/{single.video_id}/media")
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    assert whole.content == data and whole.headers["content-type"] == "video/mp4"
    thumb = web.client.get(f"/videos/{single.video_id}/thumbnail")
    assert thumb.status_code == 200 and thumb.headers["content-type"].startswith("image/")


def _raw_get(web: WebApp, target: str) -> tuple[int, bytes]:
    """GET with the request target exactly as given (no client normalises `..` away)."""
    host, port = web.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data


def test_no_path_from_a_request_escapes_the_archive_root(
    web: WebApp, archived: dict[str, Any]
) -> None:
    vid = archived["single"].video_id
    passwd = Path("/etc/passwd").read_bytes()[:64]
    forms = ["../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
             "%252e%252e%252fetc%252fpasswd", "%2Fetc%2Fpasswd", "/etc/passwd", "....//etc/passwd",
             "..\\..\\etc\\passwd", "%c0%ae%c0%ae/etc/passwd"]  # fmt: skip
    targets = []
    for form in forms:
        targets += [
            f"/videos/{form}/media",
            f"/videos/{form}/thumbnail",
            f"/videos/{vid}/subtitles/{form}.vtt",
            f"/videos/{form}",
            f"/metadata/{form}",
            f"/static/{form}",
            f"/watch/{form}",
            f"/{form}",
        ]
    for target in targets:
        status, data = _raw_get(web, target)
        assert status == 404, (target, data[:300])
        assert passwd not in data and b"root:" not in data


def test_a_failed_run_notifies_its_plan_and_a_retry_recovers_it(
    web: WebApp, archived: dict[str, Any]
) -> None:
    single = archived["single"]
    news = web.receiver.about(single.title)
    assert len(news) == 1 and "1 new video(s)" in news[0]["title"]
    assert len(web.receiver.about("Video 1 of 2")) == 1  # the playlist run's one message

    video = web.bed.lib.add_video(title="Stormy crossing")
    web.bed.media.set_fault(video.video_id, "500", times=None)
    job_id = web.download({"video_id": video.video_id})
    assert web.wait_job(job_id)["state"] == "Failed"
    failures = [b for b in web.receiver.bodies if b.get("type") == "failure"]
    assert len(failures) == 1 and job_id in failures[0]["message"]
    assert job_id[:8] in failures[0]["title"]

    plans = _get(web, "/recovery")["plans"]
    assert [p["video_ids"] for p in plans if p["plan_id"] == job_id] == [[video.video_id]]
    page = web.client.get("/failures").text
    assert job_id[:8] in page and f'data-plan="{job_id}"' in page
    web.bed.media.clear_faults(video.video_id)
    answer = web.client.post(f"/recovery/{job_id}/retry", headers=web.auth)
    assert answer.status_code == 202, answer.text
    retried = web.wait_job(answer.json()["job_id"])
    assert retried["state"] == "Completed" and retried["outcomes"] == {"archived": 1}
    assert job_id not in {p["plan_id"] for p in _get(web, "/recovery")["plans"]}
    assert _get(web, f"/videos/{video.video_id}")["status"] == "archived"


def test_no_response_page_or_log_shows_the_token_or_the_api_key(
    web: WebApp, archived: dict[str, Any]
) -> None:
    vid = archived["single"].video_id
    paths = ["/", "/health", "/stats", "/videos", f"/videos/{vid}", f"/metadata/{vid}",
             f"/watch/{vid}", "/failures", "/archive", "/recovery", "/openapi.json", "/docs",
             f"/jobs/{archived['job_ids']['single']}", "/nope"]  # fmt: skip
    texts = [web.client.get(p).text for p in paths]
    texts.append(web.client.post("/download", json={}, headers=web.auth).text)
    texts.append(web.log.read_text(errors="replace"))
    texts += [str(b) for b in web.receiver.bodies]
    for text in texts:
        assert TOKEN not in text and web.bed.api_key not in text
    assert "/download" in web.client.get("/openapi.json").json()["paths"]
