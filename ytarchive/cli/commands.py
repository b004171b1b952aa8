"""Imports every command module so each registers its commands on the app.

Each module owns one command group; keep their imports light (see ytarchive/cli/__init__.py).
"""

from ytarchive.cli import (  # noqa: F401
    cmd_download,
    cmd_import,
    cmd_metadata,
    cmd_recovery,
    cmd_server,
    cmd_storage,
    cmd_subscriptions,
    cmd_web,
)
