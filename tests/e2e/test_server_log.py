"""After the other tests: the session server's log holds no ERROR line from Prefect's services.

Other ERROR lines can appear under load and are Prefect's own: with SQLite, two workers'
heartbeats over the worker channel meet "database is locked" (prefect.server.utilities.
worker_channel; the worker falls back to REST heartbeats). `ytarchive health` still shows them.
"""

from __future__ import annotations

import pytest

from tests.prefect_fixtures import session_server_log
from ytarchive.server_checks import log_errors, service_errors

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_the_session_servers_log_holds_no_error(
    prefect_server: str, pytestconfig: pytest.Config
) -> None:
    """Run last (tests/e2e/conftest.py orders it): a service that fails every loop (as the
    scheduler did with SQLAlchemy 2.1) logs ERROR lines here while every other test passes."""
    log = session_server_log(pytestconfig)
    text = log.read_text(errors="replace")
    assert "--- ytarchive: starting" in text  # the server's own output is kept in it
    errors = service_errors(log_errors(log))
    assert errors == [], "\n".join(errors[:20])
