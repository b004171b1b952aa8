"""The YouTube API key for scheduled runs: from the environment, else a Prefect Secret block."""

from __future__ import annotations

import os
from typing import Any

from pydantic import SecretStr

from ytarchive.config import Settings

__all__ = ["SECRET_BLOCK", "api_key_from_block", "settings_with_api_key"]

SECRET_BLOCK = "youtube-api-key"
ENV_NAME = "YOUTUBE_API_KEY"


def api_key_from_block(name: str = SECRET_BLOCK) -> str | None:
    """The value of the Secret block `name`, or None when there is no such block."""
    from prefect.blocks.system import Secret
    from prefect.exceptions import ObjectNotFound

    try:
        block: Any = Secret.load(name)  # sync here: we are not in an event loop
        value = block.get()
    except (ValueError, ObjectNotFound):
        return None
    return str(value) if value else None


def settings_with_api_key(settings: Settings | None = None, block: str = SECRET_BLOCK) -> Settings:
    """Settings whose key is YOUTUBE_API_KEY, else the Secret block's value (else none).

    When the key comes from the block it is also put in this flow-run process's environment, so
    subflows that build their own Settings see it too. It is never a parameter, never logged.
    """
    settings = settings or Settings()
    if settings.has_api_key:
        return settings
    key = api_key_from_block(block)
    if key is None:
        return settings
    os.environ[ENV_NAME] = key
    return settings.model_copy(update={"youtube_api_key": SecretStr(key)})
