"""Audio archives: `--quality bestaudio --extract-audio FMT`: a tagged audio file with a cover."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers import assert_no_partials, video_files
from ytarchive.archiving import archive_video
from ytarchive.config import Settings
from ytarchive.youtube_api import YouTubeAPI

pytestmark = pytest.mark.slow


def _ffprobe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format",
         str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout)


@pytest.mark.parametrize(
    ("fmt", "codec"), [("m4a", "aac"), ("mp3", "mp3"), ("opus", "opus"), ("flac", "flac")]
)
def test_extract_audio_gives_a_tagged_audio_file_with_cover_art(
    ytarchive_env, monkeypatch, fmt: str, codec: str
) -> None:
    bed = ytarchive_env.testbed
    video = bed.lib.add_video(title="Only the sound", channel="Radio chan")
    monkeypatch.setenv("YTARCHIVE_EXTRACT_AUDIO", fmt)
    [record] = YouTubeAPI(Settings()).videos([video.video_id])
    result = archive_video(video.video_id, "bestaudio", Settings(), record=record)
    assert result.status == "archived", result.reason
    [media] = video_files(ytarchive_env.output_dir)
    assert media.suffix == f".{fmt}" and result.file_path == f"videos/{media.name}"
    probe = _ffprobe(media)
    streams = probe["streams"]
    assert [s["codec_name"] for s in streams if s["codec_type"] == "audio"] == [codec]
    cover = [s for s in streams if s["codec_type"] == "video"]
    assert cover and cover[0]["disposition"]["attached_pic"] == 1
    tags = {k.lower(): v for k, v in probe["format"].get("tags", {}).items()}
    for stream in (s for s in streams if s["codec_type"] == "audio"):  # opus keeps them here
        tags |= {k.lower(): v for k, v in (stream.get("tags") or {}).items()}
    assert tags["title"] == "Only the sound"
    assert tags.get("artist") == record.channel_title and record.channel_title
    assert_no_partials(ytarchive_env.output_dir)


def test_a_bad_extract_audio_format_is_an_input_error(capsys) -> None:
    from ytarchive.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["download", "dQw4w9WgXcQ", "-q", "bestaudio", "--extract-audio", "wav"])
    code = exc.value.code
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("Error: --extract-audio: 'wav' is not one of")
