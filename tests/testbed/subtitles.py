"""Subtitle tracks for the stand-in: WebVTT files and the text AdaptationSets that point at them."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["subtitle_name", "subtitle_lang", "webvtt", "with_subtitles"]

_PREFIX, _SUFFIX = "subs.", ".vtt"


def subtitle_name(lang: str) -> str:
    """The file name the manifest references for one language ("subs.en.vtt")."""
    return f"{_PREFIX}{lang}{_SUFFIX}"


def subtitle_lang(name: str, langs: Sequence[str]) -> str | None:
    """The language a served file name stands for, if the video has that track."""
    if name.startswith(_PREFIX) and name.endswith(_SUFFIX):
        lang = name[len(_PREFIX) : -len(_SUFFIX)]
        return lang if lang in langs else None
    return None


def webvtt(lang: str, video_id: str, duration: float) -> bytes:
    """A small, valid WebVTT file: two cues spanning the video, naming the language and id."""
    half = max(duration / 2, 0.5)

    def stamp(seconds: float) -> str:
        whole = int(seconds)
        return f"00:{whole // 60:02d}:{whole % 60:02d}.{int((seconds - whole) * 1000):03d}"

    return (
        "WEBVTT\n\n"
        f"1\n{stamp(0)} --> {stamp(half)}\n[{lang}] first cue of {video_id}\n\n"
        f"2\n{stamp(half)} --> {stamp(max(duration, half + 0.5))}\n[{lang}] second cue\n"
    ).encode()


def with_subtitles(manifest: bytes, langs: Sequence[str]) -> bytes:
    """The manifest with one text AdaptationSet (text/vtt, lang=...) per language.

    yt-dlp's MPD parser (extractor/common.py _parse_mpd_formats_and_subtitles) files a
    contentType="text" representation under info["subtitles"][lang], with its BaseURL as url.
    """
    if not langs:
        return manifest
    sets = "".join(
        f'    <AdaptationSet id="{10 + i}" contentType="text" mimeType="text/vtt" lang="{lang}">\n'
        f'      <Representation id="subs-{lang}" bandwidth="256">\n'
        f"        <BaseURL>{subtitle_name(lang)}</BaseURL>\n"
        "      </Representation>\n"
        "    </AdaptationSet>\n"
        for i, lang in enumerate(langs)
    )
    text = manifest.decode()
    at = text.rindex("  </Period>")
    return (text[:at] + sets + text[at:]).encode()
