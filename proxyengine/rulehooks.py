"""Where the engine meets TrafficScript: fill a Transaction, run the rules, honour what they asked for.

Only this module touches ``proxyengine.rules``' Transaction; the protocols call the two hooks below
when their virtual server has rules, so a server without rules pays nothing.
"""

from __future__ import annotations

from .rules import Headers, Transaction


def _latin(b: bytes) -> str:
    return b.decode("latin-1")


def new_transaction(client, ex) -> Transaction:
    tx = Transaction()
    tx.protocol = "http"
    tx.method = _latin(ex.method)
    url = _latin(ex.url)
    path, _, query = url.partition("?")
    tx.path, tx.query = path, query
    tx.http_version = "HTTP/" + ex.version
    tx.request_headers = Headers((_latin(n), _latin(v)) for n, v in ex.headers)
    tx.remote_ip, tx.remote_port = client.client_ip, client.client_port
    tx.local_port = client.local_port
    tx.virtual_server = ex.vs.name
    tx.connection_data = client.connection_data
    tx.retries = max(0, ex.attempts - 1)
    return tx


def _log_errors(engine, tx: Transaction) -> None:
    for err in tx.errors:
        engine.events.log("warn", f"rules/{err.rule}", f"rule aborted: {err}")
    for level, rule, message in tx.logs:
        engine.events.log(level, f"rules/{rule}", message)


def run_request_rules(client, ex) -> str | None:
    """Run the virtual server's request rules on ``ex``; "done" when a rule answered or dropped the request."""
    engine = client.engine
    vs = ex.vs
    tx = new_transaction(client, ex)
    ex.tx = tx
    for rule in vs.request_rules:
        rule.run(tx, engine.rule_state, phase="request")
        if tx.finished:
            break
    if tx.errors or tx.logs:
        _log_errors(engine, tx)
    if tx.discard:
        vs.stats.discard += 1
        client.transport.abort()
        return "done"
    if tx.response is not None:
        r = tx.response
        headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in r.headers]
        tx.apply_pending_response_headers(Headers(r.headers))
        client._local_response(ex, r.status, r.reason.encode("latin-1") or b"OK", headers, r.body)
        return "done"
    if tx.request_changed:
        ex.method = tx.method.encode("latin-1")
        ex.url = (tx.path + ("?" + tx.query if tx.query else "")).encode("latin-1")
        ex.headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in tx.request_headers]
    if tx.close_after:
        ex.close_after = True
    if tx.pool:
        ex.pool = engine.pools.get(tx.pool)
        if ex.pool is not None and tx.node:
            # pool.use(pool, host, port): only that node
            ex.tried = {n.address for n in ex.pool.nodes if n.address != tx.node}
    if tx.avoid_nodes:
        ex.tried.update(tx.avoid_nodes)
    if tx.persistence_class is not None:
        ex.persist = engine.persistence.get(tx.persistence_class) if tx.persistence_class else None
    elif tx.persistence_key is not None and ex.pool is not None and ex.pool.persistence is None:
        ex.persist = engine.universal_persistence
    return None


def run_response_rules(client, ex, conn, headers):
    """Run the response rules; returns the (possibly rewritten) header list, or None if the response was replaced."""
    engine = client.engine
    tx = ex.tx if ex.tx is not None else new_transaction(client, ex)
    ex.tx = tx
    tx.response_status = conn.status
    tx.response_reason = _latin(conn.reason)
    tx.response_headers = Headers((_latin(n), _latin(v)) for n, v in headers)
    tx.finished = False
    for rule in ex.vs.response_rules:
        rule.run(tx, engine.rule_state, phase="response")
        if tx.finished:
            break
    if tx.errors or tx.logs:
        _log_errors(engine, tx)
    if tx.discard:
        client._drop_node(ex, reusable=False)
        client.transport.abort()
        return None
    if tx.retry:
        ex.response_started = False
        target = tx.retry if isinstance(tx.retry, dict) else {}
        tx.retry = None
        if target.get("pool"):
            ex.pool = engine.pools.get(target["pool"]) or ex.pool
        if ex.node is not None and not target.get("node"):
            ex.tried.add(ex.node.address)
        client._drop_node(ex, reusable=False)
        if ex.attempts < ex.pool.max_attempts() + 2:
            client._dispatch(ex)
        else:
            client._error(ex, 502, "Too many retries")
        return None
    if tx.response is not None:
        r = tx.response
        client._drop_node(ex, reusable=False)
        ex.response_started = False
        client._local_response(ex, r.status, r.reason.encode("latin-1") or b"OK",
                               [(n.encode("latin-1"), v.encode("latin-1")) for n, v in r.headers], r.body)
        return None
    tx.apply_pending_response_headers(tx.response_headers)
    if tx.response_changed or tx.pending_response_headers:
        if tx.response_status and tx.response_status != conn.status:
            conn.status = tx.response_status
            ex.status = tx.response_status
            conn.reason = tx.response_reason.encode("latin-1")
        return [(n.encode("latin-1"), v.encode("latin-1")) for n, v in tx.response_headers]
    if tx.close_after:
        ex.close_after = True
    return list(headers)
