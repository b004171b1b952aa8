"""Options for the archive's files: subtitles, their format, the output template; checked early."""

from __future__ import annotations

import os
from typing import Any

import typer

__all__ = [
    "ConvertSubsOption",
    "ExtractAudioOption",
    "SubtitlesOption",
    "TemplateOption",
    "check_file_settings",
    "file_settings",
]

SubtitlesOption = typer.Option(
    None,
    "--subtitles",
    help="Subtitle languages: a comma list (en,de), all, and auto for automatic captions "
    "(default: YTARCHIVE_SUBTITLES, none).",
)
ConvertSubsOption = typer.Option(
    None, "--convert-subs", help="Convert subtitle sidecars: srt, vtt, ass or lrc."
)
ExtractAudioOption = typer.Option(
    None,
    "--extract-audio",
    help="Keep audio only, as m4a, mp3, opus or flac, tagged, with cover art "
    "(with --quality bestaudio; default: YTARCHIVE_EXTRACT_AUDIO, off).",
)
TemplateOption = typer.Option(
    None,
    "--output-template",
    help="yt-dlp output template under videos/, with %(id)s "
    "(default: YTARCHIVE_OUTPUT_TEMPLATE, else '<title> [<id>].<ext>').",
)


def check_file_settings(settings: Any, given: dict[str, str | None]) -> None:
    """Subtitles, subtitle format, output template and NFO kind are checked before any work;
    the ones given on the command line are handed to the run (its Settings read them)."""
    from ytarchive.downloader.options import (
        parse_subtitles,
        validate_convert_subs,
        validate_extract_audio,
        validate_output_template,
    )
    from ytarchive.errors import InputError
    from ytarchive.sidecars import NFO_KINDS

    parse_subtitles(settings.subtitles)
    validate_convert_subs(settings.convert_subs)
    validate_output_template(settings.output_template)
    validate_extract_audio(settings.extract_audio)
    if settings.nfo and settings.nfo not in NFO_KINDS:
        raise InputError(f"YTARCHIVE_NFO: {settings.nfo!r} is not one of {', '.join(NFO_KINDS)}")
    for field, value in given.items():
        if value is not None:
            os.environ[f"YTARCHIVE_{field.upper()}"] = str(value)


def file_settings(
    subtitles: str | None,
    convert_subs: str | None,
    output_template: str | None,
    extract_audio: str | None = None,
) -> dict[str, str | None]:
    """The Settings fields these options set (extract_audio only when given)."""
    fields = {
        "subtitles": subtitles,
        "convert_subs": convert_subs,
        "output_template": output_template,
    }
    if extract_audio is not None:
        fields["extract_audio"] = extract_audio
    return fields
