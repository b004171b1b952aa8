"""Whether another host could work through our server (ytarchive.hosts.alone_on_server), and what
a download then takes: the claim across hosts only when one could."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ytarchive.hosts import alone_on_server


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("YTARCHIVE_HOST", raising=False)
    return tmp_path / "ytarchive-server"


def _started(state: Path, bind: str, url: str = "http://127.0.0.1:4711/api") -> str:
    """The two files prefect_server.start_server leaves for a server it started."""
    state.mkdir(parents=True, exist_ok=True)
    (state / "server.json").write_text(json.dumps({"pid": 1, "port": 4711, "api_url": url}))
    place = {"backend": "sqlite", "display": "sqlite"}
    (state / "last-start.json").write_text(json.dumps({"database": place, "bind": bind}))
    return url


def test_our_server_on_loopback_is_reached_by_this_machine_alone(home: Path) -> None:
    url = _started(home, "127.0.0.1")
    assert alone_on_server(url) and alone_on_server(url + "/")
    assert alone_on_server(None)  # no PREFECT_API_URL: the server this home would use


def test_a_server_other_hosts_can_reach_or_another_server_is_shared(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _started(home, "0.0.0.0")  # `server start --host 0.0.0.0`: for workers elsewhere
    assert not alone_on_server(url) and not alone_on_server(None)
    url = _started(home, "127.0.0.1")
    assert not alone_on_server("http://10.0.0.5:4200/api")  # a server of the fleet's
    monkeypatch.setenv("YTARCHIVE_HOST", "host-a")  # a named host is one of a fleet
    assert not alone_on_server(url)


def test_a_fresh_home_would_start_its_server_on_loopback(home: Path) -> None:
    assert alone_on_server(None)  # nothing started yet: the default bind is loopback
    assert not alone_on_server("http://127.0.0.1:4711/api")  # a URL that is not our server's
