"""The pull step our deployments run on a worker: work in the checkout this worker runs from."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["CHECKOUT_ENV", "PULL_STEPS", "checkout_directory", "set_checkout_directory"]

CHECKOUT_ENV = "YTARCHIVE_CHECKOUT"
STEP = "deployments.steps.set_checkout_directory"
# What prefect.yaml's `pull:` says, and what every subscription deployment carries.
PULL_STEPS: list[dict[str, Any]] = [{STEP: {}}]


def checkout_directory() -> Path:
    """$YTARCHIVE_CHECKOUT if set, else the checkout this module is imported from."""
    configured = os.environ.get(CHECKOUT_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    return Path(__file__).resolve().parents[1]


def set_checkout_directory(directory: str | None = None) -> dict[str, str]:
    """Prefect pull step: `set_working_directory` to the worker's own checkout.

    A committed prefect.yaml cannot name an absolute path that holds on every machine, so each
    worker works in the checkout whose virtualenv it runs from (or `directory`, or
    $YTARCHIVE_CHECKOUT). Relative settings (`ytarchive.toml`, `./downloads`) then resolve there.
    """
    from prefect.deployments.steps import set_working_directory

    return set_working_directory(
        str(Path(directory).expanduser()) if directory else str(checkout_directory())
    )
