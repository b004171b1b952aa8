"""Issue 18's fleet: a Prefect server on PostgreSQL, three `ytarchive serve` hosts, one archive."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.fleet import (
    Host,
    SlotSampler,
    hosts_of,
    start_server,
    stop_all,
    stop_server,
    subscribe_all,
    wait_runs,
)
from tests.helpers import run_cli as ytarchive
from ytarchive.layout import find_video_files
from ytarchive.names import DOWNLOAD_LIMIT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SLOTS = 2


def _url(playlist: Any) -> str:
    return f"https://www.youtube.com/playlist?list={playlist.playlist_id}"


def _overlapping_playlists(lib: Any) -> tuple[list[Any], list[str]]:
    """Three playlists over six videos: every video is in two of them."""
    videos = [lib.add_video().video_id for _ in range(6)]
    picks = [videos[0:4], videos[2:6], [videos[4], videos[5], videos[0], videos[1]]]
    playlists = [lib.add_playlist(title=f"P{i}", video_ids=ids) for i, ids in enumerate(picks)]
    return playlists, videos


def _at_start_of_a_minute() -> None:
    """Subscriptions made in the same minute get their first run at the same next minute (so
    the three runs are likely due at once; the assertions hold either way)."""
    second = datetime.now(UTC).second
    if second > 40:
        time.sleep(61 - second)


def _downloads_per_video(requests: list[Any], video_id: str) -> int:
    """How many times the video's media was fetched: its most-fetched (file, range)."""
    fetched = Counter((r.path, r.range) for r in requests if r.video_id == video_id)
    return max(fetched.values(), default=0)


def _most_at_once(stamps: list[tuple[float, str | None]]) -> int:
    """The most videos whose requests (first to last) overlapped in time on the media server."""
    spans: dict[str, list[float]] = {}
    for at, video_id in stamps:
        if video_id:
            spans.setdefault(video_id, []).append(at)
    edges = sorted([(min(t), 1) for t in spans.values()] + [(max(t), -1) for t in spans.values()])
    current = peak = 0
    for _, step in sorted(edges, key=lambda e: (e[0], -e[1])):
        current += step
        peak = max(peak, current)
    return peak


@pytest.fixture
def pg_server(postgres: Any, tmp_path: Path, ytarchive_env: Any) -> Any:
    """`ytarchive server start --database URL` on a new database of the session's cluster."""
    url = postgres.create_database(f"fleet_{int(time.time() * 1000)}")
    home = tmp_path / "server-home"
    env = dict(os.environ)
    api = start_server(home, url, env)
    try:
        yield api, home, url
    finally:
        stop_server(home, env)


def test_three_hosts_sync_overlapping_subscriptions_once_each(
    pg_server: Any,
    ytarchive_env: Any,
    testbed: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 18's done-when: three hosts (`ytarchive serve`, each its own YTARCHIVE_HOST,
    PREFECT_HOME and working dir) over one archive, one server on PostgreSQL, three
    subscriptions sharing every video; the runs are made by the server's scheduler."""
    api, home, db_url = pg_server
    env = {**os.environ, "PREFECT_API_URL": api}
    status = json.loads(
        ytarchive("server", "status", "-f", "json", env={**env, "PREFECT_HOME": str(home)}).stdout
    )
    assert (status["backend"], status["healthy"]) == ("postgresql", True)
    password = postgres_password(db_url)
    assert password not in json.dumps(status)
    server_home = {**env, "PREFECT_HOME": str(home)}
    health = json.loads(ytarchive("health", "-f", "json", env=server_home).stdout)
    database = {c["check"]: c for c in health["checks"]}["database"]
    assert database["detail"] == status["database"] and database["detail"].startswith("postgres")
    other = ytarchive("server", "start", "--database", f"sqlite+aiosqlite:///{tmp_path}/x.db",
                      env=server_home)  # fmt: skip
    assert other.returncode == 1 and "runs on postgresql" in other.stderr, other.stderr

    playlists, videos = _overlapping_playlists(testbed.lib)
    testbed.media.bandwidth_cap = 150_000  # bytes/s a response: a download takes a second or so
    stamps: list[tuple[float, str | None]] = []
    record = testbed.media._record

    def timed(rec: Any) -> None:
        stamps.append((time.monotonic(), rec.video_id))
        record(rec)

    monkeypatch.setattr(testbed.media, "_record", timed)
    hosts = [Host(f"host-{c}", tmp_path / "hosts", env, SLOTS) for c in "abc"]
    try:
        for host in hosts:
            host.start()
        _at_start_of_a_minute()
        subs = subscribe_all([_url(p) for p in playlists], env)
        deployment_ids = [s["deployment_id"] for s in subs]
        with SlotSampler(api, DOWNLOAD_LIMIT) as slots:
            runs = wait_runs(api, deployment_ids, timeout=300, hosts=hosts)
    finally:
        stop_all(hosts)  # the server and its database go with the test: no unsubscribe
    tails = "\n".join(h.tail() for h in hosts)
    assert [r["state"]["type"] for r in runs] == ["COMPLETED"] * 3, tails
    assert all(r["auto_scheduled"] for r in runs), "a run the server's scheduler did not make"
    ran_on = hosts_of(api, [r["id"] for r in runs])

    root = ytarchive_env.output_dir
    assert {v for v in videos if find_video_files(root, v)} == set(videos)
    requests = list(testbed.media.requests)
    for video_id in videos:
        assert testbed.media.manifest_requests(video_id) == 1, f"{video_id} listed twice"
        assert _downloads_per_video(requests, video_id) == 1, f"{video_id} downloaded twice"
    from ytarchive.catalog import Catalog

    _, rows = Catalog(root).sql(
        "SELECT video_id, count(*) FROM download_history WHERE status = 'archived' GROUP BY 1"
    )
    assert dict(rows) == {v: 1 for v in videos}
    assert slots.samples > 10
    assert 1 <= slots.peak <= SLOTS, f"peak {slots.peak} slots of {SLOTS}"
    assert _most_at_once(stamps) <= SLOTS, "more videos downloaded at once than the limit"
    stop_server(home, env)  # a restart must be given the URL again: never a new SQLite history
    again = ytarchive("server", "start", env={**server_home, "PREFECT_API_URL": ""})
    assert again.returncode == 1 and "--database URL" in again.stderr, again.stderr
    for path in [*(home / "ytarchive-server").iterdir(), *(h.log for h in hosts)]:
        assert password not in path.read_text(errors="replace"), f"the password is in {path}"
    used = set().union(*ran_on.values())
    assert all(len(h) == 1 for h in ran_on.values()), ran_on  # each run on one host
    assert len(used) >= 2, f"the three runs all ran on {used}: not a fleet"


def postgres_password(url: str) -> str:
    return url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
