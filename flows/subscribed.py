"""The subscriptions as Prefect holds them (the sub-* deployments of the sync flow), read back.

Here, below deployments/, because the sync flow reads them too: deployments/subscriptions.py
creates and deletes them, and imports this to read them. The reading itself is
ytarchive/subscribed.py's, over the REST API the given client talks to.
"""

from __future__ import annotations

from typing import Any

from ytarchive.prefect_api import PrefectApi
from ytarchive.subscribed import Subscription, subscription_from_json
from ytarchive.subscribed import list_subscriptions as _list

__all__ = ["Subscription", "list_subscriptions", "read_deployment", "subscription_of"]


def list_subscriptions(client: Any, with_next_run: bool = True) -> list[Subscription]:
    """Every subscription, sorted by name, with its next scheduled run (client: Prefect's)."""
    return _list(PrefectApi(str(client.api_url)), with_next_run)


def read_deployment(client: Any, name: str) -> Any | None:
    """The subscription deployment `sync-subscriptions/<name>`, or None."""
    from prefect.exceptions import ObjectNotFound

    from ytarchive.names import SYNC_FLOW

    try:
        return client.read_deployment_by_name(f"{SYNC_FLOW}/{name}")
    except ObjectNotFound:
        return None


def subscription_of(deployment: Any) -> Subscription:
    """The subscription a `sub-*` deployment (Prefect's object) holds."""
    return subscription_from_json(deployment.model_dump(mode="json"))
