"""Pacing for the replay producer: a token bucket for ``--rate``, a pacer for ``--speedup``.

Both are pure arithmetic over an injectable :class:`Clock`, so their timing
can be tested exactly without sleeping. The producer pairs them with small
batches (about :data:`TICK` seconds of traffic each) so the stream sees a
steady flow rather than one burst per second.
"""

from __future__ import annotations

import math
import time
from typing import Callable, Protocol

from authpulse_dagster.errors import ConfigError

# Granularity of pacing: a paced batch carries about this much traffic, and a
# paced event is sent at most about this late. Small enough to look smooth to
# a consumer, large enough that PutRecords calls stay reasonably full.
TICK = 0.05


class Clock(Protocol):
    """Where pacing reads the time and waits; tests inject a fake one."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class MonotonicClock:
    """The real clock. ``sleep`` is replaceable so a stop event can cut waits short."""

    def __init__(self, sleep: Callable[[float], object] | None = None) -> None:
        self._sleep = sleep or time.sleep

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._sleep(seconds)


def _positive(name: str, value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = float("nan")
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{name} must be a positive number, got {value!r}")
    return value


def batch_size_for_rate(rate: float, max_records: int = 500) -> int:
    """Records per call at ``rate`` events/s so that one call carries about one tick."""
    return max(1, min(max_records, int(rate * TICK)))


class TokenBucket:
    """Allows ``rate`` events per second on average, bursts of at most ``capacity``.

    :meth:`take` may be asked for more tokens than the bucket holds (a batch
    larger than the burst): the balance goes negative and the caller waits
    until it has been earned back, so the long-run rate is exact either way.
    The bucket starts full, so the first batch goes out at once.
    """

    def __init__(self, rate: float, capacity: float | None = None, clock: Clock | None = None) -> None:
        self.rate = _positive("rate", rate)
        self.capacity = _positive("capacity", capacity) if capacity is not None else max(1.0, self.rate * TICK)
        self.clock: Clock = clock or MonotonicClock()
        self._tokens = self.capacity
        self._stamp = self.clock.now()

    def take(self, n: int) -> float:
        """Spend ``n`` tokens; return how many seconds to wait before using them."""
        now = self.clock.now()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        self._tokens -= n
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self, n: int) -> None:
        """Wait until ``n`` events may be sent."""
        self.clock.sleep(self.take(n))


class SpeedupPacer:
    """Replays dataset time ``speedup`` times faster than real time.

    The first event considered anchors both clocks; after that, an event at
    dataset second ``t`` is due ``(t - t_first) / speedup`` seconds after the
    anchor. Events that run backwards in time are due at once (never before
    the anchor).
    """

    def __init__(self, speedup: float, clock: Clock | None = None) -> None:
        self.speedup = _positive("speedup", speedup)
        self.clock: Clock = clock or MonotonicClock()
        self.start: float | None = None
        self.t_first: int | None = None

    def due(self, t: int) -> float:
        """Seconds after the anchor at which an event at dataset second ``t`` may be sent."""
        if self.t_first is None:
            self.t_first = t
            self.start = self.clock.now()
        return max(0.0, (t - self.t_first) / self.speedup)

    def elapsed(self) -> float:
        """Seconds since the anchor (0 before the first event)."""
        return 0.0 if self.start is None else self.clock.now() - self.start

    def delay(self, due: float) -> float:
        """Seconds to wait from now until ``due``."""
        return max(0.0, due - self.elapsed())

    def wait_until(self, due: float) -> None:
        self.clock.sleep(self.delay(due))

    def should_cut(self, batch_first_due: float, next_due: float) -> bool:
        """Whether an event due at ``next_due`` must start a new batch.

        A batch is sent when its last event is due, so it may only span one
        tick past the later of now and its first event: events already due
        (the producer is behind) keep filling it, future ones wait their turn.
        """
        return next_due > max(self.elapsed(), batch_first_due) + TICK
