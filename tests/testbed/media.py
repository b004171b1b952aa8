"""Test media: DASH renditions made once with ffmpeg (cached by parameters), and probe()."""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "DashMedia",
    "Rendition",
    "VIDEO_SIZES",
    "ffmpeg_exe",
    "ffprobe_exe",
    "generate_dash_media",
    "probe",
]

VIDEO_SIZES = ((1920, 1080), (1280, 720), (640, 360))
_GENERATOR_VERSION = 1  # bump when the output layout changes, to invalidate caches


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """ffmpeg on PATH, else the static binary of the imageio-ffmpeg wheel."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@lru_cache(maxsize=1)
def ffprobe_exe() -> str | None:
    """ffprobe on PATH, or None (probe() then parses `ffmpeg -i`)."""
    return shutil.which("ffprobe")


@dataclass(frozen=True)
class Rendition:
    """One representation: a whole mp4/m4a file the manifest points at with a relative URL."""

    rep_id: str
    filename: str
    mime_type: str
    codecs: str
    bandwidth: int
    width: int | None = None
    height: int | None = None

    @property
    def is_video(self) -> bool:
        return self.width is not None


@dataclass(frozen=True)
class DashMedia:
    """A generated set: manifest.mpd plus one file per rendition, all in `directory`."""

    directory: Path
    duration: float
    fps: int
    renditions: tuple[Rendition, ...]

    @property
    def manifest_path(self) -> Path:
        return self.directory / "manifest.mpd"

    @property
    def manifest(self) -> bytes:
        return self.manifest_path.read_bytes()

    @property
    def files(self) -> dict[str, Path]:
        """Served file name -> path (the names the manifest references)."""
        return {r.filename: self.directory / r.filename for r in self.renditions}

    def path(self, height: int | None = None) -> Path:
        """The file of the video rendition with this height, or the audio file for None."""
        for r in self.renditions:
            if r.height == height:
                return self.directory / r.filename
        raise KeyError(height)

    @property
    def total_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.files.values())


def _avc_codecs(path: Path) -> str:
    """RFC 6381 codecs string (avc1.PPCCLL) read from the avcC box."""
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        at = mm.find(b"avcC")
        if at < 0:
            return "avc1.42c01f"
        return "avc1." + mm[at + 5 : at + 8].hex()


def _mpd(duration: float, fps: int, renditions: tuple[Rendition, ...]) -> str:
    """An on-demand MPD with plain BaseURLs: yt-dlp then fetches each file as one direct URL.

    (ffmpeg's own `-f dash -single_file 1` writes SegmentList/mediaRange entries without
    @media/@sourceURL, which yt-dlp's MPD parser cannot read.)
    """
    video = [r for r in renditions if r.is_video]
    audio = [r for r in renditions if not r.is_video]

    def rep(r: Rendition) -> str:
        size = f' width="{r.width}" height="{r.height}" frameRate="{fps}"' if r.is_video else ""
        extra = (
            ""
            if r.is_video
            else '\n        <AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:'
            'audio_channel_configuration:2011" value="1"/>'
        )
        return (
            f'      <Representation id="{r.rep_id}" mimeType="{r.mime_type}" codecs="{r.codecs}"'
            f' bandwidth="{r.bandwidth}"{size}>{extra}\n'
            f"        <BaseURL>{r.filename}</BaseURL>\n"
            "      </Representation>"
        )

    return "\n".join(
        [
            '<?xml version="1.0" encoding="utf-8"?>',
            '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"'
            ' profiles="urn:mpeg:dash:profile:isoff-on-demand:2011"'
            f' mediaPresentationDuration="PT{duration:.3f}S" minBufferTime="PT1.500S">',
            '  <Period id="0" start="PT0S">',
            '    <AdaptationSet id="0" contentType="video" segmentAlignment="true"'
            ' startWithSAP="1">',
            *(rep(r) for r in video),
            "    </AdaptationSet>",
            '    <AdaptationSet id="1" contentType="audio" lang="en" segmentAlignment="true"'
            ' startWithSAP="1">',
            *(rep(r) for r in audio),
            "    </AdaptationSet>",
            "  </Period>",
            "</MPD>",
            "",
        ]
    )


def _encode(directory: Path, duration: float, fps: int) -> None:
    """One ffmpeg run: testsrc2 split and scaled to every size, plus a sine AAC track."""
    labels = [f"v{h}" for _, h in VIDEO_SIZES]
    chains = [f"[0:v]split={len(VIDEO_SIZES)}" + "".join(f"[s{i}]" for i in range(len(labels)))]
    for i, ((w, h), label) in enumerate(zip(VIDEO_SIZES, labels, strict=True)):
        chains.append(f"[s{i}]scale={w}:{h}[{label}]")
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate={fps}:duration={duration}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={duration}",
        "-filter_complex", ";".join(chains),
    ]  # fmt: skip
    x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", str(fps * 2)]
    for (_, h), label in zip(VIDEO_SIZES, labels, strict=True):
        cmd += ["-map", f"[{label}]", *x264, "-an", "-movflags", "+faststart"]
        cmd += [str(directory / f"video-{h}p.mp4")]
    cmd += ["-map", "1:a", "-c:a", "aac", "-b:a", "64k", "-vn", "-movflags", "+faststart"]
    cmd += [str(directory / "audio.m4a")]
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)


def _describe(directory: Path, duration: float) -> tuple[Rendition, ...]:
    def bandwidth(name: str) -> int:
        return int((directory / name).stat().st_size * 8 / duration)

    reps = [
        Rendition(
            f"{h}p",
            f"video-{h}p.mp4",
            "video/mp4",
            _avc_codecs(directory / f"video-{h}p.mp4"),
            bandwidth(f"video-{h}p.mp4"),
            w,
            h,
        )
        for w, h in VIDEO_SIZES
    ]
    reps.append(Rendition("audio", "audio.m4a", "audio/mp4", "mp4a.40.2", bandwidth("audio.m4a")))
    return tuple(reps)


def _load(directory: Path) -> DashMedia:
    meta = json.loads((directory / "media.json").read_text())
    reps = tuple(Rendition(**r) for r in meta["renditions"])
    return DashMedia(directory, meta["duration"], meta["fps"], reps)


def generate_dash_media(cache_root: Path, duration: float = 2.0, fps: int = 10) -> DashMedia:
    """Make (or reuse from `cache_root`) the renditions and manifest for these parameters."""
    key = hashlib.sha256(
        f"{_GENERATOR_VERSION}:{duration}:{fps}:{VIDEO_SIZES}".encode()
    ).hexdigest()[:12]
    final = Path(cache_root) / f"dash-{key}"
    if (final / "media.json").is_file():
        return _load(final)
    Path(cache_root).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".dash-{key}-", dir=cache_root))
    try:
        _encode(work, duration, fps)
        reps = _describe(work, duration)
        (work / "manifest.mpd").write_text(_mpd(duration, fps, reps))
        meta = {"duration": duration, "fps": fps, "renditions": [r.__dict__ for r in reps]}
        (work / "media.json").write_text(json.dumps(meta, indent=1))  # written last
        try:
            os.rename(work, final)  # atomic; a concurrent session may have won the race
        except OSError:
            if not (final / "media.json").is_file():
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return _load(final)


# ---------------------------------------------------------------------------------------------
# probe
# ---------------------------------------------------------------------------------------------


def probe(path: str | os.PathLike[str]) -> dict[str, object]:
    """{"width", "height", "has_audio", "duration"} of a media file (ffprobe, else ffmpeg -i)."""
    tool = ffprobe_exe()
    if tool:
        out = subprocess.run(
            [tool, "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
            check=True, capture_output=True, text=True, timeout=60,
        ).stdout  # fmt: skip
        info = json.loads(out)
        streams = info.get("streams", [])
        video: dict[str, Any] = next((s for s in streams if s.get("codec_type") == "video"), {})
        duration = info.get("format", {}).get("duration")
        return {
            "width": video.get("width"),
            "height": video.get("height"),
            "has_audio": any(s.get("codec_type") == "audio" for s in streams),
            "duration": float(duration) if duration else None,
        }
    err = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True, timeout=60
    ).stderr
    size = re.search(r"Stream #.*?Video:.*?\b(\d{2,5})x(\d{2,5})\b", err)
    dur = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", err)
    return {
        "width": int(size.group(1)) if size else None,
        "height": int(size.group(2)) if size else None,
        "has_audio": bool(re.search(r"Stream #.*?Audio:", err)),
        "duration": (
            int(dur.group(1)) * 3600 + int(dur.group(2)) * 60 + float(dur.group(3)) if dur else None
        ),
    }
