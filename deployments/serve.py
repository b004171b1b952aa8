"""`ytarchive serve`: the single-machine default. Server, deployments, then one process worker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from deployments.pool import ensure_download_limit, ensure_work_pool
from deployments.steps import checkout_directory
from ytarchive.errors import YTArchiveError
from ytarchive.names import POOL_NAME

__all__ = ["serve", "deploy_all", "worker_command"]


def deploy_all(project: Path | None = None) -> None:
    """`prefect deploy --all` in the checkout: apply every deployment of prefect.yaml."""
    project = project or checkout_directory()
    cmd = [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"]
    result = subprocess.run(cmd, cwd=project, capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-3:]
        raise YTArchiveError(f"prefect deploy --all failed in {project}: {' | '.join(tail)}")


def worker_command(pool: str = POOL_NAME, limit: int | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--type", "process"]
    return [*cmd, "--limit", str(limit)] if limit else cmd


def serve(deploy: bool = True, slots: int = 3, limit: int | None = None) -> None:
    """Point at the API, make the pool, limit and deployments, then become the pool's worker.

    The process is replaced by `prefect worker start` (exec): Ctrl-C and SIGTERM reach Prefect's
    worker directly, which finishes cleanly. Runs picked up from here execute in subprocesses in
    this checkout, with this process's environment (YTARCHIVE_*, YOUTUBE_API_KEY).
    """
    from flows.runtime import configure_prefect

    api_url = configure_prefect(None)
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        ensure_work_pool(client)
        ensure_download_limit(client, slots)
    if deploy:
        deploy_all()
    ui = api_url[: -len("/api")] if api_url.endswith("/api") else api_url
    print(f"Serving the {POOL_NAME} work pool against {api_url}", flush=True)
    print(f"Prefect UI: {ui}  (deployments, schedules, runs). Ctrl-C stops.", flush=True)
    cmd = worker_command(limit=limit)
    os.execve(cmd[0], cmd, dict(os.environ))
