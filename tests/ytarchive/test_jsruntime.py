"""The JavaScript runtime yt-dlp is pointed at (the deno wheel), and yt-dlp's release age."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from ytarchive import jsruntime

ROOT = Path(__file__).resolve().parents[2]


def test_the_deno_wheel_is_found_with_its_version() -> None:
    import deno

    runtime = jsruntime.find_js_runtime()
    assert runtime is not None
    assert (runtime.name, runtime.path) == ("deno", deno.find_deno_bin())
    out = subprocess.run([runtime.path, "--version"], capture_output=True, text=True).stdout
    assert out.startswith(f"deno {runtime.version} ")
    assert str(runtime) == f"deno {runtime.version}"


def test_found_without_the_virtualenv_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker started by a service manager may have a PATH without .venv/bin."""
    monkeypatch.setenv("PATH", "/nonexistent")
    runtime = jsruntime.find_js_runtime()
    assert runtime is not None and runtime.name == "deno" and Path(runtime.path).is_file()


def test_yt_dlp_accepts_the_option_and_finds_the_binary() -> None:
    """The option the downloader passes: real yt-dlp resolves the runtime at that path."""
    from yt_dlp import YoutubeDL

    runtime = jsruntime.find_js_runtime()
    option = jsruntime.ytdlp_js_runtimes(runtime)
    assert option == {"deno": {"path": runtime.path}}
    with YoutubeDL({"quiet": True, "js_runtimes": option, "ignoreconfig": True}) as ydl:
        info = ydl._js_runtimes["deno"].info
    assert (info.path, info.version, info.supported) == (runtime.path, runtime.version, True)
    assert jsruntime.ytdlp_js_runtimes(None) == {}


def test_none_without_the_wheel_and_without_a_runtime_on_path(tmp_path: Path) -> None:
    """An interpreter that has no deno wheel (-S: no site-packages), and a PATH without one."""
    code = "from ytarchive.jsruntime import find_js_runtime; print(find_js_runtime())"
    result = subprocess.run(
        [sys.executable, "-S", "-c", code],
        env={"PATH": str(tmp_path), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout.strip()) == (0, "None"), result.stderr


def test_a_runtime_older_than_yt_dlp_accepts_is_skipped(tmp_path: Path) -> None:
    old = tmp_path / "node"
    old.write_text("#!/bin/sh\necho v20.20.2\n")
    old.chmod(0o755)
    assert jsruntime.runtime_version("node", str(old)) == "20.20.2"
    assert jsruntime._version_tuple("20.20.2") < jsruntime.MIN_VERSIONS["node"]
    assert jsruntime.runtime_version("deno", str(tmp_path / "missing")) is None


def test_release_age_comes_from_the_installed_version() -> None:
    from importlib.metadata import version

    installed = version("yt-dlp")
    released = date(*map(int, installed.split(".")[:3]))
    age = jsruntime.ytdlp_release_age(released + timedelta(days=61))
    assert age is not None
    assert (age.version, age.released, age.days, age.stale) == (installed, released, 61, True)
    fresh = jsruntime.ytdlp_release_age(released + timedelta(days=60))
    assert fresh is not None and not fresh.stale


def test_the_module_does_not_import_yt_dlp() -> None:
    code = (
        "import sys, json; from ytarchive import jsruntime; jsruntime.find_js_runtime();"
        "jsruntime.ytdlp_release_age(); print(json.dumps('yt_dlp' in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy()
    )
    assert json.loads(out.stdout) is False, out.stderr
