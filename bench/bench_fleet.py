"""Benchmark a fleet: 1, 2 and 4 `ytarchive serve` hosts, one server on PostgreSQL, one archive.

Prints figures (not a test). One Prefect server (`ytarchive server start --database`, on a
throwaway PostgreSQL from Debian's package: tests/postgres.py) serves every round. Each round
makes a new channel of --videos videos on the loopback stand-in and --playlists subscriptions
that cover its uploads (slices of it, each overlapping the next by 10%, all due the same
minute), starts that many hosts (separate processes, each its own YTARCHIVE_HOST, PREFECT_HOME
and working dir, `--limit 2` runs at once) over one new shared archive, and waits for every
first run. Per round: videos per second (first run start to last run end), the server's CPU
(cores, its process group) and peak RSS, and double downloads (videos whose manifest was
fetched more than once: must be 0).

Usage: uv run python bench/bench_fleet.py [--videos 1000] [--hosts 1,2,4] [--slots 8]
Quick: uv run python bench/bench_fleet.py --videos 24 --hosts 1,2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fleet import (  # noqa: E402
    Host,
    rest,
    start_server,
    stop_all,
    stop_server,
    subscribe_all,
    wait_runs,
)
from tests.postgres import start_postgres  # noqa: E402
from tests.testbed.api_server import ApiServer  # noqa: E402
from tests.testbed.library import Library  # noqa: E402
from tests.testbed.media import generate_dash_media  # noqa: E402
from tests.testbed.media_server import MediaServer  # noqa: E402

OUT = ROOT / "bench" / "out"
_TICK = os.sysconf("SC_CLK_TCK")


def main() -> int:
    args = _args()
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="fleet-", dir=OUT))
    pg = start_postgres()
    env = _base_env()
    home = work / "server-home"
    lib = Library()
    media = generate_dash_media(OUT / "media-cache", duration=2.0, fps=10)
    figures: dict[str, Any] = {"videos": args.videos, "playlists": args.playlists, "rounds": []}
    try:
        started = time.monotonic()
        api = start_server(home, pg.create_database("fleet"), env)
        figures["server_start_s"] = round(time.monotonic() - started, 1)
        with MediaServer(media, lib) as ms, ApiServer(lib) as yt:
            env.update(
                {
                    "PREFECT_API_URL": api,
                    "YTARCHIVE_YOUTUBE_API_URL": yt.base_url,
                    "YTARCHIVE_VIDEO_URL_TEMPLATE": ms.url_template,
                    "YOUTUBE_API_KEY": yt.api_key,
                }
            )
            for count in args.hosts:
                figure = one_round(count, args, lib, ms, api, env, home, work)
                figures["rounds"].append(figure)
                print(json.dumps(figure), flush=True)
    finally:
        stop_server(home, env)
        pg.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures, indent=2))
    return 0


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--playlists", type=int, default=8)
    parser.add_argument("--hosts", default="1,2,4", help="host counts, one round each")
    parser.add_argument("--slots", type=int, default=8, help="the fleet-wide download limit")
    parser.add_argument("--keep", action="store_true", help="keep bench/out/fleet-* afterwards")
    args = parser.parse_args()
    args.hosts = [int(n) for n in args.hosts.split(",") if n.strip()]
    return args


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "YTARCHIVE_"))}
    env.update(
        {
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "DO_NOT_TRACK": "1",
        }
    )
    return env


def _channel(lib: Library, videos: int, playlists: int) -> list[Any]:
    """A new channel of `videos` videos, and `playlists` playlists over slices of it."""
    channel = lib.add_channel()
    ids = [lib.add_video(channel=channel.channel_id).video_id for _ in range(videos)]
    size = max(1, -(-videos // playlists))
    extra = max(1, size // 10)  # each slice overlaps the next one's first 10%
    return [
        lib.add_playlist(video_ids=ids[i : i + size + extra], channel=channel.channel_id)
        for i in range(0, videos, size)
    ]


def one_round(
    count: int,
    args: argparse.Namespace,
    lib: Library,
    ms: MediaServer,
    api: str,
    env: dict[str, str],
    home: Path,
    work: Path,
) -> dict[str, Any]:
    playlists = _channel(lib, args.videos, args.playlists)
    wanted = {v for p in playlists for v in p.video_ids}
    archive = work / f"archive-{count}"
    round_env = {**env, "YTARCHIVE_OUTPUT_DIR": str(archive)}
    _set_limit(api, args.slots)
    hosts = [Host(f"host-{count}-{i}", work, round_env, args.slots) for i in range(count)]
    for host in hosts:
        host.start()
    if datetime.now(UTC).second > 40:
        time.sleep(61 - datetime.now(UTC).second)
    urls = [f"https://www.youtube.com/playlist?list={p.playlist_id}" for p in playlists]
    subs = subscribe_all(urls, round_env)
    ids = [s["deployment_id"] for s in subs]
    with _ServerSampler(home) as server:
        try:
            runs = wait_runs(api, ids, timeout=max(600, args.videos * 6), hosts=hosts)
        finally:
            stop_all(hosts)
    for sub in subs:
        _delete(api, f"/deployments/{sub['deployment_id']}")
    manifests = Counter(r.video_id for r in ms.requests if r.kind == "manifest" and r.video_id)
    start = min(_at(r["start_time"]) for r in runs)
    end = max(_at(r["end_time"]) for r in runs)
    states = Counter(r["state"]["type"] for r in runs)
    return {
        "hosts": count,
        "videos": len(wanted),
        "archived": sum(1 for v in wanted if manifests[v] >= 1),
        "runs": dict(states),
        "seconds": round(end - start, 1),
        "videos_per_s": round(len(wanted) / max(end - start, 1e-6), 2),
        "server_cpu_cores": round(server.cpu_seconds / max(server.wall, 1e-6), 2),
        "server_peak_rss_mb": round(server.peak_rss / 1e6),
        "double_downloads": sum(1 for v in wanted if manifests[v] > 1),
    }


def _at(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _set_limit(api: str, slots: int) -> None:
    """The fleet-wide limit at `slots` for this round (serve only creates it when missing)."""
    try:
        rest(api, "/v2/concurrency_limits/", {"name": "ytarchive-downloads", "limit": slots})
    except OSError:
        pass  # it exists: same slots every round


def _delete(api: str, path: str) -> None:
    import urllib.request

    request = urllib.request.Request(api.rstrip("/") + path, method="DELETE")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        opener.open(request, timeout=30).close()
    except OSError:
        pass


class _ServerSampler:
    """CPU seconds and peak RSS of the server's process group while a round runs."""

    def __init__(self, home: Path) -> None:
        state = json.loads((home / "ytarchive-server" / "server.json").read_text())
        self.pgid = int(state["pid"])
        self.cpu_seconds = 0.0
        self.peak_rss = 0
        self.wall = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _ServerSampler:
        self._started = time.monotonic()
        self._cpu0 = self._sample()[0]
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.cpu_seconds = self._sample()[0] - self._cpu0
        self.wall = time.monotonic() - self._started

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.peak_rss = max(self.peak_rss, self._sample()[1])

    def _sample(self) -> tuple[float, int]:
        cpu, rss = 0.0, 0
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) != self.pgid:
                    continue
                cpu += (int(fields[11]) + int(fields[12])) / _TICK
                rss += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, IndexError, ValueError):
                continue
        return cpu, rss


if __name__ == "__main__":
    raise SystemExit(main())
