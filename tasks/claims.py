"""A video's claim across hosts: a Prefect global concurrency limit of one, held on a lease."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

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
) -> Iterator[bool]:
    """Hold the video's claim across hosts for the block; yields True (a real claim).

    Waits while another run holds it. The lease is renewed in the background; when it cannot
    be renewed for `give_up_after` seconds (3/4 of the lease), the block is interrupted and
    Transient raised, before the server could give the claim to another host. A server that
    cannot be reached, or a limit that cannot be had, is Transient too: never a download
    without the claim. A killed holder's claim goes when its lease lapses.
    """
    name = claim_limit_name(video_id)
    sent, lease_id = _acquire(name, video_id, lease_seconds, log, holder)
    give_up = give_up_after if give_up_after is not None else lease_seconds * _GIVE_UP_AFTER
    keeper = _Keeper(lease_id, lease_seconds, give_up, sent, threading.current_thread())
    keeper.start()
    try:
        yield True
    except _ClaimLost:
        raise Transient(f"lost its claim (no lease renewal): {keeper.why}") from None
    finally:
        if keeper.stop():
            _release(lease_id)


def _acquire(
    name: str, video_id: str, lease_seconds: float, log: Any, holder: Any
) -> tuple[float, UUID]:
    """The lease id (and when its request was sent), once the bucket's slot is ours."""
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.responses import ConcurrencyLimitWithLeaseResponse

    told = False
    try:
        with get_client(sync_client=True) as client:
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
                return sent, granted.lease_id
    except Transient:
        raise
    except Exception as exc:
        raise Transient(f"no claim could be made ({type(exc).__name__}: {exc})") from exc


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


def _quick_client(timeout: float) -> Any:
    """A client whose requests fail fast: the keeper tries again at its next tick."""
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True, httpx_settings={"timeout": timeout})


def _release(lease_id: UUID) -> None:
    """Let the claim go; when the server cannot be reached its lease lapses by itself."""
    from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    try:
        with temporary_settings({PREFECT_CLIENT_MAX_RETRIES: 1}), _quick_client(10.0) as client:
            client.release_concurrency_slots_with_lease(lease_id)
    except Exception as exc:
        _log.warning("the claim's lease %s was not let go (it lapses by itself): %s", lease_id, exc)


class _Keeper:
    """Renews one lease in a thread; interrupts the holder's thread when it cannot in time."""

    def __init__(
        self,
        lease_id: UUID,
        lease_seconds: float,
        give_up: float,
        renewed_at: float,
        holder: threading.Thread,
    ) -> None:
        self.lease_id, self.lease_seconds, self.give_up = lease_id, lease_seconds, give_up
        self.renewed_at = renewed_at  # monotonic: when the latest granted request was sent
        self.holder = holder
        self.why = ""
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._done = False  # the holder left the block (or was interrupted): inject nothing
        self._thread = threading.Thread(target=self._run, name="ytarchive-claim", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> bool:
        """The holder leaves the block: no interruption from now on. True: release the lease."""
        self._stop.set()
        try:
            with self._lock:
                lost, self._done = self._done, True
        except _ClaimLost:  # delivered just now, while the holder waited for the lock
            lost = True
        self._thread.join(timeout=5)
        return not lost

    def _run(self) -> None:
        from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings

        tick = min(self.lease_seconds * _RENEW_EVERY, self.give_up / 3)
        with temporary_settings({PREFECT_CLIENT_MAX_RETRIES: 0}), _quick_client(tick) as client:
            while not self._stop.wait(tick):
                sent = time.monotonic()
                try:
                    client.renew_concurrency_lease(self.lease_id, self.lease_seconds)
                except Exception as exc:
                    self.why = f"{type(exc).__name__}: {exc}"
                    _log.warning("claim lease %s not renewed: %s", self.lease_id, self.why)
                    if _gone(exc):
                        self._interrupt()
                        return
                else:
                    self.renewed_at = sent
                if time.monotonic() - self.renewed_at >= self.give_up:
                    self._interrupt()
                    return

    def _interrupt(self) -> None:
        """Raise _ClaimLost in the holder's thread, unless it has left the block already."""
        with self._lock:
            if self._done or self.holder.ident is None:
                return
            self._done = True
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(self.holder.ident), ctypes.py_object(_ClaimLost)
            )


def _gone(exc: Exception) -> bool:
    """The server says the lease is no more (expired and revoked): no renewal can save it."""
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None) in (404, 410)
