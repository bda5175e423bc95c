"""Guide-style rules (guide_rules.py) checked against transactions: the effects the engine must honour."""

import base64
import json

import pytest
from guide_rules import GUIDE_RULES
from ts_helpers import make_tx

from proxyengine.rules import EngineState, Headers, check_rule, compile_rule

POOLS = {"web", "images", "api", "beta", "staff", "fallback", "night"}


def run(name, tx, state=None, phase="request"):
    state = state or EngineState()
    compile_rule(name, GUIDE_RULES[name], pools=POOLS).run(tx, state, phase=phase)
    assert not tx.errors, tx.errors
    return tx, state


def test_there_are_at_least_thirty_and_all_compile():
    assert len(GUIDE_RULES) >= 30
    for name, source in GUIDE_RULES.items():
        assert check_rule(name, source, pools=POOLS) == [], name


@pytest.mark.parametrize(
    ("host", "pool"), [("images.example.com", "images"), ("API.example.com:443", "api"), ("other", "web")]
)
def test_host_routing(host, pool):
    tx, _ = run("host-routing", make_tx(headers=[("Host", host)]))
    assert tx.pool == pool and tx.finished


def test_path_routing():
    tx, _ = run("path-routing", make_tx(path="/api/v2/users"))
    assert tx.pool == "api" and tx.request_headers.get("X-Api-Version") == "2"
    tx, _ = run("path-routing", make_tx(path="/index.html"))
    assert tx.pool is None and not tx.finished


def test_redirect_to_https():
    tx = make_tx(path="/a", query="b=1")
    tx, _ = run("redirect-to-https", tx)
    assert tx.response.status == 302 and tx.response.headers.get("Location") == "https://www.example.com/a?b=1"


def test_maintenance_page():
    state = EngineState()
    state.data["maintenance"] = "on"
    tx, _ = run("maintenance-page", make_tx(), state)
    assert tx.response.status == 503 and tx.response.headers.get("Retry-After") == "120"
    tx, _ = run("maintenance-page", make_tx())
    assert tx.response is None


def test_x_forwarded_for():
    tx, _ = run("x-forwarded-for", make_tx())
    assert tx.request_headers.get("X-Forwarded-For") == "192.0.2.10"
    tx, _ = run("x-forwarded-for", make_tx(headers=[("X-Forwarded-For", "198.51.100.7")]))
    assert tx.request_headers.get("X-Forwarded-For") == "198.51.100.7, 192.0.2.10"


@pytest.mark.parametrize(("cookie", "pool"), [("group=beta", "beta"), ("group=admin", "staff"), ("x=1", None)])
def test_cookie_routing(cookie, pool):
    tx, _ = run("cookie-routing", make_tx(headers=[("Cookie", cookie)]))
    assert tx.pool == pool


def test_ab_split_is_stable_per_user_agent():
    pools = set()
    for ua in ["a", "b", "c", "d", "e", "f"]:
        first, _ = run("ab-split-on-header", make_tx(headers=[("User-Agent", ua)]))
        again, _ = run("ab-split-on-header", make_tx(headers=[("User-Agent", ua)]))
        assert first.pool == again.pool
        assert first.request_headers.get("X-Variant") == {"web": "A", "beta": "B"}[first.pool]
        pools.add(first.pool)
    assert pools == {"web", "beta"}


def test_rate_limit_api():
    tx, _ = run("rate-limit-api", make_tx(path="/api/x"))
    assert (tx.rate_class, tx.rate_key) == ("api-limit", "192.0.2.10")
    tx, _ = run("rate-limit-api", make_tx(path="/home"))
    assert tx.rate_class is None


def test_response_header_rewrite():
    tx = make_tx(response=(200, [("Server", "Apache"), ("X-Powered-By", "PHP"), ("Content-Type", "text/html")], b""))
    tx, _ = run("response-header-rewrite", tx, phase="response")
    assert list(tx.response_headers) == [
        ("Content-Type", "text/html"),
        ("Strict-Transport-Security", "max-age=31536000"),
    ]


def test_retry_on_5xx():
    tx, state = run("retry-5xx-on-second-pool", make_tx(response=(503, [], b"")), phase="response")
    assert tx.retry == {"pool": "fallback", "node": None}
    assert state.rule_stats["retry-5xx-on-second-pool"].retries == 1
    tx = make_tx(response=(503, [], b""))
    tx.retries = 1
    tx, _ = run("retry-5xx-on-second-pool", tx, phase="response")
    assert tx.retry is None


def test_persistence_on_cookie():
    tx, _ = run("persistence-on-cookie", make_tx(headers=[("Cookie", "JSESSIONID=abc123")]))
    assert tx.persistence_key == "abc123"


def test_block_ip_range():
    tx, state = run("block-ip-range", make_tx(remote_ip="203.0.113.50"))
    assert tx.discard and state.rule_stats["block-ip-range"].discards == 1
    tx, _ = run("block-ip-range", make_tx(remote_ip="198.51.100.1"))
    assert not tx.discard


def test_deny_methods():
    tx, _ = run("deny-methods", make_tx(method="DELETE"))
    assert tx.response.status == 405 and tx.response.headers.get("Allow") == "GET, HEAD, POST"
    tx, _ = run("deny-methods", make_tx(method="GET"))
    assert tx.response is None


def test_strip_query_tracking():
    tx, _ = run("strip-query-tracking", make_tx(query="utm_source=x&id=5&utm_medium=y"))
    assert tx.query == "id=5" and tx.request_changed


def test_rewrite_path_prefix():
    tx, _ = run("rewrite-path-prefix", make_tx(path="/old/a/b"))
    assert tx.path == "/new/a/b"


def test_canonical_host():
    tx, _ = run("canonical-host", make_tx(headers=[("Host", "example.com")], path="/x"))
    assert tx.response.headers.get("Location") == "https://www.example.com/x"


def test_add_security_headers():
    tx, _ = run("add-security-headers", make_tx(response=(200, [], b"")), phase="response")
    assert tx.response_headers.get("X-Frame-Options") == "DENY" and len(tx.response_headers) == 3


def test_error_page_replacement():
    tx, _ = run(
        "error-page-replacement", make_tx(response=(404, [("Content-Type", "text/plain")], b"nf")), phase="response"
    )
    assert tx.response_body.startswith(b"<html>") and tx.response_headers.get("Content-Type") == "text/html"


def test_set_response_cookie_from_a_request_rule():
    tx, _ = run("set-response-cookie", make_tx())
    headers = Headers()
    tx.apply_pending_response_headers(headers)
    assert headers.get("Set-Cookie") == "visited=1; Path=/; Max-Age=3600"


def test_mobile_redirect():
    tx, _ = run("mobile-redirect", make_tx(headers=[("User-Agent", "Mozilla (iPhone)")], path="/p"))
    assert tx.response.headers.get("Location") == "https://m.example.com/p"


def test_count_requests():
    state = EngineState()
    for expected in ("1", "2"):
        tx, _ = run("count-requests", make_tx(), state)
        assert tx.request_headers.get("X-Hit") == expected


def test_log_slow_requests():
    tx = make_tx(response=(200, [], b""))
    tx.server_response_time, tx.node = 2.5, "10.0.0.1:80"
    tx, _ = run("log-slow-requests", tx, phase="response")
    assert tx.logs == [("warn", "log-slow-requests", "slow response from 10.0.0.1:80 for /")]


def test_header_based_pool():
    tx, _ = run("header-based-pool", make_tx(headers=[("X-Tenant", "ACME")]))
    assert tx.pool == "tenant-acme"
    tx, _ = run("header-based-pool", make_tx(headers=[]))
    assert tx.response.status == 400


def test_basic_auth_gate():
    good = "Basic " + base64.b64encode(b"admin:secret").decode()
    tx, _ = run("basic-auth-gate", make_tx(headers=[("Authorization", good)]))
    assert tx.response is None
    tx, _ = run("basic-auth-gate", make_tx(headers=[("Authorization", "Basic eDp5")]))
    assert tx.response.status == 401 and tx.response.headers.get("WWW-Authenticate") == 'Basic realm="x"'


def test_json_api_rewrite():
    tx = make_tx(method="POST", headers=[("Content-Type", "application/json")], body=b'{"a": 1}')
    tx, _ = run("json-api-rewrite", tx)
    assert json.loads(tx.request_body) == {"a": 1, "via": "tm"}
    assert tx.request_headers.get("Content-Length") == str(len(tx.request_body))


@pytest.mark.parametrize(
    ("host", "pool"), [("a.static.example.com", "images"), ("v1.api.example.com", "api"), ("www.example.com", "web")]
)
def test_wildcard_hosts(host, pool):
    tx, _ = run("wildcard-hosts", make_tx(headers=[("Host", host)]))
    assert tx.pool == pool


def test_node_pinning():
    tx, _ = run("node-pinning", make_tx(headers=[("Cookie", "node=10.0.0.2:8080")]))
    assert (tx.pool, tx.node) == ("web", "10.0.0.2:8080")


def test_close_after_response():
    tx = make_tx(headers=[("Connection", "close")], response=(200, [], b""))
    tx, _ = run("close-after-response", tx, phase="response")
    assert tx.close_after


def test_subroutine_library():
    tx, _ = run("subroutine-library", make_tx(path="/admin/x", remote_ip="8.8.8.8"))
    assert tx.response.status == 403
    tx, _ = run("subroutine-library", make_tx(path="/admin/x", remote_ip="10.1.1.1"))
    assert tx.response is None


def test_time_based_routing():
    import time

    state = EngineState()
    night = time.mktime((2024, 1, 1, 23, 0, 0, 0, 0, -1))
    state.now = lambda: night
    tx, _ = run("time-based-routing", make_tx(), state)
    assert tx.pool == "night"


def test_query_param_routing():
    tx, _ = run("query-param-routing", make_tx(query="version=2"))
    assert tx.pool == "beta"


def test_emit_event_on_attack():
    tx, state = run("emit-event-on-attack", make_tx(path="/q", query="x=%3CSCRIPT<script>"))
    assert tx.discard and list(state.events) == [("xss", "blocked request from 192.0.2.10")]
