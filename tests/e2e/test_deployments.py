"""prefect.yaml deployed to a real `prefect server start`, run by process workers and `serve`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import child_runs, client, first_scheduled_run, wait_final
from ytarchive.layout import find_video_files

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _url(playlist: Any) -> str:
    return f"https://www.youtube.com/playlist?list={playlist.playlist_id}"


def _archived(root: Path, ids: list[str]) -> set[str]:
    return {v for v in ids if find_video_files(root, v)}


def test_sync_subscriptions_deployment_runs_on_a_process_worker(
    deployed: dict[str, str], ytarchive_env, testbed, workers
) -> None:
    """Trigger `sync-subscriptions` for a stand-in playlist; a worker runs it from the checkout.

    This deployment has no schedule: it is "sync now", so a run made from it by hand is what a
    user does (the UI's Run button, `prefect deployment run`).
    """
    playlist = testbed.lib.make_playlist(3)
    with client() as c:
        run = c.create_flow_run_from_deployment(
            deployed["sync-subscriptions"],
            parameters={"urls": [_url(playlist)], "quality": "360p"},
        )

    worker = workers("worker")
    assert worker.wait(timeout=180) == 0, worker.tail()

    final = wait_final(run.id, timeout=30)
    assert final.state_type.value == "COMPLETED", f"{final.state}\n{worker.tail()}"
    children = child_runs(run.id)
    assert [(r.name, r.state_type.value) for r in children] == [
        (f"playlist-{playlist.playlist_id}", "COMPLETED")
    ]
    root = ytarchive_env.output_dir
    assert _archived(root, playlist.video_ids) == set(playlist.video_ids)
    from ytarchive.catalog import Catalog

    assert Catalog(root).settled_ids(playlist.video_ids) == set(playlist.video_ids)


def _windows(log: list[tuple[float, str | None, str]]) -> list[tuple[float, float]]:
    """Per video: (first manifest request, last media request) on the media server."""
    spans: dict[str, list[float]] = {}
    for at, video_id, _kind in log:
        if video_id:
            spans.setdefault(video_id, []).append(at)
    return [(min(ts), max(ts)) for ts in spans.values()]


def _most_at_once(windows: list[tuple[float, float]]) -> int:
    events = sorted(
        [(a, 1) for a, _ in windows] + [(b, -1) for _, b in windows], key=lambda e: (e[0], -e[1])
    )
    current = peak = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


class _SlotWatch:
    """Polls the global concurrency limit's active slots while the workers run."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _SlotWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with client() as c:
            while not self._stop.is_set():
                limit = c.read_global_concurrency_limit_by_name(self.name)
                self.peak = max(self.peak, int(limit.active_slots))
                time.sleep(0.1)


def test_two_workers_overlapping_subscriptions_download_each_video_once(
    deployed: dict[str, str], ytarchive_env, testbed, workers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two subscriptions sharing two videos, run at once by two workers, fleet limit of 1.

    Both are scheduled for the same moment a few seconds ahead (an hourly interval anchored
    there); the server's scheduler makes the runs and the workers take them.
    """
    from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate
    from prefect.client.schemas.schedules import IntervalSchedule

    from deployments.pool import ensure_download_limit
    from deployments.subscriptions import subscribe, unsubscribe
    from ytarchive.names import DOWNLOAD_LIMIT

    lib = testbed.lib
    first = lib.make_playlist(4, title="First")
    second = lib.add_playlist(
        title="Second",
        video_ids=[*first.video_ids[2:], lib.add_video().video_id, lib.add_video().video_id],
    )
    everything = list(dict.fromkeys([*first.video_ids, *second.video_ids]))
    assert len(everything) == 6
    requests: list[tuple[float, str | None, str]] = []
    record = testbed.media._record

    def timed(rec: Any) -> None:
        requests.append((time.monotonic(), rec.video_id, rec.kind))
        record(rec)

    monkeypatch.setattr(testbed.media, "_record", timed)
    testbed.media.bandwidth_cap = 150_000  # bytes/s a response: a download takes a second or so

    with client() as c:
        if not ensure_download_limit(c, 1):
            c.update_global_concurrency_limit(DOWNLOAD_LIMIT, GlobalConcurrencyLimitUpdate(limit=1))
        soon = datetime.now(UTC) + timedelta(seconds=10)
        hourly = IntervalSchedule(interval=timedelta(hours=1), anchor_date=soon)
        subs = [subscribe(c, _url(p), hourly, "360p")[0] for p in (first, second)]
    try:
        runs = [first_scheduled_run(s.deployment_id) for s in subs]
        assert {r.expected_start_time for r in runs} == {soon}
        # Long-running workers taking one run at a time: whichever polls first takes a run
        # (a worker that loses the race for a run aborts it and polls again a second later).
        with _SlotWatch(DOWNLOAD_LIMIT) as slots:
            pair = [workers(name, ["--limit", "1"]) for name in ("worker-a", "worker-b")]
            finals = [wait_final(r.id, timeout=240) for r in runs]
    finally:
        with client() as c:
            for p in (first, second):
                unsubscribe(c, _url(p))
            c.delete_global_concurrency_limit_by_name(DOWNLOAD_LIMIT)

    tails = "\n---\n".join(w.tail() for w in pair)
    assert [f.state_type.value for f in finals] == ["COMPLETED", "COMPLETED"], tails
    assert max(f.start_time for f in finals) < min(f.end_time for f in finals), "not at once"
    assert all(w.proc.poll() is None for w in pair), tails  # both still serving the pool
    root = ytarchive_env.output_dir
    assert _archived(root, everything) == set(everything)
    for video_id in everything:
        assert testbed.media.manifest_requests(video_id) == 1, f"{video_id} fetched twice"
    from ytarchive.catalog import Catalog

    _, rows = Catalog(root).sql(
        "SELECT video_id, count(*) FROM download_history WHERE status = 'archived' GROUP BY 1"
    )
    assert dict(rows) == {v: 1 for v in everything}

    assert slots.peak >= 1, (
        "no download occupied a slot of the ytarchive-downloads limit: the download task must run "
        "under prefect.concurrency.sync.concurrency('ytarchive-downloads', occupy=1)"
    )
    assert slots.peak <= 1
    assert _most_at_once(_windows(requests)) == 1, "two videos downloaded at once with 1 slot"


def _next_cron(now: datetime, minute: int, hour: int, weekday: int | None = None) -> datetime:
    """The first UTC time after now at hour:minute (on weekday, 0 = Monday)."""
    for days in range(8):
        day = (now + timedelta(days=days)).date()
        at = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
        if at > now and (weekday is None or at.weekday() == weekday):
            return at
    raise AssertionError("unreachable")


def test_subscribe_and_serve_archive_on_schedule(
    deployed: dict[str, str], ytarchive_env, testbed, tmp_path: Path
) -> None:
    """Issue 11's done-when: only `ytarchive subscribe URL --cron "* * * * *"` and `ytarchive
    serve`; the server's scheduler makes the run, serve's worker takes it, the playlist is
    archived within two minutes. serve applied prefect.yaml, so the server also schedules its
    two scheduled deployments (refresh-metadata weekly, retry-failed daily)."""
    from deployments.subscriptions import unsubscribe
    from ytarchive.names import DOWNLOAD_LIMIT

    playlist = testbed.lib.make_playlist(2)
    url = _url(playlist)
    cli = [sys.executable, "-m", "ytarchive"]
    with client() as c:  # as on a new server: serve applies them (the session paused them)
        for name in ("refresh-metadata", "retry-failed"):
            c.delete_deployment(c.read_deployment_by_name(f"{name}/{name}").id)
    subscribed = datetime.now(UTC)
    made = subprocess.run(
        [*cli, "subscribe", url, "--cron", "* * * * *", "-q", "360p", "-f", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    log = tmp_path / "serve.log"
    with open(log, "wb") as fh:
        serve = subprocess.Popen(
            [*cli, "serve", "--slots", "2"],
            cwd=tmp_path,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        root = ytarchive_env.output_dir
        deadline = time.monotonic() + 120
        while _archived(root, playlist.video_ids) != set(playlist.video_ids):
            output = log.read_text(errors="replace")
            assert serve.poll() is None and time.monotonic() < deadline, output[-3000:]
            time.sleep(1.0)
        assert "Prefect UI: http://127.0.0.1:" in log.read_text(errors="replace")
        with client() as c:
            sub = c.read_deployment_by_name(f"sync-subscriptions/sub-{playlist.playlist_id}")
            limit = c.read_global_concurrency_limit_by_name(DOWNLOAD_LIMIT)
            yaml_runs = {
                name: first_scheduled_run(c.read_deployment_by_name(f"{name}/{name}").id)
                for name in ("refresh-metadata", "retry-failed")
            }
        run = first_scheduled_run(sub.id)  # made by the scheduler on the next minute
        assert run.expected_start_time.second == 0
        assert subscribed < run.expected_start_time <= subscribed + timedelta(seconds=100)
        final = wait_final(run.id, timeout=120)
        assert final.state_type.value == "COMPLETED", final.state
        assert limit.limit == 2  # serve made the fleet's limit (it did not exist)
        # prefect.yaml: refresh-metadata "0 4 * * 0" and retry-failed "30 5 * * *", in UTC.
        now = datetime.now(UTC)
        assert yaml_runs["refresh-metadata"].expected_start_time == _next_cron(now, 0, 4, 6)
        assert yaml_runs["retry-failed"].expected_start_time == _next_cron(now, 30, 5)
    finally:
        with client() as c:
            unsubscribe(c, url)  # its scheduled runs go with it
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(timeout=30)
        with client() as c:
            c.delete_global_concurrency_limit_by_name(DOWNLOAD_LIMIT)
            for name in ("refresh-metadata", "retry-failed", "compact-catalog"):  # paused again
                c.pause_deployment(c.read_deployment_by_name(f"{name}/{name}").id)
    from ytarchive.catalog import Catalog

    assert Catalog(root).settled_ids(playlist.video_ids) == set(playlist.video_ids)
