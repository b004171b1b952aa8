"""Where this PREFECT_HOME's server keeps its state, and the one reader of its JSON files.

Imports nothing heavy: the command's side of the resident runner finds its socket here before
anything else is loaded (ytarchive.prefect_server, which starts and checks the server, costs
about 0.15 s to import).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["STATE_DIR_NAME", "prefect_home", "read_json", "state_dir"]

STATE_DIR_NAME = "ytarchive-server"


def prefect_home() -> Path:
    """$PREFECT_HOME, else ~/.prefect (Prefect's own default), as an absolute path."""
    return Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser().absolute()


def state_dir() -> Path:
    """PREFECT_HOME/ytarchive-server: the server's log, state files (pid, port), start lock,
    and the resident runner's socket."""
    return prefect_home() / STATE_DIR_NAME


def read_json(path: Path) -> dict[str, Any] | None:
    """A state file's object; None when it is missing, unreadable or not a JSON object."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
