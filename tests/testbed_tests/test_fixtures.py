"""The fixtures: ytarchive_env points Settings at the bed; testbed state resets."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.testbed.fixtures import Testbed, YtarchiveEnv
from ytarchive.config import Settings


def test_ytarchive_env_points_settings_at_the_testbed(
    ytarchive_env: YtarchiveEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray ytarchive.toml
    settings = Settings()
    assert settings.output_dir == tmp_path / "downloads"
    assert settings.youtube_api_url == ytarchive_env.api_url.rstrip("/")
    assert settings.video_url("abcdefghijk") == ytarchive_env.testbed.video_url("abcdefghijk")
    assert settings.youtube_api_key is not None
    assert settings.youtube_api_key.get_secret_value() == ytarchive_env.api_key
    assert ytarchive_env.env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"


def test_testbed_reset_clears_everything(testbed: Testbed) -> None:
    testbed.lib.make_playlist(3)
    testbed.media.set_fault("*", "404")
    testbed.media.bandwidth_cap = 10
    testbed.api.fail_next(5)
    testbed.api.set_quota(1, used=1)
    testbed.reset()
    assert not testbed.lib.videos and not testbed.lib.playlists
    assert testbed.media.bandwidth_cap is None and testbed.media.request_count() == 0
    assert testbed.api.quota_remaining == 10_000 and testbed.api.call_count() == 0
    assert testbed.video_url_template.endswith("/v/{video_id}/manifest.mpd")


def test_make_playlist_ids(testbed: Testbed) -> None:
    import re

    playlist = testbed.lib.make_playlist(50)
    assert re.fullmatch(r"PL[A-Za-z0-9_-]{32}", playlist.playlist_id)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{11}", v) for v in playlist.video_ids)
    assert len(set(playlist.video_ids)) == 50
