"""An archive run's progress, read from Prefect's REST API: counts by state, each video's state.

`playlist status` and the Python API's job status; no prefect import (ytarchive.prefect_api).
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from ytarchive.errors import InputError
from ytarchive.prefect_api import PAGE, PrefectApi, is_final

__all__ = ["read_status"]

_PREFIX = re.compile(r"[0-9a-fA-F-]{4,36}")
_SCAN = 2000  # runs searched, newest first, for an id prefix
_CANDIDATES = 20  # runs of one name looked at for the one that did work
_FINAL_TASK = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
_READ = "read the run from Prefect"


def read_status(run: str, api: PrefectApi) -> dict[str, Any]:
    """The run named by id, id prefix (4+ characters) or name: state, counts, per-video rows.

    Of several runs with one name: the one in progress, else the newest that did work (a
    re-run that found everything archived did none); `picked` says which, and why."""
    flow_run, picked = _find_run(api, run.strip())
    progress, note = _progress(api, flow_run["id"])  # first: the task runs are then newer
    task_runs = _task_runs(api, flow_run["id"])
    videos = [_video(tr) for tr in task_runs if tr["name"].startswith("download-")]
    _add_outcomes(videos, flow_run)
    state = flow_run.get("state")
    if not is_final(state):
        progress, note = _live_progress(task_runs, progress, note)
    state_type = flow_run.get("state_type") or "PENDING"
    return {
        "flow_run_id": str(flow_run["id"]),
        "flow_run_name": flow_run["name"],
        "state": flow_run.get("state_name") or state_type.title(),
        "final": is_final(state),
        "message": state.get("message") if state else None,
        "progress": progress,
        "progress_note": note,
        "picked": picked,
        "counts": dict(Counter(v["state"] for v in videos)),
        "outcomes": dict(Counter(v["outcome"] for v in videos if v["outcome"])),
        "metadata_tasks": sum(1 for tr in task_runs if tr["name"].startswith("metadata-batch")),
        "videos": videos,
    }


def _find_run(api: PrefectApi, run: str) -> tuple[dict[str, Any], str | None]:
    try:
        run_id = uuid.UUID(run)
    except ValueError:
        pass
    else:
        found = api.get(f"/flow_runs/{run_id}", _READ)
        if found is None:
            raise InputError(f"no flow run with id {run!r}")
        return found, None
    named = _named(api, run)
    if named:
        return _pick(api, run, named)
    if _PREFIX.fullmatch(run):
        return _by_prefix(api, run.lower()), None
    raise InputError(f"no flow run named {run!r} (give the id or name `download` printed)")


def _named(api: PrefectApi, name: str) -> list[dict[str, Any]]:
    body = {
        "flow_runs": {"name": {"any_": [name]}},
        "sort": "EXPECTED_START_TIME_DESC",
        "limit": _CANDIDATES,
    }
    return list(api.post("/flow_runs/filter", body, _READ))


def _pick(api: PrefectApi, name: str, runs: list[dict[str, Any]]) -> tuple[Any, str | None]:
    """The run in progress, else the newest that did work, else the newest; and what to say."""
    if len(runs) == 1:
        return runs[0], None
    going = [r for r in runs if not is_final(r.get("state"))]
    if going:
        return going[0], f"the one of {len(runs)} runs named {name} in progress"
    for newer, flow_run in enumerate(runs):
        if _did_work(api, flow_run["id"]):
            if not newer:
                return flow_run, None
            skipped = f"{newer} newer run{'s' if newer > 1 else ''} had nothing to do"
            return flow_run, f"the newest run named {name} that did work ({skipped})"
    return runs[0], None


def _did_work(api: PrefectApi, flow_run_id: str) -> bool:
    """Any task run but the listing: metadata fetched or a video tried."""
    body = {"flow_runs": {"id": {"any_": [flow_run_id]}}, "limit": 2}
    tasks = api.post("/task_runs/filter", body, _READ)
    return any(t["name"] != "list-playlist" for t in tasks)


def _by_prefix(api: PrefectApi, prefix: str) -> dict[str, Any]:
    newest = {"sort": "EXPECTED_START_TIME_DESC"}
    runs = api.iter_filter("flow_runs", newest, _READ, limit=_SCAN)
    found = [r for r in runs if str(r["id"]).startswith(prefix)]
    if len(found) > 1:
        raise InputError(f"run {prefix!r} is ambiguous: {len(found)} run ids start with it")
    if not found:
        raise InputError(f"no flow run named {prefix!r} and no run id starts with it")
    return found[0]


def _live_progress(
    task_runs: list[dict[str, Any]], progress: float | None, note: str | None
) -> tuple[float | None, str | None]:
    """While the run works, the share done from its task runs (the artifact lags up to 1 s),
    of the total to do the artifact gives."""
    match = re.search(r"(\d+) of (\d+)", note or "")
    if match is None:
        return progress, note
    total = int(match.group(2))
    done = sum(
        1
        for t in task_runs
        if t["name"].startswith("download-") and t.get("state_type") in _FINAL_TASK
    )
    done = min(max(done, int(match.group(1))), total)
    return (100.0 * done / total if total else 100.0), f"{done} of {total} videos done"


def _task_runs(api: PrefectApi, flow_run_id: str) -> list[dict[str, Any]]:
    body = {"flow_runs": {"id": {"any_": [flow_run_id]}}, "sort": "EXPECTED_START_TIME_ASC"}
    return api.filter("task_runs", body, _READ)


def _progress(api: PrefectApi, flow_run_id: str) -> tuple[float | None, str | None]:
    body = {"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": PAGE}
    for artifact in api.post("/artifacts/filter", body, _READ):
        if artifact.get("type") == "progress":
            try:
                return float(artifact["data"]), artifact.get("description")
            except (TypeError, ValueError):
                return None, artifact.get("description")
    return None, None


def _video(task_run: dict[str, Any]) -> dict[str, Any]:
    name = task_run["name"][len("download-") :]
    video_id, _, title = name.partition(" ")
    kind = task_run.get("state_type")
    state = task_run.get("state_name") or (kind.title() if kind else "")
    return {
        "video_id": video_id,
        "title": title or None,
        "state": state,
        "attempts": task_run.get("run_count"),
        "outcome": None,
        "reason": None,
    }


def _add_outcomes(videos: list[dict[str, Any]], flow_run: dict[str, Any]) -> None:
    """archived / unavailable / failed as the run recorded them in its archive's catalog."""
    output_dir = (flow_run.get("parameters") or {}).get("output_dir")
    if not videos or not output_dir or not Path(output_dir).is_dir():
        return
    from ytarchive.catalog import Catalog

    latest = Catalog(Path(output_dir)).latest_outcomes([v["video_id"] for v in videos])
    for row in videos:
        result = latest.get(row["video_id"])
        if result is not None and result.flow_run_id == str(flow_run["id"]):
            row["outcome"] = result.status
            row["reason"] = result.reason
