"""Every way people write a YouTube reference, and what is not one."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.testbed.library import EDGE_VIDEO_IDS
from ytarchive.errors import InputError
from ytarchive.refs import (
    ChannelRef,
    PlaylistRef,
    VideoRef,
    is_video_id,
    parse_playlist_ref,
    parse_ref,
    read_batch_file,
)

VID = "dQw4w9WgXcQ"
PL = "PLrAXtmErZgOeiKm4sgNOknGvNjby9efdf"
UC = "UCuAXFkgsw1L7xaCfnd5JJOw"

VIDEO_SHAPES = [
    VID,
    f"https://www.youtube.com/watch?v={VID}",
    f"http://www.youtube.com/watch?v={VID}",
    f"https://youtube.com/watch?v={VID}",
    f"https://m.youtube.com/watch?v={VID}&feature=share",
    f"https://music.youtube.com/watch?v={VID}&si=AbCdEf",
    f"https://www.youtube.com/watch?feature=youtu.be&v={VID}&t=42s",
    f"https://www.youtube.com/watch?v={VID}&list={PL}&index=3",
    f"https://youtu.be/{VID}",
    f"https://youtu.be/{VID}?si=xyz123&t=10",
    f"https://www.youtube.com/shorts/{VID}",
    f"https://youtube.com/shorts/{VID}?feature=share",
    f"https://www.youtube.com/embed/{VID}?start=5",
    f"https://www.youtube-nocookie.com/embed/{VID}",
    f"https://www.youtube.com/live/{VID}?si=abc",
    f"https://www.youtube.com/v/{VID}",
    f"www.youtube.com/watch?v={VID}",
    f"youtu.be/{VID}",
    f"  https://youtu.be/{VID}  ",
]


@pytest.mark.parametrize("text", VIDEO_SHAPES)
def test_video_shapes(text: str) -> None:
    ref = parse_ref(text)
    assert ref == VideoRef(video_id=VID, url=f"https://www.youtube.com/watch?v={VID}")


@pytest.mark.parametrize(
    "text",
    [
        f"https://www.youtube.com/playlist?list={PL}",
        f"https://m.youtube.com/playlist?list={PL}&si=abc",
        f"https://music.youtube.com/playlist?list={PL}",
        f"youtube.com/playlist?list={PL}",
    ],
)
def test_playlist_shapes(text: str) -> None:
    assert parse_ref(text) == PlaylistRef(
        playlist_id=PL, url=f"https://www.youtube.com/playlist?list={PL}"
    )


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("https://www.youtube.com/@MrBeast", "handle", "@MrBeast"),
        ("https://www.youtube.com/@some.handle-1/videos", "handle", "@some.handle-1"),
        ("https://m.youtube.com/@MrBeast/featured?si=x", "handle", "@MrBeast"),
        (f"https://www.youtube.com/channel/{UC}", "channel_id", UC),
        (f"https://www.youtube.com/channel/{UC}/videos", "channel_id", UC),
        ("https://www.youtube.com/c/LinusTechTips", "custom", "LinusTechTips"),
        ("https://www.youtube.com/user/PewDiePie/videos", "user", "PewDiePie"),
    ],
)
def test_channel_shapes(text: str, field: str, value: str) -> None:
    ref = parse_ref(text)
    assert isinstance(ref, ChannelRef)
    assert getattr(ref, field) == value


@pytest.mark.parametrize(
    "url",
    [
        "https://vimeo.com/76979871",
        "https://www.dailymotion.com/video/x7tgad0",
        "http://127.0.0.1:8080/v/abc/manifest.mpd",
        "https://example.org/some/page?id=3",
    ],
)
def test_other_sites_pass_through(url: str) -> None:
    assert parse_ref(url) == VideoRef(video_id=None, url=url)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "not a url",
        "dQw4w9WgXc",  # 10 characters
        "dQw4w9WgXcQQ",  # 12 characters
        "dQw4w9WgX!Q",
        "ftp://example.com/file",
        "https://www.youtube.com/watch?v=short",
        "https://www.youtube.com/watch",
        "https://youtu.be/",
        "https://youtu.be/tooshort",
        "https://www.youtube.com/playlist",
        "https://www.youtube.com/channel/notachannelid",
        "https://www.youtube.com/feed/subscriptions",
        "javascript:alert(1)",
        "https://",
    ],
)
def test_bad_inputs_are_input_errors_naming_the_input(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_ref(text)
    message = str(info.value)
    assert "\n" not in message
    if text.strip():
        assert repr(text) in message or text.strip() in message


def test_playlist_ref_accepts_watch_url_with_list() -> None:
    ref = parse_playlist_ref(f"https://www.youtube.com/watch?v={VID}&list={PL}")
    assert ref == PlaylistRef(playlist_id=PL, url=f"https://www.youtube.com/playlist?list={PL}")


def test_playlist_ref_refuses_a_single_video() -> None:
    with pytest.raises(InputError, match="names no playlist or channel"):
        parse_playlist_ref(f"https://youtu.be/{VID}")


def test_playlist_ref_passes_other_sites_to_ytdlp() -> None:
    url = "https://vimeo.com/showcase/123"
    assert parse_playlist_ref(url) == PlaylistRef(playlist_id=None, url=url)


ID_CHARS = string.ascii_letters + string.digits + "-_"
video_ids = st.text(alphabet=ID_CHARS, min_size=11, max_size=11)


@given(video_ids)
def test_any_video_id_round_trips_through_every_url_shape(video_id: str) -> None:
    for template in (
        "{}",
        "https://www.youtube.com/watch?v={}",
        "https://youtu.be/{}?si=abc",
        "https://www.youtube.com/shorts/{}",
        "https://m.youtube.com/watch?v={}&t=1",
    ):
        ref = parse_ref(template.format(video_id))
        assert isinstance(ref, VideoRef)
        assert ref.video_id == video_id


EDGE_IDS = [*EDGE_VIDEO_IDS, "___________", "-----------", "-_-_-_-_-_-"]


@pytest.mark.parametrize("video_id", EDGE_IDS)
@pytest.mark.parametrize("shape", VIDEO_SHAPES)
def test_ids_that_begin_with_dash_or_underscore_in_every_shape(shape: str, video_id: str) -> None:
    ref = parse_ref(shape.replace(VID, video_id))
    assert ref == VideoRef(video_id=video_id, url=f"https://www.youtube.com/watch?v={video_id}")


def test_edge_ids_in_a_batch_file_and_as_playlist_watch_urls(tmp_path: Path) -> None:
    batch = tmp_path / "urls.txt"
    batch.write_text("".join(f"{v}\n" for v in EDGE_IDS))
    assert read_batch_file(batch) == EDGE_IDS
    url = f"https://www.youtube.com/watch?v=-abcdefghij&list=_{PL[1:]}"
    assert parse_playlist_ref(url).playlist_id == f"_{PL[1:]}"


@pytest.mark.parametrize("text", ["abcdefghijk\n", "-abcdefghi", "_abcdefghijk", "-abc defghi"])
def test_near_ids_are_not_ids(text: str) -> None:
    assert not is_video_id(text)


@given(st.text(max_size=80))
def test_arbitrary_text_is_a_ref_or_an_input_error(text: str) -> None:
    try:
        ref = parse_ref(text)
    except InputError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(ref, (VideoRef, PlaylistRef, ChannelRef))


def test_batch_file_skips_blanks_and_comments(tmp_path: Path) -> None:
    batch = tmp_path / "urls.txt"
    batch.write_text(f"# my list\n\n{VID}\n  https://youtu.be/{VID}  \n# done\n")
    assert read_batch_file(batch) == [VID, f"https://youtu.be/{VID}"]


def test_batch_file_bad_line_names_its_number(tmp_path: Path) -> None:
    batch = tmp_path / "urls.txt"
    batch.write_text(f"{VID}\n# comment\nnot a url\n{VID}\n")
    with pytest.raises(InputError, match=r"urls\.txt:3: not a URL or video id: 'not a url'"):
        read_batch_file(batch)


def test_missing_batch_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="batch file not found"):
        read_batch_file(tmp_path / "nope.txt")
