"""The generated DASH set: three video sizes plus audio, a manifest yt-dlp can read, probe()."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import imageio_ffmpeg
import pytest

from tests.testbed import media as media_mod
from tests.testbed.media import DashMedia, generate_dash_media, probe

NS = {"d": "urn:mpeg:dash:schema:mpd:2011"}


def test_renditions_have_the_promised_sizes(dash_media: DashMedia) -> None:
    for height, width in ((1080, 1920), (720, 1280), (360, 640)):
        info = probe(dash_media.path(height))
        assert (info["width"], info["height"], info["has_audio"]) == (width, height, False)
        assert info["duration"] == pytest.approx(2.0, abs=0.2)
    audio = probe(dash_media.path(None))
    assert audio["has_audio"] and audio["width"] is None


def test_manifest_points_at_every_file_with_relative_urls(dash_media: DashMedia) -> None:
    root = ET.fromstring(dash_media.manifest)
    reps = root.findall(".//d:Representation", NS)
    urls = {r.find("d:BaseURL", NS).text for r in reps}  # type: ignore[union-attr]
    assert urls == set(dash_media.files)
    assert all(not u.startswith(("http", "/")) for u in urls)
    heights = sorted(int(r.get("height", 0)) for r in reps if r.get("height"))
    assert heights == [360, 720, 1080]
    assert all(r.get("codecs") for r in reps)


def test_generation_is_cached_by_parameters(dash_media: DashMedia, tmp_path: Path) -> None:
    again = generate_dash_media(dash_media.directory.parent)
    assert again == dash_media


def test_probe_without_ffprobe_parses_ffmpeg(
    dash_media: DashMedia, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(media_mod, "ffprobe_exe", lambda: None)
    info = probe(dash_media.path(720))
    assert (info["width"], info["height"], info["has_audio"]) == (1280, 720, False)
    assert info["duration"] == pytest.approx(2.0, abs=0.2)


def test_imageio_ffmpeg_fallback_binary_exists() -> None:
    exe = Path(imageio_ffmpeg.get_ffmpeg_exe())
    assert exe.is_file() and exe.name.startswith("ffmpeg")
