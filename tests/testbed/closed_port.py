"""A loopback port that refuses connections: bound (so nobody else takes it), never listening."""

from __future__ import annotations

import socket
from typing import Self

__all__ = ["ClosedPort"]


class ClosedPort:
    """127.0.0.1:<port> answers every connection attempt with a reset ("Connection refused")."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None

    def open(self) -> Self:
        if self._sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))  # reserved while we hold it; no listen(): refused
            self._sock = sock
        return self

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    @property
    def port(self) -> int:
        if self._sock is None:
            raise RuntimeError("ClosedPort is not open")
        return int(self._sock.getsockname()[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url_template(self) -> str:
        """Like MediaServer.url_template, for pointing YTARCHIVE_VIDEO_URL_TEMPLATE at it."""
        return f"{self.base_url}/v/{{video_id}}/manifest.mpd"

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()
