"""What a video's claim across hosts (tasks/claims.py) costs: take and let go, one at a time and
from several threads at once, against the long-lived local server (or PREFECT_API_URL).

Each claim is a fresh key (so a bucket limit may be made or checked the first time one is used,
as in a run), held for nothing, then let go; the figures are per claim. Threads contend for
buckets only when two keys hash alike (1,024 buckets).

Usage: uv run python bench/bench_claims.py [--quick] [N=200] [THREADS=4]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _claim_seconds(key: str) -> float:
    from tasks.claims import video_claim

    started = time.monotonic()
    with video_claim(key, 60):
        pass
    return time.monotonic() - started


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--quick"]
    quick = "--quick" in sys.argv
    n = int(args[0]) if args else (40 if quick else 200)
    threads = int(args[1]) if len(args) > 1 else 4
    from flows.runtime import configure_prefect

    url = configure_prefect(os.environ.get("PREFECT_API_URL"))
    stamp = f"bench-{os.getpid()}-{int(time.time())}"
    _claim_seconds(f"{stamp}-warm")  # the client and the keeper thread, once a process
    one = [_claim_seconds(f"{stamp}-one-{i}") for i in range(n)]
    t0 = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        many = list(pool.map(_claim_seconds, [f"{stamp}-many-{i}" for i in range(n)]))
    wall = time.monotonic() - t0
    print(f"server {url}, {n} claims each way, load {os.getloadavg()[0]:.1f}")
    print(
        f"one at a time: median {statistics.median(one) * 1000:.0f} ms, "
        f"p95 {sorted(one)[int(0.95 * n)] * 1000:.0f} ms a claim (take + let go)"
    )
    print(
        f"{threads} threads: median {statistics.median(many) * 1000:.0f} ms a claim, "
        f"{n / wall:.1f} claims/s"
    )


if __name__ == "__main__":
    main()
