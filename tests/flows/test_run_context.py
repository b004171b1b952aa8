"""What an archive run writes about itself for recovery: the tags naming its process."""

from __future__ import annotations

import os

from flows.run_context import owner_tags


def test_owner_tags_name_this_host_and_pid() -> None:
    host, pid = owner_tags()
    assert host.startswith("host:") and pid == f"pid:{os.getpid()}"
