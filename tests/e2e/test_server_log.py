"""After the other tests: the session server's log holds no ERROR from Prefect's services.

The check is the one that would have caught SQLAlchemy 2.1 breaking the scheduler: a service
that fails on every loop while every test passes. One kind of ERROR is Prefect's SQLite under
load, not a break: "database is locked" when writers meet on a busy 2-core machine (the
foreman, docket's work-queue task, the worker channel's heartbeats; each retries on its next
loop). Those are shown, and tolerated while they stay few. `ytarchive health` reports every
ERROR line whatever its kind.
"""

from __future__ import annotations

import pytest

from tests.prefect_fixtures import session_server_log
from ytarchive.server_checks import log_error_blocks, service_errors

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LOCKED = "database is locked"
MAX_LOCKED = 10  # more than this many lock timeouts in one session is a server in trouble


def test_the_session_servers_log_holds_no_service_error(
    prefect_server: str, pytestconfig: pytest.Config
) -> None:
    """Run last (tests/e2e/conftest.py orders it)."""
    log = session_server_log(pytestconfig)
    assert "--- ytarchive: starting" in log.read_text(errors="replace")  # the server's output
    errors = service_errors(log_error_blocks(log))
    locked = [e for e in errors if LOCKED in e]
    broken = [e for e in errors if LOCKED not in e]
    assert broken == [], "\n\n".join(broken[:5])
    assert len(locked) <= MAX_LOCKED, "\n\n".join(locked[:5])
    if locked:
        print(f"{len(locked)} SQLite lock timeouts in the session server's log:")
        print("\n".join(e.split("\n", 1)[0] for e in locked))
