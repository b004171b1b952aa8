"""The fleet's shared Prefect objects: the process work pool and the download concurrency limit."""

from __future__ import annotations

from typing import Any

from ytarchive.names import DOWNLOAD_LIMIT, POOL_NAME

__all__ = ["ensure_work_pool", "ensure_download_limit"]


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
    Read before create: the server logs an ERROR for every create that meets an existing name
    (on PostgreSQL and SQLite alike), so hosts joining the fleet would each leave one in its log.
    """
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    try:
        client.read_global_concurrency_limit_by_name(name)
        return False
    except ObjectNotFound:
        pass
    try:
        client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name=name, limit=slots, active=True)
        )
    except ObjectAlreadyExists:
        return False
    return True
