"""The media server over raw HTTP: routing, Range, HEAD, faults, the cap, counters, concurrency."""

from __future__ import annotations

import http.client
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.testbed.fixtures import Testbed


def get(
    bed: Testbed, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", bed.media.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_manifest_and_files_for_any_id(testbed: Testbed) -> None:
    status, headers, body = get(testbed, "/v/anyIdAtAll1/manifest.mpd")
    assert status == 200 and headers["Content-Type"] == "application/dash+xml"
    assert body == testbed.media.media.manifest
    status, headers, body = get(testbed, "/v/anyIdAtAll1/video-360p.mp4")
    assert status == 200 and headers["Accept-Ranges"] == "bytes"
    assert body == testbed.media.media.path(360).read_bytes()
    assert get(testbed, "/v/anyIdAtAll1/nothing.mp4")[0] == 404
    assert testbed.media.manifest_requests("anyIdAtAll1") == 1
    assert testbed.media.media_requests("anyIdAtAll1") == 1


def test_range_and_head(testbed: Testbed) -> None:
    data = testbed.media.media.path(None).read_bytes()
    size = len(data)
    status, headers, body = get(
        testbed, "/v/rangeRange1/audio.m4a", headers={"Range": "bytes=0-99"}
    )
    assert (status, body, headers["Content-Range"]) == (206, data[:100], f"bytes 0-99/{size}")
    status, _, body = get(testbed, "/v/rangeRange1/audio.m4a", headers={"Range": "bytes=100-"})
    assert (status, body) == (206, data[100:])
    status, _, body = get(testbed, "/v/rangeRange1/audio.m4a", headers={"Range": "bytes=-10"})
    assert (status, body) == (206, data[-10:])
    status, headers, _ = get(
        testbed, "/v/rangeRange1/audio.m4a", headers={"Range": f"bytes={size}-"}
    )
    assert status == 416 and headers["Content-Range"] == f"bytes */{size}"
    status, headers, body = get(testbed, "/v/rangeRange1/audio.m4a", method="HEAD")
    assert (status, int(headers["Content-Length"]), body) == (200, size, b"")


def test_library_private_and_deleted(testbed: Testbed) -> None:
    testbed.lib.add_video("privateVid01", privacy="private")
    testbed.lib.add_video("deletedVid01", privacy="deleted")
    status, _, body = get(testbed, "/v/privateVid01/manifest.mpd")
    assert status == 403 and b"Private video" in body
    assert get(testbed, "/v/privateVid01/video-720p.mp4")[0] == 403
    status, _, body = get(testbed, "/v/deletedVid01/manifest.mpd")
    assert status == 404 and b"removed" in body


def test_transient_faults_count_down(testbed: Testbed) -> None:
    testbed.media.set_fault("flaky500vid", "500", times=2)
    testbed.media.set_fault("flaky429vid", "429")
    assert get(testbed, "/v/flaky500vid/video-360p.mp4")[0] == 200  # manifest-only by default
    assert [get(testbed, "/v/flaky500vid/manifest.mpd")[0] for _ in range(3)] == [500, 500, 200]
    status, headers, _ = get(testbed, "/v/flaky429vid/manifest.mpd")
    assert status == 429 and headers["Retry-After"] == "1"
    assert get(testbed, "/v/flaky429vid/manifest.mpd")[0] == 200


def test_permanent_faults_and_wildcard(testbed: Testbed) -> None:
    testbed.media.set_fault("*", "404")
    assert get(testbed, "/v/whatever001/manifest.mpd")[0] == 404
    assert get(testbed, "/v/whatever002/audio.m4a")[0] == 404
    testbed.media.clear_faults()
    assert get(testbed, "/v/whatever001/manifest.mpd")[0] == 200


def test_reset_fault_breaks_the_body(testbed: Testbed) -> None:
    testbed.media.set_fault("resetResetX", "reset")
    with pytest.raises((ConnectionError, http.client.IncompleteRead)):
        get(testbed, "/v/resetResetX/video-720p.mp4")
    status, _, body = get(testbed, "/v/resetResetX/video-720p.mp4")
    assert status == 200 and body == testbed.media.media.path(720).read_bytes()
    first = testbed.media.requests[0]
    assert first.fault == "reset" and 0 < first.bytes_sent < len(body)


def test_bandwidth_cap(testbed: Testbed) -> None:
    size = testbed.media.media.path(360).stat().st_size
    testbed.media.bandwidth_cap = size * 4  # a quarter of a second for the file
    began = time.monotonic()
    status, _, body = get(testbed, "/v/slowSlowSlo/video-360p.mp4")
    elapsed = time.monotonic() - began
    assert status == 200 and len(body) == size
    assert 0.2 <= elapsed < 2


def test_concurrent_ranges(testbed: Testbed) -> None:
    data = testbed.media.media.path(720).read_bytes()
    step = len(data) // 16 + 1

    def fetch(i: int) -> bytes:
        rng = f"bytes={i * step}-{min(len(data), (i + 1) * step) - 1}"
        return get(testbed, f"/v/parallel{i:03d}/video-720p.mp4", headers={"Range": rng})[2]

    with ThreadPoolExecutor(8) as pool:
        parts = list(pool.map(fetch, range(16)))
    assert b"".join(parts) == data
    assert testbed.media.media_requests() == 16
    assert len(testbed.media.video_ids_requested()) == 16
