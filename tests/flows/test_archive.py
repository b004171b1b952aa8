"""The archive flows against real Prefect, real yt-dlp and ffmpeg, and the loopback stand-ins."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from tests.helpers import assert_no_partials, video_files
from tests.testbed.media import probe

pytestmark = pytest.mark.slow


@pytest.fixture
def env(ytarchive_env, prefect_server, monkeypatch):
    """The test bed, the session's Prefect server, and quick retries."""
    monkeypatch.setenv("YTARCHIVE_RETRY_DELAY_SECONDS", "0.05")
    monkeypatch.setenv("YTARCHIVE_MAX_RETRIES", "3")
    return ytarchive_env


def _flows():
    import flows.archive

    return flows.archive


def _playlist_url(playlist_id: str) -> str:
    return f"https://www.youtube.com/playlist?list={playlist_id}"


def _units(bed) -> int:
    return sum(bed.api.units_by_endpoint().values())


def _client():
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


def _task_runs(flow_run_id: str) -> list[Any]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    runs = FlowRunFilter(id=FlowRunFilterId(any_=[UUID(flow_run_id)]))
    with _client() as client:
        return client.read_task_runs(flow_run_filter=runs, limit=200)


def _drain(summary: dict[str, Any]) -> None:
    from flows.runtime import drain_history

    drain_history(summary["flow_run_id"], expected_task_runs=summary["task_runs"], timeout=30)


def _outcomes(root: Path, ids: list[str]) -> dict[str, Any]:
    from ytarchive.catalog import Catalog

    return Catalog(root).latest_outcomes(ids)


# ---------------------------------------------------------------------------------------------


def test_one_video_end_to_end(env) -> None:
    bed = env.testbed
    video = bed.lib.add_video(title="One video")
    state = _flows().archive_videos_flow(
        urls=[video.video_id], quality="720p", output_dir=str(env.output_dir), return_state=True
    )
    assert state.is_completed(), state.message
    summary = state.result()
    assert (summary["archived"], summary["downloaded"], summary["failed"]) == (1, 1, 0)
    assert summary["flow_run_name"] == f"videos-{video.video_id}"
    root = env.output_dir
    [path] = video_files(root)
    assert path.name == f"One video [{video.video_id}].mp4"
    assert json.loads((root / "metadata" / f"{video.video_id}.json").read_text())["title"] == (
        "One video"
    )
    assert (root / "thumbnails" / f"{video.video_id}.jpg").is_file()
    result = _outcomes(root, [video.video_id])[video.video_id]
    assert result.status == "archived" and result.file_path == f"videos/{path.name}"
    assert result.flow_run_id == summary["flow_run_id"]
    assert "archived" in (root / "logs" / "ytarchive.log").read_text()
    assert_no_partials(root)


def test_playlist_of_30_with_private_deleted_and_flaky_videos(env) -> None:
    bed = env.testbed
    videos = [bed.lib.add_video(title=f"Clip {i}") for i in range(28)]
    private = bed.lib.add_video(title="Secret", privacy="private")
    deleted = bed.lib.add_video(title="Gone", privacy="deleted")
    ids = [v.video_id for v in videos]
    order = ids[:10] + [private.video_id] + ids[10:20] + [deleted.video_id] + ids[20:]
    playlist = bed.lib.add_playlist(title="Thirty", video_ids=order)
    flaky = ids[3:6]
    for video_id in flaky:
        bed.media.set_fault(video_id, "500", times=2)
    state = _flows().archive_playlist_flow(
        url=_playlist_url(playlist.playlist_id),
        quality="720p",
        output_dir=str(env.output_dir),
        max_concurrent=4,
        return_state=True,
    )
    assert state.is_completed(), state.message
    summary = state.result()
    assert (summary["archived"], summary["unavailable"], summary["failed"]) == (28, 2, 0)
    assert summary["flow_run_name"] == f"playlist-{playlist.playlist_id}"
    # the quota floor: one playlists.list for the title (the first listing only), one
    # playlistItems page and one videos.list call
    assert _units(bed) == 3
    assert summary["quota_units"] == 3
    assert summary["playlist"]["title"] == "Thirty"
    files = video_files(env.output_dir)
    assert len(files) == 28
    for path in files:
        info = probe(path)
        assert (info["width"], info["height"], info["has_audio"]) == (1280, 720, True), path
    outcomes = _outcomes(env.output_dir, order)
    assert outcomes[private.video_id].status == "unavailable"
    assert outcomes[deleted.video_id].status == "unavailable"
    assert "private" in (outcomes[private.video_id].reason or "")
    assert {outcomes[v].attempts for v in flaky} == {3}
    for video_id in flaky:
        assert bed.media.manifest_requests(video_id) == 3  # two 500s, then the download
    assert_no_partials(env.output_dir)


def test_rerun_of_an_archived_playlist_downloads_nothing(env) -> None:
    bed = env.testbed
    playlist = bed.lib.add_playlist(video_ids=[bed.lib.add_video().video_id for _ in range(3)])
    kwargs = {"url": _playlist_url(playlist.playlist_id), "output_dir": str(env.output_dir)}
    first = _flows().archive_playlist_flow(quality="360p", **kwargs)
    assert first["downloaded"] == 3
    bed.media.reset()
    bed.api.reset()
    second = _flows().archive_playlist_flow(quality="360p", **kwargs)
    assert (second["downloaded"], second["skipped"], second["archived"]) == (0, 3, 3)
    assert bed.media.request_count() == 0
    assert _units(bed) == 1  # one playlistItems page, no videos.list


def test_video_failing_past_its_retries_fails_the_run_in_prefect(env, monkeypatch) -> None:
    monkeypatch.setenv("YTARCHIVE_MAX_RETRIES", "2")
    bed = env.testbed
    good, bad = bed.lib.add_video(), bed.lib.add_video()
    bed.media.set_fault(bad.video_id, "500", times=None)
    state = _flows().archive_videos_flow(
        urls=[good.video_id, bad.video_id],
        quality="360p",
        output_dir=str(env.output_dir),
        return_state=True,
    )
    assert state.is_failed()
    summary = state.result(raise_on_failure=False)
    assert (summary["archived"], summary["failed"]) == (1, 1)
    assert bed.media.manifest_requests(bad.video_id) == 3  # bounded: 1 + 2 retries
    failed = _outcomes(env.output_dir, [bad.video_id])[bad.video_id]
    assert (failed.status, failed.error_class, failed.attempts) == ("failed", "Transient", 3)
    assert "500" in failed.reason
    _drain(summary)
    with _client() as client:
        run = client.read_flow_run(UUID(summary["flow_run_id"]))
    assert run.state_type.value == "FAILED"
    states = {t.name.split(" ")[0]: t.state_type.value for t in _task_runs(summary["flow_run_id"])}
    assert states[f"download-{bad.video_id}"] == "FAILED"
    assert states[f"download-{good.video_id}"] == "COMPLETED"
    assert_no_partials(env.output_dir)


def test_unavailable_is_recorded_and_never_retried(env) -> None:
    bed = env.testbed
    video = bed.lib.add_video()
    bed.media.set_fault(video.video_id, "403", times=None)  # the API lists it; the media says no
    summary = _flows().archive_videos_flow(
        urls=[video.video_id], quality="360p", output_dir=str(env.output_dir)
    )
    assert (summary["unavailable"], summary["failed"]) == (1, 0)
    assert bed.media.manifest_requests(video.video_id) == 1
    outcome = _outcomes(env.output_dir, [video.video_id])[video.video_id]
    assert outcome.status == "unavailable" and "403" in outcome.reason


def test_history_holds_every_task_run_and_never_the_api_key(env) -> None:
    bed = env.testbed
    playlist = bed.lib.add_playlist(video_ids=[bed.lib.add_video().video_id for _ in range(4)])
    bed.media.set_fault(playlist.video_ids[0], "500", times=1)
    summary = _flows().archive_playlist_flow(
        url=_playlist_url(playlist.playlist_id), quality="360p", output_dir=str(env.output_dir)
    )
    _drain(summary)
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        LogFilter,
        LogFilterFlowRunId,
    )

    run_id = UUID(summary["flow_run_id"])
    with _client() as client:
        run = client.read_flow_run(run_id)
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    task_runs = _task_runs(summary["flow_run_id"])
    names = sorted(t.name.split(" ")[0] for t in task_runs)
    assert names == sorted(
        ["list-playlist", "metadata-batch-1"] + [f"download-{v}" for v in playlist.video_ids]
    )
    assert all(t.state_type.value == "COMPLETED" for t in task_runs)
    assert not any(t.tags for t in task_runs if t.name.startswith("download-"))
    kinds = {a.type for a in artifacts}
    assert {"progress", "table"} <= kinds
    progress = [a for a in artifacts if a.type == "progress"]
    assert float(progress[0].data) == 100.0
    assert logs, "the run's logs should be in the API"
    key = env.api_key
    everything = json.dumps(
        {
            "parameters": run.parameters,
            "tags": run.tags,
            "tasks": [t.model_dump(mode="json") for t in task_runs],
            "logs": [log.message for log in logs],
            "artifacts": [a.model_dump(mode="json") for a in artifacts],
        },
        default=str,
    )
    assert key not in everything
    assert "key=" not in everything
    for path in env.output_dir.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".log", ".jsonl"):
            assert key not in path.read_text(errors="replace"), path


def test_a_playlist_fetches_at_most_max_concurrent_videos_media_at_once(env) -> None:
    """-j 2: two videos' streams on the wire at once, never three, though more download tasks
    run (getting ready, merging) beside them; every video archived whole."""
    bed = env.testbed
    bed.media.bandwidth_cap = 600_000  # each video's media takes a while: fetches overlap
    ids = [bed.lib.add_video(title=f"Lane {i}").video_id for i in range(8)]
    playlist = bed.lib.add_playlist(title="Lanes", video_ids=ids)
    bed.media.requests.clear()
    state = _flows().archive_playlist_flow(
        url=_playlist_url(playlist.playlist_id),
        quality="360p",
        output_dir=str(env.output_dir),
        max_concurrent=2,
        return_state=True,
    )
    assert state.is_completed(), state.message
    assert state.result()["archived"] == 8
    spans: dict[str, list[float]] = {}
    for request in list(bed.media.requests):
        if request.kind == "media" and request.video_id in ids:
            span = spans.setdefault(request.video_id, [request.started, request.started])
            span[0] = min(span[0], request.started)
            span[1] = max(span[1], request.ended or request.started)
    assert sorted(spans) == sorted(ids)
    edges = sorted([(a, 1) for a, _ in spans.values()] + [(b, -1) for _, b in spans.values()])
    at_once = peak = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):  # an end before a start at a tie
        at_once += step
        peak = max(peak, at_once)
    assert peak == 2, f"{peak} videos' media on the wire at once with max_concurrent 2"
    assert len(video_files(env.output_dir)) == 8
    assert_no_partials(env.output_dir)


def test_overlapping_runs_download_each_video_once(env) -> None:
    bed = env.testbed
    bed.media.bandwidth_cap = 2_000_000
    ids = [bed.lib.add_video().video_id for _ in range(3)]
    results: list[Any] = []

    def run() -> None:
        results.append(
            _flows().archive_videos_flow(
                urls=ids, quality="360p", output_dir=str(env.output_dir), return_state=True
            )
        )

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert [s.is_completed() for s in results] == [True, True]
    for video_id in ids:
        assert bed.media.manifest_requests(video_id) == 1, video_id
    assert len(video_files(env.output_dir)) == 3
    summaries = [s.result() for s in results]
    assert sum(s["archived"] for s in summaries) == 6  # both runs report all three archived


def test_metadata_only_writes_records_and_no_media(env) -> None:
    bed = env.testbed
    playlist = bed.lib.add_playlist(video_ids=[bed.lib.add_video().video_id for _ in range(2)])
    summary = _flows().archive_playlist_flow(
        url=_playlist_url(playlist.playlist_id),
        output_dir=str(env.output_dir),
        metadata_only=True,
    )
    assert summary["downloaded"] == 0
    assert bed.media.request_count() == 0
    for video_id in playlist.video_ids:
        assert (env.output_dir / "metadata" / f"{video_id}.json").is_file()
    assert video_files(env.output_dir) == []


def test_playlist_url_among_videos_runs_as_a_subflow(env) -> None:
    bed = env.testbed
    single = bed.lib.add_video()
    playlist = bed.lib.add_playlist(video_ids=[bed.lib.add_video().video_id for _ in range(2)])
    state = _flows().archive_videos_flow(
        urls=[single.video_id, _playlist_url(playlist.playlist_id)],
        quality="360p",
        output_dir=str(env.output_dir),
        recovery_of="00000000-0000-0000-0000-000000000000",
        return_state=True,
    )
    summary = state.result()
    assert summary["archived"] == 3
    assert summary["subflows"][0]["flow_run_name"] == f"playlist-{playlist.playlist_id}"
    assert len(video_files(env.output_dir)) == 3
    with _client() as client:
        run = client.read_flow_run(UUID(summary["flow_run_id"]))
    assert run.parameters["recovery_of"] == "00000000-0000-0000-0000-000000000000"


def test_a_non_youtube_url_is_keyed_by_extractor_and_id(env) -> None:
    bed = env.testbed
    video = bed.lib.add_video()
    url = bed.video_url(video.video_id)  # a plain DASH URL: yt-dlp's generic extractor
    summary = _flows().archive_videos_flow(
        urls=[url], quality="360p", output_dir=str(env.output_dir)
    )
    [row] = summary["results"]
    assert row["status"] == "archived"
    assert row["video_id"].startswith("generic:manifest-")
    assert summary["quota_units"] == 0  # yt-dlp metadata, not the Data API
    [path] = video_files(env.output_dir)
    assert path.name.endswith(f"[{row['video_id'].replace(':', '_')}].mp4")
    record = json.loads(next((env.output_dir / "metadata").iterdir()).read_text())
    assert record["video_id"] == row["video_id"] and record["webpage_url"] == url


class _Recorder:
    """A progress sink that keeps what it is told (the CLI's bars get the same calls)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return lambda *args: self.calls.append((name, args))


def test_progress_reaches_an_in_process_sink(env) -> None:
    from ytarchive.progress import use_sink

    bed = env.testbed
    ids = [bed.lib.add_video().video_id for _ in range(2)]
    sink = _Recorder()
    with use_sink(sink):  # type: ignore[arg-type]
        summary = _flows().archive_videos_flow(
            urls=ids, quality="360p", output_dir=str(env.output_dir)
        )
    names = [name for name, _ in sink.calls]
    assert sink.calls[0] == ("run_started", (summary["flow_run_id"], summary["flow_run_name"]))
    assert ("total", (2,)) in sink.calls
    finished = [args[0] for name, args in sink.calls if name == "video_finished"]
    assert sorted(r.video_id for r in finished) == sorted(ids)
    progress = [args[0] for name, args in sink.calls if name == "video_progress"]
    assert {p.video_id for p in progress} == set(ids)
    assert all(p.downloaded_bytes <= (p.total_bytes or p.downloaded_bytes) for p in progress)
    assert names[-1] == "run_finished"


# A 429 is a site refusal: the task no longer retries it after Retry-After; the run's brake
# pauses for Retry-After and then stops (tests/flows/test_archive_errors.py).
