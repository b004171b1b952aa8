"""`ytarchive health` always says whether an API key is set, never what it is, at no cost."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.helpers import run_cli

SECRET = "AIzaSy-not-a-real-key-0123456789"


def _health(tmp_path: Path, *args: str, key: str | None) -> dict[str, dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if k not in ("YOUTUBE_API_KEY", "PREFECT_API_URL")}
    env |= {"YTARCHIVE_OUTPUT_DIR": str(tmp_path / "archive"), "PREFECT_HOME": str(tmp_path)}
    # A Data API that cannot answer: any call the check made would show as a failure.
    env["YTARCHIVE_YOUTUBE_API_URL"] = "http://127.0.0.1:9/"
    if key is not None:
        env["YOUTUBE_API_KEY"] = key
    result = run_cli("health", *args, env=env)
    assert SECRET not in result.stdout + result.stderr
    if "--format" not in args:
        return {"table": {"stdout": result.stdout}}
    return {c["check"]: c for c in json.loads(result.stdout)["checks"]}


def test_a_set_key_is_shown_as_set_without_a_call(tmp_path: Path) -> None:
    key = _health(tmp_path, "--format", "json", key=SECRET)["api key"]
    assert key["status"] == "ok"
    assert "YOUTUBE_API_KEY is set" in key["detail"]
    table = _health(tmp_path, key=SECRET)["table"]["stdout"]
    assert "api key" in table and "YOUTUBE_API_KEY is set" in table


def test_no_key_is_shown_as_no_key(tmp_path: Path) -> None:
    key = _health(tmp_path, "--format", "json", key=None)["api key"]
    assert key["status"] == "skipped"
    assert key["detail"].startswith("no YOUTUBE_API_KEY")
