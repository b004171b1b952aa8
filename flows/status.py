"""An archive run's progress, read back from Prefect: counts by state and each video's state."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from ytarchive.errors import InputError

__all__ = ["read_status"]

_PAGE = 200
_PREFIX = re.compile(r"[0-9a-fA-F-]{4,36}")
_SCAN = 2000  # runs searched, newest first, for an id prefix
_CANDIDATES = 20  # runs of one name looked at for the one that did work
_FINAL_TASK = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def read_status(run: str) -> dict[str, Any]:
    """The run named by id, id prefix (4+ characters) or name: state, counts, per-video rows.

    Of several runs with one name: the one in progress, else the newest that did work (a
    re-run that found everything archived did none); `picked` says which, and why."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        flow_run, picked = _find_run(client, run.strip())
        progress, note = _progress(client, flow_run.id)  # first: the task runs are then newer
        task_runs = _task_runs(client, flow_run.id)
    videos = [_video(tr) for tr in task_runs if tr.name.startswith("download-")]
    _add_outcomes(videos, flow_run)
    if not (flow_run.state and flow_run.state.is_final()):
        progress, note = _live_progress(task_runs, progress, note)
    state_type = flow_run.state_type.value if flow_run.state_type else "PENDING"
    return {
        "flow_run_id": str(flow_run.id),
        "flow_run_name": flow_run.name,
        "state": flow_run.state_name or state_type.title(),
        "final": bool(flow_run.state and flow_run.state.is_final()),
        "message": flow_run.state.message if flow_run.state else None,
        "progress": progress,
        "progress_note": note,
        "picked": picked,
        "counts": dict(Counter(v["state"] for v in videos)),
        "outcomes": dict(Counter(v["outcome"] for v in videos if v["outcome"])),
        "metadata_tasks": sum(1 for tr in task_runs if tr.name.startswith("metadata-batch")),
        "videos": videos,
    }


def _find_run(client: Any, run: str) -> tuple[Any, str | None]:
    from prefect.exceptions import ObjectNotFound

    try:
        return client.read_flow_run(uuid.UUID(run)), None
    except ValueError:
        pass
    except ObjectNotFound:
        raise InputError(f"no flow run with id {run!r}") from None
    named = _named(client, run)
    if named:
        return _pick(client, run, named)
    if _PREFIX.fullmatch(run):
        return _by_prefix(client, run.lower()), None
    raise InputError(f"no flow run named {run!r} (give the id or name `download` printed)")


def _named(client: Any, name: str) -> list[Any]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    return list(
        client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            limit=_CANDIDATES,
        )
    )


def _pick(client: Any, name: str, runs: list[Any]) -> tuple[Any, str | None]:
    """The run in progress, else the newest that did work, else the newest; and what to say."""
    if len(runs) == 1:
        return runs[0], None
    going = [r for r in runs if not (r.state and r.state.is_final())]
    if going:
        return going[0], f"the one of {len(runs)} runs named {name} in progress"
    for newer, flow_run in enumerate(runs):
        if _did_work(client, flow_run.id):
            if not newer:
                return flow_run, None
            skipped = f"{newer} newer run{'s' if newer > 1 else ''} had nothing to do"
            return flow_run, f"the newest run named {name} that did work ({skipped})"
    return runs[0], None


def _did_work(client: Any, flow_run_id: uuid.UUID) -> bool:
    """Any task run but the listing: metadata fetched or a video tried."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    runs = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    tasks = client.read_task_runs(flow_run_filter=runs, limit=2)
    return any(t.name != "list-playlist" for t in tasks)


def _by_prefix(client: Any, prefix: str) -> Any:
    from prefect.client.schemas.sorting import FlowRunSort

    found: list[Any] = []
    for offset in range(0, _SCAN, _PAGE):
        page = client.read_flow_runs(
            sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=_PAGE, offset=offset
        )
        found += [r for r in page if str(r.id).startswith(prefix)]
        if len(page) < _PAGE:
            break
    if len(found) > 1:
        raise InputError(f"run {prefix!r} is ambiguous: {len(found)} run ids start with it")
    if not found:
        raise InputError(f"no flow run named {prefix!r} and no run id starts with it")
    return found[0]


def _live_progress(
    task_runs: list[Any], progress: float | None, note: str | None
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
        if t.name.startswith("download-") and t.state_type and t.state_type.value in _FINAL_TASK
    )
    done = min(max(done, int(match.group(1))), total)
    return (100.0 * done / total if total else 100.0), f"{done} of {total} videos done"


def _task_runs(client: Any, flow_run_id: uuid.UUID) -> list[Any]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    runs = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    out: list[Any] = []
    while True:
        page = client.read_task_runs(
            flow_run_filter=runs,
            sort=TaskRunSort.EXPECTED_START_TIME_ASC,
            limit=_PAGE,
            offset=len(out),
        )
        out += page
        if len(page) < _PAGE:
            return out


def _progress(client: Any, flow_run_id: uuid.UUID) -> tuple[float | None, str | None]:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    artifacts = client.read_artifacts(
        artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
    )
    for artifact in artifacts:
        if artifact.type == "progress":
            try:
                return float(artifact.data), artifact.description
            except (TypeError, ValueError):
                return None, artifact.description
    return None, None


def _video(task_run: Any) -> dict[str, Any]:
    name = task_run.name[len("download-") :]
    video_id, _, title = name.partition(" ")
    state = task_run.state_name or (
        task_run.state_type.value.title() if task_run.state_type else ""
    )
    return {
        "video_id": video_id,
        "title": title or None,
        "state": state,
        "attempts": task_run.run_count,
        "outcome": None,
        "reason": None,
    }


def _add_outcomes(videos: list[dict[str, Any]], flow_run: Any) -> None:
    """archived / unavailable / failed as the run recorded them in its archive's catalog."""
    output_dir = (flow_run.parameters or {}).get("output_dir")
    if not videos or not output_dir or not Path(output_dir).is_dir():
        return
    from ytarchive.catalog import Catalog

    latest = Catalog(Path(output_dir)).latest_outcomes([v["video_id"] for v in videos])
    for row in videos:
        result = latest.get(row["video_id"])
        if result is not None and result.flow_run_id == str(flow_run.id):
            row["outcome"] = result.status
            row["reason"] = result.reason
