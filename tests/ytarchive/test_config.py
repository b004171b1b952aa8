"""Settings come from the environment and ytarchive.toml; the key stays secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from ytarchive.config import Settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("YOUTUBE_API_KEY", "YTARCHIVE_OUTPUT_DIR", "YTARCHIVE_MAX_CONCURRENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults(clean_env: Path) -> None:
    s = Settings()
    assert s.output_dir == Path("downloads")
    assert s.max_concurrent == 3
    assert s.youtube_api_url == "https://www.googleapis.com"
    assert s.video_url("abcdefghijk") == "https://www.youtube.com/watch?v=abcdefghijk"
    assert not s.has_api_key


def test_env_overrides_and_key_is_secret(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YOUTUBE_API_KEY", "AIzaSECRET123")
    monkeypatch.setenv("YTARCHIVE_OUTPUT_DIR", "/srv/archive")
    monkeypatch.setenv("YTARCHIVE_MAX_CONCURRENT", "8")
    s = Settings()
    assert s.has_api_key
    assert s.output_dir == Path("/srv/archive")
    assert s.max_concurrent == 8
    assert "AIzaSECRET123" not in repr(s)
    assert "AIzaSECRET123" not in s.model_dump_json()


def test_toml_file_is_read_and_env_wins(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / "ytarchive.toml").write_text('output_dir = "from-toml"\nmax_concurrent = 5\n')
    monkeypatch.setenv("YTARCHIVE_MAX_CONCURRENT", "2")
    s = Settings()
    assert s.output_dir == Path("from-toml")
    assert s.max_concurrent == 2
