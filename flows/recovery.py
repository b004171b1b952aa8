"""Retry recovery plans: the archive flow again for just a plan's items, linked by `recovery_of`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from flows.archive import archive_playlist_flow, archive_videos_flow
from flows.history import PrefectHistory
from ytarchive import recovery
from ytarchive.config import Settings
from ytarchive.errors import DownloadFailed
from ytarchive.names import RETRY_FLOW

__all__ = ["RetryOutcome", "retry_plan", "retry_open_plans", "retry_failed_flow"]

DEFAULT_QUALITY = "best"


@dataclass
class RetryOutcome:
    """What retrying one plan did: the run it started, and the items still not done after it."""

    plan_id: str
    flow_run_id: str | None
    state: str
    items: list[str]
    remaining: list[str] = field(default_factory=list)
    message: str | None = None
    items_known: bool = True
    task_runs: int | None = None  # as the run's summary counts them (to complete its history)

    @property
    def exit_code(self) -> int:
        """0 when every item is archived or unavailable now, else 1 (as for `download`)."""
        if self.remaining:
            return 1
        return 0 if self.items_known or self.state == "COMPLETED" else 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "flow_run_id": self.flow_run_id,
            "state": self.state,
            "items": self.items,
            "remaining": self.remaining,
            "message": self.message,
        }


def retry_plan(
    plan: recovery.Plan, settings: Settings, history: recovery.History | None = None
) -> RetryOutcome:
    """Run the archive flow for the plan's items (or its whole playlist when they are unknown).

    The new run carries ``recovery_of=<plan id>``, which closes the plan; if items still fail,
    the new run is the one open plan that holds them.
    """
    root = Path(plan.output_dir or settings.output_dir)
    common: dict[str, Any] = {
        "quality": plan.quality or DEFAULT_QUALITY,
        "output_dir": str(root),
        "max_concurrent": settings.max_concurrent,
        "recovery_of": plan.plan_id,
        "return_state": True,
    }
    if plan.items is None:
        state = archive_playlist_flow(url=plan.playlist_url, **common)
    else:
        state = archive_videos_flow(urls=[_target(i) for i in plan.items], **common)
    run_id = state.state_details.flow_run_id
    history = history or PrefectHistory()
    recovery.settle_dead_run(plan, history, recovered_by=str(run_id) if run_id else None)
    remaining = _remaining(root, plan)
    summary = state.result(raise_on_failure=False)
    return RetryOutcome(
        plan_id=plan.plan_id,
        flow_run_id=str(run_id) if run_id else None,
        state=state.type.value,
        items=plan.video_ids,
        remaining=remaining,
        message=None if state.is_completed() else state.message,
        items_known=plan.items is not None,
        task_runs=summary.get("task_runs") if isinstance(summary, dict) else None,
    )


def _target(item: recovery.PlanItem) -> str:
    return item.url or item.video_id


def _remaining(root: Path, plan: recovery.Plan) -> list[str]:
    """The plan's items the catalog still does not hold as archived or unavailable."""
    if plan.items is None:
        return []
    from ytarchive.catalog import Catalog

    done = Catalog(root).settled_ids(plan.video_ids)
    return [v for v in plan.video_ids if v not in done]


def retry_open_plans(
    settings: Settings, history: recovery.History | None = None
) -> list[RetryOutcome]:
    """Retry every open plan of the archive, oldest first."""
    history = history or PrefectHistory()
    plans = recovery.list_plans(Path(settings.output_dir), with_errors=False, history=history)
    return [retry_plan(p, settings, history) for p in reversed(plans)]


@flow(name=RETRY_FLOW, log_prints=False)
def retry_failed_flow(output_dir: str | None = None, max_concurrent: int | None = None) -> dict:
    """Retry every open recovery plan of the archive (the daily `retry-failed` deployment).

    Each plan's retry is an archive subflow run linked to the plan by ``recovery_of``. The run
    ends Failed when an item still failed: the subflow that holds it is the one open plan.
    """
    overrides: dict[str, Any] = {"output_dir": output_dir, "max_concurrent": max_concurrent}
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    logger = get_run_logger()
    outcomes = retry_open_plans(settings)
    logger.info("Retried %d open recovery plan(s) in %s", len(outcomes), settings.output_dir)
    if outcomes:
        create_table_artifact(
            key="retry-failed-summary",
            table=[o.as_dict() for o in outcomes],
            description=f"{len(outcomes)} recovery plan(s) retried",
        )
    failed = [o for o in outcomes if o.exit_code]
    if failed:
        left = sum(len(o.remaining) for o in failed)
        raise DownloadFailed(f"{len(failed)} plan(s) still have {left} item(s) that failed")
    return {"plans": len(outcomes), "results": [o.as_dict() for o in outcomes]}
