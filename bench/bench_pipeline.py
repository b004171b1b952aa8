"""Benchmark the archive pipeline on the loopback test bed, side by side with plain yt-dlp.

Prints figures (not a test):
1. a playlist of --videos (24) at 720p, 4 at once, media capped at 1.5 MB/s a connection:
   `ytarchive playlist download` vs `yt-dlp -a urls.txt` (sequential) vs 4 yt-dlp processes at
   once (the URLs split four ways). Targets: <= 0.5x sequential, <= 1.3x the 4 processes.
2. a playlist of --big (500) short videos: the first run's seconds and peak RSS (target
   <= 500 MB), then a re-run of the fully archived playlist: media requests (target 0), API
   units (target <= 10) and seconds.
3. the fixed cost of one CLI run: `import prefect` alone, and a run with nothing to download.

Usage: uv run python bench/bench_pipeline.py [--videos 24] [--duration 12] [--big 500]
The bench's Prefect server lives under bench/out/prefect-home (its database is reused by later
runs); it is stopped at the end unless --keep-server.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.testbed.api_server import ApiServer  # noqa: E402
from tests.testbed.library import Library  # noqa: E402
from tests.testbed.media import generate_dash_media  # noqa: E402
from tests.testbed.media_server import MediaServer  # noqa: E402

OUT = ROOT / "bench" / "out"
CAP = 1_500_000  # bytes per second, per connection


def main() -> int:
    args = _args()
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="pipeline-", dir=OUT))
    env = _prefect_env()
    figures: dict[str, Any] = {}
    lib = Library()
    try:
        figures["fixed_costs"] = fixed_costs(env, work)
        if args.videos:
            media = generate_dash_media(OUT / "media-cache", duration=args.duration, fps=10)
            with MediaServer(media, lib, bandwidth_cap=CAP) as ms, ApiServer(lib) as api:
                figures["playlist"] = playlist_vs_ytdlp(args.videos, lib, ms, api, env, work)
        if args.big:
            media = generate_dash_media(OUT / "media-cache", duration=2.0, fps=10)
            with MediaServer(media, lib) as ms, ApiServer(lib) as api:
                figures["big"] = big_playlist(args.big, lib, ms, api, env, work, args.jobs)
    finally:
        if not args.keep_server:
            _stop_server(env)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    (OUT / "pipeline.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nfigures written to {OUT / 'pipeline.json'}")
    return 0


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=24, help="playlist size for part 1")
    parser.add_argument("--duration", type=float, default=12.0, help="seconds of media, part 1")
    parser.add_argument("--big", type=int, default=500, help="playlist size for part 2 (0: skip)")
    parser.add_argument("--jobs", type=int, default=8, help="downloads at once in part 2")
    parser.add_argument("--keep", action="store_true", help="keep the downloaded files")
    parser.add_argument(
        "--keep-server", action="store_true", help="leave the bench's Prefect server running"
    )
    return parser.parse_args()


# ---------------------------------------------------------------------------------------------
# Prefect: one long-lived server for the bench
# ---------------------------------------------------------------------------------------------


def _prefect_env() -> dict[str, str]:
    from ytarchive.prefect_server import server_env, start_server

    home = OUT / "prefect-home"
    home.mkdir(parents=True, exist_ok=True)
    os.environ["PREFECT_HOME"] = str(home)
    os.environ.pop("PREFECT_API_URL", None)
    os.environ.update(server_env())
    started = time.monotonic()
    status = start_server(port=0, timeout=300)
    print(f"Prefect server {status.api_url} ready in {time.monotonic() - started:.1f} s")
    env = {**os.environ, "PREFECT_API_URL": str(status.api_url), "DO_NOT_TRACK": "1"}
    return env


def _stop_server(env: dict[str, str]) -> None:
    from ytarchive.prefect_server import stop_server

    os.environ["PREFECT_HOME"] = env["PREFECT_HOME"]
    stop_server()


# ---------------------------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------------------------


def _run(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int, str]:
    """(seconds, peak RSS of the process in MB, stdout) of one command, which must succeed."""
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out, err = proc.communicate()
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} exited {proc.returncode}: {err[-2000:]}")
    return seconds, 0, out


def _run_measured(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """Like _run, with the process's peak resident memory (wait4's ru_maxrss) in MB."""
    started = time.monotonic()
    out_path = cwd / f"stdout-{time.monotonic_ns()}.txt"
    with open(out_path, "w") as out_file:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out_file, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        err = proc.stderr.read().decode(errors="replace")
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} exited {proc.returncode}: {err[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, out_path.read_text()


def _ytarchive(*args: str) -> list[str]:
    return [sys.executable, "-m", "ytarchive", *args]


def _ytdlp(*args: str) -> list[str]:
    from ytarchive.downloader import ffmpeg_location

    ffmpeg = ffmpeg_location() or "ffmpeg"
    return [
        sys.executable, "-m", "yt_dlp", "--ignore-config", "--no-progress", "--quiet",
        "--no-warnings",
        "-f", "bv*+ba/b", "-S", "res:720", "--ffmpeg-location", ffmpeg, "--no-cache-dir",
        "-o", "%(id)s-%(autonumber)s.%(ext)s", *args,
    ]  # fmt: skip


def _archive_env(env: dict[str, str], ms: MediaServer, api: ApiServer, out: Path) -> dict[str, str]:
    return {
        **env,
        "YTARCHIVE_OUTPUT_DIR": str(out),
        "YTARCHIVE_YOUTUBE_API_URL": api.base_url,
        "YTARCHIVE_VIDEO_URL_TEMPLATE": ms.url_template,
        "YOUTUBE_API_KEY": api.api_key,
    }


def fixed_costs(env: dict[str, str], work: Path) -> dict[str, float]:
    """`import prefect` alone, and a whole CLI run that has nothing to download."""
    seconds, _, _ = _run([sys.executable, "-c", "import prefect"], env, work)
    empty = work / "empty-batch.txt"
    empty.write_text("")
    lib = Library()
    video = lib.add_video()
    media = generate_dash_media(OUT / "media-cache", duration=2.0, fps=10)
    with MediaServer(media, lib) as ms, ApiServer(lib) as api:
        run_env = _archive_env(env, ms, api, work / "fixed")
        _run(_ytarchive("download", video.video_id, "-q", "360p"), run_env, work)
        noop, _, _ = _run(_ytarchive("download", video.video_id, "-f", "json"), run_env, work)
        help_s, _, _ = _run(_ytarchive("--help"), env, work)
    figures = {"import_prefect_s": seconds, "noop_run_s": noop, "help_s": help_s}
    print("\n== fixed cost of a CLI run")
    print(f"  python -c 'import prefect'             {seconds:6.2f} s")
    print(f"  ytarchive download (already archived)  {noop:6.2f} s  (start to exit, whole CLI)")
    print(f"  ytarchive --help                       {help_s:6.2f} s")
    return figures


def playlist_vs_ytdlp(
    n: int, lib: Library, ms: MediaServer, api: ApiServer, env: dict[str, str], work: Path
) -> dict[str, float]:
    videos = [lib.add_video(title=f"Bench {i}").video_id for i in range(n)]
    playlist = lib.add_playlist(title="Bench", video_ids=videos)
    urls = [ms.video_url(v) for v in videos]
    (work / "urls.txt").write_text("\n".join(urls) + "\n")
    print(f"\n== {n}-video playlist at 720p, 4 at once, {CAP / 1e6:.1f} MB/s a connection")

    seq_dir = work / "ytdlp-seq"
    seq_dir.mkdir()
    t_seq, _, _ = _run(_ytdlp("-a", str(work / "urls.txt")), env, seq_dir)
    print(f"  yt-dlp -a urls.txt (sequential)        {t_seq:6.1f} s")

    par_dir = work / "ytdlp-par"
    par_dir.mkdir()
    started = time.monotonic()
    procs = []
    for k in range(4):
        part = work / f"urls-{k}.txt"
        part.write_text("\n".join(urls[k::4]) + "\n")
        folder = par_dir / str(k)  # each its own folder: generic ids ("manifest") collide
        folder.mkdir()
        procs.append(subprocess.Popen(_ytdlp("-a", str(part)), env=env, cwd=folder))
    if any(p.wait() != 0 for p in procs):
        raise RuntimeError("a parallel yt-dlp failed")
    t_par = time.monotonic() - started
    print(f"  4 x yt-dlp at once                     {t_par:6.1f} s")

    out = work / "archive-24"
    run_env = _archive_env(env, ms, api, out)
    url = f"https://www.youtube.com/playlist?list={playlist.playlist_id}"
    t_ours, _, stdout = _run(
        _ytarchive("playlist", "download", url, "-q", "720p", "-j", "4", "-f", "json"),
        run_env,
        work,
    )
    summary = json.loads(stdout)
    assert summary["archived"] == n, summary
    flow_s = summary["seconds"]
    print(f"  ytarchive playlist download -j 4       {t_ours:6.1f} s  (flow {flow_s} s)")
    print(f"  ratio to sequential yt-dlp             {t_ours / t_seq:6.2f}   (target <= 0.5)")
    print(f"  ratio to 4 x yt-dlp                    {t_ours / t_par:6.2f}   (target <= 1.3)")
    return {
        "videos": n,
        "ytdlp_sequential_s": t_seq,
        "ytdlp_4_parallel_s": t_par,
        "ytarchive_s": t_ours,
        "ytarchive_flow_s": summary["seconds"],
        "ratio_sequential": t_ours / t_seq,
        "ratio_parallel": t_ours / t_par,
    }


def big_playlist(
    n: int,
    lib: Library,
    ms: MediaServer,
    api: ApiServer,
    env: dict[str, str],
    work: Path,
    jobs: int,
) -> dict[str, float]:
    videos = [lib.add_video(title=f"Big {i}").video_id for i in range(n)]
    playlist = lib.add_playlist(title="Big", video_ids=videos)
    url = f"https://www.youtube.com/playlist?list={playlist.playlist_id}"
    out = work / "archive-big"
    run_env = {**_archive_env(env, ms, api, out), "YTARCHIVE_RETRY_DELAY_SECONDS": "0.5"}
    print(f"\n== {n}-video playlist (2 s clips at 360p, {jobs} at once)")
    cmd = _ytarchive("playlist", "download", url, "-q", "360p", "-j", str(jobs), "-f", "json")
    t_first, rss, stdout = _run_measured(cmd, run_env, work)
    first = json.loads(stdout)
    print(
        f"  first run                              {t_first:6.1f} s, peak RSS {rss:.0f} MB "
        f"(target <= 500), {first['archived']} archived, {first['failed']} failed"
    )
    ms.requests.clear()
    api.reset()
    t_again, rss_again, stdout = _run_measured(cmd, run_env, work)
    again = json.loads(stdout)
    units = sum(api.units_by_endpoint().values())
    media = ms.request_count()
    print(
        f"  re-run, fully archived                 {t_again:6.1f} s, media requests {media} "
        f"(target 0), API units {units} (target <= 10), peak RSS {rss_again:.0f} MB"
    )
    assert again["downloaded"] == 0, again
    return {
        "videos": n,
        "first_run_s": t_first,
        "first_run_peak_rss_mb": rss,
        "first_run_failed": first["failed"],
        "rerun_s": t_again,
        "rerun_media_requests": media,
        "rerun_api_units": units,
        "rerun_peak_rss_mb": rss_again,
    }


if __name__ == "__main__":
    raise SystemExit(main())
