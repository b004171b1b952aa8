"""Benchmark the catalog: build a synthetic archive, compact it, time the read paths, print figures.

    uv run python bench/bench_catalog.py [--videos 1000000] [--root DIR] [--keep] [--no-cli]
    uv run python bench/bench_catalog.py --videos 100000 --repeat 3 --no-cli   # quick

What it prints (all measured here, nothing assumed), ending with a table of each figure issue 17
sets beside its target:
  - write: records/s through Catalog.record_* in batches; then, at full size, every write call
    of 20,000 newer rows written as archive runs write them (one call per outcome, metadata 50
    a call): their max and p99 (target: none over 1 s; no write call ever compacts);
  - the compaction's own figures, each in a process of its own (time, peak RSS): the full one
    after the build, the background step that merges the newer rows' files, the full one at the
    end;
  - in-process query times (median of repeated runs, each through a fresh Catalog, so the
    listing and DuckDB connection set-up are included) and each query kind's peak memory (its
    own subprocess, RSS high-water mark) for: storage stats, the first page of storage list,
    storage search (a mix of rare and common words, 1-3 words), settled_ids / latest_outcomes
    for 300 ids, and a `sql` aggregate; right after a full compaction (0 rows waiting), and with
    the 20,000 newer rows waiting as the background step leaves them (merged, not yet in the
    base); stats and search also with those rows still in their 10,200 files, before any merge;
  - whole CLI runs (process start to exit) of `ytarchive storage ...` on a 10,000-video archive
    and on the big one (skipped with --no-cli).
The synthetic text is shaped like real metadata: Zipf-distributed words over a 50,000-word
vocabulary, 4-10 word titles, 20-120 word descriptions with numbers and links, 3-8 tags.
"""

from __future__ import annotations

import argparse
import json
import os
import random
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
sys.path.insert(0, str(ROOT / "bench"))

from catalog_data import add_tail, build, make_videos, video_id  # noqa: E402

SEARCHES = [
    "{rare}",
    "{mid}",
    "{common}",
    "{mid} {mid2}",
    "{common} {rare}",
    "{mid} {common} {common2}",
    "{channel}",
    "{tag}",
]


# -- synthetic data ---------------------------------------------------------------------------


def disk_mb(path: Path) -> dict:
    sizes: dict[str, float] = {}
    for p in path.rglob("*"):
        if p.is_file():
            part = p.relative_to(path).parts[0]
            sizes[part] = sizes.get(part, 0) + p.stat().st_size / 1e6
    sizes["total"] = sum(sizes.values())
    return {k: round(v, 1) for k, v in sizes.items()}


# -- measuring --------------------------------------------------------------------------------


def queries(root: Path, n: int) -> dict[str, list[tuple[str, tuple]]]:
    words, channels, tags = make_videos(n)
    fill = {
        "rare": words.at_rank(20_000),
        "mid": words.at_rank(800),
        "mid2": words.at_rank(1500),
        "common": words.at_rank(20),
        "common2": words.at_rank(60),
        "channel": channels[3].split()[0],
        "tag": tags[10].split()[0],
    }
    rng = random.Random(3)
    ids = [video_id(rng.randrange(n)) for _ in range(300)]
    return {
        "stats": [("stats", ())],
        "list_first_page": [("list_videos", (None, 50, 0))],
        "list_failed_page": [("list_videos", ("failed", 50, 0))],
        "search": [("search", (q.format(**fill), 50)) for q in SEARCHES],
        "settled_ids_300": [("settled_ids", (ids,))],
        "latest_outcomes_300": [("latest_outcomes", (ids,))],
        "sql_group_by": [
            ("sql", ("SELECT status, count(*), sum(bytes) FROM downloads GROUP BY 1",))
        ],
    }


def measure_kind(root: Path, n: int, kind: str, repeat: int) -> dict:
    """Run one kind of query `repeat` times per variant (fresh Catalog each); times in ms.

    Wall time is what the issue's targets are about; CPU time (this process, all DuckDB
    threads) is printed beside it because on a shared machine wall time also counts the time
    other processes held the CPU.
    """
    _reset_peak_rss()
    from ytarchive.catalog import Catalog

    times: list[float] = []
    cpu: list[float] = []
    per_query = {}
    for method, args in queries(root, n)[kind]:
        getattr(Catalog(root), method)(*args)  # warm the page cache and the imports
        mine = []
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            result = getattr(Catalog(root), method)(*args)
            mine.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        times += mine
        size = len(result) if hasattr(result, "__len__") else None
        per_query[str(args[0]) if args else method] = {
            "median_ms": round(statistics.median(mine), 1),
            "results": size,
        }
    return {
        "median_ms": round(statistics.median(times), 1),
        "median_cpu_ms": round(statistics.median(cpu), 1),
        "p90_ms": round(sorted(times)[int(0.9 * (len(times) - 1))], 1),
        "peak_rss_mb": _peak_rss_mb(),
        "queries": per_query if len(per_query) > 1 else None,
    }


def _reset_peak_rss() -> None:
    """Forget the high-water mark this process inherited (a forked child starts with its
    parent's); Linux resets VmHWM when 5 is written to clear_refs."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def measure_all(root: Path, n: int, repeat: int, kinds: tuple[str, ...] = ()) -> dict:
    out = {}
    for kind in kinds or tuple(queries(root, n)):
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--measure",
                kind,
                "--root",
                str(root),
                "--videos",
                str(n),
                "--repeat",
                str(repeat),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode:
            raise SystemExit(f"measuring {kind} failed:\n{proc.stderr}")
        out[kind] = json.loads(proc.stdout)
    return out


def cli_runs(root: Path, repeat: int = 5, bytecode_cache: bool = True) -> dict:
    """Whole runs of the console command, process start to exit. With bytecode_cache (the
    normal case) Python reuses the .pyc files the first run wrote; without, as under
    PYTHONDONTWRITEBYTECODE=1 with no .pyc files, every start compiles every module again."""
    env = {**os.environ, "YTARCHIVE_OUTPUT_DIR": str(root), "COLUMNS": "160"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not bytecode_cache:  # an empty cache that nothing may write to
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="ytarchive-nopyc-")
    commands = {
        "storage stats": ["storage", "stats"],
        "storage list": ["storage", "list", "--limit", "50"],
        "storage search": ["storage", "search", "music", "live"],
        "storage stats --format json": ["storage", "stats", "--format", "json"],
    }
    out = {}
    for name, args in commands.items():
        wall, cpu = [], []
        for _ in range(repeat + 1):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "ytarchive", *args],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            wall.append(time.perf_counter() - t0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        out[name] = {
            "median_wall_s": round(statistics.median(wall[1:]), 3),
            "median_cpu_s": round(statistics.median(cpu[1:]), 3),
        }
    return out


def timed_compact(root: Path, background: bool = False) -> dict:
    """A full compaction (or the background step, Catalog.maintain) in a process of its own:
    seconds, what it merged, its peak RSS."""
    step = "maintain()" if background else "compact()"
    code = (
        "import json, sys, time; from pathlib import Path;"
        f"sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(ROOT / 'bench')!r});"
        "import bench_catalog as b; b._reset_peak_rss(); from ytarchive.catalog import Catalog;"
        f"t = time.perf_counter(); r = Catalog(Path(sys.argv[1])).{step};"
        "print(json.dumps({'seconds': round(time.perf_counter() - t, 1), 'merged': r,"
        "'peak_rss_mb': b._peak_rss_mb()}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout)


def single_writes(root: Path, count: int = 200) -> dict:
    from ytarchive.catalog import Catalog
    from ytarchive.models import DownloadResult

    times = []
    for i in range(count):
        t0 = time.perf_counter()
        Catalog(root).record_outcomes([DownloadResult(video_id=f"single{i}", status="failed")])
        times.append((time.perf_counter() - t0) * 1000)
    return {
        "median_ms": round(statistics.median(times), 2),
        "max_ms": round(max(times), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=1_000_000)
    parser.add_argument(
        "--root", type=Path, default=None, help="Archive root (default: a temp dir)"
    )
    parser.add_argument("--keep", action="store_true", help="Keep the archive afterwards")
    parser.add_argument("--reuse", action="store_true", help="Use the catalog already at --root")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-cli", action="store_true", help="Skip the whole-CLI runs")
    parser.add_argument("--measure", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure_kind(args.root, args.videos, args.measure, args.repeat)))
        return
    root = args.root or Path(tempfile.mkdtemp(prefix="ytarchive-bench-"))
    try:
        report = run(root, args.videos, args.repeat, reuse=args.reuse, cli=not args.no_cli)
    finally:
        if not args.keep and args.root is None:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(report, indent=2))
    print(targets_table(report))


def run(root: Path, n: int, repeat: int, reuse: bool = False, cli: bool = True) -> dict:
    started = time.perf_counter()
    report: dict = {"videos": n, "cpus": os.cpu_count(), "load_avg_start": os.getloadavg()}
    print(f"building {n:,} videos under {root}", file=sys.stderr)
    if not reuse:
        built = build(root, n)
        report["write"] = {
            "rows": built["rows"],
            "seconds": round(built["write_seconds"], 1),
            "rows_per_s": round(built["rows"] / built["write_seconds"]),
            "note": "batches of 10,000; no write call compacts",
        }
        report["compaction_after_build"] = timed_compact(root)
    report["disk_mb"] = disk_mb(root / "catalog")
    print("measuring queries (compacted)", file=sys.stderr)
    report["queries_compacted"] = measure_all(root, n, repeat)
    if cli:
        cli_figures(root, report)
    print("20,000 newer rows, written as archive runs write them", file=sys.stderr)
    report["write_calls_at_full_size"] = add_tail(root, n)
    files = sum(1 for _ in (root / "catalog").glob("*/batch-*.parquet"))
    print(f"measuring stats and search over the {files:,} files before a merge", file=sys.stderr)
    report[f"queries_with_20k_rows_in_{files}_files_unmerged"] = unmerged(root, n)
    print("the background step (storage compact --if-needed)", file=sys.stderr)
    report["background_merge"] = timed_compact(root, background=True)
    print("measuring queries with the 20,000 rows waiting, merged", file=sys.stderr)
    report["queries_with_20k_rows_waiting"] = measure_all(root, n, repeat)
    print("a full compaction of everything, the newer rows included", file=sys.stderr)
    report["full_compaction"] = timed_compact(root)
    report["disk_mb_after"] = disk_mb(root / "catalog")
    report["load_avg_end"] = os.getloadavg()
    report["bench"] = {  # its children's peaks are their own figures above (each resets its
        # high-water mark: a forked child starts with its parent's, so RUSAGE_CHILDREN misleads)
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    return report


def unmerged(root: Path, n: int) -> dict:
    """stats and one search, once each, over the newer rows' own files (slow: for contrast)."""
    from ytarchive.catalog import Catalog

    out = {}
    for kind in ("stats", "search"):
        method, args = queries(root, n)[kind][0]
        t0 = time.perf_counter()
        getattr(Catalog(root), method)(*args)
        out[kind] = {"ms": round((time.perf_counter() - t0) * 1000, 1)}
    return out


def cli_figures(root: Path, report: dict) -> None:
    print("whole CLI runs", file=sys.stderr)
    report["cli_runs_big"] = cli_runs(root)
    small = root.parent / (root.name + "-10k")
    shutil.rmtree(small, ignore_errors=True)
    build(small, 10_000, quiet=True)
    report["cli_runs_10k_uncompacted"] = cli_runs(small)
    Catalog = __import__("ytarchive.catalog", fromlist=["Catalog"]).Catalog
    Catalog(small).compact()
    report["cli_runs_10k"] = cli_runs(small)
    report["cli_runs_10k_without_bytecode_cache"] = cli_runs(small, bytecode_cache=False)
    report["single_record_writes_10k"] = single_writes(small)
    shutil.rmtree(small, ignore_errors=True)


def targets_table(report: dict) -> str:
    """Issue 17's catalog figures, each beside its target."""
    n = f"{report['videos']:,} videos"
    calls = report["write_calls_at_full_size"]
    rows: list[tuple[str, float | None, str, float | None]] = [
        (f"write call, max ({calls['calls']:,} calls)", calls["max_ms"], "ms", 1000),
        ("write call, p99", calls["p99_ms"], "ms", 1000),
    ]
    for label, key in (
        ("0 rows waiting", "queries_compacted"),
        ("20,000 rows waiting", "queries_with_20k_rows_waiting"),
    ):
        q = report[key]
        worst = max(v["median_ms"] for v in q["search"]["queries"].values())
        rows += [
            (f"stats, {label}", q["stats"]["median_ms"], "ms", 100),
            (f"search, {label} (median of 8)", q["search"]["median_ms"], "ms", 150),
            (f"search, {label} (slowest query)", worst, "ms", 150),
            (f"  stats / search CPU, {label} (median)", q["stats"]["median_cpu_ms"], "ms", None),
            ("", q["search"]["median_cpu_ms"], "ms", None),
            (f"  list, first page, {label}", q["list_first_page"]["median_ms"], "ms", None),
            (f"  settled_ids of 300 ids, {label}", q["settled_ids_300"]["median_ms"], "ms", None),
        ]
    for key in report:
        if key.endswith("_unmerged"):
            q = report[key]
            files = key.split("_in_")[1].split("_")[0]
            label = f"20,000 rows in {files} files unmerged"
            rows += [
                (f"stats, {label}", q["stats"]["ms"], "ms", None),
                (f"search, {label}", q["search"]["ms"], "ms", None),
            ]
    for label, key in (
        ("full compaction after the build", "compaction_after_build"),
        ("background merge of the 20,000 rows", "background_merge"),
        ("full compaction at the end", "full_compaction"),
    ):
        if key in report:
            rows += [
                (f"{label}: time", report[key]["seconds"], "s", None),
                (f"{label}: peak RSS", report[key]["peak_rss_mb"], "MB", None),
            ]
    if "bench" in report:
        me = report["bench"]
        rows += [
            ("this bench: wall time", me["seconds"], "s", None),
            ("this bench: peak RSS of its own process", me["peak_rss_mb"], "MB", None),
        ]
    load = ", ".join(f"{x:.1f}" for x in report["load_avg_start"])
    end = ", ".join(f"{x:.1f}" for x in report.get("load_avg_end", ()))
    lines = [f"catalog at {n} ({report['cpus']} cpus, load average at start {load}, end {end})"]
    lines.append(f"{'figure':<58} {'measured':>12} {'target':>12}")
    for label, value, unit, target in rows:
        label = label or "    (search)"
        goal = f"<= {target:g} {unit}" if target is not None else "(none)"
        mark = "" if target is None else ("  ok" if value <= target else "  OVER")
        lines.append(f"{label:<58} {value:>9g} {unit:<2} {goal:>12}{mark}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
