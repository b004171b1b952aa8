"""A video's claim across hosts: a Prefect global concurrency limit of one, held on a lease."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from ytarchive import layout
from ytarchive.errors import Transient

__all__ = ["CLAIM_BUCKETS", "CLAIM_PREFIX", "claim_limit_name", "video_claim"]

# Videos share CLAIM_BUCKETS limits of one slot each, by a hash of their key: a fixed set of
# limits on the server (made the first time one is used), not one per video ever archived. Two
# videos in one bucket take turns, never download at once. The same on every host: not a setting.
CLAIM_BUCKETS = 1024
CLAIM_PREFIX = "ytarchive-claim-"
_POLL_CAP = 5.0  # seconds at most between tries while another run holds the claim
_RENEW_EVERY = 1 / 6  # of the lease: a renewal that fails is tried again at the next tick
_GIVE_UP_AFTER = 3 / 4  # of the lease without a renewal: the claim is lost, the download stops
_RELEASE_WAIT = 10.0  # seconds a holder waits for its claim to be let go
_LIMITS_SEEN: set[str] = set()  # bucket limits this process found (or made) active, limit 1
_log = logging.getLogger(__name__)


class _ClaimLost(BaseException):
    """Raised in the claim holder's thread when its lease could not be renewed in time.

    A BaseException, so that no `except Exception` on the way (yt-dlp's) swallows it; the claim
    turns it into Transient.
    """


def claim_limit_name(video_id: str) -> str:
    """``ytarchive-claim-NNNN``: the bucket limit of this video key (no id, nothing secret)."""
    digest = hashlib.sha256(video_id.encode("utf-8")).digest()
    return f"{CLAIM_PREFIX}{int.from_bytes(digest[:4], 'big') % CLAIM_BUCKETS:04d}"


@contextlib.contextmanager
def video_claim(
    video_id: str,
    lease_seconds: float,
    *,
    log: Any = _log,
    holder: Any = None,
    give_up_after: float | None = None,
    root: Path | None = None,
) -> Iterator[bool]:
    """Hold the video's claim across hosts for the block; yields True (a real claim).

    Waits while another run holds it. With the archive's `root`, the caller holds this host's
    lock of the video, and the lease is noted beside the lock until it is let go: a claim that
    a killed process of this host left is let go at once (the same-host fast path), not a
    lease later. The lease is renewed in the background; when it cannot
    be renewed for `give_up_after` seconds (3/4 of the lease), the block is interrupted and
    Transient raised, before the server could give the claim to another host. A server that
    cannot be reached, or a limit that cannot be had, is Transient too: never a download
    without the claim. A killed holder's claim goes when its lease lapses.
    """
    note = layout.lease_note(root, video_id) if root is not None else None
    if note is not None and note.is_file():
        _let_go_left_over(note, video_id, log)
    url, sent, lease_id = _acquire(claim_limit_name(video_id), video_id, lease_seconds, log, holder)
    give_up = give_up_after if give_up_after is not None else lease_seconds * _GIVE_UP_AFTER
    held = _Held(lease_id, url, lease_seconds, give_up, sent, threading.current_thread())
    _KEEPER.hold(held)
    try:
        if note is not None:
            note.write_text(f"{lease_id}\n", encoding="utf-8")  # lost or torn: it just lapses
        yield True
    except _ClaimLost:
        raise Transient(f"lost its claim (no lease renewal): {held.why}") from None
    finally:
        try:
            _KEEPER.let_go(held)
        except _ClaimLost:  # delivered as the block ended: what it did is done and recorded
            pass
        if note is not None and held.freed:
            note.unlink(missing_ok=True)


def _let_go_left_over(note: Path, video_id: str, log: Any) -> None:
    """Release the lease a killed process of this host left in `note` (gone already: fine)."""
    try:
        lease_id = UUID(note.read_text(encoding="utf-8").strip())
        _, client = _client()
        client.release_concurrency_slots_with_lease(lease_id)
    except ValueError:
        pass  # not a lease id: nothing to let go
    except Exception as exc:
        if not _gone(exc):
            raise Transient(f"no claim could be made ({type(exc).__name__}: {exc})") from exc
    else:
        log.info("%s: let go the claim a killed run of this host left", video_id)
    note.unlink(missing_ok=True)


def _acquire(
    name: str, video_id: str, lease_seconds: float, log: Any, holder: Any
) -> tuple[str, float, UUID]:
    """The server's url, when the granted request was sent, and the lease id of the slot."""
    import httpx
    from prefect.client.schemas.responses import ConcurrencyLimitWithLeaseResponse

    told = False
    try:
        url, client = _client()
        _ensure_limit(client, name)
        while True:
            sent = time.monotonic()
            try:
                response = client.increment_concurrency_slots_with_lease(
                    names=[name],
                    slots=1,
                    mode="concurrency",
                    lease_duration=lease_seconds,
                    holder=holder,
                )
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != 423:
                    raise
                if not told:
                    log.info("%s: waiting for its claim (another run holds it)", video_id)
                    told = True
                time.sleep(min(float(exc.response.headers.get("Retry-After", 1)), _POLL_CAP))
                continue
            granted = ConcurrencyLimitWithLeaseResponse.model_validate(response.json())
            if not granted.limits:  # the limit vanished: never "no limit, no claim"
                _LIMITS_SEEN.discard(name)
                raise Transient(f"no claim could be made: limit {name} is missing")
            return url, sent, granted.lease_id
    except Transient:
        raise
    except Exception as exc:
        raise Transient(f"no claim could be made ({type(exc).__name__}: {exc})") from exc


_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def _client() -> tuple[str, Any]:
    """This process's client of the current API URL: one, shared by its threads."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    url = str(PREFECT_API_URL.value() or "")
    with _clients_lock:
        if url not in _clients:  # its own settings: never the run's client, closed with the run
            settings = {"timeout": 30.0, "base_url": url}
            _clients[url] = get_client(sync_client=True, httpx_settings=settings).__enter__()
        return url, _clients[url]


def _ensure_limit(client: Any, name: str) -> None:
    """The bucket's limit exists, is active and has one slot (made or mended once a process)."""
    if name in _LIMITS_SEEN:
        return
    from prefect.client.schemas.actions import (
        GlobalConcurrencyLimitCreate,
        GlobalConcurrencyLimitUpdate,
    )
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    try:
        limit = client.read_global_concurrency_limit_by_name(name)
    except ObjectNotFound:
        with contextlib.suppress(ObjectAlreadyExists):  # another host made it just now
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=name, limit=1, active=True)
            )
    else:
        if not limit.active or limit.limit != 1:
            client.update_global_concurrency_limit(
                name, GlobalConcurrencyLimitUpdate(active=True, limit=1)
            )
    _LIMITS_SEEN.add(name)


@dataclass(eq=False)
class _Held:
    """One claim held: its lease, when it was last renewed (the request's send time), holder."""

    lease_id: UUID
    url: str
    lease_seconds: float
    give_up: float
    renewed_at: float  # monotonic
    holder: threading.Thread
    done: bool = False  # the holder left the block, or was interrupted: inject nothing more
    why: str = ""
    freed: bool = False  # the server confirmed the release
    next_at: float = 0.0
    released: threading.Event = field(default_factory=threading.Event)

    @property
    def tick(self) -> float:
        return min(self.lease_seconds * _RENEW_EVERY, self.give_up / 3)


class _Keeper:
    """One thread a process renews every claim's lease in, lets claims go, and interrupts a
    holder whose lease it could not renew in time. Its requests fail fast (no client retries):
    a renewal that fails is tried at the next tick."""

    def __init__(self) -> None:
        self._held: dict[UUID, _Held] = {}
        self._releases: list[_Held] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, held: _Held) -> None:
        held.next_at = time.monotonic() + held.tick
        with self._lock:
            self._held[held.lease_id] = held
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ytarchive-claims")
                self._thread.daemon = True
                self._thread.start()
        self._wake.set()

    def let_go(self, held: _Held) -> None:
        """The holder leaves the block: no interruption from now on; the lease released (a
        bounded wait: a server out of reach lets it lapse)."""
        with self._lock:
            lost, held.done = held.done, True
            self._held.pop(held.lease_id, None)
            if not lost:
                self._releases.append(held)
        self._wake.set()
        if not lost:
            held.released.wait(_RELEASE_WAIT)

    def _run(self) -> None:
        from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings

        clients: dict[tuple[str, float], Any] = {}
        with temporary_settings({PREFECT_CLIENT_MAX_RETRIES: 0}):
            while True:
                self._wake.wait(self._pause())
                self._wake.clear()
                with self._lock:
                    releases, self._releases = self._releases, []
                    held = list(self._held.values())
                for h in releases:
                    self._release(self._quick(clients, h), h)
                now = time.monotonic()
                for h in held:
                    if now >= h.next_at:
                        self._renew(self._quick(clients, h), h)

    def _pause(self) -> float:
        with self._lock:
            due = [h.next_at for h in self._held.values()]
        return max(0.0, min(due) - time.monotonic()) if due else 60.0

    @staticmethod
    def _quick(clients: dict[tuple[str, float], Any], held: _Held) -> Any:
        from prefect.client.orchestration import get_client

        key = (held.url, min(5.0, held.tick / 2))
        if key not in clients:
            settings = {"timeout": key[1], "base_url": held.url}
            clients[key] = get_client(sync_client=True, httpx_settings=settings).__enter__()
        return clients[key]

    def _release(self, client: Any, held: _Held) -> None:
        try:
            client.release_concurrency_slots_with_lease(held.lease_id)
            held.freed = True
        except Exception as exc:
            _log.warning("claim %s not let go (its lease lapses by itself): %s", held.lease_id, exc)
        finally:
            held.released.set()

    def _renew(self, client: Any, held: _Held) -> None:
        sent = time.monotonic()
        held.next_at = sent + held.tick
        try:
            client.renew_concurrency_lease(held.lease_id, held.lease_seconds)
        except Exception as exc:
            held.why = f"{type(exc).__name__}: {exc}"
            _log.warning("claim %s not renewed: %s", held.lease_id, held.why)
            if _gone(exc):
                self._interrupt(held)
        else:
            held.renewed_at = sent
        if time.monotonic() - held.renewed_at >= held.give_up:
            self._interrupt(held)

    def _interrupt(self, held: _Held) -> None:
        """Raise _ClaimLost in the holder's thread, unless it has left the block already."""
        with self._lock:
            if held.done or held.holder.ident is None:
                return
            held.done = True
            self._held.pop(held.lease_id, None)
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(held.holder.ident), ctypes.py_object(_ClaimLost)
            )


_KEEPER = _Keeper()


def _gone(exc: Exception) -> bool:
    """The server says the lease is no more (expired and revoked): no renewal can save it."""
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None) in (404, 410)
