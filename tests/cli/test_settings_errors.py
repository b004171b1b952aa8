"""Bad settings and empty batch files, as a user meets them: one line naming what they set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import cli_in_process as _cli
from tests.helpers import run_cli
from ytarchive.config import Settings, env_names

VID = "dQw4w9WgXcQ"


@pytest.fixture
def user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's shell: no YTARCHIVE_* settings, an archive dir under tmp_path (not made yet)."""
    for name in list(os.environ):
        if name.upper().startswith("YTARCHIVE_") or name.upper() == "YOUTUBE_API_KEY":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    archive = tmp_path / "archive"
    monkeypatch.setenv("YTARCHIVE_OUTPUT_DIR", str(archive))
    return archive


def _refused(capsys: pytest.CaptureFixture[str], archive: Path, *args: str) -> str:
    """Exit 2, one `Error:` line on stderr, nothing on stdout, nothing written; the line."""
    code, out, err = _cli(capsys, *args)
    assert (code, out) == (2, ""), err
    assert err.startswith("Error: ") and err.count("\n") == 1, err
    assert not archive.exists()
    return err.removeprefix("Error: ").rstrip("\n")


@pytest.mark.parametrize("option", ["--max-concurrent", "-j"])
def test_max_concurrent_0_names_the_option(user: Path, capsys, option: str) -> None:
    line = _refused(capsys, user, "download", VID, option, "0")
    assert line == "--max-concurrent must be at least 1"


def test_a_variable_that_is_not_a_number_is_named(user: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("YTARCHIVE_MAX_CONCURRENT", "abc")
    assert (
        _refused(capsys, user, "download", VID) == "YTARCHIVE_MAX_CONCURRENT: not a number: 'abc'"
    )


@pytest.mark.parametrize(
    "field",
    [name for name, info in Settings.model_fields.items() if info.annotation in (int, float)],
)
def test_every_numeric_setting_names_its_variable(
    user: Path, capsys, monkeypatch, field: str
) -> None:
    (variable,) = env_names(field)
    monkeypatch.setenv(variable, "-1")
    assert _refused(capsys, user, "download", VID).startswith(f"{variable} must be at least ")


def test_a_bad_ytarchive_toml_is_named(user: Path, capsys) -> None:
    Path("ytarchive.toml").write_text("max_retries = 99\n")
    assert (
        _refused(capsys, user, "download", VID) == "ytarchive.toml: max_retries must be at most 10"
    )


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing yet\n\n# still nothing\n"])
@pytest.mark.parametrize("command", ["download", "metadata"])
def test_an_empty_batch_file_says_it_is_empty(
    user: Path, capsys, tmp_path: Path, text: str, command: str
) -> None:
    batch = tmp_path / "urls.txt"
    batch.write_text(text)
    line = _refused(capsys, user, command, "--batch", str(batch))
    assert line.startswith(f"batch file is empty: {batch}")
    assert ("# comments" in line) == bool(text.strip())


def test_the_same_from_a_shell(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("YTARCHIVE_")}
    env |= {"YTARCHIVE_OUTPUT_DIR": str(archive), "YTARCHIVE_MAX_CONCURRENT": "abc"}
    result = run_cli("download", VID, env=env)
    assert result.returncode == 2
    assert result.stderr == "Error: YTARCHIVE_MAX_CONCURRENT: not a number: 'abc'\n"
    assert result.stdout == "" and not archive.exists()
    result = run_cli("download", VID, "-j", "0", env={**env, "YTARCHIVE_MAX_CONCURRENT": "3"})
    assert (result.returncode, result.stderr) == (2, "Error: --max-concurrent must be at least 1\n")
