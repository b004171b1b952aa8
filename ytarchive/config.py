"""Settings: built once at the edge (CLI or flow entry) from the environment and ytarchive.toml."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = ["Settings", "QUALITIES", "load_settings", "parse_bytes"]

QUALITIES = ("best", "worst", "2160p", "1440p", "1080p", "720p", "480p", "360p", "bestaudio")

_BYTES = re.compile(r"(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>[KMGTPEZY]?)", re.IGNORECASE)
_UNITS = ["", *"KMGTPEZY"]


def parse_bytes(text: str) -> int:
    """A byte count as yt-dlp's --limit-rate reads it: 500K, 4.2M, 1G (powers of 1024)."""
    m = _BYTES.fullmatch(text.strip())
    if not m:
        raise ValueError(f"not a byte count: {text!r} (use e.g. 500K or 4.2M)")
    return round(float(m["num"]) * 1024 ** _UNITS.index(m["unit"].upper()))


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
    # The retry budget (README "Retries"): each failure is retried by one layer. A whole video
    # (or a keyless metadata task) by its Prefect task: max_retries times after the first, from
    # retry_delay_seconds doubled each retry, jittered. One media request or fragment by yt-dlp
    # in place: fragment_retries times. Tests set YTARCHIVE_RETRY_DELAY_SECONDS low.
    max_retries: int = Field(default=3, ge=0, le=10)
    retry_delay_seconds: float = Field(default=2.0, ge=0.0, le=600.0)
    fragment_retries: int = Field(default=3, ge=0, le=10)
    # Speed of one download (README "Configuration"): a merged format's video and audio streams
    # fetched at once; HLS/DASH fragments of one stream fetched this many at once (yt-dlp's
    # concurrent_fragment_downloads). A rate limit turns both off.
    parallel_streams: bool = True
    concurrent_fragments: int = Field(default=4, ge=1, le=16)
    # `ytarchive web`: every POST needs `Authorization: Bearer <token>`. Secret, like the key.
    api_token: SecretStr | None = None
    # Apprise URLs (space or comma separated) told when a run archives videos or fails. Secret:
    # such URLs carry the service's tokens.
    notify: SecretStr | None = None
    # The run-wide brake (README "Errors"): after this many downloads in a row refused by the
    # site (429, the bot check, CDN 403s) a run pauses as Retry-After says, then stops; 0: never.
    brake_after: int = Field(default=3, ge=0, le=100)
    # A video's claim across hosts (README "Several hosts"): a lease on the Prefect server that a
    # live holder renews; a killed host's claim is let go this long after its last renewal. The
    # server takes 60 s at least.
    claim_lease_seconds: float = Field(default=120.0, ge=60.0, le=86400.0)
    # The complete archive (README "Sidecars and naming"): subtitles as a comma list of
    # languages, `all`, and `auto` for automatic captions (none by default), converted with
    # convert_subs; embedded where the container allows. <stem>.info.json and <stem>.description
    # beside the media file; cover art, chapters and tags embedded. output_template is yt-dlp's
    # template syntax relative to videos/ (None: `<title> [<id>].<ext>`); nfo "kodi" writes
    # Kodi/Jellyfin/Emby NFO files.
    subtitles: str = ""
    convert_subs: str | None = None
    embed_subtitles: bool = True
    write_info_json: bool = True
    write_description: bool = True
    embed_thumbnail: bool = True
    embed_metadata: bool = True
    embed_chapters: bool = True
    output_template: str | None = None
    nfo: str | None = None
    # -- YouTube in the real world (README): cookies, politeness, yt-dlp options we do not model.
    # The cookie file's path may be logged; its contents are a secret and are never logged.
    cookies_file: Path | None = None
    cookies_from_browser: str | None = None  # yt-dlp's BROWSER[+KEYRING][:PROFILE][::CONTAINER]
    # Unset: YouTube's defaults below for YouTube URLs, nothing for other sites. Set (even to 0):
    # that value for every site.
    sleep_requests: float | None = Field(default=None, ge=0, le=3600)
    sleep_interval: float | None = Field(default=None, ge=0, le=3600)
    max_sleep_interval: float | None = Field(default=None, ge=0, le=3600)
    rate_limit: int | None = Field(default=None, ge=1)  # bytes a second; "500K", "4.2M" accepted
    # [ytdlp] in ytarchive.toml: passed to YoutubeDL as options (ytarchive's own options refused).
    ytdlp: dict[str, Any] = Field(default_factory=dict)

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _parse_rate_limit(cls, value: Any) -> Any:
        return parse_bytes(value) if isinstance(value, str) else value

    @field_validator("cookies_file", "cookies_from_browser", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    extract_audio: str | None = None  # m4a, mp3, opus or flac: an audio archive (yt-dlp -x)

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


# -- errors that name what the user set ----------------------------------------------------------


def load_settings(
    overrides: Mapping[str, Any] | None = None, options: Mapping[str, str] | None = None
) -> Settings:
    """Settings from overrides (what the user gave on the command line), the environment and
    ytarchive.toml. A bad value is an InputError naming the option, the variable or the file
    that set it (`--max-concurrent must be at least 1`), never pydantic's field names.

    options maps a field to the option that sets it (default: --field-name).
    """
    from ytarchive.errors import InputError

    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        field = _field(str(error["loc"][0])) if error.get("loc") else ""
        where = _where(field, given, options or {})
        problem = _problem(error, secret=field == "youtube_api_key")
        raise InputError(_sentence(where, problem)) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{_toml_file()}: not valid TOML: {exc}") from None


def _field(name: str) -> str:
    """The field an error's location names (it may be an alias, such as YOUTUBE_API_KEY)."""
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
        if name == field or name in choices:
            return field
    return name


def _toml_file() -> str:
    return str(Settings.model_config.get("toml_file") or "ytarchive.toml")


def env_names(field: str) -> list[str]:
    """The environment variables that set a field (YOUTUBE_API_KEY, YTARCHIVE_OUTPUT_DIR, ...)."""
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices):
        return [str(a).upper() for a in alias.choices if isinstance(a, str)]
    return [f"{Settings.model_config.get('env_prefix', '')}{field}".upper()]


def _where(field: str, given: Mapping[str, Any], options: Mapping[str, str]) -> str:
    """Who set the field: the option, else the environment variable, else ytarchive.toml."""
    if field in given:
        return options.get(field, "--" + field.replace("_", "-"))
    present = {name.upper() for name in os.environ}
    for name in env_names(field):
        if name in present:
            return name
    return f"{_toml_file()}: {field}" if Path(_toml_file()).is_file() else field


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _is_fraction(value: Any) -> bool:
    try:
        return not float(value).is_integer()
    except (TypeError, ValueError, OverflowError):
        return False


def _problem(error: Mapping[str, Any], secret: bool) -> str:
    """What is wrong, in words a user reads: `must be at least 1`, `not a number: 'abc'`."""
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    shown = "" if secret else f": {error.get('input')!r}"
    bounds = {
        "greater_than_equal": ("must be at least", "ge"),
        "greater_than": ("must be more than", "gt"),
        "less_than_equal": ("must be at most", "le"),
        "less_than": ("must be less than", "lt"),
    }
    if kind in bounds and bounds[kind][1] in ctx:
        words, key = bounds[kind]
        return f"{words} {_number(ctx[key])}"
    if kind == "int_parsing" and _is_fraction(error.get("input")):
        return f"not a whole number{shown}"
    if kind in ("int_parsing", "float_parsing", "int_type", "float_type"):
        return f"not a number{shown}"
    if kind == "int_from_float":
        return f"not a whole number{shown}"
    if kind in ("bool_parsing", "bool_type"):
        return f"not true or false{shown}"
    if kind in ("path_type", "path_not_file", "path_not_directory"):
        return f"not a path{shown}"
    message = str(error.get("msg", "not valid")).removeprefix("Value error, ")
    return message.replace("Input should be", "must be").replace("Input", "the value")


def _sentence(where: str, problem: str) -> str:
    return f"{where} {problem}" if problem.startswith("must ") else f"{where}: {problem}"
