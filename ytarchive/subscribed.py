"""The subscriptions (the sub-* deployments of the sync flow), read from Prefect's REST API.

No prefect import: `ytarchive subscriptions` reads them over ytarchive.prefect_api, and
flows/subscribed.py gives the flows and deployments the same reader over their client's URL.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from ytarchive.names import SUBSCRIPTION_PREFIX, SYNC_FLOW
from ytarchive.prefect_api import PrefectApi, parse_time

__all__ = ["Subscription", "list_subscriptions", "subscription_from_json"]

_READ = "read the subscriptions from Prefect"


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


def list_subscriptions(api: PrefectApi, with_next_run: bool = True) -> list[Subscription]:
    """Every subscription, sorted by name, with its next scheduled run."""
    body = {"flows": {"name": {"any_": [SYNC_FLOW]}}}
    deployments = api.filter("deployments", body, _READ)
    subs = [
        subscription_from_json(d)
        for d in deployments
        if str(d.get("name", "")).startswith(SUBSCRIPTION_PREFIX)
    ]
    if with_next_run and subs:
        nexts = _next_runs(api, [s.deployment_id for s in subs])
        for s in subs:
            s.next_run = nexts.get(s.deployment_id)
    return sorted(subs, key=lambda s: s.name)


def subscription_from_json(deployment: dict[str, Any]) -> Subscription:
    """The subscription a `sub-*` deployment (the API's JSON) holds: url, quality, schedule."""
    params = deployment.get("parameters") or {}
    urls = params.get("urls") or [""]
    schedules = deployment.get("schedules") or []
    schedule = schedules[0] if schedules else None
    spec = (schedule or {}).get("schedule") or {}
    return Subscription(
        name=deployment["name"],
        url=urls[0],
        quality=params.get("quality"),
        cron=spec.get("cron"),
        timezone=spec.get("timezone"),
        active=bool(schedule and schedule.get("active") and not deployment.get("paused")),
        deployment_id=str(deployment["id"]),
    )


def _next_runs(api: PrefectApi, deployment_ids: list[str]) -> dict[str, datetime]:
    """deployment id -> its next run: the earliest Scheduled run ahead that the server's
    scheduler made (a run already late is not "next"). One small query per subscription."""
    scheduled = {
        "state": {"type": {"any_": ["SCHEDULED"]}},
        "next_scheduled_start_time": {"after_": datetime.now(UTC).isoformat()},
    }
    nexts: dict[str, datetime] = {}
    for deployment_id in deployment_ids:
        body = {
            "deployments": {"id": {"any_": [deployment_id]}},
            "flow_runs": scheduled,
            "sort": "EXPECTED_START_TIME_ASC",
            "limit": 1,
        }
        runs = api.post("/flow_runs/filter", body, _READ)
        start = parse_time(runs[0].get("expected_start_time")) if runs else None
        if start is not None:
            nexts[deployment_id] = start
    return nexts
