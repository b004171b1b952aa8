"""Test media with a many-segment DASH timeline (SegmentTemplate + SegmentTimeline), by ffmpeg."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.testbed.media import ffmpeg_exe

__all__ = ["SegmentedMedia", "generate_segmented_media"]

_GENERATOR_VERSION = 1
_META = "segmented.json"


@dataclass(frozen=True)
class SegmentedMedia:
    """manifest.mpd plus init and media segments of one video and one audio representation.

    yt-dlp reads the timeline into fragments and downloads them with its DashSegmentsFD, so
    `concurrent_fragment_downloads` applies (unlike DashMedia's one-file-per-rendition set).
    """

    directory: Path
    duration: float
    segment_seconds: float
    height: int

    @property
    def manifest(self) -> bytes:
        return (self.directory / "manifest.mpd").read_bytes()

    @property
    def files(self) -> dict[str, Path]:
        """Served name -> path: every init and media segment the manifest references."""
        return {p.name: p for p in sorted(self.directory.glob("*.m4s"))}

    @property
    def segments(self) -> int:
        """Media segments of the video representation (the timeline's length)."""
        return sum(1 for name in self.files if name.startswith("chunk-0-"))

    @property
    def total_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.files.values())


def _encode(directory: Path, duration: float, segment: float, height: int, fps: int) -> None:
    gop = max(1, round(segment * fps))  # a keyframe opens every segment
    width = height * 16 // 9 // 2 * 2
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}:duration={duration}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={duration}",
        "-map", "0:v", "-map", "1:a",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
        "-c:a", "aac", "-b:a", "64k",
        "-f", "dash", "-seg_duration", str(segment), "-use_template", "1", "-use_timeline", "1",
        "-init_seg_name", "init-$RepresentationID$.m4s",
        "-media_seg_name", "chunk-$RepresentationID$-$Number%05d$.m4s",
        "-adaptation_sets", "id=0,streams=v id=1,streams=a",
        str(directory / "manifest.mpd"),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)


def generate_segmented_media(
    cache_root: Path,
    duration: float = 2.0,
    segment_seconds: float = 0.2,
    height: int = 360,
    fps: int = 10,
) -> SegmentedMedia:
    """Make (or reuse from `cache_root`) a segmented set: duration / segment_seconds segments."""
    spec = f"{_GENERATOR_VERSION}:{duration}:{segment_seconds}:{height}:{fps}"
    key = hashlib.sha256(spec.encode()).hexdigest()[:12]
    final = Path(cache_root) / f"segmented-{key}"
    media = SegmentedMedia(final, duration, segment_seconds, height)
    if (final / _META).is_file():
        return media
    Path(cache_root).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".segmented-{key}-", dir=cache_root))
    try:
        _encode(work, duration, segment_seconds, height, fps)
        (work / _META).write_text(json.dumps({"spec": spec}))  # written last
        try:
            os.rename(work, final)  # atomic; a concurrent session may have won the race
        except OSError:
            if not (final / _META).is_file():
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return media
