"""The server scheduler's own two steps, with a pause between them: `python -m
tests.testbed.late_scheduler DEPLOYMENT_ID`.

Prefect's scheduler service reads a deployment's schedules and makes its runs in one session
(`_generate_scheduled_flow_runs`), then writes them in the next (`_insert_scheduled_flow_runs`).
A deployment updated between the two gets the replaced schedule's runs written after the update
deleted them. This runs the same two functions on the same database (the session server's
SQLite in PREFECT_HOME), prints `read N` after the first and waits for a line on stdin before
the second, so a test can put the update in between: the race, on demand.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from uuid import UUID


async def _main(deployment_id: UUID) -> None:
    from prefect.server.database import provide_database_interface
    from prefect.server.models.deployments import (
        _generate_scheduled_flow_runs,
        _insert_scheduled_flow_runs,
    )

    db = provide_database_interface()
    start = datetime.now(UTC)
    async with db.session_context(begin_transaction=False) as session:
        runs = await _generate_scheduled_flow_runs(
            db,
            session=session,
            deployment_id=deployment_id,
            start_time=start,
            end_time=start + timedelta(days=100),
            min_time=timedelta(hours=1),
            min_runs=3,
            max_runs=100,
        )
    print(f"read {len(runs)}", flush=True)
    sys.stdin.readline()
    async with db.session_context(begin_transaction=True) as session:
        inserted = await _insert_scheduled_flow_runs(session=session, runs=runs)
    print(f"wrote {len(inserted)}", flush=True)


if __name__ == "__main__":
    asyncio.run(_main(UUID(sys.argv[1])))
