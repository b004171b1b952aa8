"""Command: `web`, the archive's pages and the REST API (FastAPI on uvicorn)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from ytarchive.cli.app import app, settings_from_cli

# FastAPI, uvicorn and Prefect are imported inside the command: `--help` stays light.

LOOPBACK_NAMES = ("localhost", "localhost.localdomain")


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: reachable from this machine only."""
    import ipaddress

    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_port_free(host: str, port: int) -> None:
    import socket

    from ytarchive.errors import YTArchiveError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            raise YTArchiveError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@app.command("web")
def web(
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to listen on (default loopback only)."
    ),
    port: int = typer.Option(8080, "--port", "-p", help="Port to listen on."),
    output: Path = typer.Option(
        None, "--output", "-o", help="Archive root (default: YTARCHIVE_OUTPUT_DIR or ./downloads)."
    ),
) -> None:
    """Serve the archive: pages to browse, search and watch it, and the REST API (/docs).

    Listens on 127.0.0.1 unless --host says otherwise. Every POST (archiving, retrying) needs
    `Authorization: Bearer <YTARCHIVE_API_TOKEN>`; without the token set the app is read-only,
    and a --host other than loopback is refused (exit 2). Archive runs started from it are
    Prefect flow runs in this process, on the long-lived server. Ctrl-C stops it.

    Example: YTARCHIVE_API_TOKEN=s3cret ytarchive web --host 0.0.0.0 --port 8080
    """
    from ytarchive.errors import InputError

    settings = settings_from_cli(output_dir=output)
    token = settings.api_token.get_secret_value() if settings.api_token else ""
    if not 0 < port < 65536:
        raise InputError(f"--port must be 1 to 65535, not {port}")
    if not is_loopback(host) and not token:
        raise InputError(
            f"--host {host} is reachable from other machines: set YTARCHIVE_API_TOKEN first "
            "(every POST then needs it), or keep the default 127.0.0.1"
        )
    _check_port_free(host, port)
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    import uvicorn

    from ytarchive.api import Archive
    from ytarchive.web import create_app

    archive = Archive(settings=settings)
    shown = f"[{host}]" if ":" in host else host
    note = f"YTArchive web on http://{shown}:{port}/ (API docs /docs), archive {archive.root}\n"
    if not token:
        note += "YTARCHIVE_API_TOKEN is not set: read-only (archiving and retries refused)\n"
    sys.stderr.write(note)
    uvicorn.run(create_app(archive), host=host.strip("[]"), port=port, server_header=False)
