"""Archiving one video (no Prefect): lock, skip, download, sidecars, the recorded outcome."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers import assert_no_partials, video_files
from ytarchive.archiving import Runtime, archive_video
from ytarchive.catalog import Catalog
from ytarchive.config import Settings
from ytarchive.errors import Transient
from ytarchive.models import VideoMetadata
from ytarchive.progress import ProgressSink

pytestmark = pytest.mark.slow


class _Recorder(ProgressSink):
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def video_started(self, video_id: str, title: str | None) -> None:
        self.calls.append(("started", video_id))

    def video_finished(self, result: Any) -> None:
        self.calls.append(("finished", result.status))


def _record(bed, video) -> VideoMetadata:
    thumb = f"{bed.api_url}/vi/{video.video_id}/maxresdefault.jpg"
    return VideoMetadata(
        video_id=video.video_id, title=video.title, thumbnail_url=thumb, source="youtube_api"
    )


def test_archives_the_video_its_sidecars_and_its_outcome(ytarchive_env) -> None:
    bed = ytarchive_env.testbed
    video = bed.lib.add_video(title="Kept")
    root = ytarchive_env.output_dir
    sink = _Recorder()
    runtime = Runtime(flow_run_id="run-1", attempt=2, sink=sink)
    result = archive_video(
        video.video_id, "360p", Settings(), record=_record(bed, video), runtime=runtime
    )
    assert (result.status, result.attempts, result.flow_run_id) == ("archived", 2, "run-1")
    [path] = video_files(root)
    assert path.name == f"Kept [{video.video_id}].mp4"
    meta = json.loads((root / "metadata" / f"{video.video_id}.json").read_text())
    assert meta["title"] == "Kept"
    assert (root / "thumbnails" / f"{video.video_id}.jpg").is_file()
    recorded = Catalog(root).latest_outcomes([video.video_id])[video.video_id]
    assert (recorded.status, recorded.file_path) == ("archived", f"videos/{path.name}")
    assert sink.calls == [("started", video.video_id), ("finished", "archived")]
    assert_no_partials(root)


def test_an_archived_video_is_not_fetched_again(ytarchive_env) -> None:
    bed = ytarchive_env.testbed
    video = bed.lib.add_video()
    first = archive_video(video.video_id, "360p", Settings())
    bed.media.reset()
    again = archive_video(video.video_id, "360p", Settings())
    assert bed.media.request_count() == 0
    assert (again.status, again.file_path) == ("archived", first.file_path)


def test_a_known_unavailable_video_is_recorded_and_not_fetched(ytarchive_env) -> None:
    bed = ytarchive_env.testbed
    video = bed.lib.add_video()
    result = archive_video(video.video_id, "360p", Settings(), unavailable_reason="private video")
    assert (result.status, result.reason) == ("unavailable", "private video")
    assert bed.media.request_count() == 0
    recorded = Catalog(ytarchive_env.output_dir).latest_outcomes([video.video_id])
    assert recorded[video.video_id].status == "unavailable"


def test_a_video_the_site_refuses_is_recorded_unavailable(ytarchive_env) -> None:
    bed = ytarchive_env.testbed
    video = bed.lib.add_video(privacy="private")
    result = archive_video(video.video_id, "360p", Settings())
    assert result.status == "unavailable" and "403" in (result.reason or "")
    recorded = Catalog(ytarchive_env.output_dir).latest_outcomes([video.video_id])
    assert recorded[video.video_id].status == "unavailable"
    assert not (ytarchive_env.output_dir / "metadata").exists()


def test_a_transient_failure_propagates_with_its_attempt_and_records_nothing(
    ytarchive_env,
) -> None:
    bed = ytarchive_env.testbed
    video = bed.lib.add_video()
    bed.media.set_fault(video.video_id, "500", times=1)
    with pytest.raises(Transient) as info:
        archive_video(video.video_id, "360p", Settings(), runtime=Runtime(attempt=3))
    assert info.value.attempt == 3 and info.value.retried_by is None
    assert Catalog(ytarchive_env.output_dir).latest_outcomes([video.video_id]) == {}
    assert_no_partials(ytarchive_env.output_dir)


def test_the_run_brake_hears_each_refusal_and_once_stopped_no_request_is_made(
    ytarchive_env,
) -> None:
    from ytarchive.brake import Brake
    from ytarchive.errors import Braked, RateLimited

    bed = ytarchive_env.testbed
    first, second = bed.lib.add_video(), bed.lib.add_video()
    brake = Brake(1, pauses=0, plan="abcd1234")  # the first refusal stops the run
    bed.media.refuse_all(status=429, retry_after=1)
    with pytest.raises(RateLimited):
        archive_video(first.video_id, "360p", Settings(), runtime=Runtime(brake=brake))
    assert brake.stopped and bed.media.request_count() == 1
    with pytest.raises(Braked) as info:
        archive_video(second.video_id, "360p", Settings(), runtime=Runtime(brake=brake))
    assert bed.media.request_count() == 1  # the second never reached the site
    assert info.value.reason == (
        "not tried: rate limited by the site: 1 refused in a row; "
        "try later: ytarchive recovery retry abcd1234"
    )


def test_a_cdn_403_the_catalog_is_not_told_of_and_the_brake_counts(ytarchive_env) -> None:
    from ytarchive.brake import Brake
    from ytarchive.errors import CdnForbidden

    bed = ytarchive_env.testbed
    video = bed.lib.add_video()
    brake = Brake(3)
    bed.media.refuse_all(status=403, retry_after=None)
    with pytest.raises(CdnForbidden):
        archive_video(video.video_id, "360p", Settings(), runtime=Runtime(brake=brake))
    assert brake.state().action == "go" and "1 refused in a row" in brake.cause()
    # a failure is the caller's to retry or record: the archive holds nothing for it yet
    assert Catalog(ytarchive_env.output_dir).latest_outcomes([video.video_id]) == {}


def test_a_run_stopped_while_a_video_waits_for_its_slot_fetches_none_of_its_media(
    ytarchive_env,
) -> None:
    """The brake is asked again once the slot is held: a stop that came while the video waited
    fails it Braked, with no request for it at all."""
    import contextlib

    from ytarchive.brake import Brake
    from ytarchive.errors import Braked, RateLimited

    bed = ytarchive_env.testbed
    video = bed.lib.add_video()
    brake = Brake(1, pauses=0, plan="run-1")  # the first refusal stops the run

    @contextlib.contextmanager
    def slot():  # while this video waited, another's download was refused: the run stops
        brake.record(RateLimited("HTTP Error 429: Too Many Requests"))
        yield

    runtime = Runtime(flow_run_id="run-1", brake=brake, slot=slot)
    with pytest.raises(Braked):
        archive_video(
            video.video_id, "360p", Settings(), record=_record(bed, video), runtime=runtime
        )
    assert brake.stopped
    assert bed.media.request_count(video.video_id) == 0
    assert Catalog(ytarchive_env.output_dir).latest_outcomes([video.video_id]) == {}
    assert not video_files(ytarchive_env.output_dir)
    assert_no_partials(ytarchive_env.output_dir)
