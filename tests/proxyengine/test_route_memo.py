"""The route memo: request rules that are pure functions of the request line and Host (rules/purity.py) are run once
per distinct request; what they chose is applied again without running them, and their statistics still count."""

import asyncio

import pytest
from test_protocol_unit import FakeTransport

from proxyengine import rulehooks
from proxyengine.config import NodeEntry, PoolConfig, VirtualServerConfig
from proxyengine.engine import Engine, Listener, VirtualServer
from proxyengine.http import HttpClientProtocol, HttpNodeProtocol
from proxyengine.pools import Pool
from proxyengine.rules import compile_rule
from proxyengine.rules.purity import HOST, METHOD, PATH, PURE, QUERY

ROUTE = """
if (http.getHostHeader() == "b.example" || string.startsWith(http.getPath(), "/b/")) {
    pool.use("b");
}
if (string.endsWithI(http.getPath(), ".PNG")) { pool.use("c"); }
"""


@pytest.mark.parametrize(
    ("source", "inputs"),
    [
        (ROUTE, PURE | HOST | PATH),
        ('if (http.getMethod() == "POST") { pool.use("b"); }', PURE | METHOD),
        ('if (http.getQueryString() != "") { pool.use("b"); }', PURE | QUERY),
        ('if (http.getRawURL() == "/") { pool.use("b"); }', PURE | PATH | QUERY),
        ('$h = string.lowercase(http.getHostHeader()); if ($h == "x") { pool.use("b"); }', PURE | HOST),
        ('$x = 1 + 2;', PURE),
        # impure: a log line, a header set, a pool chosen by a variable, a loop (its time budget), a regular
        # expression (it sets $1..$9), the connection's data, the clock, the client's address, a subroutine's budget
        ('log.info("x"); pool.use("b");', 0),
        ('http.setHeader("X", "1"); pool.use("b");', 0),
        ('$p = "b"; pool.use($p);', 0),
        ('while (0) { } pool.use("b");', 0),
        ('if (string.regexmatch(http.getPath(), "^/b")) { pool.use("b"); }', 0),
        ('if (connection.data.get("k") == "1") { pool.use("b"); }', 0),
        ('if (sys.time() > 0) { pool.use("b"); }', 0),
        ('if (request.getRemoteIP() == "10.0.0.1") { pool.use("b"); }', 0),
        ('if (http.getHeader("Cookie") == "") { pool.use("b"); }', 0),
        ('sub f($x) { return $x; } if (f(http.getPath()) == "/") { pool.use("b"); }', 0),
    ],
)
def test_which_rules_are_pure(source, inputs):
    assert compile_rule("r", source, pools={"a", "b", "c"}).route_inputs == inputs


class Harness:
    """One client connection to a virtual server with request rules, and a pooled node connection per pool (fake
    transports): ``get`` sends a request and answers it, and says which pool it went to."""

    def __init__(self, *sources, response_rules=()):
        self.loop = asyncio.new_event_loop()
        engine = self.engine = Engine(self.loop, run_monitors=False)
        self.pools = {
            name: Pool(PoolConfig(name, (NodeEntry(f"10.0.0.{i}:80", f"10.0.0.{i}", 80),)))
            for i, name in enumerate("abc", 1)
        }
        engine.pools = self.pools
        vs = self.vs = VirtualServer(VirtualServerConfig("web", 80, enabled=True), engine)
        vs.pool = self.pools["a"]
        vs.request_rules = [compile_rule(f"r{i}", s, pools=set(self.pools)) for i, s in enumerate(sources)]
        vs.response_rules = [compile_rule("resp", s, pools=set(self.pools)) for s in response_rules]
        rulehooks.configure_route_memo(vs.settings)
        engine.virtual_servers = {"web": vs}
        self.listener = Listener(("tcp", "", 80), None, vs)
        self.connect()
        self.nodes = {}
        for name, pool in self.pools.items():
            conn = HttpNodeProtocol(engine, pool.nodes[0], pool)
            nt = FakeTransport()
            conn.connection_made(nt)
            pool.nodes[0].idle.append(conn)
            self.nodes[name] = (conn, nt)

    def connect(self) -> None:
        self.client = HttpClientProtocol(self.engine, self.listener)
        self.ct = FakeTransport()
        self.client.connection_made(self.ct)

    def get(self, path: str, host: str = "www.example", method: str = "GET") -> str:
        """The pool the request went to, or the status the engine answered with itself."""
        if self.ct.closed:  # the engine closed the last one (after an error it answered)
            self.connect()
        self.ct.out.clear()
        self.client.data_received(f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        for name, (conn, nt) in self.nodes.items():
            if nt.out:
                assert nt.out[0].startswith(f"{method} {path} HTTP/1.1\r\n".encode())
                nt.out.clear()
                conn.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                assert self.ct.out and self.ct.out[-1].startswith(b"HTTP/1.1 200 OK\r\n")
                return name
        return self.ct.out[0].split(b" ")[1].decode()

    def stats(self, rule: str = "r0"):
        self.engine.fold_route_hits()  # (as reading the statistics does)
        return self.engine.rule_state.stats_for(rule)

    def close(self):
        self.loop.close()


REQUESTS = [
    ("/", "www.example", "a"),
    ("/b/x", "www.example", "b"),
    ("/", "b.example", "b"),
    ("/img/logo.png", "www.example", "c"),
    ("/b/logo.png", "www.example", "b"),  # the first rule's pool.use ends the rules
    ("/b", "www.example", "a"),
    ("/B/x", "www.example", "a"),
    ("/b/x?q=1", "www.example", "b"),  # the query is not what the rule reads: the same as /b/x
    ("/%62/x", "www.example", "b"),  # http.getPath decodes %62 to "b"
]


def test_remembered_routes_choose_what_the_rules_chose_and_are_counted():
    h = Harness(ROUTE)
    try:
        assert h.vs.settings.route_memo == {}
        for rnd in range(3):
            for path, host, pool in REQUESTS:
                assert h.get(path, host) == pool, (rnd, path, host)
        memo = h.vs.settings.route_memo
        # one entry per distinct (Host, path): /b/x and /b/x?q=1 share one
        assert len(memo) == len(REQUESTS) - 1
        assert h.stats().executions == 3 * len(REQUESTS)
        assert h.stats().pool_select == 3 * sum(1 for _, _, p in REQUESTS if p != "a")
        # a run of the rules makes a Transaction; a remembered route does not
        h.client.data_received(b"GET /b/x HTTP/1.1\r\nHost: www.example\r\n\r\n")
        assert h.client.exchanges[0].tx is None and h.client.exchanges[0].pool is h.pools["b"]
    finally:
        h.close()


def test_a_chain_of_pure_rules_is_remembered_with_each_rules_counters():
    h = Harness('if (http.getMethod() == "PUT") { pool.use("b"); }', ROUTE)
    try:
        for _ in range(2):
            assert h.get("/", method="PUT") == "b"
            assert h.get("/b/1") == "b"
            assert h.get("/") == "a"
        assert h.vs.settings.route_inputs == PURE | METHOD | HOST | PATH
        assert h.stats("r0").executions == 6 and h.stats("r0").pool_select == 2
        assert h.stats("r1").executions == 4 and h.stats("r1").pool_select == 2
    finally:
        h.close()


def test_impure_rules_and_response_rules_get_no_memo():
    for h in (Harness('log.info("x"); pool.use("b");'), Harness(ROUTE, 'log.info("x");'),
              Harness(ROUTE, response_rules=['http.setResponseHeader("X", "1");'])):  # fmt: skip
        try:
            assert h.vs.settings.route_memo is None
            assert h.get("/b/x") == "b"
            h.engine.virtual_servers = {"web": h.vs}
            assert h.engine.health()["virtual_servers"]["web"]["route_memo"] is False
        finally:
            h.close()
    h = Harness(ROUTE)
    try:
        h.engine.virtual_servers = {"web": h.vs}
        assert h.engine.health()["virtual_servers"]["web"]["route_memo"] is True  # what the control socket says
    finally:
        h.close()


def test_a_rule_that_fails_for_some_requests_is_not_remembered_for_them():
    h = Harness('$n = 0; if (http.getPath() == "/boom") { $x = 10 / $n; } pool.use("b");')
    try:
        assert h.vs.settings.route_memo is not None
        for _ in range(3):
            assert h.get("/boom") == "500"
            assert h.get("/fine") == "b"
        assert list(h.vs.settings.route_memo) == [(None, b"/fine", None)]
        assert h.stats().executions == 6 and h.stats().aborts == 3
    finally:
        h.close()


def test_a_memo_that_keeps_filling_up_is_given_up(monkeypatch):
    monkeypatch.setattr(rulehooks, "ROUTE_MEMO_MAX", 4)
    monkeypatch.setattr(rulehooks, "ROUTE_MEMO_FILLS", 3)
    h = Harness(ROUTE)
    try:
        for i in range(12):
            assert h.get(f"/b/{i}") == "b"
            assert len(h.vs.settings.route_memo) <= 4
        assert h.vs.settings.route_memo_fills == 2
        assert h.get("/b/12") == "b" and h.get("/b/13") == "b" and h.get("/b/14") == "b"
        assert h.vs.settings.route_memo is None  # every request was new: not worth remembering
        assert h.get("/b/1") == "b" and h.get("/") == "a"
        assert h.stats().executions == 17
    finally:
        h.close()


def test_hits_are_counted_in_the_statistics_and_by_the_engines_tick():
    """A hit adds to its memo entry; the rules' statistics have it whenever they are read, and the once-a-second tick
    folds it in too (so a retired virtual server's hits are not lost)."""
    from proxyengine import stats as stats_mod

    h = Harness(ROUTE)
    try:
        for _ in range(5):
            assert h.get("/b/x") == "b"
        entry = next(iter(h.vs.settings.route_memo.values()))
        assert entry.hits == 4  # the first request ran the rule; the other four were hits, not yet folded
        rules = stats_mod.statistics(h.engine)["rules"]
        assert rules["r0"]["executions"] == 5 and rules["r0"]["pool_select"] == 5 and entry.hits == 0
        h.get("/b/x")
        h.engine._tick()
        h.engine._tick_handle.cancel()
        assert entry.hits == 0 and h.engine.rule_state.stats_for("r0").executions == 6
    finally:
        h.close()
