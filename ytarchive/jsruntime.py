"""The JavaScript runtime yt-dlp needs for YouTube's challenges, and how old yt-dlp's release is."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime

# No yt_dlp import here: `health` and the downloader's option building call this cheaply.

__all__ = [
    "MIN_VERSIONS",
    "STALE_AFTER_DAYS",
    "UPGRADE_YTDLP",
    "JsRuntime",
    "ReleaseAge",
    "find_js_runtime",
    "runtime_version",
    "ytdlp_js_runtimes",
    "ytdlp_release_age",
]

# The oldest version of each runtime yt-dlp accepts (yt_dlp/utils/_jsruntime.py), in the order
# we look for them: the deno wheel (a dependency) first, then whatever is on PATH.
MIN_VERSIONS: dict[str, tuple[int, ...]] = {
    "deno": (2, 3, 0),
    "node": (22, 0, 0),
    "bun": (1, 2, 11),
}
_VERSION_OUTPUT = {"deno": r"^deno (\S+)", "node": r"^v(\S+)", "bun": r"^(\S+)"}
STALE_AFTER_DAYS = 60  # YouTube breaks old yt-dlp releases within weeks
UPGRADE_YTDLP = "uv lock --upgrade-package yt-dlp && uv sync"


@dataclass(frozen=True)
class JsRuntime:
    """A JavaScript runtime yt-dlp can run YouTube's challenge solver with."""

    name: str
    path: str
    version: str

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


@dataclass(frozen=True)
class ReleaseAge:
    """The installed yt-dlp release and how many days old it is."""

    version: str
    released: date
    days: int

    @property
    def stale(self) -> bool:
        return self.days > STALE_AFTER_DAYS


def _wheel_deno() -> str | None:
    """The binary the `deno` wheel installed next to this interpreter, if any."""
    try:
        import deno

        return str(deno.find_deno_bin())
    except (ImportError, FileNotFoundError, OSError):
        return None


def _candidates() -> list[tuple[str, str]]:
    found = [("deno", wheel)] if (wheel := _wheel_deno()) else []
    for name in MIN_VERSIONS:
        on_path = shutil.which(name)
        if on_path and (name, on_path) not in found:
            found.append((name, on_path))
    return found


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def runtime_version(name: str, path: str, timeout: float = 15.0) -> str | None:
    """`path --version` parsed as yt-dlp parses it, or None when it does not run."""
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=timeout, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(_VERSION_OUTPUT[name], out, re.MULTILINE)
    return match.group(1) if match else None


def find_js_runtime() -> JsRuntime | None:
    """The first runtime that runs and that yt-dlp supports: the deno wheel, else deno, node or
    bun on PATH. None when there is none (YouTube then offers only storyboards)."""
    for name, path in _candidates():
        version = runtime_version(name, path)
        if version and _version_tuple(version) >= MIN_VERSIONS[name]:
            return JsRuntime(name, path, version)
    return None


def ytdlp_js_runtimes(runtime: JsRuntime | None) -> dict[str, dict[str, str]]:
    """yt-dlp's `js_runtimes` option naming the runtime's binary (so a worker whose PATH lacks
    the virtualenv finds it too); empty when there is no runtime."""
    return {runtime.name: {"path": runtime.path}} if runtime else {}


def ytdlp_release_age(today: date | None = None) -> ReleaseAge | None:
    """The installed yt-dlp's version and its age in days (its version is its release date);
    None when yt-dlp is not installed or its version is not a date."""
    try:
        version = importlib.metadata.version("yt-dlp")
    except importlib.metadata.PackageNotFoundError:
        return None
    parts = version.split(".")
    try:
        released = date(int(parts[0]), int(parts[1]), int(parts[2]))
    except (IndexError, ValueError):
        return None
    today = today or datetime.now(UTC).date()
    return ReleaseAge(version, released, (today - released).days)
