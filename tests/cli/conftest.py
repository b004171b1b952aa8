"""Fixtures the CLI tests share."""

from __future__ import annotations

import pytest


@pytest.fixture
def cli_env(ytarchive_env, prefect_server, monkeypatch):
    """The stand-ins' environment and the session's Prefect server; retries that wait little."""
    monkeypatch.setenv("YTARCHIVE_RETRY_DELAY_SECONDS", "0.05")
    return ytarchive_env
