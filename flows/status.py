"""An archive run's progress, read back from Prefect: counts by state and each video's state."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from ytarchive.errors import InputError

__all__ = ["read_status"]

_PAGE = 200


def read_status(run: str) -> dict[str, Any]:
    """The run named by id or name (the newest of that name): state, counts, per-video rows."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        flow_run = _find_run(client, run.strip())
        task_runs = _task_runs(client, flow_run.id)
        progress, note = _progress(client, flow_run.id)
    videos = [_video(tr) for tr in task_runs if tr.name.startswith("download-")]
    _add_outcomes(videos, flow_run)
    state_type = flow_run.state_type.value if flow_run.state_type else "PENDING"
    return {
        "flow_run_id": str(flow_run.id),
        "flow_run_name": flow_run.name,
        "state": flow_run.state_name or state_type.title(),
        "final": bool(flow_run.state and flow_run.state.is_final()),
        "message": flow_run.state.message if flow_run.state else None,
        "progress": progress,
        "progress_note": note,
        "counts": dict(Counter(v["state"] for v in videos)),
        "outcomes": dict(Counter(v["outcome"] for v in videos if v["outcome"])),
        "metadata_tasks": sum(1 for tr in task_runs if tr.name.startswith("metadata-batch")),
        "videos": videos,
    }


def _find_run(client: Any, run: str) -> Any:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.exceptions import ObjectNotFound

    try:
        return client.read_flow_run(uuid.UUID(run))
    except ValueError:
        pass
    except ObjectNotFound:
        raise InputError(f"no flow run with id {run!r}") from None
    found = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[run])),
        sort=FlowRunSort.START_TIME_DESC,
        limit=1,
    )
    if not found:
        raise InputError(f"no flow run named {run!r} (give the id or name `download` printed)")
    return found[0]


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
