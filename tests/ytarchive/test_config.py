"""Settings come from the environment and ytarchive.toml; the key stays secret."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ytarchive.config import Settings, env_names, load_settings
from ytarchive.errors import InputError


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.upper().startswith("YTARCHIVE_") or name.upper() == "YOUTUBE_API_KEY":
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


# -- errors that name what the user set ---------------------------------------------------------

NUMERIC = [name for name, info in Settings.model_fields.items() if info.annotation in (int, float)]


def _error(**overrides: object) -> str:
    with pytest.raises(InputError) as caught:
        load_settings(overrides)
    return str(caught.value)


def test_an_option_out_of_range_is_named_as_typed(clean_env: Path) -> None:
    assert _error(max_concurrent=0) == "--max-concurrent must be at least 1"
    assert _error(max_concurrent=65) == "--max-concurrent must be at most 64"
    with pytest.raises(InputError, match=r"^--output: not a path: 3$"):
        load_settings({"output_dir": 3}, options={"output_dir": "--output"})


def test_a_variable_that_is_not_a_number_is_named(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YTARCHIVE_MAX_CONCURRENT", "abc")
    assert _error() == "YTARCHIVE_MAX_CONCURRENT: not a number: 'abc'"
    monkeypatch.setenv("YTARCHIVE_MAX_CONCURRENT", "2.5")
    assert _error() == "YTARCHIVE_MAX_CONCURRENT: not a whole number: '2.5'"
    assert load_settings({"max_concurrent": 4}).max_concurrent == 4  # the option wins


@pytest.mark.parametrize("field", NUMERIC)
def test_every_numeric_setting_names_its_variable(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, field: str
) -> None:
    (variable,) = env_names(field)
    assert variable == f"YTARCHIVE_{field.upper()}"
    monkeypatch.setenv(variable, "abc")
    assert _error() == f"{variable}: not a number: 'abc'"
    monkeypatch.setenv(variable, "-5")
    assert _error().startswith(f"{variable} must be at least ")
    monkeypatch.setenv(variable, "1000000")
    assert _error().startswith(f"{variable} must be at most ")


def test_a_bad_ytarchive_toml_is_named(clean_env: Path) -> None:
    (clean_env / "ytarchive.toml").write_text('max_concurrent = "x"\n')
    assert _error() == "ytarchive.toml: max_concurrent: not a number: 'x'"
    (clean_env / "ytarchive.toml").write_text("max_concurrent = \n")
    assert _error().startswith("ytarchive.toml: not valid TOML: ")


def test_a_bad_key_value_is_never_shown(clean_env: Path) -> None:
    (clean_env / "ytarchive.toml").write_text("youtube_api_key = 987654321\n")
    message = _error()
    assert message.startswith("ytarchive.toml: youtube_api_key")
    assert "987654321" not in message
