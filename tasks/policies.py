"""The tasks' retry policy, from Settings: Transient errors no lower layer retried, backoff."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prefect import get_run_logger

from ytarchive.config import Settings
from ytarchive.errors import Transient

__all__ = [
    "JITTER",
    "MAX_RETRY_AFTER",
    "attempt",
    "retry_options",
    "transient_only",
    "with_retries",
]

JITTER = 0.5  # Prefect's clamped Poisson jitter: each delay varies by up to +-50%
MAX_RETRY_AFTER = 300.0  # never wait longer than this for a server's Retry-After

OnRetry = Callable[[Transient], None]


def retry_options(settings: Settings, on_retry: OnRetry | None = None) -> dict[str, Any]:
    """Task options for the retry budget (with_options at flow start, so the env applies):
    YTARCHIVE_MAX_RETRIES retries, from YTARCHIVE_RETRY_DELAY_SECONDS doubled each time."""
    retries = int(settings.max_retries)
    base = float(settings.retry_delay_seconds)
    return {
        "retries": retries,
        "retry_delay_seconds": [base * 2**n for n in range(max(retries, 1))],
        "retry_jitter_factor": JITTER if base > 0 else None,
        "retry_condition_fn": transient_only(on_retry),
    }


def with_retries(task: Any, settings: Settings, on_retry: OnRetry | None = None) -> Any:
    """The task with the budget's retries: every task that retries gets them from here."""
    return task.with_options(**retry_options(settings, on_retry))


def transient_only(on_retry: OnRetry | None = None) -> Callable[[Any, Any, Any], bool]:
    """A retry_condition_fn: retry a Transient error unless a lower layer already retried it
    (yt-dlp a media request, our client a Data API call), after the server's Retry-After.
    A site refusal (429, a CDN 403: `site_refusal`) is never retried here: the run's brake
    handles those, so a rate-limited run does not spend retries on every video.

    Prefect asks it only while retries remain, so `on_retry` hears of each retry that happens.
    """

    def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
        error = _failure(state)
        if not isinstance(error, Transient) or error.retried_by or error.site_refusal:
            return False
        if on_retry is not None:
            on_retry(error)
        if error.retry_after:
            wait = min(float(error.retry_after), MAX_RETRY_AFTER)
            get_run_logger().info("The server asked to retry after %.1f s", wait)
            time.sleep(wait)
        return True

    return retry_transient


def _failure(state: Any) -> BaseException | None:
    try:
        state.result(raise_on_failure=True)
    except BaseException as exc:  # the failure is what we judge, whatever it is
        return exc
    return None


def attempt() -> int:
    """This attempt's number (from 1) of the running task run; 1 outside a task run."""
    from prefect.context import TaskRunContext

    ctx = TaskRunContext.get()
    return int(ctx.task_run.run_count or 1) if ctx is not None else 1
