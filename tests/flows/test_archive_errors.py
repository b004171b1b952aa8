"""What the site's refusals become in a real archive run: catalog rows, retries, the brake.

Real Prefect flow runs, real yt-dlp against the stand-in; each fault is one the stand-in makes
(the site's 429 and CDN 403, a 404, the cookie wall, a live stream's dynamic manifest).
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import assert_no_partials, video_files

pytestmark = pytest.mark.slow


@pytest.fixture
def env(ytarchive_env, prefect_server, monkeypatch):
    monkeypatch.setenv("YTARCHIVE_RETRY_DELAY_SECONDS", "0.05")
    monkeypatch.setenv("YTARCHIVE_MAX_RETRIES", "3")
    return ytarchive_env


def _archive(env, ids: list[str], **kwargs: Any) -> Any:
    from flows.archive import archive_videos_flow

    return archive_videos_flow(
        urls=ids, quality="360p", output_dir=str(env.output_dir), return_state=True, **kwargs
    )


def _row(env, video_id: str) -> Any:
    from ytarchive.catalog import Catalog

    return Catalog(env.output_dir).latest_outcomes([video_id])[video_id]


def _refuse_429(bed, video_id: str) -> None:
    bed.media.refuse_all(status=429, retry_after=1)


def _refuse_403(bed, video_id: str) -> None:
    bed.media.refuse_all(status=403, retry_after=None)


def _not_found(bed, video_id: str) -> None:
    bed.media.set_fault(video_id, "404")


# (the fault, the row's status, its error_class, words its reason holds)
FAULTS = [
    (_refuse_429, "failed", "RateLimited", ("HTTP Error 429", "Retry-After")),
    (_refuse_403, "failed", "CdnForbidden", ("HTTP Error 403", "YTARCHIVE_COOKIES_FILE")),
    (_not_found, "unavailable", "NotFound", ("HTTP Error 404",)),
]


@pytest.mark.parametrize(("fault", "status", "error_class", "words"), FAULTS)
def test_each_fault_is_recorded_with_its_status_reason_and_class(
    env, fault, status: str, error_class: str, words: tuple[str, ...]
) -> None:
    bed = env.testbed
    video = bed.lib.add_video()
    fault(bed, video.video_id)
    state = _archive(env, [video.video_id])
    assert state.is_failed() == (status == "failed")
    row = _row(env, video.video_id)
    assert (row.status, row.error_class, row.attempts) == (status, error_class, 1)
    for word in words:
        assert word in row.reason
    # a site refusal is never retried by the task, nor a 404: one request for the manifest
    assert bed.media.manifest_requests(video.video_id) == 1
    assert bed.media.media_requests(video.video_id) == 0
    assert_no_partials(env.output_dir)


def test_the_cookie_wall_without_cookies_fails_saying_how_to_pass_them(env, cookie_video) -> None:
    bed = env.testbed
    state = _archive(env, [cookie_video.video_id])
    assert state.is_failed()
    row = _row(env, cookie_video.video_id)
    assert (row.status, row.error_class) == ("failed", "CdnForbidden")
    assert "HTTP Error 403" in row.reason and "--cookies FILE" in row.reason
    assert bed.media.refused_requests(kind=None, fault="cookie") == 1  # no retry of a refusal
    assert cookie_video.value not in row.reason


def test_a_video_the_site_says_is_private_is_unavailable_with_its_advice(env) -> None:
    bed = env.testbed
    video = bed.lib.add_video()
    bed.media.set_fault(video.video_id, "403")  # the API lists it; the site says private
    state = _archive(env, [video.video_id])
    assert state.is_completed()
    row = _row(env, video.video_id)
    assert (row.status, row.error_class) == ("unavailable", "Private")
    assert "Private video" in row.reason and "granted access" in row.reason


def _live_media(bed, tmp_path: Path) -> Any:
    """The bed's DASH set with a dynamic manifest: what a stream that is live now serves."""
    media = bed.media.media
    live = tmp_path / "live-media"
    shutil.copytree(media.directory, live)
    manifest = live / "manifest.mpd"
    manifest.write_text(manifest.read_text().replace('type="static"', 'type="dynamic"', 1))
    return dataclasses.replace(media, directory=live)


def test_a_stream_live_now_is_left_for_a_later_run_and_fails_nothing(env, tmp_path) -> None:
    bed = env.testbed
    live, done = bed.lib.add_video(title="Live now"), bed.lib.add_video(title="Done")
    bed.media.set_media(live.video_id, _live_media(bed, tmp_path))
    state = _archive(env, [live.video_id, done.video_id])
    assert state.is_completed(), state.message  # not a failure: no recovery plan for it
    summary = state.result()
    assert (summary["archived"], summary["live"], summary["failed"]) == (1, 1, 0)
    row = _row(env, live.video_id)
    assert (row.status, row.error_class) == ("live", "LiveNow")
    assert "--live-from-start" in row.reason
    assert bed.media.media_requests(live.video_id) == 0
    from ytarchive.catalog import Catalog

    assert live.video_id not in Catalog(env.output_dir).settled_ids([live.video_id])
    # asked to record it from its start, yt-dlp is told so (this stream offers no such format)
    state = _archive(env, [live.video_id], live_from_start=True)
    row = _row(env, live.video_id)
    assert row.error_class == "LiveNow" and "no formats that can be downloaded" in row.reason


def test_refusals_in_a_row_pause_for_retry_after_then_stop_the_run(env, monkeypatch) -> None:
    monkeypatch.setenv("YTARCHIVE_BRAKE_AFTER", "2")
    monkeypatch.setenv("YTARCHIVE_MAX_CONCURRENT", "1")  # one at a time: an exact count
    bed = env.testbed
    ids = [bed.lib.add_video().video_id for _ in range(6)]
    bed.media.refuse_all(status=429, retry_after=1)
    stamps: list[float] = []
    record = bed.media._record

    def stamped(request) -> None:
        stamps.append(time.monotonic())
        record(request)

    monkeypatch.setattr(bed.media, "_record", stamped)
    state = _archive(env, ids)
    assert state.is_failed()
    summary = state.result(raise_on_failure=False)
    prefix = summary["flow_run_id"][:8]
    cause = (
        "rate limited by the site: 3 refused in a row; "
        f"try later: ytarchive recovery retry {prefix}"
    )
    assert summary["stopped"] == cause and state.message == cause
    # two refused, a pause of the Retry-After, one more refused: stopped, the rest not tried
    assert bed.media.refused_requests(kind=None) == bed.media.request_count() == 3
    assert stamps[2] - stamps[1] >= 1.0
    rows = {v: _row(env, v) for v in ids}
    assert [rows[v].error_class for v in ids] == ["RateLimited"] * 3 + ["Braked"] * 3
    assert all(r.status == "failed" for r in rows.values())
    assert all(cause in rows[v].reason for v in ids[3:])
    assert summary["failed"] == 6 and video_files(env.output_dir) == []
