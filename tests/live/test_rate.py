"""Pacing arithmetic of the replay producer, driven by a fake clock (no sleeping)."""

import pytest

from authpulse_dagster.errors import ConfigError
from authpulse_dagster.live.rate import TICK, SpeedupPacer, TokenBucket, batch_size_for_rate


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.slept.append(seconds)
            self.t += seconds


def test_bucket_long_run_rate_is_exact_and_smooth():
    clock = FakeClock()
    bucket = TokenBucket(400, capacity=20, clock=clock)
    sends = []
    for _ in range(60):  # 1200 events in batches of 20
        bucket.acquire(20)
        sends.append(clock.now())
    # The first batch goes at once (full bucket); the other 1180 events take 1180/400 s.
    assert sends[-1] - sends[0] == pytest.approx(1180 / 400)
    gaps = {round(b - a, 9) for a, b in zip(sends, sends[1:])}
    assert gaps == {0.05}  # evenly spaced, no per-second bursts


def test_bucket_does_not_save_up_beyond_its_capacity():
    clock = FakeClock()
    bucket = TokenBucket(100, capacity=10, clock=clock)
    bucket.acquire(10)
    clock.t += 60  # idle for a minute
    assert bucket.take(10) == 0  # one burst of capacity...
    assert bucket.take(10) == pytest.approx(0.1)  # ...then back to the rate


def test_bucket_allows_batches_larger_than_capacity():
    clock = FakeClock()
    bucket = TokenBucket(10, capacity=1, clock=clock)
    assert bucket.take(1) == 0
    assert bucket.take(50) == pytest.approx(5.0)


def test_bucket_default_capacity_is_one_tick():
    assert TokenBucket(1000, clock=FakeClock()).capacity == pytest.approx(1000 * TICK)
    assert TokenBucket(1, clock=FakeClock()).capacity == 1


def test_batch_size_for_rate():
    assert batch_size_for_rate(400) == 20
    assert batch_size_for_rate(0.5) == 1
    assert batch_size_for_rate(1e9) == 500


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "x"])
def test_bad_rates_are_config_errors(bad):
    with pytest.raises(ConfigError):
        TokenBucket(bad, clock=FakeClock())
    with pytest.raises(ConfigError):
        SpeedupPacer(bad, clock=FakeClock())


def test_speedup_due_times():
    clock = FakeClock()
    pacer = SpeedupPacer(60, clock=clock)
    assert pacer.elapsed() == 0
    assert pacer.due(3600) == 0  # the first event anchors both clocks
    assert pacer.due(3660) == pytest.approx(1.0)
    assert pacer.due(7200) == pytest.approx(60.0)
    assert pacer.due(100) == 0  # time running backwards: due at once, never before the start


def test_speedup_waits_until_due_and_never_early():
    clock = FakeClock()
    pacer = SpeedupPacer(10, clock=clock)
    pacer.due(0)
    clock.t += 0.5
    pacer.wait_until(pacer.due(20))  # due at 2.0 s
    assert clock.now() - pacer.start == pytest.approx(2.0)
    pacer.wait_until(pacer.due(5))  # already late: no wait
    assert clock.slept == [pytest.approx(1.5)]


def test_speedup_cut_rule():
    clock = FakeClock()
    pacer = SpeedupPacer(1, clock=clock)
    pacer.due(0)
    # Within one tick of the batch's first event: same batch.
    assert not pacer.should_cut(0.0, TICK / 2)
    assert pacer.should_cut(0.0, 2 * TICK)
    # When the producer is behind, everything already due fills the batch.
    clock.t += 10
    assert not pacer.should_cut(0.0, 9.0)
    assert pacer.should_cut(0.0, 10 + 2 * TICK)
