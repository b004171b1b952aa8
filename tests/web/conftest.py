"""Web fixtures: `ytarchive web` on a free loopback port (a real uvicorn subprocess) over an
archive of its own, pointed at the test bed and the session's Prefect server; a loopback
receiver for Apprise's json:// notifications; helpers to start runs through the API itself."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.testbed.fixtures import Testbed

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
TOKEN = "web-test-token-0f9e8d7c6b5a"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """An HTTP server on loopback that keeps every JSON body POSTed to it (Apprise json://)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def about(self, text: str) -> list[dict[str, Any]]:
        """The messages whose title or body mention text."""
        return [b for b in self.bodies if text in (b.get("title") or "") + (b.get("message") or "")]


@dataclass
class WebApp:
    """A running `ytarchive web`, its archive, and an httpx client on it."""

    url: str
    root: Path
    proc: subprocess.Popen
    log: Path
    bed: Testbed
    env: dict[str, str]
    receiver: Receiver
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.url, timeout=60)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}

    def download(self, body: dict[str, Any]) -> str:
        """POST /download as the guide's curl example does; the job id."""
        answer = self.client.post("/download", json=body, headers=self.auth)
        assert answer.status_code == 202, answer.text
        return answer.json()["job_id"]

    def wait_job(self, job_id: str, timeout: float = 240) -> dict[str, Any]:
        """GET /jobs/{id} until the run is over and recorded; its last answer."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.client.get(f"/jobs/{job_id}").json()
            if status.get("finished") or time.monotonic() > deadline:
                return status
            time.sleep(0.5)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _wait_up(app: WebApp, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.proc.poll() is not None:
            raise AssertionError("ytarchive web exited:\n" + app.log_tail())
        with contextlib.suppress(httpx.HTTPError):
            if app.client.get("/stats", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError("ytarchive web did not answer:\n" + app.log_tail())


@contextlib.contextmanager
def run_web(root: Path, bed: Testbed, extra: dict[str, str] | None = None) -> Iterator[WebApp]:
    """`python -m ytarchive web --port N` over root, until the block ends."""
    receiver = Receiver()
    port = free_port()
    env = {
        **os.environ,
        "YTARCHIVE_OUTPUT_DIR": str(root),
        "YTARCHIVE_YOUTUBE_API_URL": bed.api_url,
        "YTARCHIVE_VIDEO_URL_TEMPLATE": bed.video_url_template,
        "YOUTUBE_API_KEY": bed.api_key,
        "YTARCHIVE_API_TOKEN": TOKEN,
        "YTARCHIVE_NOTIFY": receiver.url,
        "YTARCHIVE_MAX_RETRIES": "0",
        "YTARCHIVE_RETRY_DELAY_SECONDS": "0.05",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        **(extra or {}),
    }
    log = root.parent / f"web-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ytarchive", "web", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    app = WebApp(f"http://127.0.0.1:{port}", root, proc, log, bed, env, receiver)
    try:
        _wait_up(app)
        yield app
    finally:
        app.client.close()
        receiver.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture(scope="module")
def module_bed(media_server, api_server, testbed_library) -> Iterator[Testbed]:
    """The session's stand-ins, cleaned for this module (and after it); the module's tests
    share what its fixtures add, so none of them takes the function-scoped `testbed`."""
    bed = Testbed(testbed_library, media_server, api_server)
    bed.reset()
    yield bed
    bed.reset()


def playlist_url(playlist_id: str) -> str:
    return f"https://www.youtube.com/playlist?list={playlist_id}"
