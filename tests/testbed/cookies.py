"""Netscape cookies.txt files (what browser extensions and yt-dlp export) for the stand-in."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["COOKIE_NAME", "CookieVideo", "new_cookie_value", "write_cookies_txt"]

COOKIE_NAME = "__Secure-3PSID"  # one of the session cookies a signed-in YouTube sets
_HEADER = "# Netscape HTTP Cookie File\n# Written by the YTArchive test bed.\n\n"
_FAR_FUTURE = 4102444800  # 2100-01-01


def new_cookie_value() -> str:
    """A fresh, recognisable secret: tests grep logs and files for it to prove it leaked nowhere."""
    return "tbcookie-" + secrets.token_hex(12)


def write_cookies_txt(
    path: Path, cookies: Mapping[str, str], domain: str = "127.0.0.1", cookie_path: str = "/"
) -> Path:
    """Write `cookies` for `domain` in the Netscape format yt-dlp's --cookies reads."""
    lines = [
        "\t".join([domain, "FALSE", cookie_path, "FALSE", str(_FAR_FUTURE), name, value])
        for name, value in cookies.items()
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_HEADER + "\n".join(lines) + "\n")
    return path


@dataclass(frozen=True)
class CookieVideo:
    """A stand-in video served only to requests carrying `name=value`, and a cookies.txt for it."""

    video_id: str
    url: str
    name: str
    value: str
    cookies_file: Path

    @property
    def cookie(self) -> str:
        return f"{self.name}={self.value}"
