"""Subscriptions, kept as Prefect deployments: one `sub-<key>` deployment per playlist or channel.

Each subscription is a deployment of the `sync-subscriptions` flow with parameters
`{"urls": [url], "quality": q}` and its own cron schedule, in the `ytarchive-pool` work pool. So
the Prefect server is the only store: the UI shows every subscription with its schedule, next and
past runs; it survives restarts; and any worker of the pool runs it when it is due.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from deployments.pool import POOL_NAME, SYNC_FLOW_NAME, ensure_work_pool
from deployments.steps import PULL_STEPS
from ytarchive.errors import InputError
from ytarchive.refs import ChannelRef, PlaylistRef, parse_playlist_ref

__all__ = [
    "DEFAULT_CRON",
    "DEFAULT_TIMEZONE",
    "ENTRYPOINT",
    "PREFIX",
    "Subscription",
    "subscription_name",
    "cron_schedule",
    "subscribe",
    "list_subscriptions",
    "unsubscribe",
]

PREFIX = "sub-"
DEFAULT_CRON = "0 3 * * *"  # nightly, 03:00
DEFAULT_TIMEZONE = "UTC"
ENTRYPOINT = "flows/subscriptions.py:sync_subscriptions_flow"
_PAGE = 200
_BANNED = re.compile(r"[/%&<>\s]")


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


def subscription_name(ref: PlaylistRef | ChannelRef) -> str:
    """`sub-<playlist id | channel id | @handle>`; another site's URL gets host + a short hash."""
    if isinstance(ref, PlaylistRef) and ref.playlist_id:
        key = ref.playlist_id
    elif isinstance(ref, ChannelRef) and not (ref.custom or ref.user):
        key = ref.key
    elif isinstance(ref, ChannelRef):
        key = f"c-{ref.custom}" if ref.custom else f"user-{ref.user}"
    else:
        host = (urlsplit(ref.url).hostname or "url").lower()
        key = f"{host}-{hashlib.sha1(ref.url.encode()).hexdigest()[:10]}"
    return PREFIX + _BANNED.sub("-", key)


def cron_schedule(cron: str, timezone: str = DEFAULT_TIMEZONE) -> Any:
    """A Prefect CronSchedule, or an InputError naming the bad expression or time zone."""
    from prefect.client.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    try:
        return CronSchedule(cron=cron, timezone=timezone)
    except ValidationError as exc:
        field = str(exc.errors()[0].get("loc", ("cron",))[0])
        value = cron if field == "cron" else timezone
        raise InputError(f"--{field}: not a valid {field}: {value!r}") from None


def _flow_id(client: Any) -> Any:
    return client.create_flow_from_name(SYNC_FLOW_NAME)


def _parameter_schema() -> dict[str, Any]:
    from prefect.utilities.callables import parameter_schema

    from flows.subscriptions import sync_subscriptions_flow

    return parameter_schema(sync_subscriptions_flow).model_dump()


def subscribe(
    client: Any, url: str, schedule: Any, quality: str | None = None
) -> tuple[Subscription, bool]:
    """Create or update the subscription's deployment. Returns it and whether it is new."""
    ref = parse_playlist_ref(url)
    name = subscription_name(ref)
    existing = _read(client, name)
    ensure_work_pool(client)
    from prefect.client.schemas.actions import DeploymentScheduleCreate

    deployment_id = client.create_deployment(
        flow_id=_flow_id(client),
        name=name,
        description=f"Subscription: archives new videos of {ref.url}",
        entrypoint=ENTRYPOINT,
        work_pool_name=POOL_NAME,
        parameters={"urls": [ref.url], "quality": quality},
        parameter_openapi_schema=_parameter_schema(),
        enforce_parameter_schema=True,
        pull_steps=PULL_STEPS,
        schedules=[DeploymentScheduleCreate(schedule=schedule, active=True)],
        paused=False,
    )
    # The API upserts by flow and name: an update replaces parameters and schedules.
    return _subscription(client.read_deployment(deployment_id)), existing is None


def list_subscriptions(client: Any, with_next_run: bool = True) -> list[Subscription]:
    """Every subscription, sorted by name, with its next scheduled run."""
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    flows = FlowFilter(name=FlowFilterName(any_=[SYNC_FLOW_NAME]))
    deployments: list[Any] = []
    while True:  # the API pages at 200
        page = client.read_deployments(flow_filter=flows, limit=_PAGE, offset=len(deployments))
        deployments.extend(page)
        if len(page) < _PAGE:
            break
    subs = [_subscription(d) for d in deployments if d.name.startswith(PREFIX)]
    if with_next_run and subs:
        nexts = _next_runs(client, [s.deployment_id for s in subs])
        for s in subs:
            s.next_run = nexts.get(s.deployment_id)
    return sorted(subs, key=lambda s: s.name)


def unsubscribe(client: Any, url: str) -> Subscription:
    """Delete the subscription's deployment (its past runs stay in the history)."""
    name = subscription_name(parse_playlist_ref(url))
    found = _read(client, name)
    if found is None:
        raise InputError(f"not subscribed: {url!r} (see `ytarchive subscriptions`)")
    client.delete_deployment(found.id)
    return _subscription(found)


def _read(client: Any, name: str) -> Any | None:
    from prefect.exceptions import ObjectNotFound

    try:
        return client.read_deployment_by_name(f"{SYNC_FLOW_NAME}/{name}")
    except ObjectNotFound:
        return None


def _subscription(deployment: Any) -> Subscription:
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
    from datetime import UTC
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
        next_scheduled_start_time=FlowRunFilterNextScheduledStartTime(after_=datetime.now(UTC)),
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
