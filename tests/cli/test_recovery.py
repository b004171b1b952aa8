"""`ytarchive recovery ...` (and `storage verify --fix` into a plan), checked as a user would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ytarchive.cli import main
from ytarchive.models import DownloadResult

ROOT = Path(__file__).resolve().parents[2]
VID_A, VID_B = "recoveryAA1", "recoveryBB2"


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run the CLI in this process (Prefect already loaded): exit code, stdout, stderr."""
    try:
        code = main(list(args))
    except SystemExit as exc:  # our errors: "Error: ..." and exit 2 (or 1)
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _archive_by_hand(root: Path, video_id: str, data: bytes) -> Path:
    """A video file and its `archived` outcome, as a download would have left them."""
    from ytarchive.catalog import Catalog

    path = root / "videos" / f"Clip [{video_id}].mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    result = DownloadResult(
        video_id=video_id,
        status="archived",
        file_path=f"videos/{path.name}",
        bytes=len(data),
        quality="best",
    )
    Catalog(root).record_outcomes([result])
    return path


# ---------------------------------------------------------------------------------------------
# Bad input: exit 2, one line, nothing recorded
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Prefect API that does not answer: bad input must be refused before any is needed."""
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["recovery", "create"], "at least one video"),
        (["recovery", "create", "https://www.youtube.com/playlist?list=PL123456"], "not a video"),
        (["recovery", "create", "not a url"], "not a URL"),
        (["recovery", "create", VID_A, "--quality", "very good"], "quality"),
        (["recovery", "retry"], "one PLAN, or --all"),
        (["recovery", "retry", "abcd", "--all"], "one PLAN, or --all"),
    ],
)
def test_bad_input_is_exit_2_with_one_line(
    capsys, no_server: None, args: list[str], needle: str
) -> None:
    code, out, err = cli(capsys, *args)
    assert code == 2
    assert err.startswith("Error: ") and needle in err and err.count("\n") == 1
    assert out == ""


def test_a_bad_batch_line_is_named(capsys, no_server: None, tmp_path: Path) -> None:
    batch = tmp_path / "lost.txt"
    batch.write_text(f"# lost files\n{VID_A}\nnonsense here\n")
    code, _, err = cli(capsys, "recovery", "create", "--batch", str(batch))
    assert code == 2 and f"{batch}:3" in err


# ---------------------------------------------------------------------------------------------
# With the session's Prefect server
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def archive(prefect_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "archive"
    monkeypatch.setenv("YTARCHIVE_OUTPUT_DIR", str(root))
    return root


@pytest.mark.slow
def test_recovery_create_records_a_plan_that_list_and_show_read_back(capsys, archive) -> None:
    _archive_by_hand(archive, VID_A, b"a" * 100)  # archived: fetched again by the plan
    code, out, err = cli(capsys, "recovery", "create", VID_A, f"https://youtu.be/{VID_B}")
    assert code == 0, err
    plan_id = out.strip()
    assert "recovery retry " + plan_id in err

    code, out, _ = cli(capsys, "recovery", "list", "--format", "json")
    assert code == 0
    (plan,) = json.loads(out)
    assert (plan["plan_id"], plan["flow"], plan["state"]) == (plan_id, "recovery-plan", "Failed")
    assert plan["message"] == "recovery plan created by user"
    assert sorted(plan["video_ids"]) == sorted([VID_A, VID_B])
    assert plan["source"] == [VID_A, VID_B]
    assert plan["errors"][VID_A].startswith("RefetchRequested")  # the archived one was marked

    code, out, err = cli(capsys, "recovery", "show", plan_id[:8])
    assert code == 0
    assert f"Plan {plan_id}" in out and "recovery plan created by user" in out
    assert VID_A in out and VID_B in out and "RefetchRequested" in out

    code, out, _ = cli(capsys, "recovery", "list")
    assert code == 0 and plan_id[:8] in out and "recovery-plan" in out

    code, _, err = cli(capsys, "recovery", "show", "no-such-plan")
    assert code == 2 and "no recovery plan" in err


@pytest.mark.slow
def test_plans_of_another_archive_are_not_listed(capsys, archive, tmp_path: Path) -> None:
    from flows.history import PrefectHistory
    from ytarchive import recovery

    recovery.create_plan(tmp_path / "elsewhere", [recovery.Item(VID_A)], history=PrefectHistory())
    code, out, _ = cli(capsys, "recovery", "list", "--format", "json")
    assert (code, json.loads(out)) == (0, [])
    code, _, err = cli(capsys, "recovery", "list")
    assert code == 0 and "No open recovery plans" in err
    code, out, err = cli(capsys, "recovery", "retry", "--all", "--format", "json")
    assert (code, json.loads(out)) == (0, [])


@pytest.mark.slow
def test_a_deleted_file_found_by_verify_fix_is_restored_by_retrying_its_plan(
    capsys, prefect_server: str, ytarchive_env
) -> None:
    from flows.archive import archive_videos_flow
    from flows.runtime import configure_prefect

    configure_prefect()
    bed, root = ytarchive_env.testbed, ytarchive_env.output_dir
    keep, lose = bed.lib.add_video().video_id, bed.lib.add_video().video_id
    state = archive_videos_flow(urls=[keep, lose], output_dir=str(root), return_state=True)
    assert state.is_completed()
    code, _, _ = cli(capsys, "storage", "verify")
    assert code == 0

    lost = next((root / "videos").glob(f"*[[]{lose}[]].*"))
    lost.unlink()
    code, out, err = cli(capsys, "storage", "verify", "--fix", "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert [p["video_id"] for p in report["problems"]] == [lose]
    plan_id = report["plan_id"]
    assert plan_id and f"recovery retry {plan_id}" in err

    code, out, _ = cli(capsys, "recovery", "list", "--format", "json")
    (plan,) = json.loads(out)
    assert (plan["plan_id"], plan["video_ids"]) == (plan_id, [lose])
    assert plan["items"][0]["error_class"] == "MissingFile"

    requests_before = bed.media.manifest_requests(keep)
    code, out, err = cli(capsys, "recovery", "retry", plan_id)
    assert code == 0, err
    assert list((root / "videos").glob(f"*[[]{lose}[]].*")), "the file was not fetched again"
    assert bed.media.manifest_requests(keep) == requests_before  # only the plan's item ran
    assert cli(capsys, "storage", "verify")[0] == 0
    code, out, _ = cli(capsys, "recovery", "list", "--format", "json")
    assert json.loads(out) == []
    code, _, err = cli(capsys, "recovery", "retry", plan_id)
    assert code == 2 and "already taken over" in err
