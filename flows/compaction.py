"""Catalog compaction out of the write path: the fleet's election, the flow, the background run."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from flows import runtime
from ytarchive.catalog import Catalog
from ytarchive.config import Settings
from ytarchive.names import COMPACT_FLOW, COMPACTION_LIMIT

__all__ = [
    "fleet_guard",
    "ensure_compaction_limit",
    "compact_catalog",
    "compact_catalog_flow",
    "nudge",
    "BACKGROUND_ENV",
]

runtime.prompt_flow_ends()  # no wait on Prefect's heartbeat thread as a flow run ends

LEASE_SECONDS = 60.0  # the server's minimum; renewed by the holder every 45 s
CHECK_EVERY = 30.0  # seconds between two looks at the catalog during a run (the first: that
# long after its first outcome, so a short run starts one compactor, at its end, not one beside
# its downloads: a compactor costs 0.7-1.5 CPU s, most of a 24-video run's spare CPU on 2 cores)
SPAWN_EVERY = 60.0  # seconds between two background compactors started by one process
BACKGROUND_ENV = "YTARCHIVE_BACKGROUND_COMPACTION"  # "0": archive runs start no compactor
LOG_NAME = ".compact.log"  # under catalog/: what the background compactors printed


def ensure_compaction_limit(client: Any) -> bool:
    """Create the one-slot global concurrency limit compactors are elected by, unless it exists.

    True when this call created it. Two hosts creating it at once is fine: the loser's create
    fails (ObjectAlreadyExists, or a server error for the unique name) and it reads the limit.
    """
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectNotFound

    try:
        client.read_global_concurrency_limit_by_name(COMPACTION_LIMIT)
        return False
    except ObjectNotFound:
        pass
    try:
        client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name=COMPACTION_LIMIT, limit=1, active=True)
        )
    except Exception:
        client.read_global_concurrency_limit_by_name(COMPACTION_LIMIT)  # made by another
        return False
    return True


@contextlib.contextmanager
def fleet_guard(wait: bool) -> Iterator[bool]:
    """The Catalog's guard: the one slot of COMPACTION_LIMIT on the Prefect server, with a lease.

    Without wait, taken in one request (no retry): False when another compactor, on any host,
    holds it. The lease is renewed while held and lapses LEASE_SECONDS after a holder dies; a
    holder whose renewal fails is stopped (strict), so two compactors never overlap.
    """
    from prefect.client.orchestration import get_client
    from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError
    from prefect.concurrency.sync import concurrency

    with get_client(sync_client=True) as client:
        ensure_compaction_limit(client)
    slot = concurrency(
        COMPACTION_LIMIT,
        occupy=1,
        max_retries=None if wait else 0,
        lease_duration=LEASE_SECONDS,
        strict=True,
    )
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(slot)
        except ConcurrencySlotAcquisitionError as exc:
            if wait or not _locked(exc):
                raise
            yield False
            return
        yield True


def _locked(exc: BaseException) -> bool:
    """Whether the server refused the slot because it is taken (HTTP 423)."""
    response = getattr(exc.__cause__, "response", None)
    return getattr(response, "status_code", None) == 423


def compact_catalog(root: Path, if_needed: bool = True) -> dict | None:
    """One compaction of the catalog at root, elected through the server (only this host's
    lock when no other host can reach the server: ytarchive.hosts.alone_on_server).

    if_needed: the background step (what is due; None when another compactor holds the
    election). Otherwise a full compaction, waiting for its turn."""
    from ytarchive.hosts import alone_on_server

    guard = None if alone_on_server(None) else fleet_guard
    return Catalog(root).compaction(if_needed, guard=guard)


@flow(name=COMPACT_FLOW, log_prints=False)
def compact_catalog_flow(output_dir: str | None = None, full: bool = False) -> dict:
    """Compact the archive's catalog: what is due (small files merged, a full compaction when
    the rows since the last one are many), or everything with full. Skips when another
    compaction of any host holds the election."""
    settings = Settings(output_dir=Path(output_dir)) if output_dir else Settings()
    logger = get_run_logger()
    result = compact_catalog(Path(settings.output_dir), if_needed=not full)
    if result is None:
        logger.info("Skipped: another compaction holds %s", COMPACTION_LIMIT)
        return {"compaction": "skipped"}
    logger.info("Catalog compaction: %s", result)
    return result


# -- the background start, after (and during) archive runs -----------------------------------

_looked: dict[str, float] = {}
_started: dict[str, tuple[float, subprocess.Popen]] = {}


def nudge(root: Path | str, final: bool = False) -> int | None:
    """Start a compactor in a detached process if the catalog at root is due one: the pid.

    Called as an archive run records outcomes (looks every CHECK_EVERY seconds, the first that
    long after the first call) and when it ends (final: always looks). Starts at most one
    compactor a SPAWN_EVERY from this process, never while the last one runs; the compactor
    outlives the run (its own session) and skips if another holds the election. Never raises:
    the run's work is done.
    """
    if os.environ.get(BACKGROUND_ENV, "1") == "0":
        return None
    key, now = str(root), time.monotonic()
    last = _started.get(key)
    if last and (last[1].poll() is None or now - last[0] < SPAWN_EVERY):
        return None
    if not final and now - _looked.setdefault(key, now) < CHECK_EVERY:
        return None
    _looked[key] = now
    try:
        if Catalog(Path(root)).compaction_due() is None:
            return None
        proc = _spawn(Path(root))
    except Exception as exc:  # a compactor not started is tried again next time
        _logger().warning("Could not start a catalog compaction: %s", exc)
        return None
    _started[key] = (now, proc)
    _logger().info("Catalog compaction started in the background (pid %d)", proc.pid)
    return proc.pid


def _logger() -> Any:
    try:
        return get_run_logger()
    except Exception:  # not in a run (a caller of the library's own)
        return logging.getLogger(__name__)


def _spawn(root: Path) -> subprocess.Popen:
    """`ytarchive storage compact --if-needed` in its own session; output: catalog/.compact.log."""
    log = root / "catalog" / LOG_NAME
    log.parent.mkdir(parents=True, exist_ok=True)
    nice = shutil.which("nice")  # at a lower CPU priority: the downloads beside it come first
    with open(log, "ab") as out:
        return subprocess.Popen(
            ([nice, "-n", "10"] if nice else [])
            + [sys.executable, "-m", "ytarchive", "storage", "compact", "--if-needed"]
            + ["-o", str(root), "-f", "json"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
