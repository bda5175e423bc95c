"""Benchmark: a realistic TrafficScript routing rule per request, against the same logic in Python.

Run: .venv/bin/python bench/rules_bench.py [requests]
Reports microseconds per request for the rule alone (compile once, run many), the hand-written
Python baseline, and their ratio. Target: under 20 µs per request and within 3x of Python.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from proxyengine.rules import EngineState, Headers, Transaction, compile_rule  # noqa: E402

SITES = [(f"site{i}.example.com", f"/app{i}/", f"pool{i}") for i in range(20)]

RULE = "\n".join(
    [
        "$host = http.getHostHeader();",
        "$path = http.getPath();",
        'http.setHeader("X-Forwarded-For", request.getRemoteIP());',
        'http.removeHeader("X-Debug");',
        'if (string.regexMatch($path, "^/user/(\\\\d+)/")) {',
        '    http.setHeader("X-User-Id", $1);',
        "}",
    ]
    + [
        f'{"if" if i == 0 else "} else if"} ($host == "{host}" || string.startsWith($path, "{prefix}")) {{\n'
        f'    http.setHeader("X-Site", "{pool}");\n'
        f'    pool.use("{pool}");'
        for i, (host, prefix, pool) in enumerate(SITES)
    ]
    + ["} else {", '    pool.use("default");', "}"]
)

USER_RE = re.compile(r"^/user/(\d+)/")
ROUTES = [(host, prefix, pool) for host, prefix, pool in SITES]


def handwritten(tx: Transaction) -> None:
    """The same logic as RULE, written directly against the Transaction API."""
    host = (tx.request_headers.get("Host") or "").lower().split(":", 1)[0]
    path = tx.path
    tx.request_headers.set("X-Forwarded-For", tx.remote_ip)
    tx.request_headers.remove("X-Debug")
    m = USER_RE.search(path)
    if m:
        tx.request_headers.set("X-User-Id", m.group(1))
    for site, prefix, pool in ROUTES:
        if host == site or path.startswith(prefix):
            tx.request_headers.set("X-Site", pool)
            tx.pool = pool
            tx.pool_used = tx.finished = True
            return
    tx.pool = "default"
    tx.pool_used = tx.finished = True


def make_requests(n: int) -> list[tuple[str, str]]:
    out = []
    for i in range(n):
        k = i % 25
        host = SITES[k][0] if k < 20 else "unknown.example.org"
        path = f"/user/{i}/profile" if i % 3 == 0 else f"/static/{i}.css"
        out.append((host, path))
    return out


def fresh_tx(host: str, path: str) -> Transaction:
    tx = Transaction()
    tx.path = path
    tx.remote_ip = "192.0.2.10"
    tx.request_headers = Headers(
        [("Host", host), ("User-Agent", "bench/1.0"), ("Accept", "*/*"), ("X-Debug", "1"), ("Cookie", "a=b")]
    )
    return tx


def measure(fn, requests: list[tuple[str, str]]) -> float:
    txs = [fresh_tx(h, p) for h, p in requests]
    start = time.perf_counter()
    for tx in txs:
        fn(tx)
    return (time.perf_counter() - start) / len(txs) * 1e6


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    state = EngineState()
    t0 = time.perf_counter()
    rule = compile_rule("routing", RULE, pools={p for _, _, p in SITES} | {"default"})
    compile_ms = (time.perf_counter() - t0) * 1e3

    def via_rule(tx: Transaction) -> None:
        rule.run(tx, state, phase="request")

    requests = make_requests(n)
    # both must agree before we time them
    for host, path in requests[:50]:
        a, b = fresh_tx(host, path), fresh_tx(host, path)
        via_rule(a)
        handwritten(b)
        assert (a.pool, list(a.request_headers)) == (b.pool, list(b.request_headers)), (host, path)
        assert not a.errors, a.errors

    best_rule = min(measure(via_rule, requests) for _ in range(5))
    best_py = min(measure(handwritten, requests) for _ in range(5))
    print(f"rule source: {len(RULE.splitlines())} lines, compiled in {compile_ms:.1f} ms")
    print(f"TrafficScript rule : {best_rule:6.2f} µs/request")
    print(f"hand-written Python: {best_py:6.2f} µs/request")
    print(f"ratio              : {best_rule / best_py:6.2f}x")


if __name__ == "__main__":
    main()
