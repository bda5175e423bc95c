"""Bandwidth classes and the license cap: token buckets that say how long a source must pause."""

from __future__ import annotations

import time

from .config import BandwidthConfig


class TokenBucket:
    """``rate`` bytes per second with one second of burst; ``consume`` returns the pause needed, in seconds."""

    __slots__ = ("rate", "tokens", "last")

    def __init__(self, kbits_per_second: int):
        self.rate = kbits_per_second * 1000 / 8
        self.tokens = self.rate
        self.last = time.monotonic()

    def consume(self, nbytes: int, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        self.tokens = min(self.rate, self.tokens + (now - self.last) * self.rate)
        self.last = now
        self.tokens -= nbytes
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


class BandwidthClass:
    """A bandwidth class: one bucket per machine ('machine', 'cluster') or one per connection ('connection')."""

    def __init__(self, cfg: BandwidthConfig, workers: int = 1):
        self.cfg = cfg
        # every worker process gets its share of a machine-wide limit
        self.shared = None if cfg.sharing == "connection" else TokenBucket(max(1, cfg.maximum // max(1, workers)))

    def bucket(self) -> TokenBucket:
        return self.shared if self.shared is not None else TokenBucket(self.cfg.maximum)
