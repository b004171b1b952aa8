"""The complete archive through the CLI: subtitles and output templates, as a user runs them."""

from __future__ import annotations

import glob
import json

import pytest

from tests.helpers import cli_in_process as _cli
from tests.helpers import video_files


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--output-template", "%(title)s.%(ext)s"], "--output-template must contain %(id)s"),
        (["--subtitles", "en,not a lang"], "--subtitles: not a language code: 'not a lang'"),
        (["--convert-subs", "doc"], "--convert-subs: 'doc' is not one of srt, vtt, ass, lrc"),
    ],
)
def test_bad_file_options_exit_2_and_write_nothing(ytarchive_env, capsys, args, message) -> None:
    video = ytarchive_env.testbed.lib.add_video()
    code, out, err = _cli(capsys, "download", video.video_id, *args)
    assert code == 2
    assert err == f"Error: {message}\n" or (err.startswith("Error: ") and message in err)
    assert err.count("\n") == 1 and out == ""
    assert not ytarchive_env.output_dir.exists()
    assert ytarchive_env.testbed.media.request_count() == 0


@pytest.mark.slow
def test_template_channel_folders_list_verify_resync_and_chapters(cli_env, capsys) -> None:
    bed = cli_env.testbed
    channel = bed.lib.add_channel(title="Film Club")
    desc = "Parts\n0:00 Start\n0:30 Later\n"
    videos = [
        bed.lib.add_video(channel=channel.channel_id, description=desc, subtitles=("en", "de"))
        for _ in range(2)
    ]
    playlist = bed.lib.add_playlist(video_ids=[v.video_id for v in videos])
    url = f"https://www.youtube.com/playlist?list={playlist.playlist_id}"
    template = "%(channel)s/%(title)s [%(id)s].%(ext)s"
    code, out, err = _cli(
        capsys, "playlist", "download", url, "-q", "360p", "--output-template", template,
        "--subtitles", "en,de", "--convert-subs", "srt",
    )  # fmt: skip
    assert code == 0, out + err
    root = cli_env.output_dir
    media = video_files(root)
    assert [p.parent.relative_to(root).as_posix() for p in media] == ["videos/Film Club"] * 2
    for path in media:
        beside = path.parent.glob(glob.escape(path.stem) + ".*")
        assert {p.name[len(path.stem) :] for p in beside} >= {
            ".en.srt", ".de.srt", ".info.json", ".description", path.suffix,
        }  # fmt: skip
    code, out, _ = _cli(capsys, "storage", "list", "--format", "json")
    assert code == 0
    listed = {r["video_id"]: r["file_path"] for r in json.loads(out)}
    assert listed == {v.video_id: p.relative_to(root).as_posix() for v, p in _pair(videos, media)}
    code, out, err = _cli(capsys, "storage", "verify")
    assert code == 0, out + err
    bed.media.reset()
    code, out, _ = _cli(capsys, "playlist", "download", url, "--format", "json")
    assert code == 0
    assert json.loads(out)["downloaded"] == 0 and bed.media.request_count() == 0
    code, out, _ = _cli(
        capsys, "sql", "SELECT video_id, c.title FROM videos, unnest(chapters) AS t(c) "
        "ORDER BY video_id, c.start_time", "--format", "json",
    )  # fmt: skip
    assert code == 0
    rows = json.loads(out)
    assert [r["title"] for r in rows] == ["Start", "Later"] * 2
    code, out, _ = _cli(
        capsys, "sql", "SELECT s.lang, s.path FROM downloads, unnest(subtitles) AS t(s)",
        "--format", "json",
    )  # fmt: skip
    assert sorted(r["lang"] for r in json.loads(out)) == ["de", "de", "en", "en"]


def _pair(videos, media):
    for video in videos:
        [path] = [p for p in media if f"[{video.video_id}]" in p.name]
        yield video, path
