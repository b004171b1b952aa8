"""An archive run's progress, read back from Prefect: ytarchive.run_status on Prefect's API URL."""

from __future__ import annotations

from typing import Any

__all__ = ["read_status"]


def read_status(run: str) -> dict[str, Any]:
    """The run named by id, id prefix or name, from the API Prefect's settings name (see
    ytarchive.run_status.read_status)."""
    from prefect.settings import get_current_settings

    from ytarchive.errors import ServerUnavailable
    from ytarchive.prefect_api import PrefectApi
    from ytarchive.run_status import read_status as read

    url = get_current_settings().api.url
    if not url:
        raise ServerUnavailable("cannot read the run from Prefect: no PREFECT_API_URL")
    return read(run, PrefectApi(str(url)))
