"""What a real site needs from yt-dlp: the JS runtime, cookies, politeness, the user's options."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.testbed.cookies import COOKIE_NAME, new_cookie_value, write_cookies_txt
from ytarchive.config import Settings, load_settings
from ytarchive.downloader import check_site_settings, download_video, strip_cookies
from ytarchive.downloader.cookies import check_cookies_file, parse_browser_spec
from ytarchive.downloader.options import YOUTUBE_POLITENESS, politeness_options, site_options
from ytarchive.downloader.run import _download_options
from ytarchive.downloader.tracking import ProgressTracker
from ytarchive.errors import CdnForbidden, InputError
from ytarchive.redact import redact

# -- the JavaScript runtime -------------------------------------------------------------------


def test_the_download_options_name_the_deno_binary_and_yt_dlp_accepts_them(tmp_path) -> None:
    import deno
    from yt_dlp import YoutubeDL

    url, settings = "https://www.youtube.com/watch?v=x", Settings(output_dir=tmp_path)
    options = _download_options(url, tmp_path, "720p", ProgressTracker("x", None), settings)
    assert options["js_runtimes"] == {"deno": {"path": str(deno.find_deno_bin())}}
    with YoutubeDL(options) as ydl:
        info = ydl._js_runtimes["deno"].info
    assert (info.path, info.supported) == (str(deno.find_deno_bin()), True)


def test_yt_dlp_in_our_environment_lists_deno_and_the_ejs_scripts() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "yt_dlp", "-v", "--ignore-config"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    debug = result.stderr
    assert "yt_dlp_ejs-" in next(
        line for line in debug.splitlines() if "Optional libraries" in line
    )
    assert "[debug] JS runtimes: deno-" in debug


# -- cookies: checked up front, masked, never the user's file touched -------------------------


def test_a_good_cookies_txt_is_read_and_its_values_are_masked(tmp_path: Path) -> None:
    value = new_cookie_value()
    path = write_cookies_txt(tmp_path / "c.txt", {COOKIE_NAME: value})
    assert value in check_cookies_file(path)
    assert redact(f"Cookie: {COOKIE_NAME}={value}") == f"Cookie: {COOKIE_NAME}=***"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cookies file not found"),
        ('[{"name": "SID", "value": "x"}]\n', "is not a Netscape cookies.txt"),
        ("# Netscape HTTP Cookie File\n\n", "is not a Netscape cookies.txt"),
        ("127.0.0.1\tFALSE\t/\tFALSE\t0\tSID\tvalue\n", "is not a Netscape cookies.txt"),
        (b"\xff\xfe\x00binary", "is not a Netscape cookies.txt"),
    ],
)
def test_a_bad_cookies_file_is_one_line_naming_the_path(tmp_path, content, message) -> None:
    path = tmp_path / "cookies.txt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(InputError) as caught:
        check_cookies_file(path, "--cookies")
    text = str(caught.value)
    assert text.startswith(f"--cookies: {path}" if content is not None else "--cookies: cookies")
    assert message in text and "\n" not in text and "value" not in text.replace("valid", "")


@pytest.mark.parametrize(
    "spec",
    ["firefox", "chrome:Profile 1", "chromium+gnomekeyring", "firefox:default::Work",
     "Chrome+KWALLET:/home/me/.config/chrome", "firefox::Personal"],
)  # fmt: skip
def test_the_browser_spec_is_read_as_yt_dlp_reads_it(spec: str) -> None:
    import yt_dlp

    expected = yt_dlp.parse_options(["--cookies-from-browser", spec]).ydl_opts
    assert parse_browser_spec(spec) == expected["cookiesfrombrowser"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [("netscape", "unsupported browser 'netscape'"), ("chrome+wallet", "unsupported keyring")],
)
def test_a_bad_browser_spec_is_an_input_error(spec: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        check_site_settings(Settings(cookies_from_browser=spec))
    assert str(caught.value).startswith("YTARCHIVE_COOKIES_FROM_BROWSER: ")


@pytest.mark.slow
def test_the_cookie_reaches_the_media_server_and_the_file_is_left_unchanged(
    ytarchive_env, cookie_video
) -> None:
    bed = ytarchive_env.testbed
    before = cookie_video.cookies_file.read_bytes()
    mtime = cookie_video.cookies_file.stat().st_mtime_ns
    with pytest.raises(CdnForbidden):  # the wall's 403: a refusal that cookies answer
        download_video(cookie_video.video_id, Settings(), "360p")
    assert bed.media.refused_requests(kind=None, fault="cookie") >= 1
    settings = Settings(cookies_file=cookie_video.cookies_file)
    result = download_video(cookie_video.video_id, settings, "360p")
    assert result.status == "archived"
    media = [r for r in bed.media.requests if r.kind == "media" and r.status in (200, 206)]
    assert media and all(cookie_video.cookie in r.headers.get("Cookie", "") for r in media)
    assert cookie_video.cookies_file.read_bytes() == before  # yt-dlp wrote to its own copy
    assert cookie_video.cookies_file.stat().st_mtime_ns == mtime
    root = ytarchive_env.output_dir
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files and [p for p in files if cookie_video.value.encode() in p.read_bytes()] == []


@pytest.mark.slow
def test_concurrent_downloads_share_one_cookies_file_safely(ytarchive_env, tmp_path) -> None:
    bed = ytarchive_env.testbed
    value = new_cookie_value()
    path = write_cookies_txt(tmp_path / "shared.txt", {COOKIE_NAME: value})
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    ids = [bed.lib.add_video(cookie=f"{COOKIE_NAME}={value}").video_id for _ in range(3)]
    settings = Settings(cookies_file=path)
    results: dict[str, str] = {}

    def fetch(video_id: str) -> None:
        results[video_id] = download_video(video_id, settings, "360p").status

    threads = [threading.Thread(target=fetch, args=(vid,)) for vid in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert results == dict.fromkeys(ids, "archived")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


@pytest.mark.slow
def test_strip_cookies_removes_what_yt_dlp_copies_into_the_info_dict(
    ytarchive_env, cookie_video
) -> None:
    from yt_dlp import YoutubeDL

    options = site_options(Settings(cookies_file=cookie_video.cookies_file), cookie_video.url)
    with YoutubeDL(options) as ydl:
        info = ydl.sanitize_info(ydl.extract_info(cookie_video.url, download=False))
    assert cookie_video.value in json.dumps(info)  # formats[].cookies: yt-dlp's real dict has it
    stripped = strip_cookies(info)
    assert cookie_video.value not in json.dumps(stripped)
    assert stripped["title"] == info["title"] and len(stripped["formats"]) == len(info["formats"])
    headers = strip_cookies({"http_headers": {"Cookie": "a=b", "User-Agent": "x"}, "cookies": "c"})
    assert headers == {"http_headers": {"User-Agent": "x"}}


# -- politeness -------------------------------------------------------------------------------


def test_youtube_gets_polite_defaults_other_sites_none() -> None:
    settings = Settings()
    youtube = politeness_options(settings, "https://www.youtube.com/watch?v=dQw4w9WgXcQ")
    assert youtube == YOUTUBE_POLITENESS
    assert politeness_options(settings, "https://youtu.be/dQw4w9WgXcQ") == YOUTUBE_POLITENESS
    assert politeness_options(settings, "http://127.0.0.1:8000/v/x/manifest.mpd") == {}


def test_what_the_user_sets_applies_to_every_site(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "YTARCHIVE_SLEEP_REQUESTS": "0",
        "YTARCHIVE_SLEEP_INTERVAL": "2",
        "YTARCHIVE_MAX_SLEEP_INTERVAL": "1",
        "YTARCHIVE_RATE_LIMIT": "4.2M",
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    expected = {"sleep_interval": 2.0, "max_sleep_interval": 2.0, "ratelimit": 4404019}
    assert politeness_options(settings, "https://www.youtube.com/watch?v=x") == expected
    assert politeness_options(settings, "http://127.0.0.1:1/v/x/manifest.mpd") == expected


@pytest.mark.parametrize(
    ("value", "expected"), [("500K", 512000), ("4.2M", 4404019), ("1g", 1073741824), ("800", 800)]
)
def test_the_rate_limit_reads_like_yt_dlp(monkeypatch, value: str, expected: int) -> None:
    from yt_dlp.utils import parse_bytes

    monkeypatch.setenv("YTARCHIVE_RATE_LIMIT", value)
    assert load_settings().rate_limit == expected == parse_bytes(value)


def test_a_bad_rate_limit_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YTARCHIVE_RATE_LIMIT", "fast")
    with pytest.raises(InputError) as caught:
        load_settings()
    assert (
        str(caught.value)
        == "YTARCHIVE_RATE_LIMIT: not a byte count: 'fast' (use e.g. 500K or 4.2M)"
    )


# -- [ytdlp] in ytarchive.toml ----------------------------------------------------------------


def test_an_option_ytarchive_sets_itself_is_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ytarchive.toml").write_text('[ytdlp]\nouttmpl = "%(title)s.%(ext)s"\n')
    with pytest.raises(InputError) as caught:
        check_site_settings(load_settings())
    assert str(caught.value) == (
        "ytarchive.toml: [ytdlp] outtmpl is set by ytarchive: "
        "ytarchive names the files (YTARCHIVE_OUTPUT_DIR)"
    )


@pytest.mark.slow
def test_a_ytdlp_option_from_ytarchive_toml_reaches_the_site(ytarchive_env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ytarchive.toml").write_text(
        '[ytdlp]\nhttp_headers = { "X-Archive-Test" = "from-toml" }\n'
        'extractor_args = { youtube = { player_client = ["web"] } }\n'
    )
    settings = load_settings()
    check_site_settings(settings)
    video = ytarchive_env.testbed.lib.add_video()
    assert download_video(video.video_id, settings, "360p").status == "archived"
    requests = ytarchive_env.testbed.media.requests
    assert requests and all(r.headers.get("X-Archive-Test") == "from-toml" for r in requests)
    assert settings.ytdlp["http_headers"] == {"X-Archive-Test": "from-toml"}  # not changed
