"""The `--cookies FILE` option: checked up front, then given to runs by path, never by contents."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import typer

__all__ = ["CookiesOption", "check_cookies_option", "cookies_env"]

CookiesOption = typer.Option(
    None,
    "--cookies",
    metavar="FILE",
    help="A Netscape cookies.txt for the site (default: YTARCHIVE_COOKIES_FILE). Its contents "
    "are never logged or stored.",
)


def check_cookies_option(cookies: Path | None) -> Path | None:
    """--cookies FILE as an absolute path, once it is known to be a Netscape cookies.txt
    (else an InputError naming --cookies and the path: exit 2, nothing written)."""
    if cookies is None:
        return None
    from ytarchive.downloader.cookies import check_cookies_file

    check_cookies_file(cookies, "--cookies")
    return cookies.expanduser().resolve()


@contextlib.contextmanager
def cookies_env(cookies: Path | None) -> Iterator[None]:
    """--cookies reaches an in-process flow's tasks as YTARCHIVE_COOKIES_FILE (the path: cookies
    are never a flow parameter), for that run only."""
    if cookies is None:
        yield
        return
    from ytarchive.downloader.cookies import FILE_VARIABLE

    before = os.environ.get(FILE_VARIABLE)
    os.environ[FILE_VARIABLE] = str(cookies)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(FILE_VARIABLE, None)
        else:
            os.environ[FILE_VARIABLE] = before
