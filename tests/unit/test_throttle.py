"""Sign-in throttling: after 5 failures each attempt waits twice as long as the one before, 10
failures lock an account until an operator unlocks it, addresses are delayed but never locked,
and the counts live in the store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from prodproven.runner.errors import SignInThrottled
from prodproven.runner.people import throttle
from prodproven.runner.people.throttle import LOCK_AFTER, MAX_DELAY_S, Throttle, delay_after
from prodproven.runner.runs.store import Store, utcnow

ADA = "ada@acme.test"
HOME = "192.0.2.1"


class Clock:
    """The throttle's time, moved by hand."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = utcnow()
        monkeypatch.setattr(throttle, "utcnow", lambda: self.now)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


@pytest.fixture
def gate(store: Store) -> Throttle:
    return Throttle(store)


def fail(gate: Throttle, times: int, email: str = ADA, address: str = HOME) -> None:
    """``times`` failed attempts, each as soon as it is let through."""
    for _ in range(times):
        gate.admit(email, address)
        gate.failed(email)


def fail_waiting(gate: Throttle, clock: Clock, times: int, email: str = ADA) -> None:
    """``times`` failed attempts, each waiting as long as it must."""
    for _ in range(times):
        try:
            gate.admit(email, HOME)
        except SignInThrottled as refused:
            assert refused.retry_after is not None
            clock.advance(refused.retry_after)
            gate.admit(email, HOME)
        gate.failed(email)


def test_the_delay_doubles_after_five_failures_up_to_fifteen_minutes() -> None:
    assert [delay_after(n) for n in range(9)] == [0, 0, 0, 0, 0, 1, 2, 4, 8]
    assert delay_after(40) == MAX_DELAY_S == 900


def test_after_five_failures_an_attempt_is_refused_until_its_delay_passed(
    gate: Throttle, clock: Clock
) -> None:
    fail_waiting(gate, clock, 6)
    with pytest.raises(SignInThrottled, match="try again in 2 s") as refused:
        gate.admit(ADA, HOME)
    assert refused.value.retry_after == 2
    clock.advance(2)
    gate.admit(ADA, HOME)


def test_ten_failures_lock_the_account_until_an_operator_unlocks_it(
    gate: Throttle, clock: Clock
) -> None:
    fail_waiting(gate, clock, LOCK_AFTER - 1)
    clock.advance(delay_after(LOCK_AFTER - 1))
    gate.admit(ADA, HOME)
    assert gate.failed(ADA), "the tenth failure locks"
    clock.advance(timedelta(days=30).total_seconds())
    with pytest.raises(SignInThrottled, match="locked until an operator") as refused:
        gate.admit(ADA, "198.51.100.7")
    assert refused.value.retry_after is None
    assert gate.unlock(ADA)
    gate.admit(ADA, "198.51.100.7")
    assert not gate.unlock("nobody@acme.test")


def test_a_success_resets_the_accounts_count(gate: Throttle, clock: Clock) -> None:
    fail_waiting(gate, clock, LOCK_AFTER - 1)
    clock.advance(MAX_DELAY_S)
    gate.admit(ADA, "198.51.100.7")
    gate.succeeded(ADA, "198.51.100.7")
    fail(gate, 5, address="203.0.113.5")  # five free failures again


def test_an_address_is_delayed_across_accounts_but_never_locked(
    gate: Throttle, clock: Clock
) -> None:
    for n in range(20):
        fail_waiting(gate, clock, 1, email=f"guess{n}@acme.test")
    with pytest.raises(SignInThrottled, match="try again in") as refused:
        gate.admit("fresh@acme.test", HOME)
    assert refused.value.retry_after == MAX_DELAY_S
    clock.advance(MAX_DELAY_S)
    gate.admit("fresh@acme.test", HOME)
    gate.admit("fresh@acme.test", "198.51.100.7")  # another address is not held up


def test_the_counts_survive_a_restart(store: Store, clock: Clock) -> None:
    fail(Throttle(store), 5)
    after_restart = Throttle(Store(str(store.engine.url)))
    with pytest.raises(SignInThrottled):
        after_restart.admit(ADA, HOME)


def test_attempts_in_flight_count_so_parallel_guesses_cannot_skip_the_delay(
    gate: Throttle, clock: Clock
) -> None:
    for _ in range(5):
        gate.admit(ADA, HOME)  # five guesses at once, none answered yet
    with pytest.raises(SignInThrottled):
        gate.admit(ADA, HOME)


def test_a_count_that_is_not_locked_is_forgotten_a_day_after_its_last_failure(
    gate: Throttle, clock: Clock
) -> None:
    fail_waiting(gate, clock, LOCK_AFTER - 1)
    clock.advance(timedelta(days=1, seconds=1).total_seconds())
    fail(gate, 5)  # five free failures again, and no lock after fourteen
