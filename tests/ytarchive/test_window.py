"""The run's download window: at most N holders, in the order they asked."""

from __future__ import annotations

import threading
import time

import pytest

from ytarchive.window import Window


def _wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition never held")
        time.sleep(0.005)


def test_holds_at_most_its_size_and_lets_waiters_in_as_they_asked() -> None:
    window = Window(2)
    release = threading.Event()
    order: list[int] = []
    peak = 0
    lock = threading.Lock()

    def worker(n: int) -> None:
        nonlocal peak
        with window.slot():
            with lock:
                order.append(n)
                peak = max(peak, window.held)
            release.wait()

    threads = []
    for n in range(6):  # started one after another: each is queued before the next asks
        thread = threading.Thread(target=worker, args=(n,))
        thread.start()
        threads.append(thread)
        _wait_until(lambda n=n: len(order) == min(n + 1, 2) and len(window._queue) == max(n - 1, 0))
    assert order == [0, 1] and window.held == 2  # the other four wait
    release.set()
    for thread in threads:
        thread.join(5)
    assert order == [0, 1, 2, 3, 4, 5]
    assert peak == 2
    assert window.held == 0


def test_a_waiter_interrupted_leaves_the_queue_and_the_next_goes_in() -> None:
    window = Window(1)
    inside = threading.Event()
    release = threading.Event()
    got_in: list[str] = []

    class Stop(BaseException):
        pass

    original = window._changed.wait

    def wait(timeout: float | None = None) -> bool:  # the interrupted one stops once woken
        woke = original(timeout)
        if threading.current_thread().name == "interrupted":
            raise Stop  # as a cancelled task would, while waiting its turn
        return woke

    window._changed.wait = wait  # type: ignore[method-assign]

    def holder() -> None:
        with window.slot():
            inside.set()
            release.wait()

    def interrupted() -> None:
        with pytest.raises(Stop), window.slot():
            got_in.append("interrupted")

    def later() -> None:
        with window.slot():
            got_in.append("later")

    first = threading.Thread(target=holder)
    first.start()
    inside.wait(5)
    stopped = threading.Thread(target=interrupted, name="interrupted")
    stopped.start()
    _wait_until(lambda: len(window._queue) == 1)
    second = threading.Thread(target=later)
    second.start()
    _wait_until(lambda: len(window._queue) == 2)
    release.set()  # the holder leaves: the interrupted waiter wakes, stops, and is gone
    for thread in (first, stopped, second):
        thread.join(5)
    assert got_in == ["later"]
    assert window.held == 0 and not window._queue


def test_a_window_holds_at_least_one() -> None:
    with pytest.raises(ValueError):
        Window(0)
