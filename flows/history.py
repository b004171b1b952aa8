"""Prefect's flow-run history as recovery's History: ytarchive.run_history's REST reader, plus
the writes (a recorded plan, a run marked Crashed) made with Prefect's client.

ytarchive/recovery.py builds plans from what this reads (no Prefect there). What the archive
flows write for it to read (owner tags, the archive label, the items artifact) is
flows/run_context.py. Prefect is imported inside the methods, after configure_prefect.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ytarchive.errors import ServerUnavailable
from ytarchive.names import ITEMS_ARTIFACT_KEY, PLAN_FLOW
from ytarchive.prefect_api import PrefectApi
from ytarchive.recovery import Item
from ytarchive.run_history import (
    HEARTBEATS_MISSED,
    RestHistory,
    process_alive,
    requested_from_urls,
    same_archive,
)

__all__ = [
    "HEARTBEATS_MISSED",
    "PrefectHistory",
    "process_alive",
    "requested_from_urls",
    "same_archive",
]

logger = logging.getLogger(__name__)


def _api_errors() -> tuple[type[BaseException], ...]:
    """What a call to the API raises when the server is gone or answers an error."""
    import httpx
    from prefect.exceptions import ObjectNotFound

    return (httpx.HTTPError, OSError, ObjectNotFound)


def _heartbeat_frequency() -> int | None:
    from prefect.settings import get_current_settings

    return get_current_settings().flows.heartbeat_frequency


class PrefectHistory(RestHistory):
    """recovery.History over Prefect's API (PREFECT_API_URL as Prefect's settings give it)."""

    def __init__(self, client: Any | None = None, heartbeats_missed: float = HEARTBEATS_MISSED):
        super().__init__(None, heartbeats_missed, _heartbeat_frequency)
        self._client = client

    def api(self) -> PrefectApi:
        """Reads go over REST to the API Prefect's settings name (read at each call)."""
        from prefect.settings import get_current_settings

        url = get_current_settings().api.url
        if not url:
            raise ServerUnavailable("cannot read Prefect's flow-run history: no PREFECT_API_URL")
        return PrefectApi(str(url))

    @contextmanager
    def _session(self, doing: str) -> Iterator[Any]:
        """A sync client; API failures become ServerUnavailable naming what we were doing."""
        try:
            if self._client is not None:
                yield self._client
                return
            from prefect.client.orchestration import get_client

            with get_client(sync_client=True) as client:
                yield client
        except _api_errors() as exc:
            raise ServerUnavailable(f"cannot {doing}: {exc}") from exc

    def record_plan(
        self, root: Path, items: Sequence[Item], message: str, quality: str | None
    ) -> str:
        """A ``recovery-plan`` flow run created straight in state Failed with the message, and
        its ``archive-items`` artifact: in the UI and in `recovery list` like any failed run."""
        from prefect.client.schemas.actions import ArtifactCreate
        from prefect.states import Failed

        flow = SimpleNamespace(name=PLAN_FLOW, version=None, retries=None, retry_delay_seconds=None)
        parameters = {
            "urls": [i.target for i in items],
            "output_dir": str(root),
            "quality": quality,
        }
        table = [{"video_id": i.video_id, "url": i.url} for i in items]
        with self._session("record the recovery plan in Prefect") as client:
            run = client.create_flow_run(flow, parameters=parameters, state=Failed(message=message))
            client.create_artifact(
                ArtifactCreate(
                    key=ITEMS_ARTIFACT_KEY,
                    type="table",
                    data=json.dumps(table),
                    description=f"{len(table)} item(s) to fetch again: {message}",
                    flow_run_id=run.id,
                )
            )
        return str(run.id)

    def mark_crashed(self, run_id: str, message: str) -> None:
        """Force the run to Crashed; when the API fails, log it: the retry itself went ahead."""
        from prefect.states import Crashed

        try:
            with self._session("mark the run Crashed") as client:
                client.set_flow_run_state(run_id, Crashed(message=message), force=True)
        except ServerUnavailable as exc:
            logger.warning("flow run %s left in state Running: %s", run_id, exc)
