"""The retry budget (README "Retries"): each failure is retried by one layer, counted on the bed.

Real Prefect task retries (tiny delays), real yt-dlp, the real Google client; the stand-ins count
every request, so the bounds the README states are checked exactly.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import assert_no_partials

pytestmark = pytest.mark.slow

MAX_RETRIES = 2  # YTARCHIVE_MAX_RETRIES: a whole video, by its Prefect task
FRAGMENT_RETRIES = 2  # YTARCHIVE_FRAGMENT_RETRIES: one media request or fragment, by yt-dlp
API_RETRIES = 3  # YTARCHIVE_YOUTUBE_API_RETRIES: one Data API call, by our client


@pytest.fixture
def env(ytarchive_env, prefect_server, monkeypatch):
    monkeypatch.setenv("YTARCHIVE_MAX_RETRIES", str(MAX_RETRIES))
    monkeypatch.setenv("YTARCHIVE_FRAGMENT_RETRIES", str(FRAGMENT_RETRIES))
    monkeypatch.setenv("YTARCHIVE_YOUTUBE_API_RETRIES", str(API_RETRIES))
    monkeypatch.setenv("YTARCHIVE_RETRY_DELAY_SECONDS", "0.01")
    monkeypatch.setenv("YTARCHIVE_YOUTUBE_API_BACKOFF", "0.01")
    return ytarchive_env


def _archive(env, video_ids: list[str]) -> Any:
    from flows.archive import archive_videos_flow

    return archive_videos_flow(
        urls=video_ids, quality="360p", output_dir=str(env.output_dir), return_state=True
    )


def _outcome(env, video_id: str) -> Any:
    from ytarchive.catalog import Catalog

    return Catalog(env.output_dir).latest_outcomes([video_id])[video_id]


def test_media_that_always_fails_is_retried_by_ytdlp_alone(env) -> None:
    bed = env.testbed
    video = bed.lib.add_video()
    bed.media.set_fault(video.video_id, "500", times=None, on="media")
    state = _archive(env, [video.video_id])
    assert state.is_failed()
    # one manifest fetch (the task does not retry what yt-dlp retried), 1 + N media requests
    assert bed.media.manifest_requests(video.video_id) == 1
    assert bed.media.media_requests(video.video_id) == 1 + FRAGMENT_RETRIES
    failed = _outcome(env, video.video_id)
    assert (failed.status, failed.error_class, failed.attempts) == ("failed", "Transient", 1)
    assert "500" in failed.reason
    assert_no_partials(env.output_dir)


def test_a_manifest_that_always_fails_is_retried_by_the_task_alone(env) -> None:
    bed = env.testbed
    video = bed.lib.add_video()
    bed.media.set_fault(video.video_id, "500", times=None, on="manifest")
    state = _archive(env, [video.video_id])
    assert state.is_failed()
    assert bed.media.manifest_requests(video.video_id) == 1 + MAX_RETRIES
    assert bed.media.media_requests(video.video_id) == 0
    failed = _outcome(env, video.video_id)
    assert (failed.error_class, failed.attempts) == ("Transient", 1 + MAX_RETRIES)


def test_a_data_api_call_that_always_answers_503_is_retried_by_the_client_alone(env) -> None:
    bed = env.testbed
    video = bed.lib.add_video()
    bed.api.fail_next(1000, kind="backendError", endpoint="videos")  # HTTP 503
    state = _archive(env, [video.video_id])
    assert state.is_failed()
    assert bed.api.call_count("videos") == 1 + API_RETRIES  # the metadata task adds none
    assert bed.media.request_count() == 0
