"""The refresh flow: re-fetch metadata of archived videos; record snapshots; mark what vanished.

Each refresh appends one new snapshot per archived video to the catalog's `videos` table, so
view and like counts build a history (the `video_snapshots` view; docs/analytics.md). A video
that went private or was deleted upstream gets a snapshot that keeps our last known title,
description and counts, with `availability` and `unavailable_reason` set: our copy stays.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from flows import runtime
from flows.secrets import settings_with_api_key
from tasks.policies import with_retries
from ytarchive.config import Settings
from ytarchive.errors import DownloadFailed
from ytarchive.models import VideoMetadata
from ytarchive.names import REFRESH_FLOW
from ytarchive.refs import VideoRef, is_video_id

__all__ = ["BATCH_SIZE", "refresh_metadata_flow", "refresh_batch", "snapshot"]

runtime.prompt_flow_ends()  # no wait on Prefect's heartbeat thread as a flow run ends

BATCH_SIZE = 50  # videos.list takes up to 50 ids for 1 quota unit
COLUMNS = ("batch", "videos", "refreshed", "unavailable", "newly_unavailable", "quota_units")


def snapshot(
    video_id: str, previous: VideoMetadata | None, fetched: VideoMetadata
) -> VideoMetadata:
    """The snapshot to record: what was fetched, or (gone upstream) our last copy, marked."""
    if fetched.availability == "available" or previous is None:
        update: dict[str, Any] = {"video_id": video_id}
        if previous is not None and fetched.webpage_url is None:
            update["webpage_url"] = previous.webpage_url
        return fetched.model_copy(update=update)
    return previous.model_copy(
        update={
            "availability": fetched.availability,
            "unavailable_reason": fetched.unavailable_reason,
            "fetched_at": fetched.fetched_at,
            "source": fetched.source,
        }
    )


def _ref(video_id: str, previous: VideoMetadata | None) -> VideoRef | None:
    if is_video_id(video_id):
        return VideoRef(video_id=video_id, url=f"https://www.youtube.com/watch?v={video_id}")
    if previous is not None and previous.webpage_url:
        return VideoRef(video_id=None, url=previous.webpage_url)
    return None  # another site's video whose page we never learned: nothing to fetch


@task(
    name="refresh-batch",
    task_run_name="refresh-batch-{n}",
    cache_policy=NO_CACHE,
    persist_result=False,
)  # retries: with_retries(refresh_batch, settings), the budget in tasks/policies.py
def refresh_batch(n: int, video_ids: list[str], output_dir: str) -> dict[str, Any]:
    """Re-fetch up to 50 videos (one videos.list call with a key) and record their snapshots."""
    from ytarchive.catalog import Catalog
    from ytarchive.metadata import MetadataService

    settings = settings_with_api_key(Settings(output_dir=Path(output_dir)))
    catalog = Catalog(settings.output_dir)
    previous = catalog.metadata(video_ids)
    wanted = [(v, r) for v in video_ids if (r := _ref(v, previous.get(v))) is not None]
    service = MetadataService(settings)
    fetched = service.videos([r for _, r in wanted])
    snaps = [snapshot(v, previous.get(v), f) for (v, _), f in zip(wanted, fetched, strict=True)]
    if snaps:
        catalog.record_metadata(snaps)
    gone = [s for s in snaps if s.availability != "available"]
    newly = [
        s.video_id
        for s in gone
        if previous.get(s.video_id) is None or previous[s.video_id].availability == "available"
    ]
    return {
        "batch": n,
        "videos": len(video_ids),
        "refreshed": len(snaps) - len(gone),
        "unavailable": len(gone),
        "newly_unavailable": newly,
        "quota_units": int(service.units_spent),
    }


def archived_ids(output_dir: Path) -> list[str]:
    """Every video whose newest outcome is archived, sorted."""
    from ytarchive.catalog import Catalog

    outcomes = Catalog(output_dir).latest_outcomes()
    return sorted(v for v, r in outcomes.items() if r.status == "archived")


@flow(
    name=REFRESH_FLOW,
    task_runner=cast(Any, ThreadPoolTaskRunner(max_workers=4)),  # Prefect's generic is too narrow
    log_prints=False,
)
def refresh_metadata_flow(output_dir: str | None = None, limit: int | None = None) -> dict:
    """Refresh metadata of every archived video (or the first `limit`), 50 ids a task.

    Ends Failed when a batch still failed after its retries; the batches that finished are
    recorded either way.
    """
    logger = get_run_logger()
    base = Settings(output_dir=Path(output_dir)) if output_dir else Settings()
    settings = settings_with_api_key(base)
    ids = archived_ids(settings.output_dir)[: limit if limit and limit > 0 else None]
    chunks = [ids[i : i + BATCH_SIZE] for i in range(0, len(ids), BATCH_SIZE)]
    logger.info("Refreshing %d archived video(s) in %d batch(es)", len(ids), len(chunks))
    root = str(settings.output_dir)
    batch = with_retries(refresh_batch, settings)
    futures = [batch.submit(n, chunk, root) for n, chunk in enumerate(chunks, start=1)]
    for future in futures:
        future.wait()
    states = [f.state for f in futures]
    rows = [s.result() for s in states if s.is_completed()]
    summary = _summary(len(ids), rows, failed=len(states) - len(rows))
    _artifact(rows, summary)
    logger.info(
        "Refreshed %d video(s): %d unavailable upstream (%d newly), %d quota unit(s)",
        summary["refreshed"],
        summary["unavailable"],
        len(summary["newly_unavailable"]),
        summary["quota_units"],
    )
    if summary["failed_batches"]:
        raise DownloadFailed(f"{summary['failed_batches']} of {len(chunks)} batch(es) failed")
    return summary


def _summary(total: int, rows: list[dict[str, Any]], failed: int) -> dict[str, Any]:
    return {
        "videos": total,
        "batches": len(rows) + failed,
        "failed_batches": failed,
        "refreshed": sum(r["refreshed"] for r in rows),
        "unavailable": sum(r["unavailable"] for r in rows),
        "newly_unavailable": sorted(v for r in rows for v in r["newly_unavailable"]),
        "quota_units": sum(r["quota_units"] for r in rows),
    }


def _artifact(rows: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    table = [
        {c: ", ".join(r[c]) if c == "newly_unavailable" else r[c] for c in COLUMNS} for r in rows
    ]
    create_table_artifact(
        key="refresh-metadata",
        table=table or [{c: None for c in COLUMNS}],
        description=(
            f"**{summary['refreshed']}** refreshed, **{summary['unavailable']}** unavailable "
            f"upstream ({len(summary['newly_unavailable'])} newly), "
            f"{summary['quota_units']} quota units"
        ),
    )
