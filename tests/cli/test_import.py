"""`ytarchive import`: a folder of yt-dlp downloads and a download-archive file, recorded in the
catalog without downloading; later syncs download none of them."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import cli_in_process as _cli
from tests.testbed.media import ffmpeg_exe, probe
from ytarchive import archive_files
from ytarchive.catalog import Catalog

# The keys yt-dlp 2025's generic extractor wrote for a video of the loopback media server
# (`yt-dlp --write-info-json` against it); other extractors add uploader and duration.
_GENERIC_KEYS = (
    "_type _version abr acodec aspect_ratio display_id dynamic_range epoch ext extractor "
    "extractor_key format format_id format_note formats fps fulltitle height id language "
    "protocol resolution subtitles tbr title vbr vcodec webpage_url webpage_url_basename "
    "webpage_url_domain width"
).split()


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A 1-second 320x240 h264 + AAC mp4, made by ffmpeg."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10",
         "-f", "lavfi", "-i", "sine=frequency=440", "-t", "1", "-c:v", "libx264",
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)],
        check=True, timeout=120,
    )  # fmt: skip
    return path


def _youtube_info(video_id: str, title: str, channel: str, duration: int) -> dict:
    """An info dict shaped as yt-dlp's YouTube extractor writes it (the keys it fills)."""
    return {
        "id": video_id,
        "title": title,
        "fulltitle": title,
        "description": f"About {title}",
        "channel": channel,
        "channel_id": "UC" + "a" * 22,
        "channel_url": "https://www.youtube.com/channel/UC" + "a" * 22,
        "uploader": channel,
        "uploader_id": "@" + channel.replace(" ", ""),
        "duration": duration,
        "duration_string": f"{duration // 60}:{duration % 60:02d}",
        "upload_date": "20240315",
        "timestamp": 1710460800,
        "view_count": 1234,
        "like_count": 56,
        "tags": ["import", "test"],
        "categories": ["Education"],
        "availability": "public",
        "live_status": "not_live",
        "thumbnail": f"https://i.ytimg.com/vi/{video_id}/maxresdefault.jpg",
        "webpage_url": f"https://www.youtube.com/watch?v={video_id}",
        "original_url": f"https://www.youtube.com/watch?v={video_id}",
        "webpage_url_basename": "watch",
        "webpage_url_domain": "youtube.com",
        "extractor": "youtube",
        "extractor_key": "Youtube",
        "display_id": video_id,
        "ext": "mp4",
        "format_id": "18",
        "width": 320,
        "height": 240,
        "formats": [],
        "epoch": 1710500000,
        "_type": "video",
        "_version": {"version": "2025.10.22", "repository": "yt-dlp/yt-dlp"},
    }


def _generic_info(url: str, title: str, uploader: str, duration: int) -> dict:
    info = dict.fromkeys(_GENERIC_KEYS)
    info.update(
        id="clip", title=title, fulltitle=title, display_id="clip", ext="mp4",
        extractor="generic", extractor_key="Generic", webpage_url=url,
        webpage_url_basename="clip", webpage_url_domain="127.0.0.1", width=320, height=240,
        formats=[], subtitles={}, _type="video", uploader=uploader, duration=duration,
    )  # fmt: skip
    return info


def _download(folder: Path, clip: Path, name: str, info: dict) -> Path:
    """What a yt-dlp run leaves: <name>.mp4 and <name>.info.json side by side."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(clip, folder / f"{name}.mp4")
    (folder / f"{name}.info.json").write_text(json.dumps(info), encoding="utf-8")
    return folder / f"{name}.mp4"


def _rows(root: Path) -> int:
    _, rows = Catalog(root).sql("SELECT count(*) FROM download_history")
    return int(rows[0][0])


@pytest.fixture
def downloads(tmp_path, clip) -> dict:
    """A yt-dlp folder (two templates), a broken and a partial info.json, an archive file."""
    src = tmp_path / "yt-dlp"
    ids = ["aaaaaaaaaa1", "-bbbbbbbbb2"]
    _download(
        src / "Chan One", clip, f"First [{ids[0]}]", _youtube_info(ids[0], "First", "Chan One", 61)
    )
    _download(
        src / "2024" / "x", clip, f"{ids[1]}", _youtube_info(ids[1], "Second", "Chan Two", 62)
    )
    url = "http://127.0.0.1:9/v/clip"
    _download(src / "other", clip, "clip", _generic_info(url, "Other site", "Someone", 63))
    (src / "broken.info.json").write_text('{"id": "ccccccccc33", "title": "Bro', encoding="utf-8")
    partial = {"title": "No id", "extractor_key": "Youtube"}
    _download(src / "partial", clip, "partial", partial)
    archive = tmp_path / "archive.txt"
    archive.write_text(f"youtube dddddddddd4\nyoutube {ids[0]}\n\nyoutube _eeeeeeeee5\n")
    return {"src": src, "ids": ids, "archive": archive, "url": url}


def test_import_records_each_video_once_and_names_the_broken_ones(
    ytarchive_env, downloads, capsys
) -> None:
    root = ytarchive_env.output_dir
    src, ids = downloads["src"], downloads["ids"]
    code, out, err = _cli(
        capsys, "import", str(src), "--archive-file", str(downloads["archive"]), "--format", "json"
    )
    assert code == 1  # something was skipped
    assert str(src / "broken.info.json") in err
    assert str(src / "partial" / "partial.info.json") in err
    report = json.loads(out)
    assert len(report["imported"]) == 3 and sorted(report["from_archive"]) == [
        "_eeeeeeeee5", "dddddddddd4",
    ]  # fmt: skip
    catalog = Catalog(root)
    records = catalog.metadata()
    by_title = {r.title: r for r in records.values()}
    assert {t: (r.channel_title, r.duration_seconds) for t, r in by_title.items()} == {
        "First": ("Chan One", 61), "Second": ("Chan Two", 62), "Other site": ("Someone", 63),
    }  # fmt: skip
    assert by_title["First"].video_id == ids[0] and by_title["Second"].video_id == ids[1]
    assert by_title["Other site"].video_id.startswith("generic:clip-")
    outcomes = catalog.latest_outcomes()
    for key in (ids[0], ids[1], by_title["Other site"].video_id):
        row = outcomes[key]
        assert row.status == "archived" and (row.width, row.height) == (320, 240)
        media = root / row.file_path
        assert media.is_file() and media.stat().st_size == row.bytes
        assert probe(media)["width"] == 320
    assert outcomes[ids[0]].file_path == f"videos/First [{ids[0]}].mp4"
    assert (src / "Chan One" / f"First [{ids[0]}].mp4").is_file()  # copied, not moved
    for key in ("dddddddddd4", "_eeeeeeeee5"):
        assert outcomes[key].status == "archived" and outcomes[key].file_path is None
        assert outcomes[key].reason == "imported from a download archive"
    rows = _rows(root)
    assert rows == 5
    assert not [p for p in (root / "videos").iterdir() if p.name.startswith(".")]  # no temp left

    code, out, err = _cli(
        capsys, "import", str(src), "--archive-file", str(downloads["archive"]), "--format", "json"
    )
    again = json.loads(out)
    assert again["imported"] == [] and again["from_archive"] == []
    assert _rows(root) == rows  # a second run adds no row
    code, out, _ = _cli(capsys, "storage", "verify", "--format", "json")
    assert code == 0, out


def test_in_place_records_absolute_paths_the_web_lookup_accepts(
    ytarchive_env, tmp_path, clip, capsys
) -> None:
    root = ytarchive_env.output_dir
    media = _download(tmp_path / "keep", clip, "Kept [kkkkkkkkkk1]", _youtube_info(
        "kkkkkkkkkk1", "Kept", "Chan", 30))  # fmt: skip
    code, _, err = _cli(capsys, "import", str(tmp_path / "keep"), "--in-place")
    assert code == 0, err
    row = Catalog(root).latest_outcomes()["kkkkkkkkkk1"]
    assert row.file_path == str(media.resolve())
    assert archive_files.media_file(root, row.model_dump()) == media.resolve()
    assert not (root / "videos").exists()
    code, out, _ = _cli(capsys, "storage", "verify", "--format", "json")
    assert code == 0, out


@pytest.mark.parametrize(
    "args",
    [
        ["{missing}"],
        ["{src}", "--copy", "--move"],
        ["{src}", "--link", "--in-place"],
        ["{src}", "--archive-file", "{missing}"],
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    ytarchive_env, tmp_path, clip, capsys, args
) -> None:
    src = tmp_path / "src"
    _download(src, clip, "A [aaaaaaaaaa1]", _youtube_info("aaaaaaaaaa1", "A", "C", 1))
    filled = [a.format(src=src, missing=tmp_path / "nope") for a in args]
    code, out, err = _cli(capsys, "import", *filled)
    assert code == 2
    assert err.startswith("Error: ") and len(err.strip().splitlines()) == 1
    assert not ytarchive_env.output_dir.exists()


@pytest.mark.slow
def test_a_playlist_sync_downloads_none_of_the_imported(
    ytarchive_env, prefect_server, monkeypatch, tmp_path, clip, capsys
) -> None:
    monkeypatch.setenv("YTARCHIVE_RETRY_DELAY_SECONDS", "0.05")
    bed = ytarchive_env.testbed
    ids = ["pppppppppp1", "pppppppppp2", "pppppppppp3", "pppppppppp4"]
    for n, video_id in enumerate(ids):
        bed.lib.add_video(video_id, title=f"Sync {n}", channel="Sync chan")
    src = tmp_path / "yt-dlp"
    for video_id in ids[:2]:
        info = _youtube_info(video_id, f"Sync {video_id}", "Sync chan", 65)
        _download(src, clip, f"{video_id}", info)
    archive = tmp_path / "archive.txt"
    archive.write_text(f"youtube {ids[2]}\n")
    code, _, err = _cli(capsys, "import", str(src), "--archive-file", str(archive), "--move")
    assert code == 0, err
    assert not list(src.glob("*.mp4"))  # moved
    playlist = bed.lib.add_playlist(video_ids=ids)
    url = f"https://www.youtube.com/playlist?list={playlist.playlist_id}"
    bed.media.reset()
    code, out, err = _cli(capsys, "playlist", "download", url, "-q", "360p", "--format", "json")
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["downloaded"], summary["skipped"]) == (1, 3)
    for video_id in ids[:3]:
        assert bed.media.media_requests(video_id) == 0
    assert bed.media.media_requests(ids[3]) > 0
