"""The run-wide brake: after site refusals in a row, pause as Retry-After says, then stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["Brake", "Decision", "DEFAULT_THRESHOLD", "MAX_PAUSE"]

DEFAULT_THRESHOLD = 3  # site refusals in a row before the run pauses
DEFAULT_PAUSE = 60.0  # seconds, when the site gave no Retry-After
MAX_PAUSE = 300.0  # never pause longer than this, whatever Retry-After says

Action = Literal["go", "pause", "stop"]


@dataclass(frozen=True)
class Decision:
    """What the run should do now: go on, pause `seconds` before starting more, or stop."""

    action: Action
    seconds: float = 0.0
    cause: str | None = None  # the one line the run ends with, when action is "stop"


GO = Decision("go")


class Brake:
    """Fed every download's outcome in completion order (from any thread); says go/pause/stop.

    An outcome is a site refusal when it is an exception whose `site_refusal` is true
    (RateLimited, CdnForbidden, BotCheck); anything else, success or failure, ends a streak.
    After `threshold` refusals in a row the brake pauses the run for the Retry-After (bounded
    by `max_pause`); a refusal after `pauses` pauses stops the run, while a download the site
    serves again clears everything. Outcomes of downloads started before the latest pause
    (their ticket() is older) count in the streak but decide nothing: they were in flight.
    Without tickets every outcome counts as fresh.
    """

    def __init__(
        self,
        threshold: int = DEFAULT_THRESHOLD,
        *,
        pauses: int = 1,
        default_pause: float = DEFAULT_PAUSE,
        max_pause: float = MAX_PAUSE,
        plan: str = "PLAN",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if threshold < 1:
            raise ValueError("threshold must be at least 1")
        self.threshold = threshold
        self.pauses = max(pauses, 0)
        self.default_pause = max(default_pause, 0.0)
        self.max_pause = max(max_pause, 0.0)
        self.plan = plan
        self._clock = clock
        self._lock = threading.Lock()
        self._streak = 0  # refusals in a row, all of them
        self._fresh = 0  # of those, refusals of downloads started since the latest pause
        self._retry_after: float | None = None
        self._needs_cookies = False
        self._paused = 0  # pauses taken
        self._generation = 0  # bumped by each pause; tickets of older downloads are stale
        self._resume_at = 0.0
        self._stopped: Decision | None = None

    # -- feeding -----------------------------------------------------------------------------
    def ticket(self) -> int:
        """Take one when a download starts; pass it back with its outcome to record()."""
        with self._lock:
            return self._generation

    def record(
        self, outcome: object, *, ticket: int | None = None, retry_after: float | None = None
    ) -> Decision:
        """Count one finished download (an exception, or anything else for "not refused")."""
        refused = isinstance(outcome, BaseException) and bool(
            getattr(outcome, "site_refusal", False)
        )
        if retry_after is None:
            retry_after = getattr(outcome, "retry_after", None)
        with self._lock:
            if self._stopped is not None:
                return self._stopped
            stale = ticket is not None and ticket < self._generation
            if not refused:
                if not stale:  # the site served us again: back to a clean slate
                    self._streak = self._fresh = self._paused = 0
                    self._retry_after, self._needs_cookies = None, False
                return self._now()
            self._streak += 1
            self._needs_cookies |= type(outcome).__name__ == "BotCheck"
            if isinstance(retry_after, int | float):
                self._retry_after = max(self._retry_after or 0.0, float(retry_after))
            if stale:
                return self._now()
            self._fresh += 1
            return self._decide()

    def _decide(self) -> Decision:
        if self._paused == 0 and self._fresh < self.threshold:
            return self._now()
        if self._paused >= self.pauses:
            self._stopped = Decision("stop", cause=self._cause())
            return self._stopped
        wanted = self.default_pause if self._retry_after is None else self._retry_after
        seconds = min(wanted, self.max_pause)
        self._paused += 1
        self._generation += 1
        self._fresh = 0
        self._resume_at = self._clock() + seconds
        return Decision("pause", seconds)

    # -- asking ------------------------------------------------------------------------------
    def state(self) -> Decision:
        """Now: go; pause (with the seconds left) before starting the next download; or stop."""
        with self._lock:
            return self._now()

    def _now(self) -> Decision:
        if self._stopped is not None:
            return self._stopped
        left = self._resume_at - self._clock()
        return Decision("pause", left) if left > 0 else GO

    @property
    def stopped(self) -> bool:
        return self.state().action == "stop"

    def wait(self, sleep: Callable[[float], None] = time.sleep) -> bool:
        """Block while paused; False when the run must stop (start nothing more), else True."""
        while True:
            decision = self.state()
            if decision.action == "go":
                return True
            if decision.action == "stop":
                return False
            sleep(min(decision.seconds, 1.0))

    def cause(self) -> str:
        """The one line a stopped run ends with (also before it stops: what it would say)."""
        with self._lock:
            return self._cause()

    def _cause(self) -> str:
        n = self._streak
        if self._needs_cookies:
            return (
                f"the site asks to confirm we are not a bot: {n} refused in a row; "
                f"set YTARCHIVE_COOKIES_FILE, then: ytarchive recovery retry {self.plan}"
            )
        return f"rate limited by the site: {n} refused in a row; try later: " + (
            f"ytarchive recovery retry {self.plan}"
        )
