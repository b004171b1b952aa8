"""A video's claim across hosts: a Prefect global concurrency limit of one, held on a lease."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from ytarchive import layout
from ytarchive.errors import ServerUnavailable, Transient
from ytarchive.prefect_api import ApiAnswer, PrefectApi

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
        _api().send("POST", _RELEASE, {"lease_id": str(lease_id)}, "let go a left-over claim")
    except ValueError:
        pass  # not a lease id: nothing to let go
    except Exception as exc:
        if not _gone(exc):
            raise Transient(f"no claim could be made ({_why(exc)})") from exc
    else:
        log.info("%s: let go the claim a killed run of this host left", video_id)
    note.unlink(missing_ok=True)


# The claim's requests go over plain HTTP (ytarchive.prefect_api), not Prefect's client: that
# client sleeps 2, 4, 8 s after a 503, and the server answers 503 whenever SQLite was busy with
# another write ("database is locked": a deferred transaction that cannot upgrade fails at once).
# With 4 downloads at once that was ~2 s lost on most videos. A busy answer is tried again here
# within tens of milliseconds instead.
_INCREMENT = "/v2/concurrency_limits/increment-with-lease"
_RELEASE = "/v2/concurrency_limits/decrement-with-lease"
_BUSY = (408, 429, 502, 503)  # the server's "try again" answers
_BUSY_FOR = 30.0  # seconds of busy answers before the claim is Transient
_UNREACHABLE_TRIES = 3  # connection failures in a row before it is


def _acquire(
    name: str, video_id: str, lease_seconds: float, log: Any, holder: Any
) -> tuple[str, float, UUID]:
    """The server's url, when the granted request was sent, and the lease id of the slot."""
    body: dict[str, Any] = {
        "names": [name],
        "slots": 1,
        "mode": "concurrency",
        "lease_duration": lease_seconds,
    }
    if holder is not None:
        body["holder"] = holder.model_dump(mode="json") if hasattr(holder, "model_dump") else holder
    told = False
    try:
        api = _api()
        _ensure_limit(api, name)
        while True:
            sent = time.monotonic()
            try:
                granted = _busy_retried(lambda: api.send("POST", _INCREMENT, body, "claim"))
            except ApiAnswer as exc:
                if exc.code != 423:
                    raise
                if not told:
                    log.info("%s: waiting for its claim (another run holds it)", video_id)
                    told = True
                time.sleep(min(_retry_after(exc, 1.0), _POLL_CAP))
                continue
            if not granted.get("limits"):  # the limit vanished: never "no limit, no claim"
                _LIMITS_SEEN.discard(name)
                raise Transient(f"no claim could be made: limit {name} is missing")
            return str(api.api_url), sent, UUID(str(granted["lease_id"]))
    except Transient:
        raise
    except Exception as exc:
        raise Transient(f"no claim could be made ({_why(exc)})") from exc


def _busy_retried(call: Any, busy_for: float = _BUSY_FOR) -> Any:
    """call(), tried again at once-ish (20 ms doubling to 0.5 s, jittered) while the server
    answers busy, for up to `busy_for` seconds; a refused connection a few times."""
    deadline, pause, unreachable = time.monotonic() + busy_for, 0.02, 0
    while True:
        try:
            return call()
        except ApiAnswer as exc:
            if exc.code not in _BUSY or time.monotonic() > deadline:
                raise
            time.sleep(max(pause, min(_retry_after(exc, 0.0), 0.5)) * random.uniform(0.5, 1.5))
        except ServerUnavailable:
            unreachable += 1
            if unreachable >= _UNREACHABLE_TRIES:
                raise
            time.sleep(pause * random.uniform(0.5, 1.5))
        pause = min(pause * 2, 0.5)


def _retry_after(exc: ApiAnswer, default: float) -> float:
    try:
        return float(exc.headers.get("Retry-After", default))
    except (TypeError, ValueError):
        return default


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _api(timeout: float = 30.0) -> PrefectApi:
    """The current API URL's REST client (Prefect's setting, as the run's own client reads it)."""
    from prefect.settings import PREFECT_API_URL

    return PrefectApi(str(PREFECT_API_URL.value() or "") or None, timeout=timeout)


def _ensure_limit(api: PrefectApi, name: str) -> None:
    """The bucket's limit exists, is active and has one slot (made or mended once a process)."""
    if name in _LIMITS_SEEN:
        return
    path = f"/v2/concurrency_limits/{name}"
    limit = _busy_retried(lambda: api.get(path, "read a claim limit"))
    if limit is None:
        create = {"name": name, "limit": 1, "active": True}
        try:
            _busy_retried(lambda: api.send("POST", "/v2/concurrency_limits/", create, "make one"))
        except ApiAnswer as exc:
            if exc.code != 409:  # 409: another host made it just now
                raise
    elif not limit.get("active") or limit.get("limit") != 1:
        mend = {"active": True, "limit": 1}
        _busy_retried(lambda: api.send("PATCH", path, mend, "switch a claim limit on"))
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
    holder whose lease it could not renew in time. A renewal is tried once (one that fails is
    tried again at the next tick); a release through a few seconds of busy answers."""

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
        while True:
            self._wake.wait(self._pause())
            self._wake.clear()
            with self._lock:
                releases, self._releases = self._releases, []
                held = list(self._held.values())
            for h in releases:
                self._release(h)
            now = time.monotonic()
            for h in held:
                if now >= h.next_at:
                    self._renew(h)

    def _pause(self) -> float:
        with self._lock:
            due = [h.next_at for h in self._held.values()]
        return max(0.0, min(due) - time.monotonic()) if due else 60.0

    @staticmethod
    def _quick(held: _Held) -> PrefectApi:
        return PrefectApi(held.url, timeout=min(5.0, held.tick / 2))

    def _release(self, held: _Held) -> None:
        api, body = self._quick(held), {"lease_id": str(held.lease_id)}
        try:
            _busy_retried(lambda: api.send("POST", _RELEASE, body, "let go a claim"), 5.0)
            held.freed = True
        except Exception as exc:
            _log.warning("claim %s not let go (its lease lapses by itself): %s", held.lease_id, exc)
        finally:
            held.released.set()

    def _renew(self, held: _Held) -> None:
        sent = time.monotonic()
        held.next_at = sent + held.tick
        path = f"/v2/concurrency_limits/leases/{held.lease_id}/renew"
        try:  # one try: a renewal that fails is tried again at the next tick
            self._quick(held).send("POST", path, {"lease_duration": held.lease_seconds}, "renew")
        except Exception as exc:
            held.why = _why(exc)
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
    return isinstance(exc, ApiAnswer) and exc.code in (404, 410)
