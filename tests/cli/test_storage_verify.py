"""`ytarchive storage verify`: the archived files against the catalog, without Prefect."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.cli.test_recovery import VID_A, VID_B, _archive_by_hand
from tests.helpers import run_cli as ytarchive

_VERIFY_NO_PREFECT = """
import sys
from ytarchive.cli import main
code = main(["storage", "verify", "--format", "json"])
sys.stderr.write("PREFECT_LOADED=%s\\n" % ("prefect" in sys.modules))
sys.exit(code)
"""


def test_storage_verify_finds_a_missing_and_a_resized_file_without_prefect(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    env = {**os.environ, "YTARCHIVE_OUTPUT_DIR": str(root)}
    kept = _archive_by_hand(root, VID_A, b"a" * 1000)
    gone = _archive_by_hand(root, VID_B, b"b" * 500)

    clean = subprocess.run(
        [sys.executable, "-c", _VERIFY_NO_PREFECT], capture_output=True, text=True, env=env
    )
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout) == {"problems": [], "plan_id": None}
    assert "PREFECT_LOADED=False" in clean.stderr

    gone.unlink()
    kept.write_bytes(b"a" * 10)
    broken = subprocess.run(
        [sys.executable, "-c", _VERIFY_NO_PREFECT], capture_output=True, text=True, env=env
    )
    assert broken.returncode == 1, broken.stderr
    assert "PREFECT_LOADED=False" in broken.stderr
    problems = {p["video_id"]: p for p in json.loads(broken.stdout)["problems"]}
    assert problems[VID_A]["problem"] == "size"
    assert (problems[VID_A]["expected_bytes"], problems[VID_A]["actual_bytes"]) == (1000, 10)
    assert problems[VID_B]["problem"] == "missing"
    assert problems[VID_B]["file_path"] == f"videos/{gone.name}"


def test_storage_verify_table_names_the_problem(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    _archive_by_hand(root, VID_A, b"x" * 10).unlink()
    result = ytarchive("storage", "verify", env={**os.environ, "YTARCHIVE_OUTPUT_DIR": str(root)})
    assert result.returncode == 1
    assert VID_A in result.stdout and "missing" in result.stdout
