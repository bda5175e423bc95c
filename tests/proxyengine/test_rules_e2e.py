"""TrafficScript rules in the guide's style, end to end: one real engine process on 127.0.0.1, real back-ends
that answer with their name, and a real HTTP client checking what a user would see.

One engine serves every virtual server (one per rule, or a short chain of rules), so the module starts one
process and one set of back-ends; each test talks to its own port.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from helpers import BackendServer, engine_json, pool, vserver, write_json

from proxyengine.control import request as control

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "rules"))
from guide_rules import GUIDE_RULES  # noqa: E402 (the rules' tests directory is not a package)

pytestmark = pytest.mark.timeout(60)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Rules only these tests use (the guide's style, for effects guide_rules.py does not cover).
EXTRA_RULES = {
    "maintenance-switch": """
        $path = http.getPath();
        if ($path == "/_maintenance/on" || $path == "/_maintenance/off") {
            data.set("maintenance", string.skip($path, 14));
            http.sendResponse(200, "text/plain", "maintenance " . data.get("maintenance"), "");
        }
    """,
    "sleep-before-routing": """
        if (http.getPath() == "/sleepy") { connection.sleep(300); }
    """,
    "divide-by-zero": """
        $n = string.length(http.getPath()) - string.length(http.getPath());
        if (http.getPath() == "/boom") {
            $x = 10 / $n;
        }
        http.setHeader("X-Survived", "yes");
    """,
    "local-address": """
        http.setHeader("X-Local", request.getLocalIP() . ":" . request.getLocalPort());
        http.setHeader("X-Remote", request.getRemoteIP());
    """,
    "response-body-rewrite": """
        $body = http.getResponseBody();
        http.setResponseBody("<wrapped>" . string.uppercase($body) . "</wrapped>");
    """,
    "chain-tag": """
        http.setHeader("X-Chain", "tagged");
        if (http.getPath() == "/stop") { http.sendResponse(200, "text/plain", "stopped by the first rule", ""); }
        if (http.getPath() == "/return") { rule.return(); }
        http.setHeader("X-Chain-End", "reached");
    """,
    "chain-route": """
        if (http.getHeader("X-Chain") == "tagged") { pool.use("beta"); }
    """,
    "change-site": """
        if (http.getHostHeader() == "old.example.com") { http.changeSite("www.example.org"); }
    """,
    "response-status-rewrite": """
        if (http.getResponseCode() == 404) {
            http.setResponseCode(200);
            http.setResponseHeader("X-Was", "404");
        }
    """,
    "burst-limit": """
        if (!rate.use.noQueue("burst", request.getRemoteIP())) {
            http.sendResponse("429 Too Many Requests", "text/plain", "slow down", "Retry-After: 60");
        }
    """,
    "friendly-5xx": """
        if (http.getResponseCode() >= 500) {
            http.sendResponse(503, "text/html", "<p>Sorry, try again soon</p>", "Retry-After: 30");
        }
    """,
    "broken-response-rule": """
        $zero = 0;
        if (string.startsWith(http.getPath(), "/boom")) { $x = 1 / $zero; }
        http.setResponseHeader("X-Checked", "yes");
    """,
    "per-connection-counter": """
        $n = connection.data.get("requests") + 1;
        connection.data.set("requests", $n);
        http.setHeader("X-Connection-Request", $n);
        log.info("request " . $n . " on this connection for " . http.getPath());
    """,
    "late-response": """
        if (http.getPath() == "/late") { connection.sleep(200); }
    """,
    "user-persistence": """
        $user = http.getHeader("X-User");
        if ($user != "") { connection.setPersistence("by-user"); connection.setPersistenceKey($user); }
    """,
    "named-node": """
        $node = http.getHeader("X-Node");
        if ($node != "") { connection.setPersistence("by-name"); connection.setPersistenceNode($node); }
    """,
    "pending-header-then-respond": """
        http.setResponseHeader("X-Set-Early", "yes");
        if (http.getPath() == "/tea") { http.sendResponse("418 I'm a teapot", "text/plain", "tea", ""); }
    """,
    "impatient-reports": """
        if (string.startsWith(http.getPath(), "/slow")) { request.setMaxReplyTime(0.3); }
    """,
    "upstream-timing-header": """
        http.setResponseHeader("X-Node", connection.getNode());
        http.setResponseHeader("X-Pool", connection.getPool());
    """,
}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    header_list: list[tuple[str, str]]
    body: bytes


def fetch(
    port: int,
    path: str = "/",
    method: str = "GET",
    headers: dict | None = None,
    body: bytes | None = None,
    timeout: float = 5.0,
) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers={"Host": "test", **(headers or {})})
        r = conn.getresponse()
        data = r.read()
        return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, r.getheaders(), data)
    finally:
        conn.close()


def dropped(port: int, path: str) -> bool:
    """True if the engine closed the connection without answering."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
        try:
            return s.recv(1024) == b""
        except ConnectionResetError:
            return True


class Backends:
    """Back-end nodes on their own event loop in a thread; each answers with its name."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.nodes: dict[str, BackendServer] = {}

    def add(self, name: str, status: int = 200, extra_headers=()) -> BackendServer:
        b = BackendServer(name, status=status)
        b.extra_headers = list(extra_headers)
        asyncio.run_coroutine_threadsafe(b.start(), self.loop).result(5)
        self.nodes[name] = b
        return b

    def close(self):
        for b in self.nodes.values():
            asyncio.run_coroutine_threadsafe(b.stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def distinct_ports(count: int) -> list[int]:
    """``count`` different free ports (free_port alone may hand the same one out twice in a row)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def last_request(node: BackendServer, url_prefix: str):
    """The newest request ``node`` saw whose URL starts with ``url_prefix``: (method, url, headers, body)."""
    for req in reversed(node.requests):
        if req[1].startswith(url_prefix):
            return req
    raise AssertionError(f"{node.name} saw no request for {url_prefix}: {[r[1] for r in node.requests]}")


class Engine:
    """The running engine: a port per virtual server, the control socket and the back-ends."""

    def __init__(self, ports, control_socket, nodes):
        self.ports = ports
        self.control_socket = control_socket
        self.nodes = nodes

    def events(self) -> list[dict]:
        return control(self.control_socket, {"cmd": "events", "limit": 500})["events"]

    def rule_stats(self, name: str) -> dict:
        return control(self.control_socket, {"cmd": "stats"})["statistics"]["rules"][name]


# virtual server -> (request rules, response rules, default pool); rules by name from GUIDE_RULES or EXTRA_RULES
VIRTUAL_SERVERS = {
    "host-routing": (["host-routing"], [], "web"),
    "path-routing": (["path-routing"], [], "web"),
    "redirect-to-https": (["redirect-to-https"], [], "web"),
    "maintenance": (["maintenance-switch", "maintenance-page"], [], "web"),
    "x-forwarded-for": (["x-forwarded-for"], [], "web"),
    "cookie-routing": (["cookie-routing"], [], "web"),
    "ab-split": (["ab-split-on-header"], [], "web"),
    "rate-limit": (["rate-limit-api"], [], "web"),
    "response-header-rewrite": ([], ["response-header-rewrite"], "chatty"),
    "retry-5xx": ([], ["retry-5xx-on-second-pool"], "broken"),
    "persistence": (["persistence-on-cookie"], [], "web"),
    "block-ip-range": (["block-ip-range"], [], "web"),
    "block-loopback": (["block-loopback"], [], "web"),
    "deny-methods": (["deny-methods"], [], "web"),
    "strip-query": (["strip-query-tracking"], [], "web"),
    "rewrite-path": (["rewrite-path-prefix"], [], "web"),
    "canonical-host": (["canonical-host"], [], "web"),
    "security-headers": ([], ["add-security-headers"], "web"),
    "error-page": ([], ["error-page-replacement"], "notfound"),
    "set-cookie": ([], ["set-response-cookie"], "web"),
    "mobile-redirect": (["mobile-redirect"], [], "web"),
    "count-requests": (["count-requests"], [], "web"),
    "log-slow": ([], ["log-slow-requests"], "web"),
    "tenant": (["header-based-pool"], [], "web"),
    "basic-auth": (["basic-auth-gate"], [], "web"),
    "json-rewrite": (["json-api-rewrite"], [], "web"),
    "wildcard-hosts": (["wildcard-hosts"], [], "web"),
    "node-pinning": (["node-pinning"], [], "web"),
    "close-after": (["close-after-response"], [], "web"),
    "subroutines": (["subroutine-library"], [], "web"),
    "time-routing": (["time-based-routing"], [], "web"),
    "query-routing": (["query-param-routing"], [], "web"),
    "xss": (["emit-event-on-attack"], [], "web"),
    "sleep": (["sleep-before-routing"], [], "web"),
    "runtime-error": (["divide-by-zero"], [], "web"),
    "local-address": (["local-address"], [], "web"),
    "body-rewrite": ([], ["response-body-rewrite"], "web"),
    "chain": (["chain-tag", "chain-route"], [], "web"),
    "change-site": (["change-site"], [], "web"),
    "status-rewrite": ([], ["response-status-rewrite"], "notfound"),
    "node-header": ([], ["upstream-timing-header"], "images"),
    "burst-limit": (["burst-limit"], [], "web"),
    "friendly-5xx": ([], ["friendly-5xx"], "broken"),
    "broken-response-rule": ([], ["broken-response-rule"], "web"),
    "connection-data": (["per-connection-counter"], [], "web"),
    "late-response": ([], ["late-response"], "web"),
    "user-persistence": (["user-persistence"], [], "web"),
    "named-node": (["named-node"], [], "web"),
    "pending-header": (["pending-header-then-respond"], [], "web"),
    "max-reply-time": (["impatient-reports"], [], "slowpoke"),
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rules_e2e")
    backends = Backends()
    try:
        yield from _run_engine(tmp, backends)
    finally:
        backends.close()


def _run_engine(tmp, backends):
    n = backends.nodes
    for name in ("w1", "w2", "images", "api", "beta", "staff", "fallback", "night", "tenant-acme", "slowpoke"):
        backends.add(name)
    backends.add("chatty", extra_headers=[("Server", "Apache/2.4"), ("X-Powered-By", "PHP/5")])
    backends.add("broken", status=500)
    backends.add("notfound", status=404)
    pools = {
        name: pool([n[name].address])
        for name in (
            "images",
            "api",
            "beta",
            "staff",
            "fallback",
            "night",
            "tenant-acme",
            "chatty",
            "broken",
            "notfound",
            "slowpoke",
        )
    }
    pools["web"] = pool([n["w1"].address, n["w2"].address])
    ports = dict(zip(VIRTUAL_SERVERS, distinct_ports(len(VIRTUAL_SERVERS)), strict=True))
    rules = {**GUIDE_RULES, **EXTRA_RULES}
    rules["redirect-to-https"] = rules["redirect-to-https"].replace("== 80", f"== {ports['redirect-to-https']}")
    rules["block-loopback"] = rules["block-ip-range"].replace("203.0.113.0/24", "127.0.0.0/8")
    vss = {
        vs: vserver(ports[vs], default_pool, basic={"request_rules": req, "response_rules": resp})
        for vs, (req, resp, default_pool) in VIRTUAL_SERVERS.items()
    }
    doc = engine_json(
        tmp,
        pools=pools,
        virtual_servers=vss,
        rules=rules,
        rate={
            "api-limit": {"properties": {"basic": {"max_rate_per_second": 5}}},
            "burst": {"properties": {"basic": {"max_rate_per_minute": 3}}},
        },
        persistence={"by-user": {"properties": {"basic": {"type": "universal"}}},
                     "by-name": {"properties": {"basic": {"type": "named"}}}},
    )
    path = write_json(tmp / "engine.json", doc)
    sock = doc["node"]["control_socket"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "proxyengine", "--config", path, "--no-fork"],
        cwd=ROOT,
        stderr=open(tmp / "stderr.log", "wb"),
    )
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp / "stderr.log").read_text()
            try:
                if os.path.exists(sock) and control(sock, {"cmd": "ping"}, 2)["ok"]:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        health = control(sock, {"cmd": "health"})["virtual_servers"]
        down = {vs: h["reason"] for vs, h in health.items() if not h["running"]}
        assert not down, down
        yield Engine(ports, sock, n)
    finally:
        proc.terminate()
        proc.wait(10)


# -- routing -------------------------------------------------------------------------------------------------------


def test_host_routing(engine):
    port = engine.ports["host-routing"]
    assert fetch(port, headers={"Host": "images.example.com"}).body == b"images"
    assert fetch(port, headers={"Host": "api.example.com"}).body == b"api"
    assert fetch(port, headers={"Host": "www.example.com"}).body in (b"w1", b"w2")


def test_path_routing_with_a_regex_capture(engine):
    port = engine.ports["path-routing"]
    assert fetch(port, "/static/logo.png").body == b"images"
    assert fetch(port, "/api/v2/users").body == b"api"
    assert last_request(engine.nodes["api"], "/api/v2/users")[2]["x-api-version"] == "2"
    assert fetch(port, "/index.html").body in (b"w1", b"w2")


def test_wildcard_hosts_with_switch(engine):
    port = engine.ports["wildcard-hosts"]
    assert fetch(port, headers={"Host": "cdn.static.example.com"}).body == b"images"
    assert fetch(port, headers={"Host": "eu.api.example.com"}).body == b"api"
    assert fetch(port, headers={"Host": "example.net"}).body in (b"w1", b"w2")


def test_cookie_routing(engine):
    port = engine.ports["cookie-routing"]
    assert fetch(port, headers={"Cookie": "group=beta"}).body == b"beta"
    assert fetch(port, headers={"Cookie": "theme=dark; group=admin"}).body == b"staff"
    assert fetch(port, headers={"Cookie": "group=staff"}).body == b"staff"
    assert fetch(port).body in (b"w1", b"w2")


def test_header_based_ab_split_is_stable_per_user_agent(engine):
    port = engine.ports["ab-split"]
    seen = {}
    for i in range(12):
        ua = f"browser-{i}"
        bodies = {fetch(port, f"/ab/{i}", headers={"User-Agent": ua}).body for _ in range(2)}
        variant = "B" if bodies == {b"beta"} else "A"
        assert variant == "B" or bodies <= {b"w1", b"w2"}
        node = engine.nodes["beta"] if variant == "B" else None
        if node is not None:
            assert last_request(node, f"/ab/{i}")[2]["x-variant"] == "B"
        seen[ua] = variant
    assert set(seen.values()) == {"A", "B"}


def test_header_based_pool_and_unknown_tenant(engine):
    port = engine.ports["tenant"]
    assert fetch(port, headers={"X-Tenant": "ACME"}).body == b"tenant-acme"
    r = fetch(port)
    assert r.status == 400 and r.body == b"missing tenant"
    # pool "tenant-nobody" does not exist: the rule aborts and the request gets an error, not a hang
    assert fetch(port, headers={"X-Tenant": "nobody"}).status == 500


def test_node_pinning_with_pool_select_on_a_node(engine):
    port = engine.ports["node-pinning"]
    w2 = engine.nodes["w2"]
    for _ in range(4):
        assert fetch(port, headers={"Cookie": f"node={w2.address}"}).body == b"w2"
    assert {fetch(port).body for _ in range(4)} == {b"w1", b"w2"}


def test_query_param_routing(engine):
    port = engine.ports["query-routing"]
    assert fetch(port, "/app?version=2").body == b"beta"
    assert fetch(port, "/app?version=1").body in (b"w1", b"w2")
    r = fetch(
        port, "/form", method="POST", body=b"version=2", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert r.body == b"beta"
    assert last_request(engine.nodes["beta"], "/form")[3] == b"version=2"


def test_time_based_routing(engine):
    hour = time.localtime().tm_hour
    body = fetch(engine.ports["time-routing"]).body
    assert body == b"night" if (hour >= 22 or hour < 6) else body in (b"w1", b"w2")


def test_several_rules_run_in_order_until_one_ends_the_request(engine):
    port = engine.ports["chain"]
    assert fetch(port, "/go").body == b"beta"  # the second rule saw the first rule's header
    assert last_request(engine.nodes["beta"], "/go")[2]["x-chain-end"] == "reached"
    r = fetch(port, "/stop")
    assert r.body == b"stopped by the first rule"
    assert fetch(port, "/return").body == b"beta"  # rule.return ends the first rule only
    assert "x-chain-end" not in last_request(engine.nodes["beta"], "/return")[2]


# -- answering from the traffic manager -----------------------------------------------------------------------------


def test_redirect_to_https(engine):
    port = engine.ports["redirect-to-https"]
    r = fetch(port, "/cart?item=3", headers={"Host": "shop.example.com"})
    assert r.status == 302 and r.headers["location"] == "https://shop.example.com/cart?item=3"


def test_canonical_host_redirect(engine):
    port = engine.ports["canonical-host"]
    r = fetch(port, "/a?b=1", headers={"Host": "example.com"})
    assert r.status == 302 and r.headers["location"] == "https://www.example.com/a?b=1"
    assert fetch(port, headers={"Host": "www.example.com"}).status == 200


def test_mobile_redirect(engine):
    port = engine.ports["mobile-redirect"]
    r = fetch(port, "/news", headers={"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)"})
    assert r.status == 302 and r.headers["location"] == "https://m.example.com/news"
    assert fetch(port, "/news", headers={"User-Agent": "Mozilla/5.0 (X11; Linux)"}).status == 200


def test_maintenance_page_with_send_response(engine):
    port = engine.ports["maintenance"]
    assert fetch(port, "/shop").status == 200
    assert fetch(port, "/_maintenance/on").body == b"maintenance on"
    try:
        r = fetch(port, "/shop")
        assert r.status == 503 and r.headers["retry-after"] == "120"
        assert r.headers["content-type"] == "text/html" and r.body == b"<h1>Down for maintenance</h1>"
    finally:
        assert fetch(port, "/_maintenance/off").body == b"maintenance off"
    assert fetch(port, "/shop").status == 200


def test_deny_methods(engine):
    port = engine.ports["deny-methods"]
    r = fetch(port, "/x", method="DELETE")
    assert r.status == 405 and r.headers["allow"] == "GET, HEAD, POST" and r.body == b"Method not allowed"
    assert fetch(port, "/x", method="POST", body=b"a=1").status == 200


def test_basic_auth_gate(engine):
    port = engine.ports["basic-auth"]
    r = fetch(port)
    assert r.status == 401 and r.headers["www-authenticate"] == 'Basic realm="x"'
    bad = base64.b64encode(b"admin:guess").decode()
    assert fetch(port, headers={"Authorization": f"Basic {bad}"}).status == 401
    good = base64.b64encode(b"admin:secret").decode()
    assert fetch(port, headers={"Authorization": f"Basic {good}"}).status == 200


def test_subroutine_library_forbids_admin_from_outside(engine):
    port = engine.ports["subroutines"]
    r = fetch(port, "/admin/users")
    assert r.status == 403 and r.body == b"Forbidden"
    assert fetch(port, "/public").status == 200


def test_block_ip_range_discards_the_connection(engine):
    assert fetch(engine.ports["block-ip-range"]).status == 200  # 127.0.0.1 is not in 203.0.113.0/24
    assert dropped(engine.ports["block-loopback"], "/")


def test_xss_attempt_is_dropped_and_raises_an_event(engine):
    port = engine.ports["xss"]
    assert dropped(port, "/search?q=%3Cscript%3E<script>alert(1)")
    assert fetch(port, "/search?q=shoes").status == 200
    assert any(
        "xss" in e["object"] + e["message"] and "blocked request from 127.0.0.1" in e["message"]
        for e in engine.events()
    )


# -- rewriting the request ----------------------------------------------------------------------------------------


def test_x_forwarded_for_insertion(engine):
    port = engine.ports["x-forwarded-for"]
    fetch(port, "/xff-1")
    assert last_request_any(engine, "/xff-1")[2]["x-forwarded-for"] == "127.0.0.1"
    fetch(port, "/xff-2", headers={"X-Forwarded-For": "198.51.100.7"})
    assert last_request_any(engine, "/xff-2")[2]["x-forwarded-for"] == "198.51.100.7, 127.0.0.1"


def test_strip_tracking_parameters_from_the_query(engine):
    fetch(engine.ports["strip-query"], "/landing?utm_source=mail&id=7&utm_medium=x")
    assert last_request_any(engine, "/landing")[1] == "/landing?id=7"


def test_rewrite_path_prefix(engine):
    assert fetch(engine.ports["rewrite-path"], "/old/page.html?x=1").status == 200
    assert last_request_any(engine, "/new/")[1] == "/new/page.html?x=1"


def test_json_body_rewrite(engine):
    body = json.dumps({"user": "ann"}).encode()
    r = fetch(
        engine.ports["json-rewrite"], "/echo", method="POST", body=body, headers={"Content-Type": "application/json"}
    )
    assert r.status == 200 and json.loads(r.body) == {"user": "ann", "via": "tm"}
    r = fetch(
        engine.ports["json-rewrite"], "/echo", method="POST", body=b"plain", headers={"Content-Type": "text/plain"}
    )
    assert r.body == b"plain"


def test_count_requests_in_shared_data(engine):
    port = engine.ports["count-requests"]
    hits = []
    for i in range(3):
        fetch(port, f"/count-{i}", headers={"Host": "counted.example.com"})
        hits.append(int(last_request_any(engine, f"/count-{i}")[2]["x-hit"]))
    assert hits == [hits[0], hits[0] + 1, hits[0] + 2]


def test_change_site(engine):
    fetch(engine.ports["change-site"], "/moved", headers={"Host": "old.example.com"})
    assert last_request_any(engine, "/moved")[2]["host"] == "www.example.org"


def test_local_and_remote_addresses(engine):
    port = engine.ports["local-address"]
    fetch(port, "/whoami")
    headers = last_request_any(engine, "/whoami")[2]
    assert headers["x-local"] == f"127.0.0.1:{port}" and headers["x-remote"] == "127.0.0.1"


# -- responses --------------------------------------------------------------------------------------------------


def test_response_header_rewrite(engine):
    r = fetch(engine.ports["response-header-rewrite"])
    assert r.body == b"chatty"
    assert "x-powered-by" not in r.headers and r.headers.get("server") != "Apache/2.4"
    assert r.headers["strict-transport-security"] == "max-age=31536000"


def test_security_headers_from_a_hash(engine):
    r = fetch(engine.ports["security-headers"])
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"


def test_error_page_replacement(engine):
    r = fetch(engine.ports["error-page"], "/missing")
    assert r.status == 404 and r.headers["content-type"] == "text/html"
    assert r.body == b"<html><body>Sorry, not here.</body></html>"


def test_response_status_rewrite(engine):
    r = fetch(engine.ports["status-rewrite"], "/gone")
    assert r.status == 200 and r.headers["x-was"] == "404" and r.body == b"notfound"


def test_response_body_read_and_rewritten(engine):
    port = engine.ports["body-rewrite"]
    bodies = {fetch(port, "/page").body for _ in range(2)}
    assert bodies == {b"<wrapped>W1</wrapped>", b"<wrapped>W2</wrapped>"}
    r = fetch(port, "/chunked")  # a chunked response is read whole too
    assert r.body == b"<wrapped>HELLO WORLD</wrapped>" and r.headers["content-length"] == str(len(r.body))


def test_set_response_cookie_once(engine):
    port = engine.ports["set-cookie"]
    r = fetch(port)
    assert r.headers["set-cookie"].startswith("visited=1") and "Max-Age=3600" in r.headers["set-cookie"]
    assert "set-cookie" not in fetch(port, headers={"Cookie": "visited=1"}).headers


def test_connection_node_and_pool_in_a_response_rule(engine):
    r = fetch(engine.ports["node-header"])
    assert r.headers["x-node"] == engine.nodes["images"].address and r.headers["x-pool"] == "images"


def test_retry_on_5xx_against_a_second_pool(engine):
    r = fetch(engine.ports["retry-5xx"], "/order")
    assert r.status == 200 and r.body == b"fallback"
    assert last_request(engine.nodes["broken"], "/order") and last_request(engine.nodes["fallback"], "/order")
    assert engine.rule_stats("retry-5xx-on-second-pool")["retries"] >= 1


def test_close_after_response_for_http_1_0(engine):
    with socket.create_connection(("127.0.0.1", engine.ports["close-after"]), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.0\r\nHost: test\r\nConnection: keep-alive\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200") and data.endswith((b"w1", b"w2"))
    assert b"keep-alive" not in data.lower().split(b"\r\n\r\n")[0]


def test_slow_responses_are_logged(engine):
    assert fetch(engine.ports["log-slow"], "/slow?t=1.1").status == 200
    assert any("slow response from 127.0.0.1:" in e["message"] and "/slow" in e["message"] for e in engine.events())


# -- sessions, rates, delays --------------------------------------------------------------------------------------


def test_universal_persistence_on_a_cookie_value(engine):
    port = engine.ports["persistence"]
    firsts = set()
    for session in ("alpha", "bravo", "charlie", "delta"):
        nodes = {fetch(port, headers={"Cookie": f"JSESSIONID={session}"}).body for _ in range(4)}
        assert len(nodes) == 1, (session, nodes)
        firsts |= nodes
    assert firsts == {b"w1", b"w2"}  # sessions are spread, each sticks to its node
    assert {fetch(port).body for _ in range(4)} == {b"w1", b"w2"}  # no session: round robin


def test_rate_class_queues_api_requests(engine):
    port = engine.ports["rate-limit"]
    t0 = time.monotonic()
    with ThreadPoolExecutor(8) as pool_:
        replies = list(pool_.map(lambda i: fetch(port, f"/api/item/{i}"), range(8)))
    elapsed = time.monotonic() - t0
    assert all(r.status == 200 for r in replies)
    assert elapsed >= 0.8, elapsed  # 5 per second: the last three wait for the next second
    t0 = time.monotonic()
    with ThreadPoolExecutor(8) as pool_:
        assert all(r.status == 200 for r in pool_.map(lambda i: fetch(port, f"/page/{i}"), range(8)))
    assert time.monotonic() - t0 < 0.5  # not an API path: not rate limited


def test_connection_sleep_delays_the_request(engine):
    port = engine.ports["sleep"]
    t0 = time.monotonic()
    assert fetch(port, "/sleepy").status == 200
    assert time.monotonic() - t0 >= 0.29
    t0 = time.monotonic()
    assert fetch(port, "/quick").status == 200
    assert time.monotonic() - t0 < 0.25


# -- errors ---------------------------------------------------------------------------------------------------------


def test_runtime_error_aborts_the_rule_for_that_request_only(engine):
    port = engine.ports["runtime-error"]
    before = engine.rule_stats("divide-by-zero")
    r = fetch(port, "/boom")
    assert r.status == 500
    fetch(port, "/fine")
    assert last_request_any(engine, "/fine")[2]["x-survived"] == "yes"  # the next request runs the rule in full
    after = engine.rule_stats("divide-by-zero")
    assert after["aborts"] == before["aborts"] + 1 and after["executions"] == before["executions"] + 2
    assert any(e["object"] == "rules/divide-by-zero" and "divide-by-zero:4:" in e["message"] for e in engine.events())


def last_request_any(engine, url_prefix: str):
    """The newest request any node saw for ``url_prefix``."""
    found = [
        (i, req)
        for node in engine.nodes.values()
        for i, req in enumerate(node.requests)
        if req[1].startswith(url_prefix)
    ]
    assert found, f"no node saw {url_prefix}"
    return found[-1][1]


def test_rate_class_without_a_queue_answers_429(engine):
    port = engine.ports["burst-limit"]
    replies = [fetch(port, f"/burst/{i}") for i in range(5)]
    assert [r.status for r in replies] == [200, 200, 200, 429, 429]
    assert replies[-1].body == b"slow down" and replies[-1].headers["retry-after"] == "60"


def test_send_response_in_a_response_rule_replaces_a_5xx(engine):
    r = fetch(engine.ports["friendly-5xx"], "/checkout")
    assert r.status == 503 and r.body == b"<p>Sorry, try again soon</p>" and r.headers["retry-after"] == "30"


def test_runtime_error_in_a_response_rule(engine):
    port = engine.ports["broken-response-rule"]
    assert fetch(port, "/boom").status == 500
    r = fetch(port, "/fine")
    assert r.status == 200 and r.headers["x-checked"] == "yes"
    assert engine.rule_stats("broken-response-rule")["aborts"] == 1
    assert any(
        e["object"] == "rules/broken-response-rule" and "broken-response-rule:3:" in e["message"]
        for e in engine.events()
    )


def test_connection_data_lives_as_long_as_the_client_connection(engine):
    port = engine.ports["connection-data"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        for path in ("/conn-a1", "/conn-a2", "/conn-a3"):
            conn.request("GET", path)
            conn.getresponse().read()
    finally:
        conn.close()
    fetch(port, "/conn-b1")
    seen = [
        last_request_any(engine, p)[2]["x-connection-request"] for p in ("/conn-a1", "/conn-a2", "/conn-a3", "/conn-b1")
    ]
    assert seen == ["1", "2", "3", "1"]
    assert any("request 3 on this connection for /conn-a3" in e["message"] for e in engine.events())


def test_connection_sleep_in_a_response_rule(engine):
    port = engine.ports["late-response"]
    t0 = time.monotonic()
    r = fetch(port, "/late")
    assert r.status == 200 and r.body in (b"w1", b"w2") and time.monotonic() - t0 >= 0.19
    assert fetch(port, "/early").body in (b"w1", b"w2")


def test_named_persistence_class_set_by_a_rule(engine):
    port = engine.ports["user-persistence"]
    homes = set()
    for user in ("ann", "bob", "cy", "dee"):
        nodes = {fetch(port, headers={"X-User": user}).body for _ in range(3)}
        assert len(nodes) == 1, (user, nodes)
        homes |= nodes
    assert homes == {b"w1", b"w2"}


def test_named_node_persistence_set_by_a_rule(engine):
    """connection.setPersistenceNode with a Named Node class: each request goes to the node the rule names; a name
    not in the pool is a session failure (the class's default failure mode: a new node); no name balances."""
    port = engine.ports["named-node"]
    for name in ("w1", "w2", "w1"):
        bodies = {fetch(port, headers={"X-Node": engine.nodes[name].address}).body for _ in range(4)}
        assert bodies == {name.encode()}, (name, bodies)
    assert fetch(port, headers={"X-Node": "127.0.0.1:1"}).body in (b"w1", b"w2")
    assert {fetch(port).body for _ in range(6)} == {b"w1", b"w2"}


def test_response_header_set_by_a_request_rule(engine):
    port = engine.ports["pending-header"]
    r = fetch(port, "/tea")
    assert r.status == 418 and r.body == b"tea" and r.headers["x-set-early"] == "yes"
    r = fetch(port, "/coffee")
    assert r.status == 200 and r.headers["x-set-early"] == "yes"


def test_chunked_request_body_read_by_a_rule(engine):
    payload = json.dumps({"order": 42}).encode()
    half = len(payload) // 2
    chunks = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, payload[:half], len(payload) - half, payload[half:])
    with socket.create_connection(("127.0.0.1", engine.ports["json-rewrite"]), timeout=5) as s:
        s.sendall(
            b"POST /echo-chunked HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunks
        )
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and json.loads(body) == {"order": 42, "via": "tm"}


def test_large_response_body_read_by_a_rule(engine):
    r = fetch(engine.ports["body-rewrite"], "/big")
    assert r.body == b"<wrapped>" + b"X" * 200_000 + b"</wrapped>"


def test_head_request_through_a_status_rewrite(engine):
    r = fetch(engine.ports["status-rewrite"], "/gone", method="HEAD")
    assert r.status == 200 and r.headers["x-was"] == "404" and r.body == b""
    assert fetch(engine.ports["status-rewrite"], "/gone").body == b"notfound"  # the connection pool is sound


def test_max_reply_time_set_by_a_rule(engine):
    t0 = time.monotonic()
    r = fetch(engine.ports["max-reply-time"], "/slow?t=1.5")
    assert r.status == 504 and time.monotonic() - t0 < 1.2


def test_rule_statistics_count_what_rules_did(engine):
    fetch(engine.ports["deny-methods"], "/stats", method="PUT", body=b"x")
    dropped(engine.ports["block-loopback"], "/stats")
    fetch(engine.ports["host-routing"], headers={"Host": "api.example.com"})
    assert engine.rule_stats("deny-methods")["responds"] >= 1
    assert engine.rule_stats("block-ip-range")["executions"] >= 1
    assert engine.rule_stats("block-loopback")["discards"] >= 1
    assert engine.rule_stats("host-routing")["pool_select"] >= 1
