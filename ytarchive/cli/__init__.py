"""The `ytarchive` command line: a thin layer that parses, validates, calls, renders."""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["app", "main"]

# The commands that run flows, handed whole to the resident runner when one is up, before this
# process loads Typer and the commands (about 0.3 s of the command's own start).
_HANDED = (("download",), ("playlist", "download"))


def __getattr__(name: str) -> Any:
    if name == "app":
        return _app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _app() -> Any:
    """The Typer app with every command on it. Command modules register themselves on `app`
    when imported; they stay cheap to import (prefect, yt_dlp, googleapiclient and duckdb are
    imported inside command bodies)."""
    from ytarchive.cli import commands as _commands  # noqa: F401
    from ytarchive.cli.app import app

    globals()["app"] = app  # not the submodule of that name, which importing it set here
    return app


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; our errors become one line on stderr and an exit code, never a traceback."""
    from ytarchive.cli import runner

    args = list(sys.argv[1:] if argv is None else argv)
    if any(tuple(args[: len(cmd)]) == cmd for cmd in _HANDED):
        code = runner.hand_over(args)  # the runner's child parses and runs it, as below
        if code is not None:
            return code
    from typer.exceptions import Abort, TyperException

    from ytarchive.errors import YTArchiveError

    app = _app()
    runner.ARGV[:] = args  # to hand the run over
    given = {k: v for k, v in os.environ.items() if k.startswith("YTARCHIVE_")}
    failure: tuple[str, int] | None = None
    try:
        rv = app(args=argv, prog_name="ytarchive", standalone_mode=False)
    except YTArchiveError as exc:
        failure = (str(exc), exc.exit_code)
    except (KeyboardInterrupt, Abort):
        failure = ("interrupted", 130)
    except TyperException as exc:  # usage errors: bad option, missing argument
        show = getattr(exc, "show", None)
        if show is None:
            raise
        show()
        return int(getattr(exc, "exit_code", 2))
    finally:
        _restore_settings_env(given)
    if failure is not None:  # outside the except: no traceback keeps DuckDB objects alive
        _fail(*failure)
    return rv if isinstance(rv, int) else 0


def _restore_settings_env(given: dict[str, str]) -> None:
    """Options a command handed its in-process run through YTARCHIVE_* variables end with it,
    so a caller that runs several commands in one process (tests, the Python API) sees none."""
    for key in [k for k in os.environ if k.startswith("YTARCHIVE_") and k not in given]:
        del os.environ[key]
    os.environ.update(given)


def _fail(message: str, code: int) -> None:
    """One line on stderr, through redact() last of all: no message ever shows a secret."""
    from ytarchive.redact import redact

    first_line = redact(message.strip().splitlines()[0]) if message.strip() else "error"
    sys.stderr.write(f"Error: {first_line}\n")
    raise SystemExit(code)
