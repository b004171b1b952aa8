"""The claim across hosts (tasks.claims) on the session's Prefect server, and when it fails."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasks import claims
from tasks.claims import claim_limit_name, video_claim
from tests.helpers import assert_no_partials, video_files
from ytarchive import layout
from ytarchive.archiving import Runtime, archive_video
from ytarchive.config import Settings
from ytarchive.errors import Transient

pytestmark = pytest.mark.slow


class _Proxy:
    """A TCP forwarder to the server on a loopback port; `cut()` makes the server unreachable."""

    def __init__(self, api_url: str) -> None:
        host_port = api_url.split("//", 1)[1].split("/", 1)[0]
        self.upstream = (host_port.rsplit(":", 1)[0], int(host_port.rsplit(":", 1)[1]))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = api_url.replace(host_port, f"127.0.0.1:{self.listener.getsockname()[1]}")
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        try:  # wakes the thread blocked in accept(); a close alone leaves the port listening
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


@pytest.fixture
def api_url_as(prefect_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Point this process's Prefect client (every thread) at another URL for the test."""
    from prefect.context import refresh_global_settings_context

    def point(url: str, **env: str) -> None:
        monkeypatch.setenv("PREFECT_API_URL", url)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        refresh_global_settings_context()

    yield point
    monkeypatch.undo()
    refresh_global_settings_context()


def _client():
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


def test_claim_names_are_a_fixed_set_of_buckets_that_say_nothing_of_the_video() -> None:
    names = {claim_limit_name(f"vid{i:08d}") for i in range(5000)}
    buckets = {f"ytarchive-claim-{i:04d}" for i in range(claims.CLAIM_BUCKETS)}
    assert names <= buckets and len(names) > 1000  # spread over the buckets, and no more
    assert claim_limit_name("dQw4w9WgXcQ") == claim_limit_name("dQw4w9WgXcQ")
    assert all(n.startswith("ytarchive-claim-") and "dQw4" not in n for n in names)


def test_a_claim_is_one_slot_on_the_server_held_then_let_go(prefect_server: str) -> None:
    from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate

    key = f"claim-{os.getpid()}-{time.monotonic_ns()}"
    name = claim_limit_name(key)
    with _client() as c:  # a bucket someone switched off is switched back on: never "no claim"
        with video_claim(key, 60):
            pass
        c.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(active=False))
        claims._LIMITS_SEEN.discard(name)
        with video_claim(key, 60) as held:
            limit = c.read_global_concurrency_limit_by_name(name)
            assert held is True
            assert (limit.active, limit.limit, limit.active_slots) == (True, 1, 1)
        assert c.read_global_concurrency_limit_by_name(name).active_slots == 0


def test_a_server_out_of_reach_at_the_start_means_no_download(
    ytarchive_env, api_url_as, closed_port
) -> None:
    bed = ytarchive_env.testbed
    video = bed.lib.add_video()
    api_url_as(f"http://127.0.0.1:{closed_port.port}/api", PREFECT_CLIENT_MAX_RETRIES="0")
    runtime = Runtime(claim=lambda key: video_claim(key, 60))
    with pytest.raises(Transient, match="no claim could be made"):
        archive_video(video.video_id, "360p", Settings(), runtime=runtime)
    assert bed.media.request_count(video.video_id) == 0
    assert video_files(ytarchive_env.output_dir) == []


def test_a_server_lost_mid_download_stops_it_as_transient_before_the_lease_lapses(
    ytarchive_env, prefect_server, api_url_as
) -> None:
    bed = ytarchive_env.testbed
    video = bed.lib.add_video()
    root = Path(ytarchive_env.output_dir)
    proxy = _Proxy(prefect_server)
    api_url_as(proxy.url)
    bed.media.bandwidth_cap = 100_000  # some seconds for the clip: the cut lands mid-download
    work = layout.temp_dir(root, video.video_id)

    def cut_once_downloading() -> None:
        deadline = time.monotonic() + 60
        while not (work.is_dir() and any(work.iterdir())) and time.monotonic() < deadline:
            time.sleep(0.05)
        proxy.cut()

    threading.Thread(target=cut_once_downloading, daemon=True).start()
    # 2 s without a renewal stands for 3/4 of a lease: the server still holds the claim for us
    runtime = Runtime(claim=lambda key: video_claim(key, 60, give_up_after=2.0))
    try:
        with pytest.raises(Transient, match="lost its claim"):
            archive_video(video.video_id, "720p", Settings(), runtime=runtime)
    finally:
        proxy.cut()
        api_url_as(prefect_server)
        with _client() as c:  # the claim was never let go: free its bucket for other tests
            c.delete_global_concurrency_limit_by_name(claim_limit_name(video.video_id))
        claims._LIMITS_SEEN.discard(claim_limit_name(video.video_id))
    assert bed.media.request_count(video.video_id) > 0  # it had started
    assert video_files(root) == []
    assert_no_partials(root)
    from ytarchive.catalog import Catalog

    assert Catalog(root).latest_outcomes([video.video_id]) == {}


_HOLD_AND_WAIT = """
import sys, time
from pathlib import Path
from tasks.claims import video_claim
from ytarchive import layout
root, key = Path(sys.argv[1]), sys.argv[2]
with layout.video_lock(root, key), video_claim(key, 60, root=root):
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_claim_a_killed_process_of_this_host_left_is_let_go_at_once(
    prefect_server: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = f"killed-{os.getpid()}-{time.monotonic_ns()}"
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLD_AND_WAIT, str(tmp_path), key],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PREFECT_API_URL": prefect_server},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "held\n"
    finally:
        child.kill()
        child.communicate(timeout=30)
    assert layout.lease_note(tmp_path, key).is_file()  # its lease, never let go
    with _client() as c:
        assert c.read_global_concurrency_limit_by_name(claim_limit_name(key)).active_slots == 1
    caplog.set_level(logging.INFO, logger="tasks.claims")
    with layout.video_lock(tmp_path, key), video_claim(key, 60, root=tmp_path):
        pass  # not a lease later: this host's lock says the holder is gone
    assert "let go the claim a killed run of this host left" in caplog.text
    assert "waiting for its claim" not in caplog.text
    assert not layout.lease_note(tmp_path, key).exists()
    with _client() as c:
        assert c.read_global_concurrency_limit_by_name(claim_limit_name(key)).active_slots == 0


def test_a_download_takes_the_claim_only_when_another_host_could_reach_the_server(
    prefect_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session's server is ours and listens on loopback: only this machine reaches it, and
    the video's lock is the whole claim (no round trips). A named host is one of a fleet."""
    from prefect import flow, task
    from prefect.exceptions import ObjectNotFound

    from tasks.download import _claim_for

    key = f"alone-{os.getpid()}-{time.monotonic_ns()}"

    @task(persist_result=False)
    def claim_as_a_download_does() -> tuple[bool, int]:
        with _claim_for(None, 60, None)(key) as held, _client() as c:
            try:
                limit = c.read_global_concurrency_limit_by_name(claim_limit_name(key))
            except ObjectNotFound:
                return held, 0
            return held, limit.active_slots

    @flow(persist_result=False)
    def claims_flow() -> tuple[bool, int]:
        return claim_as_a_download_does()

    assert claims_flow() == (False, 0)
    monkeypatch.setenv("YTARCHIVE_HOST", "host-a")
    assert claims_flow() == (True, 1)
