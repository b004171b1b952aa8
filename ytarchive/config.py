"""Settings: built once at the edge (CLI or flow entry) from the environment and ytarchive.toml."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = ["Settings", "QUALITIES"]

QUALITIES = ("best", "worst", "2160p", "1440p", "1080p", "720p", "480p", "360p", "bestaudio")


class Settings(BaseSettings):
    """Everything YTArchive reads from its environment. The API key is a secret."""

    model_config = SettingsConfigDict(
        env_prefix="YTARCHIVE_",
        toml_file="ytarchive.toml",
        extra="ignore",
        populate_by_name=True,
    )

    youtube_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("YOUTUBE_API_KEY", "youtube_api_key"),
    )
    output_dir: Path = Path("downloads")
    log_level: str = "INFO"
    max_concurrent: int = Field(default=3, ge=1, le=64)
    youtube_api_url: str = "https://www.googleapis.com"
    video_url_template: str = "https://www.youtube.com/watch?v={video_id}"
    # Data API calls that fail transiently (5xx, 429, backendError, connection errors) are retried
    # this many times, sleeping backoff * 2**attempt (jittered; Retry-After honoured) in between.
    youtube_api_retries: int = Field(default=4, ge=0, le=10)
    youtube_api_backoff: float = Field(default=1.0, ge=0, le=60)
    # Download retries (archive pipeline): attempts after the first, and the first backoff delay
    # (doubled each retry, with jitter). Tests set YTARCHIVE_RETRY_DELAY_SECONDS low.
    max_retries: int = Field(default=3, ge=0, le=10)
    retry_delay_seconds: float = Field(default=2.0, ge=0.0, le=600.0)
    # `ytarchive web`: every POST needs `Authorization: Bearer <token>`. Secret, like the key.
    api_token: SecretStr | None = None
    # Apprise URLs (space or comma separated) told when a run archives videos or fails. Secret:
    # such URLs carry the service's tokens.
    notify: SecretStr | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def has_api_key(self) -> bool:
        return self.youtube_api_key is not None and bool(self.youtube_api_key.get_secret_value())

    def video_url(self, video_id: str) -> str:
        """The URL yt-dlp is given for a YouTube id."""
        return self.video_url_template.format(video_id=video_id)
