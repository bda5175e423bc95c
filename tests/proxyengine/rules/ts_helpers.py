"""Shared helpers: compile a rule and run it on a made-up transaction."""

from __future__ import annotations

from proxyengine.rules import EngineState, Headers, Transaction, compile_rule


def make_tx(
    *,
    method: str = "GET",
    path: str = "/",
    query: str = "",
    headers: list[tuple[str, str]] | None = None,
    body: bytes | None = None,
    remote_ip: str = "192.0.2.10",
    response: tuple[int, list[tuple[str, str]], bytes] | None = None,
    protocol: str = "http",
) -> Transaction:
    tx = Transaction()
    tx.method, tx.path, tx.query, tx.protocol = method, path, query, protocol
    tx.request_headers = Headers(headers if headers is not None else [("Host", "www.example.com")])
    tx.request_body = body
    tx.remote_ip, tx.remote_port = remote_ip, 40000
    tx.local_ip, tx.local_port = "198.51.100.1", 80
    tx.virtual_server = "vs1"
    if response is not None:
        tx.response_status, tx.response_reason = response[0], "OK"
        tx.response_headers = Headers(response[1])
        tx.response_body = response[2]
    return tx


def run(source: str, tx: Transaction | None = None, state: EngineState | None = None, phase: str = "request"):
    """Run ``source`` and return (tx, state); fails the test if the rule aborted."""
    tx = tx or make_tx()
    state = state or EngineState()
    compile_rule("test", source).run(tx, state, phase=phase)
    assert not tx.errors, tx.errors
    return tx, state


def logs(source: str, tx: Transaction | None = None, **kw) -> list[str]:
    """The messages a rule logged, in order."""
    tx, _ = run(source, tx, **kw)
    return [message for _, _, message in tx.logs]


def value(expr: str, tx: Transaction | None = None) -> str:
    """What TrafficScript prints for ``expr`` (via lang.dump, so strings come back quoted)."""
    return logs(f"log.info(lang.dump({expr}));", tx)[0]
