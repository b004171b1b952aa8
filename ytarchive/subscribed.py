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

__all__ = [
    "Subscription",
    "list_subscriptions",
    "made_by_a_schedule_not_in",
    "subscription_from_json",
]

_READ = "read the subscriptions from Prefect"
_PAGE = 5


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
        schedules = {
            str(d["id"]): {str(s.get("id")) for s in d.get("schedules") or []} for d in deployments
        }
        nexts = _next_runs(api, {s.deployment_id: schedules[s.deployment_id] for s in subs})
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


def _next_runs(api: PrefectApi, schedules: dict[str, set[str]]) -> dict[str, datetime]:
    """deployment id -> its next run: the earliest Scheduled run ahead that one of the
    deployment's schedules made (a run already late is not "next"; one a replaced schedule made
    is not the subscription's, see deployments.subscriptions.drop_stale_runs). One small query per
    subscription, a page more only while a page holds only such leftovers."""
    scheduled = {
        "state": {"type": {"any_": ["SCHEDULED"]}},
        "next_scheduled_start_time": {"after_": datetime.now(UTC).isoformat()},
    }
    nexts: dict[str, datetime] = {}
    for deployment_id, current in schedules.items():
        offset = 0
        while True:
            body = {
                "deployments": {"id": {"any_": [deployment_id]}},
                "flow_runs": scheduled,
                "sort": "EXPECTED_START_TIME_ASC",
                "limit": _PAGE,
                "offset": offset,
            }
            runs = api.post("/flow_runs/filter", body, _READ)
            ours = [r for r in runs if not made_by_a_schedule_not_in(r.get("created_by"), current)]
            start = parse_time(ours[0].get("expected_start_time")) if ours else None
            if start is not None:
                nexts[deployment_id] = start
            if ours or len(runs) < _PAGE:
                break
            offset += _PAGE
    return nexts


def made_by_a_schedule_not_in(created_by: Any, schedule_ids: set[str]) -> bool:
    """Whether a run's `created_by` (the client's object or the API's JSON) names a schedule
    not among `schedule_ids`: a run a replaced schedule made."""
    if created_by is None:
        return False
    if isinstance(created_by, dict):
        kind, made_by = created_by.get("type"), created_by.get("id")
    else:
        kind, made_by = getattr(created_by, "type", None), getattr(created_by, "id", None)
    return kind == "SCHEDULE" and str(made_by) not in schedule_ids
