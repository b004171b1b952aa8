"""The Python API facade, `from ytarchive import Archive`: real flow runs, the catalog it fills."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ytarchive.errors import InputError, NotFound


def test_importing_the_facade_loads_neither_prefect_nor_yt_dlp() -> None:
    code = (
        "import sys; from ytarchive import Archive; a = Archive('/nonexistent-archive');"
        "heavy = [m for m in ('prefect', 'yt_dlp') if m in sys.modules];"
        "print(a.stats()['videos'], a.videos(), heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "[]", "[]"]


def test_bad_input_is_refused_before_any_run(tmp_path) -> None:
    from ytarchive import Archive

    archive = Archive(tmp_path / "downloads")
    for urls, quality in ([], "best"), (["not a url"], "best"), (["dQw4w9WgXcQ"], "sharpest"):
        with pytest.raises(InputError):
            archive.download(urls, quality=quality)
    with pytest.raises(InputError):
        archive.videos(status="lost")
    with pytest.raises(NotFound):
        archive.video("dQw4w9WgXcQ")
    assert not (tmp_path / "downloads").exists()


@pytest.mark.slow
def test_download_playlist_search_stats_and_videos(ytarchive_env, prefect_server, testbed) -> None:
    from ytarchive import Archive

    video = testbed.lib.add_video(title="Owls of the northern forest")
    playlist = testbed.lib.make_playlist(2, title="Forest walks")
    archive = Archive(ytarchive_env.output_dir)

    summary = archive.download([video.video_id], quality="360p")
    assert summary["archived"] == 1 and summary["downloaded"] == 1
    assert summary["results"][0]["height"] == 360
    job = archive.playlist(
        f"https://www.youtube.com/playlist?list={playlist.playlist_id}", quality="360p", wait=False
    )
    done = job.wait(timeout=240)
    assert job.done and done is not None and done["archived"] == 2
    status = archive.job(job.id)
    assert status["state"] == "Completed" and status["outcomes"] == {"archived": 2}

    assert [r["video_id"] for r in archive.search("owls")] == [video.video_id]
    assert archive.stats()["archived"] == 3
    assert {r["video_id"] for r in archive.videos()} == {video.video_id, *playlist.video_ids}
    assert archive.listing(playlist.playlist_id)["items"][0]["status"] == "archived"
    assert archive.media_file(video.video_id).is_relative_to(archive.root)
    again = archive.download([video.video_id], quality="360p")
    assert again["downloaded"] == 0 and again["skipped"] == 1
