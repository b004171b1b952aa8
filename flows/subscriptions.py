"""The sync flow: archive the new videos of subscribed playlists and channels, one after another."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.archive import archive_playlist_flow
from flows.secrets import settings_with_api_key
from flows.subscribed import list_subscriptions
from ytarchive.config import QUALITIES
from ytarchive.errors import DownloadFailed, InputError
from ytarchive.names import SYNC_FLOW
from ytarchive.refs import parse_playlist_ref

__all__ = ["made_by_a_replaced_schedule", "sync_subscriptions_flow", "subscription_targets"]

DEFAULT_QUALITY = "best"


def subscription_targets(urls: list[str] | None, quality: str | None) -> list[tuple[str, str]]:
    """(url, quality) pairs to sync: the given urls, else every subscription with its own quality.

    Every url and quality is checked before anything runs; a bad one is an InputError.
    """
    if quality is not None and quality not in QUALITIES:
        raise InputError(f"quality: {quality!r} is not one of {', '.join(QUALITIES)}")
    if urls is None:
        return [(s.url, quality or s.quality or DEFAULT_QUALITY) for s in _subscriptions()]
    return [(parse_playlist_ref(u).url, quality or DEFAULT_QUALITY) for u in urls]


def _subscriptions() -> list[Any]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return list_subscriptions(client, with_next_run=False)


@flow(name=SYNC_FLOW, log_prints=False)
def sync_subscriptions_flow(
    urls: list[str] | None = None, quality: str | None = None, live_from_start: bool = False
) -> dict:
    """Archive new videos of `urls` (default: every subscription), one playlist at a time.

    live_from_start: record a stream that is live at sync time from its start (else it is
    recorded `live` and taken by the first sync after it ends).

    Each playlist is an `archive_playlist_flow` subflow, which skips what the catalog already
    holds, so a sync of a fully archived playlist downloads nothing. Playlists run one after
    another: overlapping subscriptions then find each other's videos archived. The run ends
    Failed when any playlist's subflow failed (that subflow is the open recovery plan).
    """
    logger = get_run_logger()
    if made_by_a_replaced_schedule():
        logger.info(
            "This run was made by a schedule its deployment no longer has (replaced by an "
            "update just as the server's scheduler made it): nothing to sync."
        )
        return {"subscriptions": 0, "results": [], "skipped": "made by a replaced schedule"}
    settings = settings_with_api_key()
    targets = subscription_targets(urls, quality)
    logger.info("Syncing %d subscription(s) into %s", len(targets), settings.output_dir)
    rows = [_sync_one(url, q, settings, live_from_start) for url, q in targets]
    _summary_artifact(rows)
    failed = [r for r in rows if r["state"] != "COMPLETED"]
    if failed:
        names = ", ".join(r["url"] for r in failed)
        raise DownloadFailed(f"{len(failed)} of {len(rows)} subscription(s) failed: {names}")
    return {"subscriptions": len(rows), "results": rows}


def made_by_a_replaced_schedule() -> bool:
    """Whether this flow run is one a schedule its deployment no longer has made.

    The server's scheduler can write a replaced schedule's runs just after the update that
    deleted them (deployments.subscriptions.drop_stale_runs); `subscribe` deletes those it
    finds, and one that slipped past it ends here, before it syncs with the old parameters."""
    from prefect.client.orchestration import get_client
    from prefect.runtime import deployment, flow_run

    from ytarchive.subscribed import made_by_a_schedule_not_in

    if not deployment.id or not flow_run.id:
        return False
    with get_client(sync_client=True) as client:
        created_by = client.read_flow_run(flow_run.id).created_by
        if created_by is None or created_by.type != "SCHEDULE":
            return False
        schedules = client.read_deployment(deployment.id).schedules or []
    return made_by_a_schedule_not_in(created_by, {str(s.id) for s in schedules})


def _sync_one(url: str, quality: str, settings: Any, live: bool = False) -> dict[str, Any]:
    state: Any = archive_playlist_flow(
        url=url,
        quality=quality,
        live_from_start=live,
        output_dir=str(settings.output_dir),
        max_concurrent=settings.max_concurrent,
        return_state=True,
    )
    row: dict[str, Any] = {"url": url, "quality": quality, "state": state.type.value}
    if state.is_completed():
        result = state.result(raise_on_failure=False)
        if isinstance(result, dict):
            row.update({k: v for k, v in result.items() if isinstance(v, (int, str))})
    else:
        row["message"] = state.message
    return row


def _summary_artifact(rows: list[dict[str, Any]]) -> None:
    lines = ["| playlist | quality | state |", "| --- | --- | --- |"]
    lines += [f"| {r['url']} | {r['quality']} | {r['state']} |" for r in rows]
    create_markdown_artifact(
        key="sync-subscriptions",
        markdown="# Subscriptions synced\n\n" + "\n".join(lines) + "\n",
        description=f"{len(rows)} subscription(s)",
    )
