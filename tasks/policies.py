"""Retry policy shared by our tasks: Transient errors only, exponential backoff with jitter."""

from __future__ import annotations

import re
from typing import Any

from ytarchive.errors import Transient

__all__ = ["is_transient", "retry_options", "JITTER", "MAX_RETRY_AFTER", "attempt", "redact"]

JITTER = 0.5  # Prefect's clamped Poisson jitter: each delay varies by up to +-50%
MAX_RETRY_AFTER = 300.0  # never sleep longer than this for a server's Retry-After


def is_transient(task: Any, task_run: Any, state: Any) -> bool:
    """retry_condition_fn: retry a task run only when it failed with a Transient error."""
    try:
        state.result(raise_on_failure=True)
    except Transient:
        return True
    except BaseException:  # noqa: BLE001 - anything else is permanent for retry purposes
        return False
    return False


def retry_options(settings: Any) -> dict[str, Any]:
    """Task options for Settings' retry policy (with_options at flow start, so env applies)."""
    retries = int(settings.max_retries)
    base = float(settings.retry_delay_seconds)
    return {
        "retries": retries,
        "retry_delay_seconds": [base * 2**n for n in range(max(retries, 1))],
        "retry_jitter_factor": JITTER if base > 0 else None,
        "retry_condition_fn": is_transient,
    }


def attempt() -> tuple[int, int]:
    """(this attempt's number from 1, the task's retries) for the running task run."""
    from prefect.context import TaskRunContext

    ctx = TaskRunContext.get()
    if ctx is None:
        return 1, 0
    return int(ctx.task_run.run_count or 1), int(ctx.task.retries or 0)


_KEY_PARAM = re.compile(r"([?&]key=)[^&\s'\"]+")


def redact(text: str, secret: str | None = None) -> str:
    """Text with the API key (and any key= URL parameter) replaced by ***."""
    if secret:
        text = text.replace(secret, "***")
    return _KEY_PARAM.sub(r"\1***", text)
