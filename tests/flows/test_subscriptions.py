"""The sync flow and subscriptions-as-deployments, against the session's Prefect server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deployments.subscriptions import subscription_name
from ytarchive.errors import InputError
from ytarchive.layout import find_video_files
from ytarchive.refs import parse_playlist_ref


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://www.youtube.com/playlist?list=PLabcDEF123", "sub-PLabcDEF123"),
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=PLabcDEF123", "sub-PLabcDEF123"),
        ("https://www.youtube.com/@somebody", "sub-@somebody"),
        (
            "https://www.youtube.com/channel/UC1234567890123456789012",
            "sub-UC1234567890123456789012",
        ),
        ("https://www.youtube.com/c/Some%20Name", "sub-c-Some-20Name"),
        ("https://www.youtube.com/user/legacy", "sub-user-legacy"),
    ],
)
def test_subscription_names(url: str, name: str) -> None:
    assert subscription_name(parse_playlist_ref(url)) == name


def test_other_sites_get_host_and_a_stable_hash() -> None:
    a = subscription_name(parse_playlist_ref("https://vimeo.com/showcase/123"))
    b = subscription_name(parse_playlist_ref("https://vimeo.com/showcase/456"))
    assert a.startswith("sub-vimeo.com-") and b.startswith("sub-vimeo.com-") and a != b
    assert a == subscription_name(parse_playlist_ref("https://vimeo.com/showcase/123"))
    assert not set("/%&<> ") & set(a)


def test_targets_check_every_input_first() -> None:
    from flows.subscriptions import subscription_targets

    assert subscription_targets(["https://www.youtube.com/@abc"], None) == [
        ("https://www.youtube.com/@abc", "best")
    ]
    with pytest.raises(InputError, match="names no playlist or channel"):
        subscription_targets(["https://www.youtube.com/@abc", "dQw4w9WgXcQ"], "720p")
    with pytest.raises(InputError, match="quality"):
        subscription_targets(["https://www.youtube.com/@abc"], "4k")


# ---------------------------------------------------------------------------------------------
# Integration: real Prefect server, real yt-dlp, the loopback stand-ins
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def subscriptions(prefect_server: str) -> Iterator[Callable[..., None]]:
    """`subscribe(url, quality)`; every subscription made is unsubscribed afterwards."""
    from prefect.client.orchestration import get_client

    from deployments.subscriptions import cron_schedule, subscribe, unsubscribe

    urls: list[str] = []

    def add(url: str, quality: str = "360p") -> None:
        with get_client(sync_client=True) as client:
            subscribe(client, url, cron_schedule("0 3 * * *"), quality)
        urls.append(url)

    yield add
    with get_client(sync_client=True) as client:
        for url in urls:
            unsubscribe(client, url)


def _archived(root: Path, video_ids: list[str]) -> set[str]:
    return {v for v in video_ids if find_video_files(root, v)}


@pytest.mark.slow
def test_sync_archives_every_subscription_and_each_video_once(
    prefect_server: str, ytarchive_env, testbed, subscriptions
) -> None:
    from flows.subscriptions import sync_subscriptions_flow

    lib = testbed.lib
    first = lib.make_playlist(3, title="First")
    shared = first.video_ids[2]
    extra = lib.add_video(title="Only in the second").video_id
    second = lib.add_playlist(title="Second", video_ids=[shared, extra])
    url = "https://www.youtube.com/playlist?list={}".format
    subscriptions(url(first.playlist_id))
    subscriptions(url(second.playlist_id), "720p")

    summary = sync_subscriptions_flow()

    rows = {r["url"]: r for r in summary["results"]}
    assert {rows[url(p.playlist_id)]["state"] for p in (first, second)} == {"COMPLETED"}
    assert rows[url(second.playlist_id)]["quality"] == "720p"
    everything = [*first.video_ids, extra]
    root = ytarchive_env.output_dir
    assert _archived(root, everything) == set(everything)
    for video_id in everything:  # the shared video too: one manifest fetch, one download
        assert testbed.media.manifest_requests(video_id) == 1, video_id

    before = testbed.media.media_requests()
    again = sync_subscriptions_flow(urls=[url(first.playlist_id)])
    assert again["subscriptions"] == 1
    assert testbed.media.media_requests() == before, "a sync with nothing new downloaded"


@pytest.mark.slow
def test_sync_with_a_bad_url_fails_before_any_download(prefect_server: str, ytarchive_env, testbed):
    from flows.subscriptions import sync_subscriptions_flow

    state = sync_subscriptions_flow(urls=["https://youtu.be/dQw4w9WgXcQ"], return_state=True)
    assert state.is_failed()
    assert "names no playlist or channel" in state.message
    assert testbed.media.request_count() == 0


@pytest.mark.slow
def test_the_key_comes_from_the_secret_block_when_the_environment_has_none(
    prefect_server: str, ytarchive_env, testbed, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.blocks.system import Secret
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterParentFlowRunId,
        LogFilter,
        LogFilterFlowRunId,
    )

    from flows.runtime import drain_history
    from flows.secrets import SECRET_BLOCK, api_key_from_block
    from flows.subscriptions import sync_subscriptions_flow

    monkeypatch.delenv("YOUTUBE_API_KEY")
    assert api_key_from_block("ytarchive-test-no-such-block") is None
    playlist = testbed.lib.make_playlist(2)
    url = f"https://www.youtube.com/playlist?list={playlist.playlist_id}"
    Secret(value=testbed.api_key).save(SECRET_BLOCK, overwrite=True)
    try:
        state = sync_subscriptions_flow(urls=[url], return_state=True)
    finally:
        Secret.delete(SECRET_BLOCK)
    assert state.is_completed(), state.message

    calls = testbed.api.requests
    assert {c.endpoint for c in calls} >= {"playlistItems", "videos"}  # the API, not yt-dlp
    assert all(c.key_ok for c in calls if c.endpoint != "thumbnail")
    run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[run_id])
            )
        )
    ids = [run_id, *(r.id for r in children)]
    for flow_run_id in ids:
        drain_history(flow_run_id, timeout=10)
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids)))
    assert run.parameters == {"urls": [url], "quality": None, "live_from_start": False}
    assert logs and not [log.message for log in logs if testbed.api_key in log.message]
