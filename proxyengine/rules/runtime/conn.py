"""connection.*, request.*, response.*, pool.*, rate.*, counter.*, data.*: the connection and its effects."""

from __future__ import annotations

import copy
import re
import sys
from typing import Any

from ..context import Headers, LocalResponse
from .core import ENDS_RULE, ENDS_RULE_KNOWN_POOL, RuleRuntimeError, RunContext, builtin, to_int, to_num, to_str
from .http import finish
from .strings import compile_regex


def _data(b: bytes | None) -> str:
    return "" if b is None else b.decode("latin-1")


def _bytes(v: Any) -> bytes:
    return to_str(v).encode("latin-1", "replace")


# connection.*


@builtin("connection.checkLimits", ctx=True)
def connection_checkLimits(c: RunContext, poolname="") -> int:
    return 1  # per-node connection limits are enforced by the engine when it picks a node


@builtin("connection.close", ctx=True)
def connection_close(c: RunContext, data, read=0) -> int:
    c.tx.close_after = True
    c.tx.response = LocalResponse(0, "", Headers(), _bytes(data))
    finish(c)
    return 1


@builtin("connection.discard", ctx=True)
def connection_discard(c: RunContext) -> int:
    c.tx.discard = True
    c.stats.discards += 1
    finish(c)
    return 1


@builtin("connection.getBandwidthClass", ctx=True)
def connection_getBandwidthClass(c: RunContext) -> str:
    return c.tx.bandwidth_class or ""


@builtin("connection.setBandwidthClass", ctx=True)
def connection_setBandwidthClass(c: RunContext, name) -> int:
    c.tx.bandwidth_class = to_str(name) or None
    return 1


@builtin("connection.getData", ctx=True)
def connection_getData(c: RunContext, count) -> str:
    return request_get(c, count)


@builtin("connection.getDataLen", ctx=True)
def connection_getDataLen(c: RunContext) -> int:
    return request_getLength(c)


@builtin("connection.getLine", ctx=True)
def connection_getLine(c: RunContext, offset) -> str:
    return request_getLine(c, "\n", offset)


@builtin("connection.setData", ctx=True)
def connection_setData(c: RunContext, data) -> int:
    return request_set(c, data)


@builtin("connection.getLocalIP", ctx=True)
def connection_getLocalIP(c: RunContext) -> str:
    return c.tx.local_ip


@builtin("connection.getLocalPort", ctx=True)
def connection_getLocalPort(c: RunContext) -> int:
    return c.tx.local_port


@builtin("connection.getRemoteIP", ctx=True)
def connection_getRemoteIP(c: RunContext) -> str:
    return c.tx.remote_ip


@builtin("connection.getRemotePort", ctx=True)
def connection_getRemotePort(c: RunContext) -> int:
    return c.tx.remote_port


@builtin("connection.getMemoryUsage", ctx=True)
def connection_getMemoryUsage(c: RunContext) -> int:
    tx = c.tx
    return (
        len(tx.request_body or b"") + len(tx.response_body or b"") + sum(len(n) + len(v) for n, v in tx.request_headers)
    )


@builtin("connection.getNode", ctx=True)
def connection_getNode(c: RunContext) -> str:
    return c.tx.node or ""


@builtin("connection.getPool", ctx=True)
def connection_getPool(c: RunContext) -> str:
    return c.tx.pool or ""


@builtin("connection.getPersistence", ctx=True)
def connection_getPersistence(c: RunContext) -> str:
    return c.tx.persistence_class or ""


@builtin("connection.setPersistence", ctx=True)
def connection_setPersistence(c: RunContext, name="") -> int:
    c.tx.persistence_class = to_str(name)
    return 1


@builtin("connection.setPersistenceKey", ctx=True)
def connection_setPersistenceKey(c: RunContext, value) -> int:
    c.tx.persistence_key = to_str(value)
    return 1


@builtin("connection.setPersistenceNode", ctx=True)
def connection_setPersistenceNode(c: RunContext, value) -> int:
    node = to_str(value)
    if node and not re.fullmatch(r"\[?[^\s\[\]]+\]?:\d{1,5}", node):
        raise RuleRuntimeError(f"connection.setPersistenceNode needs 'host:port', got {node!r}")
    c.tx.persistence_node = node or None
    return 1


@builtin("connection.getServiceLevelClass", ctx=True)
def connection_getServiceLevelClass(c: RunContext) -> str:
    return c.tx.service_level_class or ""


@builtin("connection.setServiceLevelClass", ctx=True)
def connection_setServiceLevelClass(c: RunContext, level) -> int:
    c.tx.service_level_class = to_str(level) or None
    return 1


@builtin("connection.getVirtualServer", ctx=True)
def connection_getVirtualServer(c: RunContext) -> str:
    return c.tx.virtual_server


@builtin("connection.setIdempotent", ctx=True)
def connection_setIdempotent(c: RunContext, resend) -> int:
    c.tx.idempotent = bool(resend)
    return 1


@builtin("connection.sleep", ctx=True)
def connection_sleep(c: RunContext, milliseconds) -> int:
    # The engine is asynchronous: the rule does not block, the engine waits tx.delay before going on.
    ms = to_num(milliseconds)
    if ms < 0:
        raise RuleRuntimeError("connection.sleep needs a non-negative time")
    c.tx.delay += ms / 1000.0
    return 1


@builtin("connection.data.get", ctx=True)
def connection_data_get(c: RunContext, key) -> Any:
    return c.tx.connection_data.get(to_str(key), "")


@builtin("connection.data.set", ctx=True)
def connection_data_set(c: RunContext, key, value) -> int:
    c.tx.connection_data[to_str(key)] = copy.deepcopy(value)
    return 1


# request.*


@builtin("request.avoidNode", ctx=True)
def request_avoidNode(c: RunContext, node) -> int:
    c.tx.avoid_node(to_str(node))
    return 1


@builtin("request.endsAt", ctx=True)
def request_endsAt(c: RunContext, offset) -> int:
    c.tx.set_setting("request_ends_at", to_int(offset))
    return 1


@builtin("request.endsWith", ctx=True)
def request_endsWith(c: RunContext, regex) -> int:
    compile_regex(to_str(regex))
    c.tx.set_setting("request_ends_with", to_str(regex))
    return 1


def _wants_more(c: RunContext) -> None:
    # On a generic virtual server vTM's read waits for the data; the engine runs the rules again when it comes.
    if c.tx.protocol == "generic":
        c.tx.set_var("needs_more_data", True)


@builtin("request.get", ctx=True)
def request_get(c: RunContext, count=0) -> str:
    data = _data(c.tx.request_body)
    n = to_int(count)
    if n > len(data) or not data:  # nothing yet (rules run on connect): wait for the client's first data
        _wants_more(c)
    return data[:n] if n > 0 else data


@builtin("request.getLength", ctx=True)
def request_getLength(c: RunContext) -> int:
    return len(c.tx.request_body or b"")


def _get_line(data: str, regex: Any, offset: Any) -> tuple[str, int]:
    start = max(to_int(offset), 0)
    pattern = compile_regex(to_str(regex) or "\n")
    m = pattern.search(data, start)
    if m is None:
        return "", -1
    return data[start : m.start()], m.end()


@builtin("request.getLine", ctx=True)
def request_getLine(c: RunContext, regex="\n", offset=0) -> str:
    line, end = _get_line(_data(c.tx.request_body), regex, offset)
    if end < 0:
        _wants_more(c)
    c.captures = (line, str(end))
    return line


@builtin("request.set", ctx=True)
def request_set(c: RunContext, data) -> int:
    c.tx.request_body = _bytes(data)
    c.tx.request_changed = True
    return 1


@builtin("request.skip", ctx=True)
def request_skip(c: RunContext, count) -> int:
    n = max(to_int(count), 0)
    c.tx.request_body = (c.tx.request_body or b"")[n:]
    c.tx.request_changed = True
    return 1


@builtin("request.sendResponse", ctx=True)
def request_sendResponse(c: RunContext, data) -> int:
    c.tx.response = LocalResponse(0, "", Headers(), _bytes(data))
    c.stats.responds += 1
    finish(c)
    return 1


@builtin("request.getBandwidthClass", ctx=True)
def request_getBandwidthClass(c: RunContext) -> str:
    return c.tx.bandwidth_class or ""


@builtin("request.setBandwidthClass", ctx=True)
def request_setBandwidthClass(c: RunContext, name) -> int:
    c.tx.bandwidth_class = to_str(name) or None
    return 1


@builtin("request.getDSCP", ctx=True)
def request_getDSCP(c: RunContext) -> int:
    return c.tx.dscp or 0


@builtin("request.setDSCP", ctx=True)
def request_setDSCP(c: RunContext, dscp) -> int:
    v = to_int(dscp)
    if not 0 <= v <= 63:
        raise RuleRuntimeError(f"DSCP must be 0 to 63, got {v}")
    c.tx.dscp = v
    return 1


@builtin("request.getToS", ctx=True)
def request_getToS(c: RunContext) -> int:
    return c.tx.settings.get("tos", 0)


@builtin("request.setToS", ctx=True)
def request_setToS(c: RunContext, tos) -> int:
    c.tx.set_setting("tos", to_int(tos) & 0xFF)
    return 1


@builtin("request.getDestIP", ctx=True)
def request_getDestIP(c: RunContext) -> str:
    return c.tx.local_ip


@builtin("request.getDestPort", ctx=True)
def request_getDestPort(c: RunContext) -> int:
    return c.tx.local_port


@builtin("request.getLocalIP", ctx=True)
def request_getLocalIP(c: RunContext) -> str:
    return c.tx.local_ip


@builtin("request.getLocalPort", ctx=True)
def request_getLocalPort(c: RunContext) -> int:
    return c.tx.local_port


@builtin("request.getRemoteIP", ctx=True)
def request_getRemoteIP(c: RunContext) -> str:
    return c.tx.remote_ip


@builtin("request.getRemotePort", ctx=True)
def request_getRemotePort(c: RunContext) -> int:
    return c.tx.remote_port


@builtin("request.setRemoteIP", ctx=True)
def request_setRemoteIP(c: RunContext, ip_addr) -> int:
    from .strings import string_validIPAddress

    ip = to_str(ip_addr).strip()
    if not string_validIPAddress(ip):
        raise RuleRuntimeError(f"request.setRemoteIP: {ip!r} is not an IP address")
    c.tx.remote_ip = ip
    return 1


@builtin("request.getLogEnabled", ctx=True)
def request_getLogEnabled(c: RunContext) -> int:
    return 1 if c.tx.log_enabled else 0


@builtin("request.setLogEnabled", ctx=True)
def request_setLogEnabled(c: RunContext, enabled) -> int:
    c.tx.log_enabled = bool(enabled)
    return 1


@builtin("request.getMaxTransactionDuration", ctx=True)
def request_getMaxTransactionDuration(c: RunContext) -> int:
    return c.tx.settings.get("max_transaction_duration", 0)


@builtin("request.setMaxTransactionDuration", ctx=True)
def request_setMaxTransactionDuration(c: RunContext, value) -> int:
    c.tx.set_setting("max_transaction_duration", max(to_int(value), 0))
    return 1


@builtin("request.setMaxConnectionAttempts", ctx=True)
def request_setMaxConnectionAttempts(c: RunContext, value) -> int:
    c.tx.set_setting("max_connection_attempts", max(to_int(value), 0))
    return 1


@builtin("request.setMaxTimedOutConnectionAttempts", ctx=True)
def request_setMaxTimedOutConnectionAttempts(c: RunContext, value) -> int:
    c.tx.set_setting("max_timed_out_connection_attempts", max(to_int(value), 0))
    return 1


@builtin("request.setMaxReplyTime", ctx=True)
def request_setMaxReplyTime(c: RunContext, seconds) -> int:
    c.tx.max_reply_time = float(to_num(seconds))
    return 1


@builtin("request.setVirtualServerTimeout", ctx=True)
def request_setVirtualServerTimeout(c: RunContext, seconds) -> int:
    c.tx.set_setting("virtual_server_timeout", float(to_num(seconds)))
    return 1


@builtin("request.setIdempotent", ctx=True)
def request_setIdempotent(c: RunContext, resend) -> int:
    c.tx.idempotent = bool(resend)
    return 1


@builtin("request.getRetries", ctx=True)
def request_getRetries(c: RunContext) -> int:
    return c.tx.retries


@builtin("request.isResendable", ctx=True)
def request_isResendable(c: RunContext) -> int:
    tx = c.tx
    if tx.idempotent is not None:
        return 1 if tx.idempotent else 0
    return 1 if tx.method in ("GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE") else 0


@builtin("request.retry", ctx=True)
def request_retry(c: RunContext) -> int:
    if c.phase != "response":
        raise RuleRuntimeError("request.retry can only be used in a response rule")
    tx = c.tx
    tx.retry = {"pool": tx.pool, "node": tx.node} if tx.rule_vars.get("pool_chosen_in_response") else True
    c.stats.retries += 1
    finish(c)
    return 1


# response.* (generic protocols see the raw data; HTTP rules see the body)


@builtin("response.get", ctx=True)
def response_get(c: RunContext, count=0) -> str:
    data = _data(c.tx.response_body)
    n = to_int(count)
    return data[:n] if n > 0 else data


@builtin("response.getLength", ctx=True)
def response_getLength(c: RunContext) -> int:
    return len(c.tx.response_body or b"")


@builtin("response.getLine", ctx=True)
def response_getLine(c: RunContext, regex="\n", offset=0) -> str:
    line, end = _get_line(_data(c.tx.response_body), regex, offset)
    c.captures = (line, str(end))
    return line


@builtin("response.set", ctx=True)
def response_set(c: RunContext, data) -> int:
    c.tx.response_body = _bytes(data)
    c.tx.response_changed = True
    return 1


@builtin("response.append", ctx=True)
def response_append(c: RunContext, data) -> int:
    c.tx.response_body = (c.tx.response_body or b"") + _bytes(data)
    c.tx.response_changed = True
    return 1


@builtin("response.flush", ctx=True)
def response_flush(c: RunContext, count=0) -> int:
    c.tx.set_setting("response_flush", to_int(count))
    return 1


@builtin("response.close", ctx=True)
def response_close(c: RunContext) -> int:
    c.tx.close_after = True
    return 1


@builtin("response.getBandwidthClass", ctx=True)
def response_getBandwidthClass(c: RunContext) -> str:
    return c.tx.bandwidth_class or ""


@builtin("response.setBandwidthClass", ctx=True)
def response_setBandwidthClass(c: RunContext, name) -> int:
    c.tx.bandwidth_class = to_str(name) or None
    return 1


@builtin("response.getDSCP", ctx=True)
def response_getDSCP(c: RunContext) -> int:
    return c.tx.settings.get("response_dscp", 0)


@builtin("response.setDSCP", ctx=True)
def response_setDSCP(c: RunContext, dscp) -> int:
    v = to_int(dscp)
    if not 0 <= v <= 63:
        raise RuleRuntimeError(f"DSCP must be 0 to 63, got {v}")
    c.tx.set_setting("response_dscp", v)
    return 1


@builtin("response.getToS", ctx=True)
def response_getToS(c: RunContext) -> int:
    return c.tx.settings.get("response_tos", 0)


@builtin("response.setToS", ctx=True)
def response_setToS(c: RunContext, tos) -> int:
    c.tx.set_setting("response_tos", to_int(tos) & 0xFF)
    return 1


def _node_part(c: RunContext, index: int) -> str:
    node = c.tx.node or ""
    host, _, port = node.rpartition(":")
    return (host.strip("[]"), port)[index]


@builtin("response.getRemoteIP", ctx=True)
def response_getRemoteIP(c: RunContext) -> str:
    return _node_part(c, 0)


@builtin("response.getRemotePort", ctx=True)
def response_getRemotePort(c: RunContext) -> int:
    return to_int(_node_part(c, 1))


@builtin("response.getLocalIP", ctx=True)
def response_getLocalIP(c: RunContext) -> str:
    return c.tx.settings.get("backend_local_ip", "")


@builtin("response.getLocalPort", ctx=True)
def response_getLocalPort(c: RunContext) -> int:
    return c.tx.settings.get("backend_local_port", 0)


# pool.*


def _pool_info(c: RunContext, pool: Any):
    name = to_str(pool)
    info = c.state.pools.get(name)
    if info is None:
        raise RuleRuntimeError(f"pool '{name}' does not exist")
    return info


def _choose(c: RunContext, pool: Any, host: Any, port: Any) -> None:
    name = pool if type(pool) is str else to_str(pool)  # a literal pool name, nearly always
    pools = c.state.pools
    if pools and name not in pools:
        raise RuleRuntimeError(f"pool '{name}' does not exist")
    tx = c.tx
    tx.pool = name
    h = to_str(host) if host != "" else ""
    if h:
        if port is None:
            raise RuleRuntimeError("a node needs both a host and a port")
        tx.node = f"[{h}]:{to_int(port)}" if ":" in h else f"{h}:{to_int(port)}"
    else:
        tx.node = None  # (a store costs less than reading the class's default first)
    if c.phase == "response":
        tx.set_var("pool_chosen_in_response", True)
    c.stats.pool_select += 1


@builtin("pool.use", ctx=True, pool_arg=True)
def pool_use(c: RunContext, pool, host="", port=None) -> int:
    _choose(c, pool, host, port)
    c.tx.pool_used = True
    finish(c)
    return 1


def pool_use_then_return(c: RunContext, pool, host="", port=None) -> int:
    """pool.use as a statement in the rule's own body, which the compiler follows with ``return`` (ENDS_RULE)."""
    _choose(c, pool, host, port)
    tx = c.tx
    tx.pool_used = True
    tx.finished = True
    return 1


def pool_use_known_then_return(c: RunContext, name: str) -> int:
    """pool.use("name") as a statement in the rule's own body, its pool one the compiler found in the
    configuration (ENDS_RULE_KNOWN_POOL): what _choose and pool_use_then_return do for it, in one call."""
    tx = c.tx
    tx.pool = name
    tx.node = None
    tx.pool_used = tx.finished = True
    if c.phase == "response":
        tx.set_var("pool_chosen_in_response", True)
    c.stats.pool_select += 1
    return 1


ENDS_RULE["pool.use"] = pool_use_then_return
ENDS_RULE_KNOWN_POOL["pool.use"] = pool_use_known_then_return


@builtin("pool.select", ctx=True, pool_arg=True)
def pool_select(c: RunContext, pool, host="", port=None) -> int:
    _choose(c, pool, host, port)
    return 1


@builtin("pool.activenodes", ctx=True, pool_arg=True)
def pool_activenodes(c: RunContext, pool) -> int:
    return len(_pool_info(c, pool).active)


@builtin("pool.disablednodes", ctx=True, pool_arg=True)
def pool_disablednodes(c: RunContext, pool) -> int:
    return len(_pool_info(c, pool).disabled)


@builtin("pool.drainingnodes", ctx=True, pool_arg=True)
def pool_drainingnodes(c: RunContext, pool) -> int:
    return len(_pool_info(c, pool).draining)


@builtin("pool.failednodes", ctx=True, pool_arg=True)
def pool_failednodes(c: RunContext, pool) -> int:
    return len(_pool_info(c, pool).failed)


@builtin("pool.listactivenodes", ctx=True, pool_arg=True)
def pool_listactivenodes(c: RunContext, pool) -> Any:
    return list(_pool_info(c, pool).active)


@builtin("pool.listallnodes", ctx=True, pool_arg=True)
def pool_listallnodes(c: RunContext, pool) -> Any:
    return _pool_info(c, pool).all_nodes()


@builtin("pool.listdisablednodes", ctx=True, pool_arg=True)
def pool_listdisablednodes(c: RunContext, pool) -> Any:
    return list(_pool_info(c, pool).disabled)


@builtin("pool.listdrainingnodes", ctx=True, pool_arg=True)
def pool_listdrainingnodes(c: RunContext, pool) -> Any:
    return list(_pool_info(c, pool).draining)


@builtin("pool.listfailednodes", ctx=True, pool_arg=True)
def pool_listfailednodes(c: RunContext, pool) -> Any:
    return list(_pool_info(c, pool).failed)


@builtin("pool.checknode", ctx=True, pool_arg=True)
def pool_checknode(c: RunContext, pool, host, port) -> int:
    h = to_str(host)
    node = f"[{h}]:{to_int(port)}" if ":" in h else f"{h}:{to_int(port)}"
    return 1 if node in _pool_info(c, pool).active else 0


# rate.*, counter.*


@builtin("rate.use", ctx=True)
def rate_use(c: RunContext, class_name, context="") -> int:
    # The engine queues the request in this rate class before sending it on (vTM blocks the rule here).
    c.tx.rate_class = to_str(class_name)
    c.tx.rate_key = to_str(context)
    return 1


@builtin("rate.use.noQueue", ctx=True)
def rate_use_noQueue(c: RunContext, class_name, context="") -> int:
    bucket = c.state.rate_bucket(to_str(class_name), to_str(context))
    return 1 if bucket.take(c.state.now()) else 0


@builtin("rate.getbacklog", ctx=True)
def rate_getbacklog(c: RunContext, class_name, context="") -> int:
    return c.state.rate_bucket(to_str(class_name), to_str(context)).backlog(c.state.now())


@builtin("counter.increment", ctx=True)
def counter_increment(c: RunContext, counter, amount=1) -> int:
    n = to_int(counter)
    if not 1 <= n <= 1_000_000:
        raise RuleRuntimeError(f"counter.increment: counter must be a positive number, got {to_str(counter)!r}")
    value = c.state.counters.get(n, 0) + to_int(amount)
    c.state.counters[n] = value
    return value


# data.* (shared by every rule in the process) and data.local.*


def _store(c: RunContext, local: bool) -> dict:
    return c.state.local_data if local else c.state.data


def _memory(d: dict) -> int:
    return sum(len(k) + sys.getsizeof(v) for k, v in d.items())


DATA_LIMIT = 64 * 1024 * 1024


def _register_data(prefix: str, local: bool) -> None:
    def get(c: RunContext, key) -> Any:
        value = _store(c, local).get(to_str(key), "")
        return copy.deepcopy(value) if type(value) in (list, dict) else value

    def set_(c: RunContext, key, value) -> int:
        store = _store(c, local)
        store[to_str(key)] = copy.deepcopy(value) if type(value) in (list, dict) else value
        return 1

    def remove(c: RunContext, key) -> int:
        return 1 if _store(c, local).pop(to_str(key), None) is not None else 0

    def reset(c: RunContext, prefix_="") -> int:
        store = _store(c, local)
        p = to_str(prefix_)
        for k in [k for k in store if k.startswith(p)]:
            del store[k]
        return 1

    def usage(c: RunContext) -> int:
        return _memory(_store(c, local))

    def free(c: RunContext) -> int:
        return max(DATA_LIMIT - _memory(_store(c, local)), 0)

    for suffix, fn in (
        ("get", get),
        ("set", set_),
        ("remove", remove),
        ("reset", reset),
        ("getMemoryUsage", usage),
        ("getMemoryFree", free),
    ):
        builtin(f"{prefix}.{suffix}", ctx=True)(fn)


_register_data("data", False)
_register_data("data.local", True)
