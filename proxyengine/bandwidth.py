"""Bandwidth classes and the license cap: token buckets that say how long a source must pause.

A machine-wide limit (the license cap, a bandwidth class shared per machine) must hold for the
sum of every worker process, however the connections fall between them: those buckets live in a
small file under the run directory that each worker maps, updated under a file lock.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
import time

from .config import BandwidthConfig

# Short bursts only: a one-second burst would let a short download run at twice the limit.
BURST_SECONDS = 0.1
MIN_BURST_BYTES = 16 * 1024


def _burst(rate: float) -> float:
    return max(MIN_BURST_BYTES, rate * BURST_SECONDS)


class TokenBucket:
    """``rate`` bytes per second with a short burst; ``consume`` returns the pause needed, in seconds."""

    __slots__ = ("rate", "burst", "tokens", "last")

    def __init__(self, kbits_per_second: int):
        self.rate = kbits_per_second * 1000 / 8
        self.burst = _burst(self.rate)
        self.tokens = self.burst
        self.last = time.monotonic()

    def consume(self, nbytes: int, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        self.tokens -= nbytes
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


class SharedTokenBucket:
    """A token bucket shared by the worker processes: (tokens, last) in a mapped file, under flock.

    CLOCK_MONOTONIC is the same clock in every process of the machine, so `last` means the same to all."""

    __slots__ = ("rate", "burst", "_fd", "_map")
    _STATE = struct.Struct("dd")

    def __init__(self, path: str, kbits_per_second: int):
        self.rate = kbits_per_second * 1000 / 8
        self.burst = _burst(self.rate)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            if os.fstat(self._fd).st_size < self._STATE.size:
                os.ftruncate(self._fd, self._STATE.size)
                os.pwrite(self._fd, self._STATE.pack(self.burst, time.monotonic()), 0)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._map = mmap.mmap(self._fd, self._STATE.size)

    def set_rate(self, kbits_per_second: int) -> None:
        self.rate = kbits_per_second * 1000 / 8
        self.burst = _burst(self.rate)

    def consume(self, nbytes: int, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            tokens, last = self._STATE.unpack_from(self._map, 0)
            tokens = min(self.burst, tokens + max(0.0, now - last) * self.rate) - nbytes
            self._STATE.pack_into(self._map, 0, tokens, max(last, now))
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        return 0.0 if tokens >= 0 else -tokens / self.rate


_shared: dict[str, SharedTokenBucket] = {}


def shared_bucket(directory: str, name: str, kbits_per_second: int) -> SharedTokenBucket | TokenBucket:
    """The machine-wide bucket `name` (one file per name under `directory`), at the given rate.

    Falls back to a bucket of this process alone if the directory cannot hold the file."""
    path = os.path.join(directory, f"bandwidth-{name}.state")
    bucket = _shared.get(path)
    if bucket is not None:
        bucket.set_rate(kbits_per_second)
        return bucket
    try:
        os.makedirs(directory, exist_ok=True)
        bucket = _shared[path] = SharedTokenBucket(path, kbits_per_second)
    except OSError:
        return TokenBucket(kbits_per_second)
    return bucket


class BandwidthClass:
    """A bandwidth class: one bucket for the machine ('machine', 'cluster') or one per connection ('connection')."""

    def __init__(self, cfg: BandwidthConfig, shared_dir: str):
        self.cfg = cfg
        self.shared = (None if cfg.sharing == "connection"
                       else shared_bucket(shared_dir, f"class-{cfg.name}", cfg.maximum))

    def bucket(self) -> TokenBucket | SharedTokenBucket:
        return self.shared if self.shared is not None else TokenBucket(self.cfg.maximum)
