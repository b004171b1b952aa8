"""What a Prefect server says about itself, over plain HTTP and in its log (no prefect import)."""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "START_MARKER",
    "SchedulerReport",
    "is_healthy",
    "server_identity",
    "server_settings",
    "home_of",
    "log_errors",
    "log_error_blocks",
    "service_errors",
    "scheduler_report",
]

START_MARKER = "--- ytarchive: starting"  # the line our starter writes before each server start
# Prefect's console format ("12:00:00.000 | ERROR   | prefect.server.services.scheduler - ...")
# and uvicorn's own ("ERROR:    [Errno 98] error while attempting to bind ...").
_ERROR_LINE = re.compile(r"\|\s*(?:ERROR|CRITICAL)\s*\||^(?:ERROR|CRITICAL):\s")
# The loggers of the server's background services (scheduler, late runs, cancellation cleanup,
# task-run recorder, ...; the event persister and triggers) and of docket, which runs them.
_SERVICE_LOGGERS = ("prefect.server.services.", "prefect.server.events.services.", "docket")
_LOG_SCAN_BYTES = 4 << 20  # the tail of the log read for errors (the latest marker is in it)
_PAGE = 200  # the API's largest page


def _open(request: urllib.request.Request | str, timeout: float) -> bytes | None:
    """The body of a 200 answer, else None (proxies bypassed: a loopback call)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as resp:
            return resp.read() if resp.status == 200 else None
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _post_json(url: str, payload: dict[str, Any], timeout: float) -> Any:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    body = _open(request, timeout)
    if body is None:
        raise OSError(f"no answer from {url}")
    return json.loads(body)


def is_healthy(api_url: str, timeout: float = 2.0) -> bool:
    """True when GET {api_url}/health answers 200."""
    return _open(api_url.rstrip("/") + "/health", timeout) is not None


def server_settings(api_url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """The settings the server answering at api_url runs with (GET /admin/settings; Prefect
    masks its secrets there, the database URL among them), else None."""
    body = _open(api_url.rstrip("/") + "/admin/settings", timeout)
    try:
        settings = json.loads(body or b"null")
    except ValueError:
        return None
    return settings if isinstance(settings, dict) else None


def home_of(settings: dict[str, Any] | None) -> Path | None:
    """The PREFECT_HOME a server's settings name."""
    home = settings.get("home") if settings else None
    return Path(home) if isinstance(home, str) and home else None


def server_identity(api_url: str, timeout: float = 2.0) -> Path | None:
    """The PREFECT_HOME of the server answering at api_url (GET /admin/settings), else None."""
    return home_of(server_settings(api_url, timeout))


_LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} \||^[A-Z]+:\s")  # a new log record starts


def log_error_blocks(path: Path) -> list[str]:
    """Each ERROR or CRITICAL record the server logged since its latest start (its last
    marker), with the traceback lines that follow it."""
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - _LOG_SCAN_BYTES))
            lines = fh.read().decode(errors="replace").splitlines()
    except OSError:
        return []
    starts = [i for i, line in enumerate(lines) if line.startswith(START_MARKER)]
    blocks: list[list[str]] = []
    inside = False
    for line in lines[starts[-1] + 1 :] if starts else lines:
        if _ERROR_LINE.search(line):
            blocks.append([line.strip()])
            inside = True
        elif _LOG_LINE.match(line):
            inside = False
        elif inside and line.strip():
            blocks[-1].append(line.rstrip())
    return ["\n".join(block) for block in blocks]


def log_errors(path: Path) -> list[str]:
    """The ERROR and CRITICAL lines the server logged since its latest start."""
    return [block.split("\n", 1)[0] for block in log_error_blocks(path)]


def service_errors(records: list[str]) -> list[str]:
    """Those of log_errors' lines (or log_error_blocks' records) that a background service of
    the server logged."""
    found = []
    for record in records:
        first = record.split("\n", 1)[0]
        logger = first.split("|", 2)[-1].strip() if first.count("|") >= 2 else ""
        if logger.startswith(_SERVICE_LOGGERS):
            found.append(record)
    return found


@dataclass
class SchedulerReport:
    """Deployments with an active schedule, and which of them have no Scheduled run ahead."""

    scheduled: list[str] = field(default_factory=list)
    without_runs: list[str] = field(default_factory=list)


def _deployments(api_url: str, payload: dict[str, Any], timeout: float) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        page = _post_json(
            api_url.rstrip("/") + "/deployments/filter",
            {**payload, "limit": _PAGE, "offset": len(found)},
            timeout,
        )
        found.extend(page)
        if len(page) < _PAGE:
            return found


def _actively_scheduled(deployment: dict[str, Any]) -> bool:
    schedules = deployment.get("schedules") or []
    return not deployment.get("paused") and any(s.get("active") for s in schedules)


def scheduler_report(api_url: str, timeout: float = 5.0) -> SchedulerReport:
    """Which actively scheduled deployments have a Scheduled run ahead, as the server holds it.

    The server's scheduler keeps a few runs ahead of every active schedule; one with none means
    that scheduler is not doing its work. Raises OSError when the API does not answer.
    """
    scheduled = [d for d in _deployments(api_url, {}, timeout) if _actively_scheduled(d)]
    if not scheduled:
        return SchedulerReport()
    ahead = {
        "deployments": {"id": {"any_": [d["id"] for d in scheduled]}},
        "flow_runs": {
            "state": {"type": {"any_": ["SCHEDULED"]}},
            "next_scheduled_start_time": {"after_": datetime.now(UTC).isoformat()},
        },
    }
    with_runs = {d["id"] for d in _deployments(api_url, ahead, timeout)}
    return SchedulerReport(
        scheduled=sorted(d["name"] for d in scheduled),
        without_runs=sorted(d["name"] for d in scheduled if d["id"] not in with_runs),
    )
