"""Benchmark the archive pipeline on the loopback test bed, side by side with plain yt-dlp.

Prints figures (not a test):
1. a playlist of --videos (24) at 720p, 4 at once, media capped at 1.5 MB/s a connection, of
   --duration (4) second clips: 1.56 MB a video, the bytes issue 17 measured its targets on
   (about 1.54 MB a video, a 6.2 s floor, `yt-dlp -a` 30 s); `--duration 2` is half of that:
   `ytarchive playlist download` vs `yt-dlp -a urls.txt` (sequential) vs 4 yt-dlp processes at
   once (the URLs split four ways). The wire floor is the bytes the stand-in served for our run
   / (4 connections x 1.5 MB/s). Targets: <= 1.5x the floor, below the 4 processes. Our time
   is split into download (the stand-in had a media request open) and the rest (overhead).
2. one video at 720p, same cap, in process (no Prefect): its streams one after the other vs at
   once (the https files real YouTube serves), then a many-segment DASH timeline: streams in
   turn, at once, and at once with concurrent fragments; plain yt-dlp (-N 1 and -N 4) beside.
3. a playlist of --big (500) short videos: the first run's seconds and peak RSS (target
   <= 500 MB), then a re-run of the fully archived playlist: media requests (target 0), API
   units (target <= 10) and seconds.
4. the fixed cost of one CLI run: `import prefect` alone, and a run with nothing to download.

Usage: uv run python bench/bench_pipeline.py [--videos 24] [--duration 4] [--big 500]
       uv run python bench/bench_pipeline.py --quick      # parts 1 and 2 only, small
       uv run python bench/bench_pipeline.py --parts streams  # fixed, playlist, streams, big
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
from tests.testbed.segmented import generate_segmented_media  # noqa: E402

OUT = ROOT / "bench" / "out"
CAP = 1_500_000  # bytes per second, per connection
LANES = 4  # downloads at once in part 1: the floor's connections
PARTS = ("fixed", "playlist", "streams", "big")


def main() -> int:
    args = _args()
    parts = set(args.parts.split(","))
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="pipeline-", dir=OUT))
    env = _prefect_env() if parts - {"streams"} else dict(os.environ)
    figures: dict[str, Any] = {"load_average": os.getloadavg()}
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    lib = Library()
    try:
        if "fixed" in parts:
            figures["fixed_costs"] = fixed_costs(env, work)
        if args.videos and "playlist" in parts:
            media = generate_dash_media(OUT / "media-cache", duration=args.duration, fps=10)
            with MediaServer(media, lib, bandwidth_cap=CAP) as ms, ApiServer(lib) as api:
                figures["playlist"] = playlist_vs_ytdlp(
                    args.videos, lib, ms, api, env, work, args.duration
                )
        if "streams" in parts:
            figures["one_video"] = one_video_streams(args, lib, work)
        if args.big and "big" in parts:
            media = generate_dash_media(OUT / "media-cache", duration=2.0, fps=10)
            with MediaServer(media, lib) as ms, ApiServer(lib) as api:
                figures["big"] = big_playlist(args.big, lib, ms, api, env, work, args.jobs)
    finally:
        if not args.keep_server and parts - {"streams"}:
            _stop_server(env)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    (OUT / "pipeline.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nfigures written to {OUT / 'pipeline.json'}")
    return 0


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=24, help="playlist size for part 1")
    parser.add_argument("--duration", type=float, default=4.0, help="seconds of media, part 1")
    parser.add_argument("--big", type=int, default=500, help="playlist size for part 3 (0: skip)")
    parser.add_argument("--jobs", type=int, default=8, help="downloads at once in part 3")
    parser.add_argument(
        "--dash-seconds", type=float, default=12.0, help="length of part 2's segmented video"
    )
    parser.add_argument(
        "--segment", type=float, default=0.5, help="segment length of part 2's DASH timeline"
    )
    parser.add_argument("--repeat", type=int, default=2, help="tries of each part 2 row (best)")
    parser.add_argument("--parts", default=",".join(PARTS), help="comma list of parts to run")
    parser.add_argument(
        "--quick", action="store_true", help="small and fast: parts playlist and streams only"
    )
    parser.add_argument("--keep", action="store_true", help="keep the downloaded files")
    parser.add_argument(
        "--keep-server", action="store_true", help="leave the bench's Prefect server running"
    )
    args = parser.parse_args()
    if args.quick:
        args.parts, args.dash_seconds = "playlist,streams", min(args.dash_seconds, 6.0)
    return args


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
    n: int,
    lib: Library,
    ms: MediaServer,
    api: ApiServer,
    env: dict[str, str],
    work: Path,
    seconds: float = 4.0,
) -> dict[str, float]:
    videos = [lib.add_video(title=f"Bench {i}").video_id for i in range(n)]
    playlist = lib.add_playlist(title="Bench", video_ids=videos)
    urls = [ms.video_url(v) for v in videos]
    (work / "urls.txt").write_text("\n".join(urls) + "\n")
    print(
        f"\n== {n}-video playlist of {seconds:g} s clips at 720p, 4 at once, "
        f"{CAP / 1e6:.1f} MB/s a connection"
    )

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
    _runner_up(lib, ms, api, env, work)
    url = f"https://www.youtube.com/playlist?list={playlist.playlist_id}"
    ms.requests.clear()
    began = time.monotonic()
    t_ours, _, stdout = _run(
        _ytarchive("playlist", "download", url, "-q", "720p", "-j", str(LANES), "-f", "json"),
        run_env,
        work,
    )
    wire = _wire_split(ms, began, began + t_ours)
    summary = json.loads(stdout)
    assert summary["archived"] == n, summary
    flow_s = summary["seconds"]
    floor = wire["bytes"] / (LANES * CAP)
    print(f"  ytarchive playlist download -j 4       {t_ours:6.1f} s  (flow {flow_s} s)")
    print(
        f"  wire floor                             {floor:6.1f} s  ({wire['bytes'] / 1e6:.1f} MB "
        f"served / ({LANES} x {CAP / 1e6:.1f} MB/s))"
    )
    print(f"  ytarchive / wire floor                 {t_ours / floor:6.2f}   (target <= 1.5)")
    print(f"  ytarchive / 4 x yt-dlp                 {t_ours / t_par:6.2f}   (target < 1)")
    print(f"  ytarchive / sequential yt-dlp          {t_ours / t_seq:6.2f}")
    print(
        f"  of our {t_ours:.1f} s: media on the wire {wire['busy_s']:.1f} s "
        f"({wire['busy_s'] / t_ours:.0%}, {wire['mean_open']:.1f} requests open on average), "
        f"before the first media byte {wire['before_s']:.1f} s, after the last "
        f"{wire['after_s']:.1f} s, gaps between {wire['gaps_s']:.1f} s"
    )
    return {
        "videos": n,
        "ytdlp_sequential_s": t_seq,
        "ytdlp_4_parallel_s": t_par,
        "ytarchive_s": t_ours,
        "ytarchive_flow_s": summary["seconds"],
        "bytes_served": wire["bytes"],
        "wire_floor_s": floor,
        "ratio_floor": t_ours / floor,
        "ratio_sequential": t_ours / t_seq,
        "ratio_parallel": t_ours / t_par,
        "wire": wire,
    }


def _runner_up(
    lib: Library, ms: MediaServer, api: ApiServer, env: dict[str, str], work: Path
) -> None:
    """As a user's second run finds it: the resident runner up (the first run starts it)."""
    from ytarchive.cli import runner

    if os.environ.get("YTARCHIVE_RUNNER", "").lower() == "off":
        return
    run_env = _archive_env(env, ms, api, work / "warm-up")
    _run(_ytarchive("download", lib.add_video().video_id, "-q", "360p"), run_env, work)
    deadline = time.monotonic() + 120
    while not runner.runner_ready() and time.monotonic() < deadline:
        time.sleep(0.2)
    print(f"  (runner up: {runner.runner_ready()}; YTARCHIVE_RUNNER=off runs in the command)")


def _wire_split(ms: MediaServer, began: float, ended: float) -> dict[str, float]:
    """What the stand-in saw of one run: bytes, seconds with a media request open, the rest."""
    media = [r for r in ms.requests if r.kind == "media"]
    first = min((r.started for r in media), default=ended)
    last = max((r.ended or ended for r in media), default=ended)
    busy = ms.busy_seconds("media")
    open_s = sum((r.ended or ended) - r.started for r in media)
    return {
        "bytes": ms.bytes_sent(),
        "media_bytes": ms.media_bytes(),
        "busy_s": busy,
        "mean_open": open_s / busy if busy else 0.0,
        "before_s": first - began,
        "after_s": ended - last,
        "gaps_s": (last - first) - busy,
    }


# ---------------------------------------------------------------------------------------------
# One video: streams in turn or at once, fragments at once
# ---------------------------------------------------------------------------------------------

_VARIANTS: dict[str, dict[str, Any]] = {
    "streams one after the other": {"parallel_streams": False, "concurrent_fragments": 1},
    "streams at once": {"concurrent_fragments": 1},
    "streams at once, 4 fragments each": {"concurrent_fragments": 4},
    "the same, tags and chapters embedded": {"concurrent_fragments": 4, "embed": True},
}
# The download alone: no post-processing beyond the merge (the last variant adds ours back).
_NO_EMBED = {
    "embed_metadata": False,
    "embed_chapters": False,
    "embed_thumbnail": False,
    "write_info_json": False,
    "write_description": False,
}


def one_video_streams(args: argparse.Namespace, lib: Library, work: Path) -> dict[str, Any]:
    """download_video in this process (the download alone), and plain yt-dlp, on one video."""
    from ytarchive.config import Settings
    from ytarchive.downloader import download_video, warm_up

    warm_up()
    plain = generate_dash_media(OUT / "media-cache", duration=args.duration, fps=10)
    dash = generate_dash_media(OUT / "media-cache", duration=args.dash_seconds, fps=10)
    segmented = generate_segmented_media(
        OUT / "media-cache", duration=args.dash_seconds, segment_seconds=args.segment, height=720
    )
    figures: dict[str, Any] = {}
    with MediaServer(plain, lib, bandwidth_cap=CAP) as ms:
        first = lib.add_video()  # one download first: imports and caches out of the figures
        download_video(
            first.video_id,
            Settings(output_dir=work / "warm", video_url_template=ms.url_template),
            "720p",
        )
        for label, media in (
            (f"{args.duration:g} s at 720p, one https file a stream", plain),
            (f"{args.dash_seconds:g} s at 720p, one https file a stream", dash),
            (
                f"{args.dash_seconds:g} s at 720p, a DASH timeline of {segmented.segments} "
                f"segments a stream",
                segmented,
            ),
        ):
            print(f"\n== one video: {label}, {CAP / 1e6:.1f} MB/s a connection")
            figures[label] = _streams_variants(ms, lib, media, work, args.repeat)
    return figures


def _streams_variants(
    ms: MediaServer, lib: Library, media: Any, work: Path, repeat: int
) -> dict[str, Any]:
    from ytarchive.config import Settings
    from ytarchive.downloader import download_video

    rows: dict[str, Any] = {}
    out = work / f"one-{time.monotonic_ns()}"
    for _ in range(repeat):  # the best of `repeat` tries of each, interleaved (a busy machine)
        for name, extra in _VARIANTS.items():
            options = dict(extra)
            chosen = {} if options.pop("embed", False) else _NO_EMBED
            video = lib.add_video(title=name)
            ms.set_media(video.video_id, media)
            settings = Settings(
                output_dir=out, video_url_template=ms.url_template, **chosen, **options
            )
            started = time.monotonic()
            download_video(video.video_id, settings, "720p")
            _best(rows, name, _row(ms, video.video_id, time.monotonic() - started))
        for n in (1, 4):
            video = lib.add_video()
            ms.set_media(video.video_id, media)
            seconds = _ytdlp_in_process(ms.video_url(video.video_id), n, work)
            _best(rows, f"plain yt-dlp -N {n}", _row(ms, video.video_id, seconds))
    base = rows["streams one after the other"]["seconds"]
    for name, row in rows.items():
        print(
            f"  {name:38} {row['seconds']:6.2f} s  {base / row['seconds']:4.1f}x  "
            f"(at most {row['open']} requests open, {row['mb_s']:.1f} MB/s)"
        )
    return rows


def _best(rows: dict[str, Any], name: str, row: dict[str, Any]) -> None:
    if name not in rows or row["seconds"] < rows[name]["seconds"]:
        rows[name] = row


def _ytdlp_in_process(url: str, fragments: int, work: Path) -> float:
    """Seconds of YoutubeDL.download in this process (yt-dlp's own order: streams in turn)."""
    from yt_dlp import YoutubeDL

    from ytarchive.downloader import ffmpeg_location

    options = {
        "quiet": True, "no_warnings": True, "noprogress": True, "ignoreconfig": True,
        "format": "bv*+ba/b", "format_sort": ["res:720"], "cachedir": False,
        "ffmpeg_location": ffmpeg_location(), "concurrent_fragment_downloads": fragments,
        "outtmpl": {"default": str(work / f"ytdlp-{time.monotonic_ns()}" / "%(id)s.%(ext)s")},
    }  # fmt: skip
    started = time.monotonic()
    with YoutubeDL(options) as ydl:
        if ydl.download([url]) != 0:
            raise RuntimeError(f"yt-dlp failed on {url}")
    return time.monotonic() - started


def _row(ms: MediaServer, video_id: str, seconds: float) -> dict[str, Any]:
    served = ms.media_bytes(video_id)
    return {
        "seconds": seconds,
        "bytes": served,
        "open": ms.max_in_flight(video_id),
        "mb_s": served / seconds / 1e6,
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
