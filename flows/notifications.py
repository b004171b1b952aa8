"""The archive flows' state hook: at a run's end, tell YTARCHIVE_NOTIFY what it archived or that
it failed (ytarchive/notify.py sends it through Apprise)."""

from __future__ import annotations

import logging
from typing import Any

from ytarchive.config import Settings
from ytarchive.notify import RunEnd, notify_run_end
from ytarchive.redact import redact, register_secrets

__all__ = ["NOTIFY_HOOKS", "notify_hook", "run_end"]

logger = logging.getLogger(__name__)


def run_end(flow_run: Any, state: Any) -> RunEnd:
    """A finished run as notifications see it: its new videos, and whether it failed itself
    (a run failed only through its playlist subflows leaves the telling to them)."""
    try:
        data = state.result(raise_on_failure=False)
    except Exception:
        data = None
    summary = data if isinstance(data, dict) else {}
    rows = summary.get("results") or []
    new = [r.get("title") or r["video_id"] for r in rows if _new(r)]
    failed_rows = [r for r in rows if r.get("status") == "failed"]
    failed = bool(state.is_failed() or state.is_crashed())
    if failed and summary and not failed_rows:
        failed = False
    return RunEnd(
        flow_run_id=str(flow_run.id),
        flow_run_name=str(flow_run.name),
        failed=failed,
        new_titles=new,
        failed_videos=[_label(r) for r in failed_rows],
        message=redact(state.message or state.name),
        output_dir=summary.get("output_dir"),
    )


def _new(row: dict[str, Any]) -> bool:
    return row.get("status") == "archived" and not row.get("skipped")


def _label(row: dict[str, Any]) -> str:
    title = row.get("title")
    return f"{row['video_id']} ({title})" if title else str(row["video_id"])


def notify_hook(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect state hook (completion, failure, crash): send the run's notifications, if any."""
    try:
        settings = Settings()
        if settings.notify is None:
            return
        register_secrets(settings)
        end = run_end(flow_run, state)
        notify_run_end(settings, end)
    except Exception as exc:
        logger.warning("run notification skipped: %s", type(exc).__name__)


NOTIFY_HOOKS: dict[str, Any] = {
    "on_completion": [notify_hook],
    "on_failure": [notify_hook],
    "on_crashed": [notify_hook],
}
