"""The engine's clocks for the timestamps of every request: time.monotonic() and time.time(), each of which compiled is
one clock_gettime call (time.monotonic called from compiled code is a module lookup and a Python call, ~250
instructions, four times a request)."""

from __future__ import annotations

import time

try:
    import cython
except ImportError:  # Cython builds the engine; a traffic manager runs without it (then nothing is compiled)
    COMPILED = False
else:
    COMPILED = cython.compiled  # True only inside the compiled module


def monotonic() -> float:
    """Seconds of CLOCK_MONOTONIC, what time.monotonic() and the event loop's time() read."""
    if not COMPILED:
        return time.monotonic()
    clock_gettime(CLOCK_MONOTONIC, cython.address(ts))  # noqa: F821 (C, clock.pxd)
    return ts.tv_sec + ts.tv_nsec * 1e-9  # noqa: F821 (C, clock.pxd)


def wall() -> float:
    """Seconds since the epoch (CLOCK_REALTIME), what time.time() reads."""
    if not COMPILED:
        return time.time()
    clock_gettime(CLOCK_REALTIME, cython.address(ts))  # noqa: F821 (C, clock.pxd)
    return ts.tv_sec + ts.tv_nsec * 1e-9  # noqa: F821 (C, clock.pxd)
