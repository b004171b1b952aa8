"""Cookies for yt-dlp: a Netscape cookies.txt or a browser's store, checked, private, masked."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ytarchive.errors import InputError
from ytarchive.redact import register_secret

if TYPE_CHECKING:
    from ytarchive.config import Settings

__all__ = [
    "FILE_VARIABLE",
    "BROWSER_VARIABLE",
    "check_cookie_settings",
    "check_cookies_file",
    "cookie_options",
    "parse_browser_spec",
    "register_jar",
]

FILE_VARIABLE = "YTARCHIVE_COOKIES_FILE"
BROWSER_VARIABLE = "YTARCHIVE_COOKIES_FROM_BROWSER"
# What http.cookiejar.MozillaCookieJar (so yt-dlp) demands of a cookies.txt's first line.
_MAGIC = re.compile(r"#( Netscape)? HTTP Cookie File")
_HTTPONLY = "#HttpOnly_"
_FIELDS = 7  # domain, include subdomains, path, https only, expires, name, value
# yt-dlp's own parse of --cookies-from-browser (yt_dlp/__init__.py).
_BROWSER_SPEC = re.compile(
    r"""(?x)
    (?P<name>[^+:]+)
    (?:\s*\+\s*(?P<keyring>[^:]+))?
    (?:\s*:\s*(?!:)(?P<profile>.+?))?
    (?:\s*::\s*(?P<container>.+))?
    """
)


def _cookie_values(text: str) -> list[str] | None:
    """The values of a Netscape cookies.txt's cookies; None when it is not one."""
    lines = text.splitlines()
    if not lines or not _MAGIC.match(lines[0]):
        return None
    values = []
    for line in lines[1:]:
        line = line.removeprefix(_HTTPONLY)
        if line.startswith("#") or not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) == _FIELDS:  # yt-dlp skips any other line with a warning
            values.append(fields[-1])
    return values or None


def _read(path: Path, source: str) -> str:
    if not path.is_file():
        raise InputError(f"{source}: cookies file not found: {path}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{source}: {path} is not a Netscape cookies.txt") from None
    except OSError as exc:
        raise InputError(f"{source}: cannot read {path}: {exc.strerror or exc}") from None


def check_cookies_file(path: Path | str, source: str = FILE_VARIABLE) -> str:
    """The file's text when it is a readable Netscape cookies.txt holding a cookie, else an
    InputError naming `source` and the path (never the contents). Its values are registered as
    secrets, so no log line shows them."""
    path = Path(path).expanduser()
    text = _read(path, source)
    values = _cookie_values(text)
    if values is None:
        raise InputError(
            f"{source}: {path} is not a Netscape cookies.txt (its first line must be "
            "'# Netscape HTTP Cookie File', then one tab-separated line a cookie)"
        )
    for value in values:
        register_secret(value)
    return text


def parse_browser_spec(spec: str, source: str = BROWSER_VARIABLE) -> tuple[Any, ...]:
    """BROWSER[+KEYRING][:PROFILE][::CONTAINER] as yt-dlp's --cookies-from-browser reads it:
    yt-dlp's `cookiesfrombrowser` tuple (browser, profile, keyring, container)."""
    from yt_dlp.cookies import SUPPORTED_BROWSERS, SUPPORTED_KEYRINGS

    m = _BROWSER_SPEC.fullmatch(spec.strip())
    if m is None:
        raise InputError(f"{source}: not BROWSER[+KEYRING][:PROFILE][::CONTAINER]: {spec!r}")
    browser, keyring, profile, container = m.group("name", "keyring", "profile", "container")
    browser = browser.lower()
    if browser not in SUPPORTED_BROWSERS:
        names = ", ".join(sorted(SUPPORTED_BROWSERS))
        raise InputError(f"{source}: unsupported browser {browser!r}: use one of {names}")
    if keyring is not None:
        keyring = keyring.upper()
        if keyring not in SUPPORTED_KEYRINGS:
            names = ", ".join(sorted(SUPPORTED_KEYRINGS))
            raise InputError(f"{source}: unsupported keyring {keyring!r}: use one of {names}")
    return (browser, profile, keyring, container)


def check_cookie_settings(settings: Settings) -> None:
    """Check the cookie settings before any work starts (InputError, exit 2)."""
    if settings.cookies_file is not None:
        check_cookies_file(settings.cookies_file)
    if settings.cookies_from_browser:
        parse_browser_spec(settings.cookies_from_browser)


def cookie_options(settings: Settings) -> dict[str, Any]:
    """yt-dlp's cookie options for one YoutubeDL.

    The cookies.txt is read into a private in-memory copy for each YoutubeDL: yt-dlp writes
    its jar back to the file it is given when it closes, so the user's file is never touched,
    concurrent downloads never share (and never break) one file, and no copy is left on disk.
    """
    options: dict[str, Any] = {}
    if settings.cookies_file is not None:
        options["cookiefile"] = io.StringIO(check_cookies_file(settings.cookies_file))
    if settings.cookies_from_browser:
        options["cookiesfrombrowser"] = parse_browser_spec(settings.cookies_from_browser)
    return options


def register_jar(ydl: Any) -> None:
    """Register every cookie value a YoutubeDL holds (a browser's too) as a secret to mask.

    Loads its jar, as its first request would; yt-dlp's CookieLoadError propagates."""
    if ydl.params.get("cookiefile") is None and ydl.params.get("cookiesfrombrowser") is None:
        return
    for cookie in ydl.cookiejar:
        register_secret(cookie.value)
