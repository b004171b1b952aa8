"""pytest plugin: the loopback test bed (media + API stand-ins), ytarchive_env, the network guard.

Fixtures:
  dash_media (session)          the generated DashMedia (2 s, 10 fps)
  dash_media_factory (session)  factory(duration=..., fps=...) -> cached DashMedia (benchmarks)
  testbed_library (session)     the Library both servers share
  media_server, api_server (session)
  testbed (function)            Testbed(.lib .media .api .video_url_template .api_url .api_key),
                                state reset before and after each test
  ytarchive_env (function)      YTARCHIVE_* / YOUTUBE_API_KEY pointed at the testbed
  cookie_video (function)       CookieVideo: a video served only with its cookie, + cookies.txt
  closed_port (session)         ClosedPort: 127.0.0.1:<port> that refuses every connection
  network_guard (function)      the installed guard; a test fails if it refused anything
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.testbed.api_server import ApiServer
from tests.testbed.closed_port import ClosedPort
from tests.testbed.cookies import COOKIE_NAME, CookieVideo, new_cookie_value, write_cookies_txt
from tests.testbed.library import Library
from tests.testbed.media import DashMedia, generate_dash_media
from tests.testbed.media_server import MediaServer
from tests.testbed.netguard import NetworkGuard, guard

__all__ = ["Testbed", "YtarchiveEnv", "CookieVideo"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: tests that take seconds (real downloads, servers)")
    config.addinivalue_line("markers", "e2e: tests that drive deployments, workers or a browser")
    guard.install()  # before any test module runs, so imports cannot reach out either


def pytest_unconfigure(config: pytest.Config) -> None:
    guard.uninstall()


# ---------------------------------------------------------------------------------------------
# media
# ---------------------------------------------------------------------------------------------


def _media_cache_root(config: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """YTARCHIVE_TESTBED_CACHE, else pytest's cache dir (survives sessions), else a tmp dir."""
    if os.environ.get("YTARCHIVE_TESTBED_CACHE"):
        return Path(os.environ["YTARCHIVE_TESTBED_CACHE"])
    cache = getattr(config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("ytarchive-testbed"))
    return tmp_path_factory.mktemp("testbed-media")


@pytest.fixture(scope="session")
def dash_media_factory(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., DashMedia]:
    """factory(duration=2.0, fps=10) -> DashMedia, generated once per parameter set."""
    root = _media_cache_root(pytestconfig, tmp_path_factory)

    def make(duration: float = 2.0, fps: int = 10) -> DashMedia:
        return generate_dash_media(root, duration=duration, fps=fps)

    return make


@pytest.fixture(scope="session")
def dash_media(dash_media_factory: Callable[..., DashMedia]) -> DashMedia:
    """1080p/720p/360p h264 + AAC, 2 seconds, with manifest.mpd."""
    return dash_media_factory()


# ---------------------------------------------------------------------------------------------
# servers
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def testbed_library() -> Library:
    return Library()


@pytest.fixture(scope="session")
def media_server(dash_media: DashMedia, testbed_library: Library) -> Iterator[MediaServer]:
    with MediaServer(dash_media, testbed_library) as server:
        yield server


@pytest.fixture(scope="session")
def api_server(testbed_library: Library) -> Iterator[ApiServer]:
    with ApiServer(testbed_library) as server:
        yield server


@dataclass
class Testbed:
    """Both stand-ins and their shared library, for one test."""

    __test__ = False  # not a test class, despite the name

    lib: Library
    media: MediaServer
    api: ApiServer

    @property
    def video_url_template(self) -> str:
        return self.media.url_template

    def video_url(self, video_id: str) -> str:
        return self.media.video_url(video_id)

    @property
    def api_url(self) -> str:
        return self.api.base_url

    @property
    def api_key(self) -> str:
        return self.api.api_key

    def add_cookie_video(self, cookies_file: Path, **video: object) -> CookieVideo:
        """A library video served only to requests carrying a fresh cookie, and its cookies.txt."""
        value = new_cookie_value()
        added = self.lib.add_video(cookie=f"{COOKIE_NAME}={value}", **video)  # type: ignore[arg-type]
        write_cookies_txt(cookies_file, {COOKIE_NAME: value})
        url = self.video_url(added.video_id)
        return CookieVideo(added.video_id, url, COOKIE_NAME, value, cookies_file)

    def reset(self) -> None:
        self.lib.clear()
        self.media.reset()
        self.api.reset()


@pytest.fixture
def testbed(
    media_server: MediaServer, api_server: ApiServer, testbed_library: Library
) -> Iterator[Testbed]:
    """The session's servers with a clean library, no faults and zeroed counters."""
    bed = Testbed(testbed_library, media_server, api_server)
    bed.reset()
    yield bed
    bed.reset()


@pytest.fixture
def cookie_video(testbed: Testbed, tmp_path: Path) -> CookieVideo:
    """A video whose manifest and media answer 403 without its cookie; cookies.txt beside it."""
    return testbed.add_cookie_video(tmp_path / "cookies" / "cookies.txt", title="Members cookie")


@pytest.fixture(scope="session")
def closed_port() -> Iterator[ClosedPort]:
    """A reserved loopback port with nothing listening: connections to it are refused."""
    with ClosedPort() as port:
        yield port


@dataclass
class YtarchiveEnv:
    """What ytarchive_env put in the environment."""

    output_dir: Path
    api_url: str
    video_url_template: str
    api_key: str
    testbed: Testbed
    env: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def ytarchive_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, testbed: Testbed
) -> YtarchiveEnv:
    """Point YTArchive at the test bed: output dir under tmp_path, API and video URLs, key."""
    output_dir = tmp_path / "downloads"
    env = {
        "YTARCHIVE_OUTPUT_DIR": str(output_dir),
        "YTARCHIVE_YOUTUBE_API_URL": testbed.api_url,
        "YTARCHIVE_VIDEO_URL_TEMPLATE": testbed.video_url_template,
        "YOUTUBE_API_KEY": testbed.api_key,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return YtarchiveEnv(
        output_dir, testbed.api_url, testbed.video_url_template, testbed.api_key, testbed, env
    )


# ---------------------------------------------------------------------------------------------
# the guard
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def network_guard() -> NetworkGuard:
    """The session's guard (`.blocked`, `.clear()`); tests that provoke it should clear it."""
    return guard


@pytest.fixture(autouse=True)
def _no_network_reached() -> Iterator[None]:
    """Fail a test whose code tried to reach a non-loopback host, even if the code swallowed it."""
    before = len(guard.blocked)
    yield
    attempts = guard.blocked[before:]
    if attempts:
        guard.clear()
        shown = ", ".join(f"{what} {host}:{port}" for what, host, port in attempts[:5])
        pytest.fail(f"the test tried to leave 127.0.0.1: {shown}", pytrace=False)
