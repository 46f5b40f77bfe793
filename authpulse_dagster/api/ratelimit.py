"""Per-key rate limiting: a token bucket per API key, in the serving process.

Each key may make ``rate`` requests a second on average with bursts of up to
``burst``; past that a request is refused with 429 and ``Retry-After`` (whole
seconds until a token is back). In AWS each Lambda instance keeps its own
buckets, so API Gateway's stage throttling is the account-wide ceiling and
this is the per-key fairness inside it.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Callable


class RateLimiter:
    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float:
        """0 if the request may go ahead (a token is taken), else the seconds until one is available."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate


def retry_after(seconds: float) -> str:
    """The ``Retry-After`` value: whole seconds, at least 1 (HTTP has no fractions here)."""
    return str(max(1, math.ceil(seconds)))
