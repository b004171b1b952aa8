"""Whole-process wall time of the read-only history commands, beside Prefect's own CLI (issue 17).

On the loopback test bed, with a long-lived Prefect server (its own PREFECT_HOME under
bench/out) and a realistic history made by the real commands (a few playlist runs, one whose
videos fail so recovery plans exist, a recorded plan and a subscription), it times, as a user
would type them: `recovery list`, `recovery show ID`, `playlist status RUN` and `subscriptions`,
each beside the target (1.5 s) and a peer asking Prefect the same (`prefect flow-run ls`,
`prefect flow-run inspect`, `prefect deployment ls`), and `ytarchive --help`. Each figure is the
median of --repeat runs, after one warm-up run that also leaves Python's bytecode cache written
(as on an installed system; --no-pyc measures with PYTHONDONTWRITEBYTECODE=1 instead).

Usage: uv run python bench/bench_commands.py [--repeat 5] [--runs 3] [--keep] [--no-pyc]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.testbed.api_server import ApiServer  # noqa: E402
from tests.testbed.library import Library  # noqa: E402
from tests.testbed.media import generate_dash_media  # noqa: E402
from tests.testbed.media_server import MediaServer  # noqa: E402

OUT = ROOT / "bench" / "out"
TARGET_S = 1.5


def main() -> int:
    args = _args()
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="commands-", dir=OUT))
    env = _prefect_env(args.no_pyc)
    figures: dict[str, dict[str, float]] = {}
    try:
        lib = Library()
        media = generate_dash_media(OUT / "media-cache", duration=1.0, fps=10)
        with MediaServer(media, lib) as ms, ApiServer(lib) as api:
            run_env = _archive_env(env, ms, api, work / "archive")
            history = make_history(args.runs, lib, ms, run_env, work)
        figures = time_commands(history, run_env, work, args.repeat)
    finally:
        if not args.keep:
            _stop_server(env)
            shutil.rmtree(work, ignore_errors=True)
    if args.keep:
        print(f"kept: {work} and the server of {env['PREFECT_HOME']}")
    load = os.getloadavg()
    print(f"\nload average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    (OUT / "commands.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"figures written to {OUT / 'commands.json'}")
    return 0


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each command")
    parser.add_argument("--runs", type=int, default=3, help="successful playlist runs made")
    parser.add_argument("--no-pyc", action="store_true", help="no bytecode cache (slower)")
    parser.add_argument(
        "--keep", action="store_true", help="leave the server running and the archive on disk"
    )
    return parser.parse_args()


# ---------------------------------------------------------------------------------------------
# The server, and the history
# ---------------------------------------------------------------------------------------------


def _prefect_env(no_pyc: bool) -> dict[str, str]:
    from ytarchive.prefect_server import server_env, start_server

    home = OUT / "commands-home"
    home.mkdir(parents=True, exist_ok=True)
    os.environ["PREFECT_HOME"] = str(home)
    os.environ.pop("PREFECT_API_URL", None)
    os.environ.update(server_env())
    started = time.monotonic()
    status = start_server(port=0, timeout=300)
    print(f"Prefect server {status.api_url} ready in {time.monotonic() - started:.1f} s")
    # Our commands find the local server themselves; Prefect's CLI is given its URL.
    env = {**os.environ, "DO_NOT_TRACK": "1", "COLUMNS": "160", "PEER_API_URL": status.api_url}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if no_pyc:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _stop_server(env: dict[str, str]) -> None:
    from ytarchive.prefect_server import stop_server

    os.environ["PREFECT_HOME"] = env["PREFECT_HOME"]
    stop_server()


def _archive_env(env: dict[str, str], ms: MediaServer, api: ApiServer, out: Path) -> dict[str, str]:
    return {
        **env,
        "YTARCHIVE_OUTPUT_DIR": str(out),
        "YTARCHIVE_YOUTUBE_API_URL": api.base_url,
        "YTARCHIVE_VIDEO_URL_TEMPLATE": ms.url_template,
        "YOUTUBE_API_KEY": api.api_key,
        "YTARCHIVE_MAX_RETRIES": "1",
        "YTARCHIVE_RETRY_DELAY_SECONDS": "0.05",
    }


def _ytarchive(*args: str) -> list[str]:
    return [sys.executable, "-m", "ytarchive", *args]


def _prefect(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("prefect")), *args]


def _env_for(cmd: list[str], env: dict[str, str]) -> dict[str, str]:
    if Path(cmd[0]).name == "prefect":
        return {**env, "PREFECT_API_URL": env["PEER_API_URL"]}
    return env


def _run(cmd: list[str], env: dict[str, str], cwd: Path, codes: tuple[int, ...] = (0,)) -> str:
    env = _env_for(cmd, env)
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    if proc.returncode not in codes:
        raise RuntimeError(f"{cmd[1:5]} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return proc.stdout


def make_history(
    runs: int, lib: Library, ms: MediaServer, env: dict[str, str], work: Path
) -> dict[str, str]:
    """Playlist runs that archive (the last one twice: a no-op re-run), one whose videos fail
    (an open plan), a recorded plan and a subscription; what the timed commands are given."""
    started = time.monotonic()
    name = ""
    for i in range(runs):
        ids = [lib.add_video(title=f"Bench {i}.{k}").video_id for k in range(3)]
        playlist = lib.add_playlist(title=f"Bench {i}", video_ids=ids)
        url = f"https://www.youtube.com/playlist?list={playlist.playlist_id}"
        summary = json.loads(_run(_ytarchive("playlist", "download", url, "-f", "json"), env, work))
        name = summary["flow_run_name"]
    _run(_ytarchive("playlist", "download", url, "-f", "json"), env, work)  # a no-op re-run
    bad = [lib.add_video(title=f"Broken {k}").video_id for k in range(3)]
    for video_id in bad:
        ms.set_fault(video_id, "500", times=None)
    playlist = lib.add_playlist(title="Broken", video_ids=bad)
    url = f"https://www.youtube.com/playlist?list={playlist.playlist_id}"
    _run(_ytarchive("playlist", "download", url, "-f", "json"), env, work, codes=(1, 3))
    _run(_ytarchive("recovery", "create", lib.add_video().video_id), env, work)
    _run(_ytarchive("subscribe", url, "--cron", "0 4 * * *"), env, work)
    plans = json.loads(_run(_ytarchive("recovery", "list", "-f", "json"), env, work))
    flow_runs = _run(_prefect("flow-run", "ls", "--limit", "1"), env, work)
    assert plans and flow_runs, (plans, flow_runs)
    from ytarchive.prefect_api import PrefectApi

    total = PrefectApi(env["PEER_API_URL"]).post("/flow_runs/count", {}, "count the flow runs")
    print(f"history: {runs + 2} playlist runs made in {time.monotonic() - started:.0f} s, "
          f"{len(plans)} open plans, 1 subscription; {total} flow runs on the server "
          "(the bench's PREFECT_HOME is kept between runs)")  # fmt: skip
    return {"plan": plans[-1]["plan_id"][:8], "plan_id": plans[-1]["plan_id"], "run": name}


# ---------------------------------------------------------------------------------------------
# The figures
# ---------------------------------------------------------------------------------------------


def _median_seconds(
    cmd: list[str], env: dict[str, str], cwd: Path, repeat: int
) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (user + system) of the whole process."""
    env = _env_for(cmd, env)
    subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, timeout=300)  # warm-up, .pyc
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
        walls.append(time.monotonic() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[1:5]} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return statistics.median(walls), statistics.median(cpus)


def time_commands(
    history: dict[str, str], env: dict[str, str], work: Path, repeat: int
) -> dict[str, dict[str, float]]:
    rows = [
        ("recovery list", _ytarchive("recovery", "list"), _prefect("flow-run", "ls")),
        (
            "recovery show ID",
            _ytarchive("recovery", "show", history["plan"]),
            _prefect("flow-run", "inspect", history["plan_id"]),
        ),
        (
            "playlist status RUN",
            _ytarchive("playlist", "status", history["run"]),
            _prefect("flow-run", "ls", "--flow-name", "archive-playlist", "--limit", "5"),
        ),
        ("subscriptions", _ytarchive("subscriptions"), _prefect("deployment", "ls")),
        ("--help", _ytarchive("--help"), _prefect("--help")),
    ]
    print(f"\n== whole-process wall time, median of {repeat} (target {TARGET_S} s); CPU in ()")
    print(f"  {'command':20} {'ytarchive':>16} {'target':>7} {'peer':>16}  peer command")
    figures = {}
    for label, ours, peer in rows:
        mine, mine_cpu = _median_seconds(ours, env, work, repeat)
        theirs, their_cpu = _median_seconds(peer, env, work, repeat)
        target = "" if label == "--help" else f"{TARGET_S:.1f} s"
        peer_text = " ".join(peer[1:4])
        print(
            f"  {label:20} {mine:6.2f} s ({mine_cpu:4.2f}) {target:>7} "
            f"{theirs:6.2f} s ({their_cpu:4.2f})  prefect {peer_text}"
        )
        figures[label] = {
            "ytarchive_s": mine,
            "ytarchive_cpu_s": mine_cpu,
            "peer_s": theirs,
            "peer_cpu_s": their_cpu,
            "target_s": TARGET_S,
        }
    return figures


if __name__ == "__main__":
    raise SystemExit(main())
