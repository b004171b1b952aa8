"""Pytest plugin: the test session's own PREFECT_HOME and ONE Prefect server for the whole session.

Prefect reads its settings when `prefect.context` is imported, so the session's PREFECT_HOME is
set in pytest_configure (before any test module imports prefect); the server's url is set by the
`prefect_server` fixture, which refreshes Prefect's global settings if prefect is already imported.
CLI subprocesses inherit all of it through os.environ.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_SAVED: dict[str, str | None] = {}
_HOME_KEY = "_ytarchive_prefect_home"
# The session server's scheduler and the workers tests start act within seconds, so tests let
# them make and take the scheduled runs (never a run made by hand where the system makes it).
# A new or updated deployment is scheduled by the server's "recent deployments" loop (every 5 s);
# the main loop, which tops up every active schedule, runs every 2 s instead of 60.
_FAST_SCHEDULING = {
    "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
    "PREFECT_WORKER_QUERY_SECONDS": "1",  # a worker polls its pool each second (default 10)
    # a lapsed lease (a killed claim holder's) is revoked within 2 s of lapsing (default 15)
    "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": "2",
}


def _set_env(name: str, value: str | None) -> None:
    _SAVED.setdefault(name, os.environ.get(name))
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _refresh_prefect_settings() -> None:
    if "prefect.context" in sys.modules:
        from prefect.context import refresh_global_settings_context

        refresh_global_settings_context()


@pytest.hookimpl(trylast=True)  # after the tmpdir plugin has set up tmp_path_factory
def pytest_configure(config: pytest.Config) -> None:
    from ytarchive.prefect_server import server_env

    factory = getattr(config, "_tmp_path_factory", None)
    home = (
        factory.mktemp("prefect-home")
        if factory is not None
        else Path(tempfile.mkdtemp(prefix="ytarchive-prefect-home-"))
    )
    setattr(config, _HOME_KEY, home)
    _set_env("PREFECT_HOME", str(home))
    _set_env("PREFECT_API_URL", None)  # never the developer's own server
    _set_env("YTARCHIVE_PREFECT_PORT", "0")  # a server a CLI test starts never takes 4200
    _set_env("YTARCHIVE_BACKGROUND_COMPACTION", "0")  # no compactor outlives a test's run
    for name, value in {**server_env(), **_FAST_SCHEDULING}.items():
        _set_env(name, value)
    _refresh_prefect_settings()


def session_server_log(config: pytest.Config) -> Path:
    """The log of the session's server (PREFECT_HOME/ytarchive-server/server.log)."""
    return Path(getattr(config, _HOME_KEY)) / "ytarchive-server" / "server.log"


def pytest_unconfigure(config: pytest.Config) -> None:
    home = getattr(config, _HOME_KEY, None)
    if home is not None:  # a CLI subprocess may have started one in the session's home
        from ytarchive.prefect_server import stop_server

        os.environ["PREFECT_HOME"] = str(home)
        stop_server()
    for name, value in _SAVED.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _SAVED.clear()


@pytest.fixture(autouse=True)
def _prefect_settings_follow_the_environment() -> Iterator[None]:
    """A test that changes PREFECT_API_URL in os.environ (monkeypatch puts it back after) would
    leave Prefect's cached settings on its value: the next test then talks to no server."""
    yield
    if "prefect.settings" in sys.modules:
        from prefect.settings import PREFECT_API_URL

        if (PREFECT_API_URL.value() or None) != (os.environ.get("PREFECT_API_URL") or None):
            _refresh_prefect_settings()


@pytest.fixture(scope="session")
def prefect_server(pytestconfig: pytest.Config) -> Iterator[str]:
    """The session's Prefect server (started once through start_server); yields its API url."""
    from ytarchive.prefect_server import start_server, stop_server

    home = str(getattr(pytestconfig, _HOME_KEY))
    os.environ["PREFECT_HOME"] = home
    status = start_server(port=0, timeout=240)
    assert status.healthy and status.api_url, status
    os.environ["PREFECT_API_URL"] = status.api_url
    _refresh_prefect_settings()
    try:
        yield status.api_url
    finally:
        if "prefect" in sys.modules:
            from flows.runtime import drain_workers

            try:
                drain_workers(timeout=10)
            except Exception as exc:
                sys.stderr.write(f"prefect_server teardown: drain failed: {exc}\n")
        os.environ["PREFECT_HOME"] = home
        stop_server()
        os.environ.pop("PREFECT_API_URL", None)
        _refresh_prefect_settings()
