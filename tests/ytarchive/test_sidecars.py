"""The complete archive of one video: subtitles, info.json, description, tags, cover, NFO."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.helpers import assert_no_partials, video_files
from ytarchive.archiving import archive_video
from ytarchive.catalog import Catalog
from ytarchive.config import Settings
from ytarchive.models import VideoMetadata

pytestmark = pytest.mark.slow

DESCRIPTION = "A film in parts.\n\n0:00 Opening\n0:20 Middle part\n0:45 The end\n"


def _record(bed, video) -> VideoMetadata:
    """The metadata the Data API stand-in gives for the video (what the metadata task makes)."""
    from ytarchive.youtube_api import YouTubeAPI

    api = YouTubeAPI(Settings())
    [record] = api.videos([video.video_id])
    return record


def _ffprobe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format",
         "-show_chapters", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout)


def test_subtitles_become_sidecars_catalog_rows_and_streams(ytarchive_env, monkeypatch) -> None:
    bed = ytarchive_env.testbed
    video = bed.lib.add_video(title="Spoken", subtitles=("en", "de", "fr"))
    monkeypatch.setenv("YTARCHIVE_SUBTITLES", "en,de")
    root = ytarchive_env.output_dir
    result = archive_video(video.video_id, "360p", Settings(), record=_record(bed, video))
    assert result.status == "archived"
    [media] = video_files(root)
    stem = media.name[: -len(media.suffix)]
    for lang in ("en", "de"):
        sub = media.with_name(f"{stem}.{lang}.vtt")
        assert sub.read_text().startswith("WEBVTT")
    assert not media.with_name(f"{stem}.fr.vtt").exists()
    streams = _ffprobe(media)["streams"]
    assert [s["codec_type"] for s in streams].count("subtitle") == 2
    _, rows = Catalog(root).sql(
        "SELECT s.lang, s.automatic, s.path FROM downloads, unnest(subtitles) AS t(s) "
        f"WHERE video_id = '{video.video_id}' ORDER BY s.lang"
    )
    assert rows == [
        ("de", False, f"videos/{stem}.de.vtt"),
        ("en", False, f"videos/{stem}.en.vtt"),
    ]
    assert_no_partials(root)


def test_default_archive_has_info_json_description_tags_cover_and_chapters(
    ytarchive_env, tmp_path
) -> None:
    bed = ytarchive_env.testbed
    video = bed.lib.add_video(title="Whole", description=DESCRIPTION, duration=65)
    root = ytarchive_env.output_dir
    record = _record(bed, video)
    assert [c.title for c in record.chapters] == ["Opening", "Middle part", "The end"]
    result = archive_video(video.video_id, "360p", Settings(), record=record)
    assert result.status == "archived"
    [media] = video_files(root)
    stem = media.name[: -len(media.suffix)]
    info_json = media.with_name(f"{stem}.info.json")
    text = info_json.read_text()
    assert "cookies" not in text and "http_headers" not in text
    loaded = subprocess.run(
        [sys.executable, "-m", "yt_dlp", "--ignore-config", "--load-info-json", str(info_json),
         "--simulate", "-o", str(tmp_path / "x.%(ext)s")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    assert media.with_name(f"{stem}.description").read_text() == DESCRIPTION
    probe = _ffprobe(media)
    tags = {k.lower(): v for k, v in probe["format"]["tags"].items()}
    assert tags["title"] == "Whole"
    assert tags["date"] == record.published_at.strftime("%Y%m%d")
    assert tags["artist"] == record.channel_title
    assert "description" in tags or "synopsis" in tags
    cover = [s for s in probe["streams"] if s.get("disposition", {}).get("attached_pic")]
    assert len(cover) == 1
    assert [c["tags"]["title"] for c in probe["chapters"]] == ["Opening", "Middle part", "The end"]
    assert (root / "thumbnails" / f"{video.video_id}.jpg").is_file()
    meta = json.loads((root / "metadata" / f"{video.video_id}.json").read_text())
    assert [c["start_time"] for c in meta["chapters"]] == [0, 20, 45]


def test_opting_out_writes_no_info_json_or_description(ytarchive_env, monkeypatch) -> None:
    monkeypatch.setenv("YTARCHIVE_WRITE_INFO_JSON", "false")
    monkeypatch.setenv("YTARCHIVE_WRITE_DESCRIPTION", "false")
    bed = ytarchive_env.testbed
    video = bed.lib.add_video(description=DESCRIPTION)
    archive_video(video.video_id, "360p", Settings(), record=_record(bed, video))
    folder = ytarchive_env.output_dir / "videos"
    assert [p.suffix for p in folder.iterdir()] == [".mp4"]


def test_kodi_nfo_beside_each_video_and_tvshow_in_channel_folders(
    ytarchive_env, monkeypatch
) -> None:
    monkeypatch.setenv("YTARCHIVE_NFO", "kodi")
    monkeypatch.setenv("YTARCHIVE_OUTPUT_TEMPLATE", "%(channel)s/%(title)s [%(id)s].%(ext)s")
    bed = ytarchive_env.testbed
    channel = bed.lib.add_channel(title="Film Club")
    videos = [bed.lib.add_video(channel=channel.channel_id) for _ in range(2)]
    for video in videos:
        archive_video(video.video_id, "360p", Settings(), record=_record(bed, video))
    root = ytarchive_env.output_dir
    media = video_files(root)
    assert {p.parent.name for p in media} == {"Film Club"}
    for video in videos:
        [path] = [p for p in media if video.video_id in p.name]
        nfo = ET.parse(path.with_suffix(".nfo")).getroot()
        assert nfo.tag == "episodedetails"
        assert nfo.findtext("title") == video.title
        assert nfo.findtext("aired") == video.published_at.strftime("%Y-%m-%d")
        assert nfo.find("uniqueid[@type='youtube']").text == video.video_id
        assert nfo.findtext("studio") == "Film Club"
    show = ET.parse(root / "videos" / "Film Club" / "tvshow.nfo").getroot()
    assert (show.tag, show.findtext("title")) == ("tvshow", "Film Club")
