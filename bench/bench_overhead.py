"""Benchmark ytarchive's own overhead against plain yt-dlp on the loopback test bed.

Prints figures (not a test), each beside its peer measured in the same run:
1. one video at 720p (2 s clip, 1.5 MB/s a connection), the local Prefect server already up:
   `ytarchive download ID` vs `yt-dlp URL` on the same stand-in URL, median of --repeat whole
   processes, ours handed to the resident runner (which the first, uncounted run starts) and in
   its own process (YTARCHIVE_RUNNER=off). Target: ours <= 1.5 x yt-dlp.
2. a --playlist (200) video playlist at 360p, 8 at once: CPU seconds a video of our process
   and its children (wait4's rusage), beside 8 plain yt-dlp processes on the same videos, and
   ffmpeg's share of each (a wrapper on PATH adds up its children's times), a run handed to
   the runner counted from the runner's log (wait4 of its child); the Prefect
   server's CPU in our run is printed beside. Our overhead = ours - our ffmpeg - (yt-dlp's
   total - its ffmpeg). Target: <= 0.25 CPU s a video.
3. peak RSS (wait4's ru_maxrss) of a --channel (5,000) video channel `--metadata-only` run and
   of a --download (500) video download run. Target: each <= 400 MB.
4. the download path alone, no Prefect: --path (40) videos at 360p, 4 at once, through
   `ytarchive.downloader.download_video` (one YoutubeDL a video, our post-processing) in a fresh
   process, beside plain yt-dlp in a fresh process (one YoutubeDL a lane, as `yt-dlp -a`); CPU
   seconds a video of that process (ffmpeg's apart), after one warm-up video each, the media
   server in the bench's own process.

Usage: uv run python bench/bench_overhead.py [--quick] [--repeat 5] [--playlist 200]
       [--channel 5000] [--download 500] [--path 40]
       uv run python bench/bench_overhead.py --repeat 0 --playlist 0 --channel 0 --download 0
           # part 4 alone: no Prefect server
--quick runs 3 / 40 / 500 / 60 / 24. The server lives under bench/out/prefect-home, as for
bench_pipeline.py, and is stopped at the end unless --keep-server.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import (  # the same test bed and server as bench_pipeline
    CAP,
    OUT,
    ApiServer,
    Library,
    MediaServer,
    _archive_env,
    _prefect_env,
    _stop_server,
    _ytarchive,
    _ytdlp,
    generate_dash_media,
)

TARGET_RATIO = 1.5
TARGET_CPU = 0.25  # CPU seconds a video of our own
TARGET_RSS = 400.0  # MB


def main() -> int:
    args = _args()
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="overhead-", dir=OUT))
    wrap = _ffmpeg_wrappers(work / "ffmpeg-bin")
    os.environ["PATH"] = f"{wrap}{os.pathsep}{os.environ['PATH']}"
    # ours runs the imageio-ffmpeg wheel's binary (ytarchive.downloader.ffmpeg_location), which
    # imageio finds through IMAGEIO_FFMPEG_EXE first: the wrapper, which runs that same binary
    os.environ["IMAGEIO_FFMPEG_EXE"] = str(wrap / "ffmpeg")
    os.environ["XDG_CACHE_HOME"] = str(work / "cache")  # where our ffmpeg/ffprobe links go
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # as a user has it: compiled modules cached
    needs_server = any((args.repeat, args.playlist, args.channel, args.download))
    env = _prefect_env() if needs_server else dict(os.environ)
    print(f"load average before: {_load()}")
    figures: dict[str, Any] = {"quick": args.quick}
    try:
        media = generate_dash_media(OUT / "media-cache", duration=2.0, fps=10)
        if args.path:
            figures["download_path"] = download_path(args.path, media, work, wrap)
        if args.repeat:
            figures["one_video"] = one_video(args.repeat, media, env, work)
        if args.playlist:
            figures["cpu"] = cpu_per_video(args.playlist, media, env, work, wrap)
        if args.channel:
            figures["metadata_only_rss"] = channel_rss(args.channel, media, env, work)
        if args.download:
            figures["download_rss"] = download_rss(args.download, media, env, work)
    finally:
        if not args.keep_server and needs_server:
            _stop_server(env)
        shutil.rmtree(work, ignore_errors=True)
    figures["load_average_after"] = _load()
    print(f"\nload average after: {figures['load_average_after']}")
    (OUT / "overhead.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"figures written to {OUT / 'overhead.json'}")
    return 0


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts (3 / 40 / 500 / 60)")
    parser.add_argument("--repeat", type=int, default=None, help="runs of part 1 (median)")
    parser.add_argument("--playlist", type=int, default=None, help="videos in part 2 (0: skip)")
    parser.add_argument("--channel", type=int, default=None, help="channel size, part 3 (0: skip)")
    parser.add_argument("--download", type=int, default=None, help="download run, part 3 (0: skip)")
    parser.add_argument("--path", type=int, default=None, help="videos in part 4 (0: skip)")
    parser.add_argument("--keep-server", action="store_true", help="leave the server running")
    args = parser.parse_args()
    sizes = (3, 40, 500, 60, 24) if args.quick else (5, 200, 5000, 500, 40)
    names = ("repeat", "playlist", "channel", "download", "path")
    for name, size in zip(names, sizes, strict=True):
        if getattr(args, name) is None:
            setattr(args, name, size)
    return args


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# ---------------------------------------------------------------------------------------------
# Measuring a process: wall seconds, CPU of it and its children, peak RSS
# ---------------------------------------------------------------------------------------------


def _spawn(cmd: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    cwd.mkdir(parents=True, exist_ok=True)
    stamp = time.monotonic_ns()
    with open(cwd / f"out-{stamp}.txt", "wb") as out, open(cwd / f"err-{stamp}.txt", "wb") as err:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=err)
    proc.out_path = Path(out.name)  # type: ignore[attr-defined]
    proc.err_path = Path(err.name)  # type: ignore[attr-defined]
    return proc


def _reap(proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    """Wait for proc: CPU seconds (it and its waited-for children), peak RSS MB, its output."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = proc.out_path.read_text(errors="replace")  # type: ignore[attr-defined]
    if proc.returncode != 0:
        err = proc.err_path.read_text(errors="replace")  # type: ignore[attr-defined]
        raise RuntimeError(f"{proc.args!r:.200} exited {proc.returncode}: {err[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return {"cpu_s": cpu, "rss_mb": usage.ru_maxrss / 1024, "out": text}


def _timed(cmds: list[tuple[list[str], Path]], env: dict[str, str]) -> dict[str, Any]:
    """Run the commands at once: wall seconds, their CPU seconds summed, the largest peak RSS,
    with those of the runs they handed to the resident runner (its log says)."""
    log = _runner_log(env)
    seen = log.stat().st_size if log.exists() else 0
    expect = (log.parent / "runner.sock").exists() and env.get("YTARCHIVE_RUNNER") != "off"
    started = time.monotonic()
    procs = [_spawn(cmd, env, cwd) for cmd, cwd in cmds]
    runs = [_reap(p) for p in procs]
    wall = time.monotonic() - started
    handed = _runner_runs(log, seen) if expect else []
    return {
        "wall_s": wall,
        "cpu_s": sum(r["cpu_s"] for r in runs) + sum(h["cpu_s"] for h in handed),
        "rss_mb": max([r["rss_mb"] for r in runs] + [h["maxrss_mb"] for h in handed]),
        "out": runs[0]["out"],
        "in_runner": bool(handed),
    }


def _runner_log(env: dict[str, str]) -> Path:
    return Path(env["PREFECT_HOME"]) / "ytarchive-server" / "runner.log"


def _runner_runs(log: Path, offset: int) -> list[dict[str, float]]:
    """The runs the runner finished since offset: their CPU seconds and peak RSS (its log)."""
    deadline = time.monotonic() + 5  # the runner reaps its children once a second
    while True:
        text = log.read_bytes()[offset:].decode(errors="replace") if log.exists() else ""
        runs = []
        for line in text.splitlines():
            if " run pid=" in line:
                fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
                runs.append({k: float(fields[k]) for k in ("cpu_s", "maxrss_mb")})
        if runs or time.monotonic() > deadline:
            return runs
        time.sleep(0.2)


def _wait_for_runner(env: dict[str, str], timeout: float = 90) -> bool:
    """Wait until the resident runner (started by a first run) takes commands."""
    deadline = time.monotonic() + timeout
    probe = [sys.executable, "-c", "from ytarchive.cli.runner import runner_ready as r; "
             "raise SystemExit(0 if r() else 1)"]  # fmt: skip
    while time.monotonic() < deadline:
        if subprocess.run(probe, env=env, check=False).returncode == 0:
            return True
        time.sleep(1)
    return False


def _ffmpeg_wrappers(folder: Path) -> Path:
    """ffmpeg and ffprobe on PATH that run the real ones (ffmpeg: the one ytarchive runs, for
    both sides) and log the CPU seconds each used (wait4, microseconds) and the wrapper's own
    (taken out of both sides' totals)."""
    from ytarchive.downloader import ffmpeg_location

    folder.mkdir(parents=True)
    for name in ("ffmpeg", "ffprobe"):
        location = ffmpeg_location() if name == "ffmpeg" else None  # the one ours runs
        real = str(Path(location).resolve()) if location else shutil.which(name)
        if real is None:
            continue
        script = folder / name
        script.write_text(
            "#!/usr/bin/python3 -SI\n"
            "import os, resource, sys\n"
            "pid = os.fork()\n"
            f"if pid == 0:\n    os.execv({real!r}, [{real!r}, *sys.argv[1:]])\n"
            "_, status, child = os.wait4(pid, 0)\n"
            "me = resource.getrusage(resource.RUSAGE_SELF)\n"
            f"with open({str(folder / 'cpu.log')!r}, 'a') as log:\n"
            "    log.write(f'{child.ru_utime + child.ru_stime} {me.ru_utime + me.ru_stime}\\n')\n"
            "code = os.waitstatus_to_exitcode(status)\n"
            "sys.exit(code if code >= 0 else 128 - code)\n"
        )
        script.chmod(0o755)
    return folder


def _take_ffmpeg_cpu(folder: Path) -> tuple[float, float]:
    """(ffmpeg's and ffprobe's CPU seconds, the wrappers' own) since the last call; forgets them."""
    log = folder / "cpu.log"
    if not log.exists():
        return 0.0, 0.0
    pairs = [tuple(map(float, line.split())) for line in log.read_text().splitlines() if line]
    log.unlink()
    return sum(p[0] for p in pairs), sum(p[1] for p in pairs)


def _server_cpu(env: dict[str, str]) -> float:
    """CPU seconds the bench's Prefect server and its children have used so far (/proc)."""
    state = Path(env["PREFECT_HOME"]) / "ytarchive-server" / "server.json"
    try:
        pids = {int(json.loads(state.read_text())["pid"])}
    except (OSError, ValueError, KeyError, TypeError):
        return float("nan")
    stats = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(stat.parent.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]))
    grown = True
    while grown:  # the server's process tree
        more = {pid for pid, (ppid, _) in stats.items() if ppid in pids}
        grown = not more <= pids
        pids |= more
    return sum(stats[p][1] for p in pids if p in stats) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# 1. one video
# ---------------------------------------------------------------------------------------------


def one_video(repeat: int, media: Any, env: dict[str, str], work: Path) -> dict[str, Any]:
    lib = Library()
    video = lib.add_video(title="One").video_id
    print(f"\n== one video at 720p, {CAP / 1e6:.1f} MB/s a connection, median of {repeat}")
    runs: dict[str, list[float]] = {"runner": [], "own": [], "ytdlp": []}
    with MediaServer(media, lib, bandwidth_cap=CAP) as ms, ApiServer(lib) as api:
        cmd = _ytarchive("download", video, "-q", "720p", "-f", "json")
        for k in range(-1, repeat):  # the first of each (k = -1) only warms the caches
            for kind, extra in (("own", {"YTARCHIVE_RUNNER": "off"}), ("runner", {})):
                run_env = {**_archive_env(env, ms, api, work / f"one-{kind}-{k}"), **extra}
                run = _timed([(cmd, work / f"one-{kind}-{k}")], run_env)
                if kind == "runner" and k >= 0 and not run["in_runner"]:
                    print("  (the runner did not take the run: counted as run in its own process)")
                runs[kind].append(run["wall_s"])
            folder = work / f"one-ytdlp-{k}"
            runs["ytdlp"].append(_timed([(_ytdlp(ms.video_url(video)), folder)], env)["wall_s"])
            if k == -1 and not _wait_for_runner(env):
                print("  (no resident runner came up: every run is in its own process)")
    median = {kind: statistics.median(values[1:]) for kind, values in runs.items()}
    plain = median["ytdlp"]
    print(
        f"  ytarchive download ID (resident runner) {median['runner']:6.2f} s  "
        f"({_list(runs['runner'][1:])})  ratio {median['runner'] / plain:.2f} (target <= 1.5)"
    )
    print(
        f"  ytarchive download ID (own process)    {median['own']:6.2f} s  "
        f"({_list(runs['own'][1:])})  ratio {median['own'] / plain:.2f}"
    )
    print(f"  yt-dlp URL                             {plain:6.2f} s  ({_list(runs['ytdlp'][1:])})")
    return {
        "ytarchive_runner_s": median["runner"],
        "ytarchive_own_process_s": median["own"],
        "ytdlp_s": plain,
        "ratio": median["runner"] / plain,
        "ratio_own_process": median["own"] / plain,
        "runs": runs,
    }


def _list(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


# ---------------------------------------------------------------------------------------------
# 2. CPU a video
# ---------------------------------------------------------------------------------------------


def cpu_per_video(
    n: int, media: Any, env: dict[str, str], work: Path, wrap: Path
) -> dict[str, Any]:
    lib = Library()
    videos = [lib.add_video(title=f"Cpu {i}").video_id for i in range(n)]
    playlist = lib.add_playlist(title="Cpu", video_ids=videos)
    print(f"\n== {n}-video playlist at 360p, 8 at once: CPU seconds a video")
    with MediaServer(media, lib) as ms, ApiServer(lib) as api:
        _take_ffmpeg_cpu(wrap)
        cmds = []
        for k in range(8):  # each its own folder: generic ids ("manifest") collide
            urls = work / f"cpu-urls-{k}.txt"
            urls.write_text("".join(ms.video_url(v) + "\n" for v in videos[k::8]))
            cmd = [a.replace("res:720", "res:360") for a in _ytdlp("-a", str(urls))]
            cmds.append((cmd, work / "cpu-ytdlp" / str(k)))
        plain = _timed(cmds, env)
        plain_ffmpeg, wrapper = _take_ffmpeg_cpu(wrap)
        plain["cpu_s"] -= wrapper
        run_env = _archive_env(env, ms, api, work / "cpu-ours")
        url = f"https://www.youtube.com/playlist?list={playlist.playlist_id}"
        cmd = _ytarchive("playlist", "download", url, "-q", "360p", "-j", "8", "-f", "json")
        server_before = _server_cpu(env)
        ours = _timed([(cmd, work / "cpu-ours")], run_env)
        server = _server_cpu(env) - server_before
        ours_ffmpeg, wrapper = _take_ffmpeg_cpu(wrap)
        ours["cpu_s"] -= wrapper
    summary = json.loads(ours["out"])
    assert summary["archived"] == n, {k: summary[k] for k in ("archived", "failed")}
    per = {
        "ytarchive_cpu_s": ours["cpu_s"] / n,
        "ytarchive_ffmpeg_cpu_s": ours_ffmpeg / n,
        "ytdlp_cpu_s": plain["cpu_s"] / n,
        "ytdlp_ffmpeg_cpu_s": plain_ffmpeg / n,
        "prefect_server_cpu_s": server / n,
    }
    overhead = (ours["cpu_s"] - ours_ffmpeg - (plain["cpu_s"] - plain_ffmpeg)) / n
    per["overhead_cpu_s"] = overhead
    print(f"  (our run: {'in the resident runner' if ours['in_runner'] else 'in its own process'})")
    print(
        f"  ytarchive (process + children)         {per['ytarchive_cpu_s']:6.3f} CPU s a video"
        f", of it ffmpeg {per['ytarchive_ffmpeg_cpu_s']:.3f}  ({ours['wall_s']:.1f} s wall)"
    )
    print(
        f"  8 x yt-dlp -a (processes + children)   {per['ytdlp_cpu_s']:6.3f} CPU s a video"
        f", of it ffmpeg {per['ytdlp_ffmpeg_cpu_s']:.3f}  ({plain['wall_s']:.1f} s wall)"
    )
    print(
        f"  our overhead (ours - yt-dlp's, ffmpeg out) {overhead:6.3f} CPU s a video"
        f"   (target <= {TARGET_CPU})"
    )
    server_s = per["prefect_server_cpu_s"]
    print(f"  Prefect server during our run          {server_s:6.3f} CPU s a video (long-lived)")
    return {"videos": n, **per, "ytarchive_wall_s": ours["wall_s"], "ytdlp_wall_s": plain["wall_s"]}


# ---------------------------------------------------------------------------------------------
# 3. peak RSS
# ---------------------------------------------------------------------------------------------


def channel_rss(n: int, media: Any, env: dict[str, str], work: Path) -> dict[str, Any]:
    lib = Library()
    channel = lib.add_channel(title="Big channel")
    for i in range(n):
        lib.add_video(title=f"Channel video {i}", channel=channel.channel_id)
    print(f"\n== {n}-video channel, --metadata-only: peak RSS")
    with MediaServer(media, lib) as ms, ApiServer(lib) as api:
        run_env = _archive_env(env, ms, api, work / "channel")
        url = f"https://www.youtube.com/channel/{channel.channel_id}"
        cmd = _ytarchive("playlist", "download", url, "--metadata-only", "-f", "json")
        run = _timed([(cmd, work / "channel")], run_env)
    summary = json.loads(run["out"])
    print(f"  ytarchive playlist download --metadata-only  peak RSS {run['rss_mb']:6.0f} MB"
          f"  (target <= {TARGET_RSS:.0f}), {run['wall_s']:.1f} s, "
          f"{summary['metadata_saved']} records")  # fmt: skip
    return {"videos": n, "peak_rss_mb": run["rss_mb"], "wall_s": run["wall_s"]}


def download_rss(n: int, media: Any, env: dict[str, str], work: Path) -> dict[str, Any]:
    lib = Library()
    videos = [lib.add_video(title=f"Rss {i}").video_id for i in range(n)]
    playlist = lib.add_playlist(title="Rss", video_ids=videos)
    print(f"\n== {n}-video download run at 360p, 8 at once: peak RSS")
    with MediaServer(media, lib) as ms, ApiServer(lib) as api:
        run_env = _archive_env(env, ms, api, work / "rss")
        url = f"https://www.youtube.com/playlist?list={playlist.playlist_id}"
        cmd = _ytarchive("playlist", "download", url, "-q", "360p", "-j", "8", "-f", "json")
        run = _timed([(cmd, work / "rss")], run_env)
    summary = json.loads(run["out"])
    print(f"  ytarchive playlist download            peak RSS {run['rss_mb']:6.0f} MB"
          f"  (target <= {TARGET_RSS:.0f}), {run['wall_s']:.1f} s, "
          f"{summary['archived']} archived")  # fmt: skip
    return {"videos": n, "peak_rss_mb": run["rss_mb"], "wall_s": run["wall_s"]}


# ---------------------------------------------------------------------------------------------
# 4. the download path alone, in its own process
# ---------------------------------------------------------------------------------------------

PATH_LANES = 4


def download_path(n: int, media: Any, work: Path, wrap: Path) -> dict[str, Any]:
    lib = Library()
    videos = [lib.add_video(title=f"Path {i}").video_id for i in range(n + 1)]  # +1: warm-up
    print(f"\n== the download path alone: {n} videos at 360p, {PATH_LANES} at once, no Prefect")
    rows: dict[str, Any] = {}
    with MediaServer(media, lib) as ms:
        for kind in ("ytarchive", "ytdlp"):
            folder = work / f"path-{kind}"
            folder.mkdir(parents=True)
            ids = folder / "ids.txt"
            ids.write_text("\n".join(videos) + "\n")
            cmd = [sys.executable, __file__, "--path-child", kind, ms.url_template, str(folder),
                   str(wrap)]  # fmt: skip
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"{kind} loop exited {done.returncode}: {done.stderr[-2000:]}")
            rows[kind] = json.loads(done.stdout.splitlines()[-1])
    for kind, label in (("ytarchive", "download_video, a YoutubeDL a video"),
                        ("ytdlp", "plain yt-dlp, a YoutubeDL a lane")):  # fmt: skip
        row = rows[kind]
        ffmpeg = f"ffmpeg {row['ffmpeg_cpu_s']:.3f} in {row['ffmpeg_runs']:.0f} run(s)"
        print(f"  {label:38} {row['cpu_s']:6.3f} CPU s a video, {ffmpeg}  ({row['wall_s']:.1f} s)")
    return {"videos": n, "lanes": PATH_LANES, **rows}


def _path_child(kind: str, template: str, folder: Path, wrap: Path) -> None:
    """The timed loop of part 4, in a fresh process; prints one JSON line."""
    import resource
    from concurrent.futures import ThreadPoolExecutor

    ids = (folder / "ids.txt").read_text().split()
    if kind == "ytarchive":
        from ytarchive.config import Settings
        from ytarchive.downloader import download_video

        settings = Settings(output_dir=folder / "out", video_url_template=template)

        def lane(share: list[str]) -> None:
            for video in share:
                download_video(video, settings, "360p")
    else:
        from yt_dlp import YoutubeDL

        from ytarchive.downloader import ffmpeg_location

        options = {
            "quiet": True, "no_warnings": True, "noprogress": True, "format": "bv*+ba/b",
            "format_sort": ["res:360"], "ffmpeg_location": ffmpeg_location(), "cachedir": False,
        }  # fmt: skip

        def lane(share: list[str]) -> None:
            own = folder / "out" / share[0]  # each lane its own folder: generic ids collide
            outtmpl = str(own / "%(id)s-%(autonumber)s.%(ext)s")
            with YoutubeDL({**options, "outtmpl": outtmpl}) as ydl:
                ydl.download([template.format(video_id=video) for video in share])

    lane(ids[:1])  # imports, caches, ffmpeg's version: out of the figures
    _take_ffmpeg_cpu(wrap)

    def used() -> float:
        me = resource.getrusage(resource.RUSAGE_SELF)
        return me.ru_utime + me.ru_stime

    timed, started, wall = ids[1:], used(), time.monotonic()
    with ThreadPoolExecutor(PATH_LANES) as pool:
        list(pool.map(lane, [timed[k::PATH_LANES] for k in range(PATH_LANES)]))
    cpu, wall = used() - started, time.monotonic() - wall
    log = wrap / "cpu.log"
    runs = len(log.read_text().splitlines()) if log.exists() else 0
    ffmpeg, _ = _take_ffmpeg_cpu(wrap)
    n = len(timed)
    row = {"cpu_s": cpu / n, "ffmpeg_cpu_s": ffmpeg / n, "ffmpeg_runs": runs / n, "wall_s": wall}
    print(json.dumps(row))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--path-child"]:
        _path_child(sys.argv[2], sys.argv[3], Path(sys.argv[4]), Path(sys.argv[5]))
        raise SystemExit(0)
    raise SystemExit(main())
