"""A subscription with --cookies, run by a process worker whose environment has no cookies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import client, first_scheduled_run, wait_final
from ytarchive.layout import find_video_files

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_the_worker_reads_the_cookie_file_the_subscription_names(
    deployed, ytarchive_env, testbed, cookie_video, workers, monkeypatch
) -> None:
    """The path travels in the deployment's job variables; the worker's run opens the wall."""
    from prefect.client.schemas.schedules import IntervalSchedule

    from deployments.subscriptions import subscribe, unsubscribe

    monkeypatch.delenv("YTARCHIVE_COOKIES_FILE", raising=False)  # the worker inherits none
    open_video = testbed.lib.add_video()
    playlist = testbed.lib.add_playlist(video_ids=[cookie_video.video_id, open_video.video_id])
    url = f"https://www.youtube.com/playlist?list={playlist.playlist_id}"
    soon = datetime.now(UTC) + timedelta(seconds=5)
    with client() as c:
        hourly = IntervalSchedule(interval=timedelta(hours=1), anchor_date=soon)
        sub, _ = subscribe(c, url, hourly, "360p", cookies_file=cookie_video.cookies_file)
    try:
        run = first_scheduled_run(sub.deployment_id)
        worker = workers("worker")
        assert worker.wait(timeout=240) == 0, worker.tail()
        final = wait_final(run.id, timeout=60)
    finally:
        with client() as c:
            unsubscribe(c, url)
    assert final.state_type.value == "COMPLETED", f"{final.state}\n{worker.tail()}"
    assert cookie_video.value not in str(final.parameters)
    root = ytarchive_env.output_dir
    assert find_video_files(root, cookie_video.video_id) and find_video_files(
        root, open_video.video_id
    )
    assert testbed.media.refused_requests(kind=None, fault="cookie") == 0
    log = (root / "logs" / "ytarchive.log").read_text()
    assert cookie_video.value not in log
