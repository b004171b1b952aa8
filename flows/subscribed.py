"""The subscriptions as Prefect holds them (the sub-* deployments of the sync flow), read back.

Here, below deployments/, because the sync flow reads them too: deployments/subscriptions.py
creates and deletes them, and imports this to read them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, cast

from ytarchive.names import SUBSCRIPTION_PREFIX, SYNC_FLOW

__all__ = ["Subscription", "list_subscriptions", "read_deployment", "subscription_of"]

_PAGE = 200  # the API pages at 200


@dataclass
class Subscription:
    """One subscription as the Prefect API holds it."""

    name: str
    url: str
    quality: str | None
    cron: str | None
    timezone: str | None
    active: bool
    deployment_id: str
    next_run: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_subscriptions(client: Any, with_next_run: bool = True) -> list[Subscription]:
    """Every subscription, sorted by name, with its next scheduled run."""
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    flows = FlowFilter(name=FlowFilterName(any_=[SYNC_FLOW]))
    deployments: list[Any] = []
    while True:
        page = client.read_deployments(flow_filter=flows, limit=_PAGE, offset=len(deployments))
        deployments.extend(page)
        if len(page) < _PAGE:
            break
    subs = [subscription_of(d) for d in deployments if d.name.startswith(SUBSCRIPTION_PREFIX)]
    if with_next_run and subs:
        nexts = _next_runs(client, [s.deployment_id for s in subs])
        for s in subs:
            s.next_run = nexts.get(s.deployment_id)
    return sorted(subs, key=lambda s: s.name)


def read_deployment(client: Any, name: str) -> Any | None:
    """The subscription deployment `sync-subscriptions/<name>`, or None."""
    from prefect.exceptions import ObjectNotFound

    try:
        return client.read_deployment_by_name(f"{SYNC_FLOW}/{name}")
    except ObjectNotFound:
        return None


def subscription_of(deployment: Any) -> Subscription:
    """The subscription a `sub-*` deployment holds: its url, quality and cron schedule."""
    params = deployment.parameters or {}
    urls = params.get("urls") or [""]
    schedule = deployment.schedules[0] if deployment.schedules else None
    cron = getattr(schedule.schedule, "cron", None) if schedule else None
    return Subscription(
        name=deployment.name,
        url=urls[0],
        quality=params.get("quality"),
        cron=cron,
        timezone=getattr(schedule.schedule, "timezone", None) if schedule else None,
        active=bool(schedule and schedule.active and not deployment.paused),
        deployment_id=str(deployment.id),
    )


def _next_runs(client: Any, deployment_ids: list[str]) -> dict[str, datetime]:
    """deployment id -> its next run: the earliest Scheduled run ahead that the server's
    scheduler made (a run already late is not "next"). One small query per subscription."""
    from uuid import UUID

    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterNextScheduledStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    scheduled = FlowRunFilter(
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])),
        next_scheduled_start_time=FlowRunFilterNextScheduledStartTime(
            after_=cast(Any, datetime.now(UTC))  # Prefect types it as its own DateTime
        ),
    )
    nexts: dict[str, datetime] = {}
    for deployment_id in deployment_ids:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[UUID(deployment_id)])),
            flow_run_filter=scheduled,
            sort=FlowRunSort.EXPECTED_START_TIME_ASC,
            limit=1,
        )
        if runs and runs[0].expected_start_time:
            nexts[deployment_id] = runs[0].expected_start_time
    return nexts
