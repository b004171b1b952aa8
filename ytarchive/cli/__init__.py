"""The `ytarchive` command line: a thin layer that parses, validates, calls, renders."""

from __future__ import annotations

import os
import sys

from ytarchive.cli.app import app

__all__ = ["app", "main"]

# Command modules register themselves on `app` when imported. They must stay cheap to import:
# anything heavy (prefect, yt_dlp, googleapiclient, duckdb) is imported inside command bodies.
from ytarchive.cli import commands as _commands  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; our errors become one line on stderr and an exit code, never a traceback."""
    from typer.exceptions import Abort, TyperException

    from ytarchive.cli import runner
    from ytarchive.errors import YTArchiveError

    runner.ARGV[:] = list(sys.argv[1:] if argv is None else argv)  # to hand the run over
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
    first_line = message.strip().splitlines()[0] if message.strip() else "error"
    sys.stderr.write(f"Error: {first_line}\n")
    raise SystemExit(code)
