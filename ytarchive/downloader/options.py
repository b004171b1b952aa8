"""yt-dlp options: the base, a site's needs, the user's [ytdlp], quality -> format, ffmpeg, logs."""

from __future__ import annotations

import copy
import logging
import re
import shutil
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ytarchive.downloader.cookies import check_cookie_settings, cookie_options
from ytarchive.errors import InputError
from ytarchive.jsruntime import find_js_runtime, ytdlp_js_runtimes

if TYPE_CHECKING:
    from ytarchive.config import Settings

__all__ = [
    "QUALITY_FORMATS",
    "RESERVED_OPTIONS",
    "YOUTUBE_POLITENESS",
    "YtdlpLogger",
    "base_options",
    "clean_message",
    "check_passthrough",
    "check_site_settings",
    "ffmpeg_location",
    "format_for_quality",
    "fragments_at_once",
    "js_runtime_options",
    "passthrough_options",
    "politeness_options",
    "site_options",
    "parse_subtitles",
    "sidecar_options",
    "streams_at_once",
    "validate_convert_subs",
    "validate_output_template",
    "validate_quality",
    "ytdlp_version",
]

log = logging.getLogger("ytarchive.downloader")

# Quality names -> (format, format_sort). A height means "the best at or below it, with audio,
# merged by ffmpeg"; when nothing is that small, the smallest above it (yt-dlp's res:N sort).
QUALITY_FORMATS: dict[str, tuple[str, list[str]]] = {
    "best": ("bv*+ba/b", []),
    "worst": ("wv*+wa/w", []),
    "bestaudio": ("ba/b", []),
    **{f"{h}p": ("bv*+ba/b", [f"res:{h}"]) for h in (2160, 1440, 1080, 720, 480, 360)},
}
_HEIGHT = re.compile(r"^(\d{3,4})p$")
_FORMAT_SYNTAX = re.compile(r"[+/\[\]*(),]")
_FORMAT_WORDS = {
    "b", "w", "bv", "ba", "wv", "wa", "best", "worst", "bestvideo", "bestaudio", "worstvideo",
    "worstaudio", "all", "mergeall", "mp4", "webm", "m4a", "mp3", "ogg", "flv", "3gp", "mkv",
}  # fmt: skip
_FORMAT_ID = re.compile(r"^[A-Za-z0-9_.-]*\d[A-Za-z0-9_.-]*$")


def ffmpeg_location() -> str | None:
    """The ffmpeg downloads run: the static build the imageio-ffmpeg wheel ships, else ffmpeg on
    PATH. `[ytdlp] ffmpeg_location` (a file or a folder) overrides it for downloads.

    Why the wheel's first: it is one file that starts in about 0.02 CPU s (ffmpeg 9, with the
    encoders we use: aac, mp3, opus, flac, the subtitle formats, mjpeg and png), where Debian's
    ffmpeg 5.1, linked against some 200 shared libraries, takes 0.12 s, and every video runs
    ffmpeg twice (the merge, then the tags): a fifth of a CPU second a video, the largest share
    left of what a download costs us (bench/bench_overhead.py). yt-dlp looks for ffprobe beside
    the ffmpeg it is given, so the answer is a link named ffmpeg in a folder of ours with the
    ffprobe on PATH linked beside it (the wheel has none); without a writable cache folder, the
    wheel's binary itself (and no ffprobe). Looked at on every call (a few system calls): a
    link folder someone removed is made again, never handed to yt-dlp missing.
    """
    try:
        import imageio_ffmpeg

        exe = str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):  # not installed, or no binary for this platform
        return shutil.which("ffmpeg")
    probe = shutil.which("ffprobe")
    try:
        return str(_linked(exe, probe))
    except OSError:
        return exe


def _linked(exe: str, probe: str | None) -> Path:
    """<cache>/ytarchive/ffmpeg/<key>/ffmpeg -> exe, and ffprobe -> probe when there is one."""
    import hashlib
    import os

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha256(f"{exe}\0{probe}".encode()).hexdigest()[:12]
    folder = cache / "ytarchive" / "ffmpeg" / key
    links = {"ffmpeg": exe, **({"ffprobe": probe} if probe else {})}
    for name, target in links.items():
        link = folder / name
        if not (link.is_symlink() and os.readlink(link) == target):
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{name}.{os.getpid()}"
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(target)
            tmp.replace(link)  # atomic: another process making the same link is fine
    return folder / "ffmpeg"


def ytdlp_version() -> str:
    from yt_dlp.version import __version__

    return str(__version__)


def base_options() -> dict[str, Any]:
    """Options every YoutubeDL we build starts from: quiet, no config files, no network guesses,
    and the JavaScript runtime named by its path."""
    return {
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "ignoreconfig": True,
        "color": {"stdout": "no_color", "stderr": "no_color"},
        "extractor_retries": 0,
        "socket_timeout": 30,
        **js_runtime_options(),
    }


# -- what a site needs: JS runtime, cookies, politeness, the user's own yt-dlp options ----------


@lru_cache(maxsize=1)
def _js_runtimes() -> dict[str, dict[str, str]]:
    runtime = find_js_runtime()
    if runtime is None:
        log.warning("no JavaScript runtime found: YouTube will offer few formats (see health)")
    return ytdlp_js_runtimes(runtime)


def js_runtime_options() -> dict[str, Any]:
    """`js_runtimes` naming the runtime's binary by path (the deno wheel's), so a worker whose
    PATH lacks the virtualenv solves YouTube's challenges too; nothing when there is none."""
    runtimes = _js_runtimes()
    return {"js_runtimes": copy.deepcopy(runtimes)} if runtimes else {}


# Unset politeness settings mean these, for YouTube URLs only (yt-dlp's `-t sleep` preset has
# 0.75 s between requests and 10-20 s before each download; a merged video is two downloads:
# the second stream's wait starts once the first stream's bytes flow, so their starts are
# spaced by one wait, as when they run one after the other).
YOUTUBE_POLITENESS: dict[str, float] = {
    "sleep_interval_requests": 0.75,
    "sleep_interval": 5.0,
    "max_sleep_interval": 10.0,
}


def streams_at_once(settings: Settings) -> int:
    """A merged format's streams fetched at once (2), or one after the other (1): when
    parallel_streams is off, or a rate limit is set (it holds for the whole download)."""
    return 2 if settings.parallel_streams and not settings.rate_limit else 1


def fragments_at_once(settings: Settings) -> int:
    """yt-dlp's concurrent_fragment_downloads for one stream of HLS or DASH fragments: the
    setting, or 1 under a rate limit (yt-dlp limits each connection, not their sum)."""
    return 1 if settings.rate_limit else settings.concurrent_fragments


def is_youtube_url(url: str) -> bool:
    from ytarchive.refs import SHORT_HOSTS, YOUTUBE_HOSTS

    host = (urlsplit(url).hostname or "").lower()
    return host in YOUTUBE_HOSTS or host in SHORT_HOSTS


def politeness_options(settings: Settings, url: str) -> dict[str, Any]:
    """yt-dlp's sleeps and rate limit: what the user set, for every site; else YouTube's
    defaults for YouTube URLs and nothing for other sites (the loopback stand-in among them)."""
    defaults = YOUTUBE_POLITENESS if is_youtube_url(url) else {}
    chosen = {
        "sleep_interval_requests": settings.sleep_requests,
        "sleep_interval": settings.sleep_interval,
        "max_sleep_interval": settings.max_sleep_interval,
    }
    options = {
        key: float(value if value is not None else defaults.get(key, 0.0))
        for key, value in chosen.items()
    }
    # yt-dlp wants max >= min (a max below the interval is raised to it)
    options["max_sleep_interval"] = max(options["max_sleep_interval"], options["sleep_interval"])
    options = {key: value for key, value in options.items() if value > 0}
    if settings.rate_limit:
        options["ratelimit"] = int(settings.rate_limit)
    return options


# [ytdlp] options ytarchive sets itself: refused, naming what to use instead.
RESERVED_OPTIONS: dict[str, str] = {
    **dict.fromkeys(("outtmpl", "paths"), "ytarchive names the files (YTARCHIVE_OUTPUT_DIR)"),
    **dict.fromkeys(("format", "format_sort"), "use --quality"),
    **dict.fromkeys(
        ("noplaylist", "extract_flat", "skip_download", "simulate", "playlist_items"),
        "ytarchive chooses what each call fetches",
    ),
    **dict.fromkeys(
        ("progress_hooks", "postprocessor_hooks", "logger"), "ytarchive follows the download"
    ),
    "cookiefile": "use YTARCHIVE_COOKIES_FILE (or --cookies FILE)",
    "cookiesfrombrowser": "use YTARCHIVE_COOKIES_FROM_BROWSER",
    "sleep_interval_requests": "use YTARCHIVE_SLEEP_REQUESTS",
    "sleep_interval": "use YTARCHIVE_SLEEP_INTERVAL",
    "max_sleep_interval": "use YTARCHIVE_MAX_SLEEP_INTERVAL",
    "ratelimit": "use YTARCHIVE_RATE_LIMIT",
    "concurrent_fragment_downloads": "use YTARCHIVE_CONCURRENT_FRAGMENTS",
    **dict.fromkeys(
        ("retries", "fragment_retries", "extractor_retries", "retry_sleep_functions"),
        "the retry budget is YTARCHIVE_MAX_RETRIES and YTARCHIVE_FRAGMENT_RETRIES",
    ),
}


def check_passthrough(settings: Settings) -> None:
    """An InputError naming the first [ytdlp] option that ytarchive sets itself."""
    for key in settings.ytdlp:
        if key in RESERVED_OPTIONS:
            why = RESERVED_OPTIONS[key]
            raise InputError(f"ytarchive.toml: [ytdlp] {key} is set by ytarchive: {why}")


def check_site_settings(settings: Settings) -> None:
    """Cookies and [ytdlp] checked before any work starts: an InputError (exit 2) names the bad
    one (the cookie file's path, never its contents)."""
    check_cookie_settings(settings)
    check_passthrough(settings)


def passthrough_options(settings: Settings) -> dict[str, Any]:
    """A private copy of the user's [ytdlp] options (YoutubeDL changes the dicts it is given)."""
    check_passthrough(settings)
    return copy.deepcopy(dict(settings.ytdlp))


def site_options(settings: Settings, url: str) -> dict[str, Any]:
    """What one YoutubeDL for `url` needs beyond its own options: the user's [ytdlp] options
    (over our base options), then cookies and politeness. The caller's own options go last."""
    options = base_options()
    options.update(passthrough_options(settings))
    options.update(cookie_options(settings))
    options.update(politeness_options(settings, url))
    return options


def clean_message(message: str) -> str:
    """yt-dlp's message without colours, its "ERROR: " prefix or further lines."""
    message = re.sub(r"\x1b\[[0-9;]*m", "", message)
    message = message.replace("ERROR: ", "").strip()
    return message.splitlines()[0] if message else "unknown yt-dlp error"


def validate_quality(quality: str) -> str:
    """A quality name or a yt-dlp format string; anything else is an InputError."""
    q = (quality or "").strip()
    if q in QUALITY_FORMATS or _HEIGHT.match(q):
        return q
    if q.rstrip("*") in _FORMAT_WORDS or _FORMAT_ID.match(q):
        return q
    if _FORMAT_SYNTAX.search(q) and " " not in q.strip():
        from ytarchive.downloader.ydl import ydl_class

        try:
            with ydl_class()(base_options(), auto_init=False) as ydl:
                ydl.build_format_selector(q)
        except (SyntaxError, ValueError) as exc:  # yt-dlp's parser raises SyntaxError
            raise InputError(f"bad --quality {quality!r}: {clean_message(str(exc))}") from None
        return q
    names = ", ".join(QUALITY_FORMATS)
    raise InputError(f"unknown --quality {quality!r}: use {names}, or a yt-dlp format string")


def format_for_quality(quality: str) -> tuple[str, list[str]]:
    """The yt-dlp (format, format_sort) for a quality name; other strings pass through as format."""
    q = validate_quality(quality)
    if q in QUALITY_FORMATS:
        fmt, sort = QUALITY_FORMATS[q]
        return fmt, list(sort)
    height = _HEIGHT.match(q)
    if height:
        return "bv*+ba/b", [f"res:{height.group(1)}"]
    return q, []


class YtdlpLogger:
    """yt-dlp's messages, into our log and never onto stderr (warnings at `warnings`' level)."""

    def __init__(self, logger: logging.Logger = log, warnings: int = logging.INFO) -> None:
        self.logger = logger
        self.warnings = warnings

    def debug(self, msg: str) -> None:
        self.logger.debug(msg)

    def info(self, msg: str) -> None:
        self.logger.debug(msg)

    def warning(self, msg: str) -> None:
        self.logger.log(self.warnings, clean_message(msg))

    def error(self, msg: str) -> None:
        self.logger.debug(clean_message(msg))


# -- the complete archive: subtitles, embedded tags, chapters, cover art, the output template --

SUBTITLE_FORMATS = ("srt", "vtt", "ass", "lrc")  # what yt-dlp's FFmpegSubtitlesConvertor makes
_SUB_LANG = re.compile(r"^-?[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*(?:\.\*)?$")


def parse_subtitles(text: str | None) -> tuple[list[str], bool]:
    """`--subtitles en,de` -> (["en", "de"], False); `all`; `auto` adds automatic captions.

    Languages are yt-dlp's codes (en, en-US, pt-BR, zh-Hans, `en.*`, `-live_chat`). Anything
    else is an InputError.
    """
    tokens = [t.strip() for t in (text or "").split(",") if t.strip()]
    langs = [t for t in tokens if t != "auto"]
    for lang in langs:
        if lang != "all" and not _SUB_LANG.match(lang):
            raise InputError(f"--subtitles: not a language code: {lang!r} (use en,de, all or auto)")
    return langs, "auto" in tokens


def validate_convert_subs(fmt: str | None) -> str | None:
    if not fmt:
        return None
    if fmt.lower() not in SUBTITLE_FORMATS:
        raise InputError(f"--convert-subs: {fmt!r} is not one of {', '.join(SUBTITLE_FORMATS)}")
    return fmt.lower()


AUDIO_FORMATS = ("m4a", "mp3", "opus", "flac")  # FFmpegExtractAudio codecs that take a cover


def validate_extract_audio(fmt: str | None) -> str | None:
    if not fmt:
        return None
    if fmt.lower() not in AUDIO_FORMATS:
        raise InputError(f"--extract-audio: {fmt!r} is not one of {', '.join(AUDIO_FORMATS)}")
    return fmt.lower()


def validate_output_template(template: str | None) -> str | None:
    """A yt-dlp output template that names the video's id; else an InputError."""
    if not template:
        return None
    if "%(id)s" not in template:
        raise InputError(f"--output-template must contain %(id)s: {template!r}")
    if template.startswith("/") or ".." in Path(template).parts:
        raise InputError(f"--output-template must stay inside videos/: {template!r}")
    from yt_dlp import YoutubeDL

    problem = YoutubeDL.validate_outtmpl(template)
    if problem:
        raise InputError(f"bad --output-template {template!r}: {clean_message(str(problem))}")
    return template


def sidecar_options(settings: Settings) -> dict[str, Any]:
    """yt-dlp options for subtitles (written, converted, embedded), chapters, tags and cover art,
    and the audio extraction of an audio archive (extract_audio).

    Subtitle sidecars are kept after embedding; the thumbnail yt-dlp fetches for the cover is
    kept too (it becomes thumbnails/<id>.<ext>). info.json and .description are ours
    (ytarchive.sidecars), written from the info dict without its secrets.
    """
    langs, auto = parse_subtitles(settings.subtitles)
    convert = validate_convert_subs(settings.convert_subs)
    audio = validate_extract_audio(settings.extract_audio)
    options: dict[str, Any] = {}
    pps: list[dict[str, Any]] = []
    if audio:  # first, as yt-dlp -x orders it: the tags and cover then go into the audio file
        pps.append({"key": "FFmpegExtractAudio", "preferredcodec": audio, "preferredquality": "0"})
    if langs or auto:
        options["writesubtitles"] = bool(langs) or not auto
        options["writeautomaticsub"] = auto
        if langs:
            options["subtitleslangs"] = [*langs, "-live_chat"] if "all" in langs else langs
        if convert:
            pps.append({"key": "FFmpegSubtitlesConvertor", "format": convert, "when": "before_dl"})
        if settings.embed_subtitles:
            pps.append({"key": "FFmpegEmbedSubtitle", "already_have_subtitle": True})
    if settings.embed_metadata or settings.embed_chapters:
        pps.append(
            {
                "key": "FFmpegMetadata",
                "add_chapters": settings.embed_chapters,
                "add_metadata": settings.embed_metadata,
                "add_infojson": False,
            }
        )
    if settings.embed_thumbnail:
        options["writethumbnail"] = True
        pps.append({"key": "EmbedThumbnail", "already_have_thumbnail": True})
    options["postprocessors"] = pps
    return options
