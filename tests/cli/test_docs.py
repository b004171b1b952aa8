"""Every command has help with an example, and the README mentions it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer

from ytarchive import __version__
from ytarchive.cli import app, main

ROOT = Path(__file__).resolve().parents[2]


def _commands() -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []

    def walk(prefix: str, command: object) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands is None:
            found.append((prefix, command))
            return
        for name, sub in subcommands.items():
            walk(f"{prefix} {name}".strip(), sub)

    walk("", typer.main.get_command(app))
    return found


COMMANDS = _commands()


def test_there_are_commands() -> None:
    assert len(COMMANDS) >= 1


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_command_help_has_an_example(name: str, command: object, capsys) -> None:
    code = main([*name.split(), "--help"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Example:" in out, f"`ytarchive {name} --help` has no Example:"


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_readme_mentions_every_command(name: str, command: object) -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"ytarchive {name}" in readme, f"README.md does not mention `ytarchive {name}`"


def test_version(capsys) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"ytarchive {__version__}"


def test_console_script_help_runs_without_heavy_imports() -> None:
    code = (
        "import sys; from ytarchive.cli import main; rc = main(['--help']);"
        "heavy = [m for m in ('prefect', 'yt_dlp', 'googleapiclient', 'duckdb', 'pyarrow')"
        " if m in sys.modules]; print('HEAVY', heavy); sys.exit(rc)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout


def test_unknown_command_is_a_usage_error_without_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ytarchive", "frobnicate"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "No such command 'frobnicate'" in result.stderr
