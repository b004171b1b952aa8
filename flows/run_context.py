"""What an archive run writes about itself for recovery to read back: its owner and its items.

flows/history.py reads these marks; ytarchive/names.py names them. Each is an API call made
before any download starts, so it is in the history even if the process is killed next.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ytarchive.hosts import host_name
from ytarchive.names import HOST_TAG, ITEMS_ARTIFACT_KEY, PID_TAG, ROOT_LABEL

__all__ = ["owner_tags", "mark_run_owner", "record_run_items"]


def owner_tags(host: str | None = None, pid: int | None = None) -> list[str]:
    """The tags naming the process that runs a flow: ``host:<name>``, ``pid:<n>``."""
    return [f"{HOST_TAG}{host or host_name()}", f"{PID_TAG}{pid or os.getpid()}"]


def mark_run_owner(root: Path | str | None = None) -> None:
    """Tag the current flow run with this host and pid, so recovery can tell if its process died,
    and label it with the archive root it writes to (resolved here, where relative paths mean
    something). Call first thing in a flow. Set through the API, not the tags context, so task
    runs do not inherit them. A no-op outside a flow run.
    """
    from prefect.client.orchestration import get_client
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    if ctx is None or ctx.flow_run is None:
        return
    run = ctx.flow_run
    keep = [t for t in run.tags or [] if not t.startswith((HOST_TAG, PID_TAG))]
    with get_client(sync_client=True) as client:
        client.update_flow_run(run.id, tags=[*keep, *owner_tags()])
        if root is not None:
            resolved = str(Path(root).expanduser().resolve())
            client.update_flow_run_labels(run.id, {ROOT_LABEL: resolved})


def record_run_items(video_ids: Sequence[str], urls: Mapping[str, str] | None = None) -> None:
    """Write the ``archive-items`` artifact: the items this run was asked to archive.

    Call it once the items are known (a playlist: right after listing), before any download
    starts. ``urls`` maps a video id to the URL it was given as, where that is not the id.
    """
    from prefect.artifacts import create_table_artifact
    from prefect.context import FlowRunContext

    if FlowRunContext.get() is None:
        return
    urls = urls or {}
    table = [{"video_id": v, "url": urls.get(v)} for v in dict.fromkeys(video_ids)]
    create_table_artifact(
        key=ITEMS_ARTIFACT_KEY,
        table=table,
        description=f"{len(table)} item(s) this run was asked to archive (`ytarchive recovery`).",
    )
