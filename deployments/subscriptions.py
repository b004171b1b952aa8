"""Subscriptions, kept as Prefect deployments: one `sub-<key>` deployment per playlist or channel.

Each subscription is a deployment of the `sync-subscriptions` flow with parameters
`{"urls": [url], "quality": q, "live_from_start": b}` and its own cron schedule, in the
`ytarchive-pool` work pool. So the Prefect server is the only store: the UI shows every
subscription with its schedule, next and past runs; it survives restarts; and any worker of the
pool runs it when it is due.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from deployments.pool import ensure_work_pool
from deployments.steps import PULL_STEPS
from flows.subscribed import Subscription, list_subscriptions, read_deployment, subscription_of
from ytarchive.errors import InputError
from ytarchive.names import POOL_NAME, SUBSCRIPTION_PREFIX, SYNC_FLOW
from ytarchive.refs import ChannelRef, PlaylistRef, parse_playlist_ref
from ytarchive.subscribed import made_by_a_schedule_not_in

__all__ = [
    "DEFAULT_CRON",
    "DEFAULT_TIMEZONE",
    "ENTRYPOINT",
    "Subscription",
    "subscription_name",
    "cron_schedule",
    "job_variables",
    "drop_stale_runs",
    "subscribe",
    "list_subscriptions",
    "unsubscribe",
]

DEFAULT_CRON = "0 3 * * *"  # nightly, 03:00
DEFAULT_TIMEZONE = "UTC"
ENTRYPOINT = "flows/subscriptions.py:sync_subscriptions_flow"
_BANNED = re.compile(r"[/%&<>\s]")


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
    return SUBSCRIPTION_PREFIX + _BANNED.sub("-", key)


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
    return client.create_flow_from_name(SYNC_FLOW)


def _parameter_schema() -> dict[str, Any]:
    from prefect.utilities.callables import parameter_schema

    from flows.subscriptions import sync_subscriptions_flow

    return parameter_schema(sync_subscriptions_flow).model_dump()


def job_variables(
    cookies_file: Path | None,
    files: dict[str, str | None] | None = None,
    existing: Any = None,
) -> dict[str, Any]:
    """The deployment's job variables: the env of the worker's runs. The file options given
    (YTARCHIVE_SUBTITLES, ...; dropped when a re-subscribe leaves them out) and the cookie
    file's path as YTARCHIVE_COOKIES_FILE (never a parameter, never the contents; kept from the
    existing subscription when a re-subscribe gives no --cookies)."""
    env = {f"YTARCHIVE_{k.upper()}": v for k, v in (files or {}).items() if v is not None}
    if cookies_file is not None:
        env["YTARCHIVE_COOKIES_FILE"] = str(cookies_file)
    else:
        kept = (getattr(existing, "job_variables", None) or {}).get("env") or {}
        if kept.get("YTARCHIVE_COOKIES_FILE"):
            env["YTARCHIVE_COOKIES_FILE"] = kept["YTARCHIVE_COOKIES_FILE"]
    return {"env": env} if env else {}


def subscribe(
    client: Any,
    url: str,
    schedule: Any,
    quality: str | None = None,
    live_from_start: bool = False,
    files: dict[str, str | None] | None = None,
    *,
    cookies_file: Path | None = None,
) -> tuple[Subscription, bool]:
    """Create or update the subscription's deployment. Returns it and whether it is new.

    `files` (subtitles, convert_subs, output_template: not secrets) go in the deployment's job
    variables as YTARCHIVE_* env, so the worker's Settings of each run read them."""
    ref = parse_playlist_ref(url)
    name = subscription_name(ref)
    existing = read_deployment(client, name)
    ensure_work_pool(client)
    from prefect.client.schemas.actions import DeploymentScheduleCreate

    deployment_id = client.create_deployment(
        flow_id=_flow_id(client),
        name=name,
        description=f"Subscription: archives new videos of {ref.url}",
        entrypoint=ENTRYPOINT,
        work_pool_name=POOL_NAME,
        parameters={"urls": [ref.url], "quality": quality, "live_from_start": live_from_start},
        parameter_openapi_schema=_parameter_schema(),
        enforce_parameter_schema=True,
        pull_steps=PULL_STEPS,
        job_variables=job_variables(cookies_file, files, existing),
        schedules=[DeploymentScheduleCreate(schedule=schedule, active=True)],
        paused=False,
    )
    # The API upserts by flow and name: an update replaces parameters and schedules, and deletes
    # the runs ahead that the replaced schedules had made.
    deployment = client.read_deployment(deployment_id)
    if existing is not None:
        drop_stale_runs(client, deployment)
    return subscription_of(deployment), existing is None


def drop_stale_runs(client: Any, deployment: Any) -> int:
    """Delete the runs ahead that a schedule the deployment no longer has made; how many.

    The server deletes them as it replaces the schedules, but its scheduler reads a deployment's
    schedules in one session and writes their runs in the next: a pass that read the old
    schedule just before the update writes its runs just after it (seen: a `*/30` run left
    beside the new Monday one). Such a run would still start, with the old parameters."""
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    current = {str(s.id) for s in deployment.schedules or []}
    runs = client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
        ),
    )
    stale = [r for r in runs if made_by_a_schedule_not_in(r.created_by, current)]
    for run in stale:
        client.delete_flow_run(run.id)
    return len(stale)


def unsubscribe(client: Any, url: str) -> Subscription:
    """Delete the subscription's deployment (its past runs stay in the history)."""
    name = subscription_name(parse_playlist_ref(url))
    found = read_deployment(client, name)
    if found is None:
        raise InputError(f"not subscribed: {url!r} (see `ytarchive subscriptions`)")
    client.delete_deployment(found.id)
    return subscription_of(found)
