"""Machine-wide bandwidth limits hold for the sum of all worker processes."""

import multiprocessing
import time

from proxyengine.bandwidth import SharedTokenBucket, TokenBucket


def _send(path: str, kbps: int, total: int, out) -> None:
    bucket = SharedTokenBucket(path, kbps)
    sent = 0
    while sent < total:
        delay = bucket.consume(16384)
        sent += 16384
        if delay:
            time.sleep(delay)
    out.put(time.monotonic())


def test_two_processes_share_one_limit(tmp_path):
    """Two workers each sending 250 kB under one 4 Mbit/s (500 kB/s) cap take about one second together."""
    path = str(tmp_path / "bandwidth-license.state")
    SharedTokenBucket(path, 4000)
    out = multiprocessing.get_context("fork").Queue()
    start = time.monotonic()
    procs = [multiprocessing.get_context("fork").Process(target=_send, args=(path, 4000, 250_000, out))
             for _ in range(2)]
    for p in procs:
        p.start()
    ends = [out.get(timeout=10) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    elapsed = max(ends) - start
    # 500 kB at 500 kB/s, less the short burst; separate buckets per process would take ~0.5 s
    assert 0.85 <= elapsed <= 1.4, elapsed


def test_burst_is_short():
    bucket = TokenBucket(8000)  # 1 MB/s
    assert bucket.consume(100_000, now=bucket.last) == 0.0
    assert bucket.consume(100_000, now=bucket.last) > 0.05
