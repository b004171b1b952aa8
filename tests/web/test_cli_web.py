"""`ytarchive web`: what it refuses before it listens (bad options, an open host, no token)."""

from __future__ import annotations

import os
import socket

import pytest

from tests.helpers import run_cli
from ytarchive.cli.cmd_web import is_loopback


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "YTARCHIVE_API_TOKEN"}
    return {**env, **extra}


def test_a_host_other_than_loopback_without_a_token_exits_2_with_one_line() -> None:
    result = run_cli("web", "--host", "0.0.0.0", env=_env())
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: --host 0.0.0.0 is reachable")
    assert "YTARCHIVE_API_TOKEN" in lines[0] and "Traceback" not in result.stderr


@pytest.mark.parametrize("port", ["0", "70000"])
def test_a_bad_port_exits_2(port: str) -> None:
    result = run_cli("web", "--port", port, env=_env())
    assert result.returncode == 2
    assert result.stderr.startswith("Error: --port must be 1 to 65535")


def test_a_port_in_use_is_one_line_not_a_traceback() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("web", "--port", str(port), env=_env())
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("0.0.0.0", False), ("::", False), ("192.168.1.5", False),
     ("example.org", False)],
)  # fmt: skip
def test_which_hosts_count_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
