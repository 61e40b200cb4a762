"""Per-connection rate limits: token buckets and a sliding count of violations. No I/O."""

from __future__ import annotations

from collections import deque


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; each allowed event takes one."""

    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.updated = now

    def take(self, now: float) -> bool:
        elapsed = max(0.0, now - self.updated)
        self.updated = now
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Violations:
    """Counts violations; `add` says True once `limit` of them fall within `window` s."""

    __slots__ = ("limit", "times", "window")

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.times: deque[float] = deque(maxlen=limit)

    def add(self, now: float) -> bool:
        self.times.append(now)
        return len(self.times) == self.limit and now - self.times[0] <= self.window
