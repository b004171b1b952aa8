"""The run-wide brake: refusals in a row pause the run as Retry-After says, then stop it."""

from __future__ import annotations

import threading

import pytest

from ytarchive import errors
from ytarchive.brake import MAX_PAUSE, Brake, Decision
from ytarchive.ytdlp_errors import classify

RATE_LIMITED = "ERROR: unable to download video data: HTTP Error 429: Too Many Requests"
CDN_403 = "ERROR: unable to download video data: HTTP Error 403: Forbidden"
BOT = "ERROR: [youtube] _KV5zjR3j1t: Sign in to confirm you’re not a bot. Use --cookies ..."


class Clock:
    """A hand-moved monotonic clock, so pauses need no real waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def refused(retry_after: float | None = None) -> errors.YTArchiveError:
    return classify(RATE_LIMITED, retry_after=retry_after)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_goes_on_until_threshold_refusals_in_a_row_then_pauses_for_retry_after(
    clock: Clock,
) -> None:
    brake = Brake(3, clock=clock)
    assert brake.record(refused(20)) == Decision("go")
    assert brake.record(refused(20)) == Decision("go")
    assert brake.record(refused(20)) == Decision("pause", 20.0)
    assert brake.state() == Decision("pause", 20.0)
    clock.now += 15
    assert brake.state() == Decision("pause", 5.0)
    clock.now += 5
    assert brake.state() == Decision("go")


def test_the_pause_is_bounded_and_has_a_default(clock: Clock) -> None:
    long = Brake(1, clock=clock)
    assert long.record(refused(86400)) == Decision("pause", MAX_PAUSE)
    none = Brake(1, default_pause=45, clock=clock)
    assert none.record(refused(None)) == Decision("pause", 45.0)
    largest = Brake(2, clock=clock)
    largest.record(refused(90))
    assert largest.record(refused(10)) == Decision("pause", 90.0)


def test_refusals_that_go_on_after_the_pause_stop_the_run_with_one_line(clock: Clock) -> None:
    brake = Brake(3, plan="p-7f3a", clock=clock)
    for _ in range(3):
        brake.record(refused(1))
    clock.now += 1
    decision = brake.record(refused(1), ticket=brake.ticket())
    assert decision.action == "stop"
    assert decision.cause == (
        "rate limited by the site: 4 refused in a row; try later: ytarchive recovery retry p-7f3a"
    )
    assert brake.stopped and brake.state() == decision
    assert brake.record(None) == decision  # sticky: a stopped run stays stopped


def test_the_default_cause_names_the_plan_placeholder() -> None:
    brake = Brake(1, pauses=0)
    assert brake.record(refused()).cause == (
        "rate limited by the site: 1 refused in a row; try later: ytarchive recovery retry PLAN"
    )


@pytest.mark.parametrize(
    "outcome",
    [
        None,
        "archived",
        errors.Private("Private video"),
        errors.DownloadFailed("Postprocessing: odd"),
        errors.Transient("Connection refused"),
        errors.AgeRestricted("Sign in to confirm your age"),
    ],
)
def test_anything_but_a_site_refusal_ends_the_streak(outcome: object) -> None:
    brake = Brake(3)
    brake.record(refused())
    brake.record(refused())
    assert brake.record(outcome) == Decision("go")
    assert brake.record(refused()) == Decision("go")
    assert brake.record(refused()) == Decision("go")
    assert brake.record(refused()).action == "pause"


@pytest.mark.parametrize("message", [RATE_LIMITED, CDN_403, BOT])
def test_429_cdn_403_and_the_bot_check_are_refusals(message: str) -> None:
    brake = Brake(2, pauses=0)
    brake.record(classify(message))
    assert brake.record(classify(message)).action == "stop"


def test_the_bot_check_cause_says_to_pass_cookies() -> None:
    brake = Brake(2, pauses=0, plan="p1")
    brake.record(refused())
    cause = brake.record(classify(BOT)).cause
    assert cause == (
        "the site asks to confirm we are not a bot: 2 refused in a row; "
        "set YTARCHIVE_COOKIES_FILE, then: ytarchive recovery retry p1"
    )


def test_downloads_in_flight_during_the_pause_count_but_do_not_stop_the_run(
    clock: Clock,
) -> None:
    brake = Brake(3, clock=clock)
    tickets = [brake.ticket() for _ in range(6)]  # six downloads started together
    decisions = [brake.record(refused(10), ticket=t) for t in tickets]
    assert [d.action for d in decisions] == ["go", "go", "pause", "pause", "pause", "pause"]
    clock.now += 10
    assert brake.state() == Decision("go")
    late = brake.record(refused(10), ticket=brake.ticket())
    assert late.action == "stop"
    assert late.cause is not None and late.cause.startswith("rate limited by the site: 7 refused")


def test_a_stale_success_does_not_clear_the_streak(clock: Clock) -> None:
    brake = Brake(2, clock=clock)
    old = brake.ticket()
    brake.record(refused(1))
    brake.record(refused(1))  # pause
    brake.record("archived", ticket=old)  # finished before the pause took effect
    clock.now += 1
    assert brake.record(refused(1), ticket=brake.ticket()).action == "stop"


def test_once_the_site_serves_again_a_new_streak_pauses_again(clock: Clock) -> None:
    brake = Brake(2, clock=clock)
    brake.record(refused(5))
    assert brake.record(refused(5)).action == "pause"
    clock.now += 5
    assert brake.record("archived", ticket=brake.ticket()) == Decision("go")
    assert brake.record(refused(5), ticket=brake.ticket()) == Decision("go")
    assert brake.record(refused(5), ticket=brake.ticket()).action == "pause"


def test_wait_blocks_through_the_pause_and_refuses_after_a_stop(clock: Clock) -> None:
    brake = Brake(1, clock=clock)
    assert brake.wait(sleep=clock.sleep) is True  # nothing to wait for
    start = clock.now
    brake.record(refused(12))
    assert brake.wait(sleep=clock.sleep) is True
    assert clock.now - start == pytest.approx(12.0)
    brake.record(refused(12), ticket=brake.ticket())
    assert brake.wait(sleep=clock.sleep) is False


def test_more_pauses_when_asked(clock: Clock) -> None:
    brake = Brake(1, pauses=2, clock=clock)
    assert brake.record(refused(3)).action == "pause"
    clock.now += 3
    assert brake.record(refused(3), ticket=brake.ticket()).action == "pause"
    clock.now += 3
    assert brake.record(refused(3), ticket=brake.ticket()).action == "stop"


def test_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="threshold"):
        Brake(0)


def test_concurrent_outcomes_are_all_counted() -> None:
    brake = Brake(10**9)
    error = refused()

    def feed() -> None:
        for _ in range(500):
            brake.record(error)

    threads = [threading.Thread(target=feed) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert brake.cause().startswith("rate limited by the site: 4000 refused in a row")


def test_concurrent_refusals_pause_exactly_once(clock: Clock) -> None:
    brake = Brake(5, clock=clock)
    ticket = brake.ticket()
    seen: list[Decision] = []
    lock = threading.Lock()

    def feed() -> None:
        mine = [brake.record(refused(30), ticket=ticket) for _ in range(50)]
        with lock:
            seen.extend(mine)

    threads = [threading.Thread(target=feed) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(d == Decision("pause", 30.0) for d in seen) >= 1
    assert not any(d.action == "stop" for d in seen)  # all were in flight before the pause
    assert brake.ticket() == ticket + 1  # one pause, not one per thread
