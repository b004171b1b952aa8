"""Small helpers the tests share: run the real CLI, look at what an archive holds."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m ytarchive ARGS` in a subprocess, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "ytarchive", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout,
    )


SIDECAR_SUFFIXES = (".info.json", ".description", ".nfo", ".vtt", ".srt", ".ass", ".lrc")


def video_files(root: Path) -> list[Path]:
    """The media files under <archive>/videos (any folder depth; not their sidecars), sorted."""
    folder = root / "videos"
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(SIDECAR_SUFFIXES)
    )


def assert_no_partials(root: Path) -> None:
    """No .part/.ytdl/temp file anywhere in the archive, and no download left in .tmp/."""
    partial = [p for p in root.rglob("*") if p.suffix in (".part", ".ytdl") or ".temp." in p.name]
    assert partial == []
    staged = [  # an atomic write's temp file (.<name>.<random>.tmp) left beside the files
        p
        for folder in ("videos", "metadata", "thumbnails")
        for p in (root / folder).rglob(".*.tmp")
        if p.is_file()
    ]
    assert staged == [], staged
    tmp = root / ".tmp"  # .tmp/<host>/<key>: an empty host dir holds no download
    assert not tmp.exists() or [p for h in tmp.iterdir() for p in h.iterdir()] == []


def cli_in_process(capsys: Any, *args: str) -> tuple[int, str, str]:
    """Run the CLI in this process, as `ytarchive ARGS`: (exit code, stdout, stderr)."""
    from ytarchive.cli import main

    try:
        code = main(list(args))
    except SystemExit as exc:  # our errors: one line on stderr and an exit code
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `predicate` every 0.1 s; AssertionError naming `what` once `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
