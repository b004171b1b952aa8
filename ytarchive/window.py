"""A run's download window: at most N videos fetching at once, let in first come, first served."""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Iterator

__all__ = ["Window"]


class Window:
    """At most `size` holders at once; waiters are let in in the order they asked.

    An archive run keeps more download tasks going than it fetches at once: each does what
    comes before its first request (its lock, the catalog's answer, its metadata file) and
    after its last (the merge, the sidecars, the outcome) outside the window, so the N slots
    are always fetching. In order, so the videos are fetched in the playlist's order.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a window holds at least one")
        self.size = size
        self._held = 0
        self._queue: collections.deque[object] = collections.deque()
        self._changed = threading.Condition()

    @property
    def held(self) -> int:
        with self._changed:
            return self._held

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Wait for a slot (in turn) and hold it for the block."""
        me = object()
        with self._changed:
            self._queue.append(me)
            try:
                while self._queue[0] is not me or self._held >= self.size:
                    self._changed.wait()
            except BaseException:  # interrupted while waiting: out of the queue, others go on
                self._queue.remove(me)
                self._changed.notify_all()
                raise
            self._queue.popleft()
            self._held += 1
            self._changed.notify_all()  # the next in the queue may fit too
        try:
            yield
        finally:
            with self._changed:
                self._held -= 1
                self._changed.notify_all()
