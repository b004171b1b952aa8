"""Downloads through real yt-dlp and ffmpeg from the loopback media server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import assert_no_partials, video_files
from tests.testbed.media import probe
from ytarchive import layout
from ytarchive.config import Settings
from ytarchive.downloader import (
    DownloadProgress,
    download_video,
    fetch_thumbnail,
    format_for_quality,
    validate_quality,
)
from ytarchive.errors import DownloadFailed, InputError, Transient, Unavailable

# -- quality -> format -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quality", "expected"),
    [
        ("best", ("bv*+ba/b", [])),
        ("worst", ("wv*+wa/w", [])),
        ("bestaudio", ("ba/b", [])),
        ("720p", ("bv*+ba/b", ["res:720"])),
        ("2160p", ("bv*+ba/b", ["res:2160"])),
        ("240p", ("bv*+ba/b", ["res:240"])),
        ("bv*[height<=480]+ba/b", ("bv*[height<=480]+ba/b", [])),
        ("137+140", ("137+140", [])),
        ("22", ("22", [])),
        ("hls-720p", ("hls-720p", [])),
        ("mp4", ("mp4", [])),
    ],
)
def test_quality_names_and_format_strings(quality: str, expected: tuple) -> None:
    assert format_for_quality(quality) == expected


@pytest.mark.parametrize("quality", ["superhigh", "", "720 p", "bv*[height<=", "best video"])
def test_unknown_quality_is_an_input_error_naming_it(quality: str) -> None:
    with pytest.raises(InputError) as info:
        validate_quality(quality)
    assert repr(quality) in str(info.value)


# -- downloads --------------------------------------------------------------------------------


def _settings(env) -> Settings:
    return Settings()


@pytest.mark.slow
def test_720p_is_1280x720_with_audio_named_after_title_and_id(ytarchive_env) -> None:
    video = ytarchive_env.testbed.lib.add_video(title="A clip: the [best] one")
    events: list[DownloadProgress] = []
    result = download_video(
        video.video_id, _settings(ytarchive_env), "720p", events.append, title=video.title
    )
    root = ytarchive_env.output_dir
    assert result.status == "archived"
    assert result.video_id == video.video_id
    assert result.file_path == f"videos/A clip the best one [{video.video_id}].mp4"
    path = root / result.file_path
    info = probe(path)
    assert (info["width"], info["height"], info["has_audio"]) == (1280, 720, True)
    assert (result.width, result.height, result.bytes) == (1280, 720, path.stat().st_size)
    assert events and events[-1].status == "finished"
    assert events[-1].downloaded_bytes == result.bytes
    assert_no_partials(root)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("quality", "size"), [("best", (1920, 1080)), ("worst", (640, 360)), ("480p", (640, 360))]
)
@pytest.mark.slow
def test_quality_picks_the_rendition(ytarchive_env, quality: str, size: tuple) -> None:
    video = ytarchive_env.testbed.lib.add_video()
    result = download_video(video.video_id, _settings(ytarchive_env), quality)
    info = probe(ytarchive_env.output_dir / result.file_path)
    assert (info["width"], info["height"]) == size
    assert info["has_audio"]


@pytest.mark.slow
def test_bestaudio_is_audio_only(ytarchive_env) -> None:
    video = ytarchive_env.testbed.lib.add_video()
    result = download_video(video.video_id, _settings(ytarchive_env), "bestaudio")
    info = probe(ytarchive_env.output_dir / result.file_path)
    assert info["has_audio"] and info["width"] is None
    assert result.file_path.endswith(f"[{video.video_id}].m4a")


@pytest.mark.slow
@pytest.mark.parametrize("privacy", ["private", "deleted"])
@pytest.mark.slow
def test_private_and_deleted_are_unavailable(ytarchive_env, privacy: str) -> None:
    video = ytarchive_env.testbed.lib.add_video(privacy=privacy)
    with pytest.raises(Unavailable):
        download_video(video.video_id, _settings(ytarchive_env), "720p")
    assert_no_partials(ytarchive_env.output_dir)
    assert not (ytarchive_env.output_dir / "videos").exists()


@pytest.mark.slow
def test_http_500_on_the_manifest_is_transient(ytarchive_env) -> None:
    bed = ytarchive_env.testbed
    video = bed.lib.add_video()
    bed.media.set_fault(video.video_id, "500", times=1)
    with pytest.raises(Transient) as info:
        download_video(video.video_id, _settings(ytarchive_env), "720p")
    assert "500" in str(info.value) and "caused by" not in str(info.value)
    assert_no_partials(ytarchive_env.output_dir)
    # the fault was once: the next attempt (Prefect's retry) succeeds
    assert download_video(video.video_id, _settings(ytarchive_env), "720p").status == "archived"


@pytest.mark.slow
def test_http_429_carries_retry_after(ytarchive_env) -> None:
    bed = ytarchive_env.testbed
    video = bed.lib.add_video()
    bed.media.set_fault(video.video_id, "429", times=1)
    with pytest.raises(Transient) as info:
        download_video(video.video_id, _settings(ytarchive_env), "720p")
    assert info.value.retry_after == 1.0


@pytest.mark.slow
def test_connection_reset_mid_body_is_resumed_by_ytdlp(ytarchive_env) -> None:
    bed = ytarchive_env.testbed
    video = bed.lib.add_video()
    bed.media.set_fault(video.video_id, "reset", times=2)
    result = download_video(video.video_id, _settings(ytarchive_env), "720p")
    info = probe(ytarchive_env.output_dir / result.file_path)
    assert (info["height"], info["has_audio"]) == (720, True)
    ranged = [r for r in bed.media.requests if r.video_id == video.video_id and r.range]
    assert ranged, "the interrupted body should have been resumed with a Range request"


@pytest.mark.slow
def test_redownload_replaces_the_old_file(ytarchive_env) -> None:
    video = ytarchive_env.testbed.lib.add_video(title="First")
    first = download_video(video.video_id, _settings(ytarchive_env), "360p")
    second = download_video(video.video_id, _settings(ytarchive_env), "bestaudio", title="Second")
    assert [p.name for p in video_files(ytarchive_env.output_dir)] == [Path(second.file_path).name]
    files = sorted(p.name for p in (ytarchive_env.output_dir / "videos").iterdir())
    assert all(name.startswith("Second [") for name in files)  # the old sidecars went too
    assert first.file_path != second.file_path


@pytest.mark.slow
def test_a_killed_download_leaves_temp_that_the_next_one_resumes(ytarchive_env) -> None:
    bed = ytarchive_env.testbed
    video = bed.lib.add_video()
    settings = _settings(ytarchive_env)
    download_video(video.video_id, settings, "720p")  # the files a killed run would have had
    work = layout.temp_dir(ytarchive_env.output_dir, video.video_id)
    work.mkdir(parents=True)
    [done] = video_files(ytarchive_env.output_dir)
    (work / "media.mp4").write_bytes(done.read_bytes())  # merged but never moved into place
    done.unlink()
    bed.media.reset()
    result = download_video(video.video_id, settings, "720p")
    assert (ytarchive_env.output_dir / result.file_path).is_file()
    assert bed.media.media_requests(video.video_id) == 0  # nothing fetched again
    assert_no_partials(ytarchive_env.output_dir)


@pytest.mark.slow
def test_non_youtube_url_is_keyed_by_extractor_and_id(ytarchive_env) -> None:
    bed = ytarchive_env.testbed
    video = bed.lib.add_video()
    other = bed.lib.add_video()
    result = download_video(bed.video_url(video.video_id), _settings(ytarchive_env), "360p")
    again = download_video(bed.video_url(video.video_id), _settings(ytarchive_env), "360p")
    second = download_video(bed.video_url(other.video_id), _settings(ytarchive_env), "360p")
    assert result.video_id.startswith("generic:manifest-")
    assert again.video_id == result.video_id  # stable for the same URL
    assert second.video_id != result.video_id  # URLs that share a file name stay apart
    assert result.file_path.endswith(f"[{result.video_id.replace(':', '_')}].mp4")


@pytest.mark.slow
def test_unknown_page_fails_without_retry_class(ytarchive_env, tmp_path: Path) -> None:
    bed = ytarchive_env.testbed
    with pytest.raises((DownloadFailed, Unavailable)):
        download_video(f"{bed.media.base_url}/nothing/here", _settings(ytarchive_env), "best")


@pytest.mark.slow
def test_thumbnail_is_fetched_and_a_bad_one_is_ignored(ytarchive_env) -> None:
    bed = ytarchive_env.testbed
    video = bed.lib.add_video()
    root = ytarchive_env.output_dir
    url = f"{bed.api_url}/vi/{video.video_id}/maxresdefault.jpg"
    path = fetch_thumbnail(url, root, video.video_id)
    assert path == root / "thumbnails" / f"{video.video_id}.jpg"
    assert path.read_bytes()[:2] == b"\xff\xd8"
    assert fetch_thumbnail(f"{bed.media.base_url}/missing.jpg", root, "other") is None


def test_a_request_ytdlp_gave_up_on_is_transient_and_says_ytdlp_retried_it() -> None:
    from ytarchive.downloader import classify_error

    # YoutubeDL.report_error's "ERROR: " before RetryManager's text (utils/_utils.py), whose
    # progress line starts with a carriage return
    message = (
        "ERROR: \r[download] Got error: HTTP Error 500: Internal Server Error. "
        "Giving up after 2 retries"
    )
    error = classify_error(Exception(message))
    assert isinstance(error, Transient) and error.retried_by == "yt-dlp"
    assert "HTTP Error 500" in str(error)
    assert (
        classify_error(Exception("ERROR: HTTP Error 500: Internal Server Error")).retried_by is None
    )


@pytest.mark.slow
def test_a_quality_no_format_offers_says_what_was_asked_and_offered(ytarchive_env) -> None:
    from ytarchive.errors import FormatUnavailable

    video = ytarchive_env.testbed.lib.add_video()
    with pytest.raises(FormatUnavailable) as info:
        download_video(video.video_id, _settings(ytarchive_env), "bestvideo[height=480]")
    assert str(info.value) == (
        "Requested format is not available "
        "(asked for bestvideo[height=480]; offered: 1080p, 720p, 360p, audio)"
    )
    assert ytarchive_env.testbed.media.media_requests(video.video_id) == 0


def test_downloads_run_the_wheels_ffmpeg_with_ffprobe_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The static ffmpeg starts in a sixth of the time of a distribution's shared-library build,
    and yt-dlp finds ffprobe next to the ffmpeg it is given: both are there, and both run."""
    import shutil
    import subprocess

    import imageio_ffmpeg
    from yt_dlp import YoutubeDL
    from yt_dlp.postprocessor.ffmpeg import FFmpegPostProcessor

    from ytarchive.downloader import ffmpeg_location

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    location = ffmpeg_location()
    assert location is not None and Path(location).name == "ffmpeg"
    assert Path(location).parent.parent == tmp_path / "ytarchive" / "ffmpeg"
    assert Path(location).resolve() == Path(imageio_ffmpeg.get_ffmpeg_exe()).resolve()
    version = subprocess.run([location, "-version"], capture_output=True, text=True).stdout
    assert version.startswith("ffmpeg version")
    with YoutubeDL({"ffmpeg_location": location, "quiet": True}) as ydl:
        pp = FFmpegPostProcessor(ydl)
        assert pp.available
        if shutil.which("ffprobe"):  # Debian's ffmpeg package brings it (CI installs it)
            assert pp.probe_available
            assert Path(pp.probe_executable).resolve() == Path(shutil.which("ffprobe")).resolve()
    assert ffmpeg_location() == location  # found as it is
    Path(location).unlink()
    assert ffmpeg_location() == location and Path(location).exists()  # made again
