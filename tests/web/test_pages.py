"""The archive's pages in headless Chromium, over an archive made through the page's own form.

Screenshots at desktop and phone widths are kept in tests/web/artifacts/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.browser import Browser, chromium
from tests.web.conftest import ARTIFACTS, TOKEN, WebApp, playlist_url, run_web

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

TITLES = ["Lantern festival by the river", "Night market in the rain", "Ferry to the old town"]
CHAPTERS = "0:00 The lanterns rise\n0:01 Fireworks\nShot on a phone."
PHONE = {"width": 390, "height": 844, "mobile": True}


@pytest.fixture(scope="module")
def web(prefect_server, module_bed, tmp_path_factory) -> Iterator[WebApp]:
    chromium()
    root = tmp_path_factory.mktemp("web-pages") / "downloads"
    with run_web(root, module_bed) as app:
        yield app


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[Browser]:
    chromium()
    found = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield found
    found.close()


@pytest.fixture(scope="module")
def site(web: WebApp, browser: Browser) -> dict[str, Any]:
    """A playlist archived by filling in the "Archive a URL" form, as a person would."""
    lib = web.bed.lib
    first = lib.add_video(title=TITLES[0], description=CHAPTERS, subtitles=("en",))
    others = [lib.add_video(title=t) for t in TITLES[1:]]
    playlist = lib.add_playlist(
        title="Evening walks", video_ids=[first.video_id, *(v.video_id for v in others)]
    )
    browser.open(f"{web.url}/archive")
    browser.js(f"localStorage.setItem('ytarchive-token', {json.dumps(TOKEN)})")
    browser.js(
        f"document.getElementById('urls').value = {json.dumps(playlist_url(playlist.playlist_id))};"
        "document.getElementById('archive-form').requestSubmit()"
    )
    browser.wait_for(
        "document.getElementById('job-state').textContent.includes('Completed')", timeout=240
    )
    listed = browser.js("[...document.querySelectorAll('#job-videos li')].map(l => l.textContent)")
    return {"playlist": playlist, "videos": [first, *others], "listed": listed}


def test_the_form_archived_the_playlist_and_lists_each_video(site: dict[str, Any]) -> None:
    assert len(site["listed"]) == 3
    assert all("archived" in row for row in site["listed"]), site["listed"]


def test_front_page_shows_the_titles_thumbnails_and_counts(
    web: WebApp, browser: Browser, site: dict[str, Any]
) -> None:
    browser.open(f"{web.url}/")
    text = browser.js("document.body.innerText")
    for title in TITLES:
        assert title in text
    images = "[...document.querySelectorAll('.card img')]"
    assert browser.js(f"{images}.length") == 3
    browser.wait_for(f"{images}.every(i => i.complete && i.naturalWidth > 0)")  # lazy-loaded
    assert browser.js("document.querySelector('.count.ok b').textContent") == "3"
    _shoot(browser, "web-front-desktop.png")
    browser.open(f"{web.url}/", **PHONE)
    assert browser.js("document.documentElement.scrollWidth <= window.innerWidth")
    _shoot(browser, "web-front-phone.png")


def test_the_search_box_finds_a_video_by_a_word_of_its_title(
    web: WebApp, browser: Browser, site: dict[str, Any]
) -> None:
    browser.open(f"{web.url}/")
    browser.js("const f = document.querySelector('form.search'); f.q.value = 'MARKET'; f.submit()")
    browser.wait_for("location.pathname === '/search' && document.readyState === 'complete'")
    titles = browser.js("[...document.querySelectorAll('.card-title')].map(a => a.textContent)")
    assert titles == ["Night market in the rain"]


def test_the_video_page_plays_seeks_and_shows_chapters_and_subtitles(
    web: WebApp, browser: Browser, site: dict[str, Any]
) -> None:
    video = site["videos"][0]
    record = web.client.get(f"/videos/{video.video_id}").json()
    media = web.root / record["file_path"]
    # The downloader does not write subtitle files yet; this sidecar stands for the one
    # yt-dlp writes beside the media (<stem>.<lang>.vtt), which the page must offer as a track.
    media.with_name(f"{media.stem}.en.vtt").write_text(
        "WEBVTT\n\n00:00.000 --> 00:02.000\nLanterns rising\n"
    )
    browser.open(f"{web.url}/watch/{video.video_id}")
    played = browser.js(
        """new Promise((resolve) => {
          const v = document.getElementById('player');
          v.muted = true;
          v.addEventListener('timeupdate', () => v.currentTime > 0.2 &&
            resolve({ready: v.readyState, time: v.currentTime, error: v.error && v.error.code}));
          v.play().catch((e) => resolve({error: String(e)}));
          setTimeout(() => resolve({ready: v.readyState, timeout: true}), 20000);
        })"""
    )
    assert played.get("ready", 0) >= 2 and not played.get("error"), played
    assert played["time"] > 0.2 and not played.get("timeout")
    seeked = browser.js(
        """new Promise((resolve) => {
          const v = document.getElementById('player');
          v.pause();
          v.addEventListener('seeked', () => resolve(v.currentTime), {once: true});
          document.querySelectorAll('button.seek')[1].click();
        })"""
    )
    assert 0.9 <= seeked <= 1.5
    chapters = browser.js("[...document.querySelectorAll('.chapters li')].map(l => l.innerText)")
    assert chapters == ["0:00 The lanterns rise", "0:01 Fireworks"]
    browser.wait_for(
        "document.querySelector('track') && document.querySelector('track').readyState === 2"
    )
    assert browser.js("document.querySelector('track').srclang") == "en"
    _shoot(browser, "web-video-desktop.png")
    browser.open(f"{web.url}/watch/{video.video_id}", **PHONE)
    assert browser.js("document.documentElement.scrollWidth <= window.innerWidth")
    _shoot(browser, "web-video-phone.png")


def test_playlist_and_channel_pages_list_the_items_in_order_with_status(
    web: WebApp, browser: Browser, site: dict[str, Any]
) -> None:
    playlist = site["playlist"]
    browser.open(f"{web.url}/playlist/{playlist.playlist_id}")
    rows = browser.js(
        "[...document.querySelectorAll('.playlist li')].map(l => "
        "[l.querySelector('.card-title').textContent, l.querySelector('.status').textContent])"
    )
    assert rows == [[t, "archived"] for t in TITLES]
    _shoot(browser, "web-playlist-desktop.png")
    channel = site["videos"][0].channel_id
    browser.open(f"{web.url}/channel/{channel}", **PHONE)
    titles = browser.js("[...document.querySelectorAll('.card-title')].map(a => a.textContent)")
    assert sorted(titles) == sorted(TITLES)
    assert browser.js("document.documentElement.scrollWidth <= window.innerWidth")


def _shoot(browser: Browser, name: str) -> None:
    path = browser.screenshot(ARTIFACTS / name)
    assert path.stat().st_size > 10_000
    print(f"\nscreenshot: {path}")
