"""The fleet's shared Prefect objects: the process work pool and the download concurrency limit."""

from __future__ import annotations

from typing import Any

__all__ = [
    "POOL_NAME",
    "DOWNLOAD_LIMIT",
    "SYNC_FLOW_NAME",
    "ensure_work_pool",
    "ensure_download_limit",
]

POOL_NAME = "ytarchive-pool"
DOWNLOAD_LIMIT = "ytarchive-downloads"
SYNC_FLOW_NAME = "sync-subscriptions"


def ensure_work_pool(client: Any, name: str = POOL_NAME) -> bool:
    """Create the process work pool unless it exists. True when it was created."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    try:
        client.create_work_pool(WorkPoolCreate(name=name, type="process"))
    except ObjectAlreadyExists:
        return False
    return True


def ensure_download_limit(client: Any, slots: int, name: str = DOWNLOAD_LIMIT) -> bool:
    """Create the fleet-wide download limit with `slots` unless it exists (never resized here).

    True when it was created. Resize it with `prefect gcl update ytarchive-downloads --limit N`.
    """
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists

    try:
        client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name=name, limit=slots, active=True)
        )
    except ObjectAlreadyExists:
        return False
    return True
