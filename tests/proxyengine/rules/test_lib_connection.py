"""connection.*, request.*, response.*, pool.*, rate.*, counter.*, data.*: effects the engine honours."""

import pytest
from ts_helpers import logs, make_tx, run

from proxyengine.rules import EngineState, PoolInfo, compile_rule


def pools_state():
    state = EngineState()
    state.pools["web"] = PoolInfo(
        active=["10.0.0.1:80", "10.0.0.2:80"], draining=["10.0.0.3:80"], disabled=[], failed=["10.0.0.4:80"]
    )
    state.pools["static"] = PoolInfo(active=["10.0.1.1:80"], draining=[], disabled=["10.0.1.2:80"], failed=[])
    return state


def test_pool_use_ends_the_rule_and_further_rules():
    state = pools_state()
    tx = make_tx()
    compile_rule("route", 'pool.use("web"); log.info("never");').run(tx, state)
    assert tx.pool == "web" and tx.node is None and tx.pool_used and tx.finished and not tx.logs
    assert state.rule_stats["route"].pool_select == 1


def test_pool_use_as_a_statement_returns_instead_of_raising_and_ends_the_rule_the_same():
    """In the rule's own body pool.use compiles to a variant and a ``return`` (no StopRule); in a loop, a switch,
    a subroutine or an expression it behaves as it always did: the rule ends there and the next statement never
    runs."""
    bodies = {
        'if (1) { pool.use("web"); } log.info("never");': True,
        'while (1) { Pool.Use("web"); } log.info("never");': True,
        'switch (1) { case 1: pool.use("web"); } log.info("never");': True,
        'sub go() { pool.use("web"); log.info("never"); } go(); log.info("never");': False,
        '$x = pool.use("web"); log.info("never");': False,
    }
    for source, returns in bodies.items():
        state = pools_state()
        tx = make_tx()
        rule = compile_rule("route", source)
        assert ("__then_return(c, 'web')\n" in rule.python_source) is returns, rule.python_source
        rule.run(tx, state)
        assert tx.pool == "web" and tx.pool_used and tx.finished and not tx.logs and not tx.errors, source
        assert state.rule_stats["route"].pool_select == 1
    tx = make_tx()
    compile_rule("r", 'pool.use("nope"); log.info("never");').run(tx, pools_state())
    # an aborted rule ends the request's rules too (finished), without choosing the pool
    assert "pool 'nope' does not exist" in tx.errors[0].message and tx.pool is None and not tx.pool_used
    assert tx.finished
    tx = make_tx()
    compile_rule("r", 'pool.use("web", "10.0.0.2", 80); log.info("never");').run(tx, pools_state())
    assert tx.node == "10.0.0.2:80" and tx.finished and not tx.logs


def test_pool_select_with_a_node_continues():
    tx, _ = run('pool.select("web", "10.0.0.2", 80); log.info(connection.getPool());', state=pools_state())
    assert tx.pool == "web" and tx.node == "10.0.0.2:80" and not tx.finished
    assert tx.logs[0][2] == "web"
    tx, _ = run('pool.select("web", "::1", 8080);', state=pools_state())
    assert tx.node == "[::1]:8080"


def test_unknown_pool_at_run_time_aborts():
    tx = make_tx()
    compile_rule("r", '$p = "nope"; pool.use($p);').run(tx, pools_state())
    assert "pool 'nope' does not exist" in tx.errors[0].message and tx.pool is None


def test_pool_node_queries():
    src = """
    log.info(pool.activenodes("web")); log.info(pool.drainingnodes("web"));
    log.info(pool.failednodes("web")); log.info(pool.disablednodes("static"));
    log.info(array.join(pool.listactivenodes("web"), ","));
    log.info(array.length(pool.listallnodes("web")));
    log.info(array.join(pool.listdrainingnodes("web"), ","));
    log.info(array.join(pool.listfailednodes("web"), ","));
    log.info(array.join(pool.listdisablednodes("static"), ","));
    log.info(pool.checknode("web", "10.0.0.1", 80) . pool.checknode("web", "10.0.0.4", 80));
    """
    assert logs(src, state=pools_state()) == [
        "2",
        "1",
        "1",
        "1",
        "10.0.0.1:80,10.0.0.2:80",
        "4",
        "10.0.0.3:80",
        "10.0.0.4:80",
        "10.0.1.2:80",
        "10",
    ]


def test_discard_and_close():
    state = EngineState()
    tx = make_tx()
    compile_rule("drop", "connection.discard();").run(tx, state)
    assert tx.discard and tx.finished and state.rule_stats["drop"].discards == 1
    tx, _ = run('connection.close("bye\\n");')
    assert tx.close_after and tx.response.status == 0 and tx.response.body == b"bye\n"


def test_persistence():
    tx, _ = run(
        'connection.setPersistence("sessions"); connection.setPersistenceKey(http.getCookie("id")); '
        "log.info(connection.getPersistence());",
        make_tx(headers=[("Cookie", "id=abc")]),
    )
    assert (tx.persistence_class, tx.persistence_key) == ("sessions", "abc") and tx.logs[0][2] == "sessions"
    tx, _ = run('connection.setPersistenceNode("10.0.0.1:80");')
    assert tx.persistence_node == "10.0.0.1:80"
    tx = make_tx()
    compile_rule("r", 'connection.setPersistenceNode("nonsense");').run(tx, EngineState())
    assert tx.errors


def test_connection_readers():
    src = """
    log.info(connection.getRemoteIP() . " " . connection.getRemotePort());
    log.info(connection.getLocalIP() . " " . connection.getLocalPort());
    log.info(connection.getVirtualServer()); log.info(connection.getNode() . "|");
    log.info(request.getRemoteIP() . request.getRemotePort() . request.getLocalIP() . request.getLocalPort());
    log.info(request.getDestIP() . request.getDestPort());
    """
    assert logs(src) == [
        "192.0.2.10 40000",
        "198.51.100.1 80",
        "vs1",
        "|",
        "192.0.2.1040000198.51.100.180",
        "198.51.100.180",
    ]


def test_connection_data_is_per_connection():
    tx = make_tx()
    run('connection.data.set("k", ["a" => 1]);', tx)
    tx2 = make_tx()
    tx2.connection_data = tx.connection_data
    assert logs('log.info(lang.dump(connection.data.get("k"))); log.info(connection.data.get("x") . "|");', tx2) == [
        '[ "a" => 1 ]',
        "|",
    ]


def test_connection_knobs():
    tx, _ = run(
        'connection.setBandwidthClass("slow"); connection.setServiceLevelClass("gold"); connection.sleep(250); '
        "connection.setIdempotent(1); log.info(connection.getBandwidthClass() . connection.getServiceLevelClass()); "
        'log.info(connection.checkLimits("web")); log.info(connection.getMemoryUsage() > 0);'
    )
    assert (tx.bandwidth_class, tx.service_level_class, tx.delay, tx.idempotent) == ("slow", "gold", 0.25, True)
    assert [m for _, _, m in tx.logs] == ["slowgold", "1", "1"]


def test_generic_request_data():
    tx = make_tx(protocol="generic", body=b"HELLO world\r\nline2\r\n")
    src = r"""
    log.info(request.get(5)); log.info(request.getLength());
    log.info(request.getLine("\r\n")); log.info(request.getLine("\r\n", 13));
    log.info(connection.getData(2)); log.info(connection.getDataLen()); log.info(connection.getLine(0));
    request.skip(6); log.info(request.get());
    request.set("new"); log.info(request.get());
    connection.setData("other"); log.info(request.get());
    """
    assert logs(src, tx) == [
        "HELLO",
        "20",
        "HELLO world",
        "line2",
        "HE",
        "20",
        "HELLO world\r",
        "world\r\nline2\r\n",
        "new",
        "other",
    ]


def test_generic_send_response():
    tx, state = run('request.sendResponse("+OK\\r\\n");', make_tx(protocol="generic"))
    assert tx.response.status == 0 and tx.response.body == b"+OK\r\n" and tx.finished


def test_request_knobs():
    tx, _ = run(
        "request.setMaxReplyTime(5); request.setMaxConnectionAttempts(2); request.setMaxTimedOutConnectionAttempts(1); "
        "request.setMaxTransactionDuration(9); request.setVirtualServerTimeout(30); request.setDSCP(46); "
        'request.setToS(16); request.setLogEnabled(0); request.setBandwidthClass("b"); request.setIdempotent(0); '
        'request.avoidNode("10.0.0.1:80"); request.endsAt(10); request.endsWith("\\r\\n"); '
        'request.setRemoteIP("203.0.113.9"); '
        "log.info(request.getDSCP() . request.getToS() . request.getLogEnabled() . request.getBandwidthClass() "
        ". request.getMaxTransactionDuration() . request.isResendable() . request.getRetries() . request.getRemoteIP());"
    )
    assert tx.max_reply_time == 5.0 and tx.settings["max_connection_attempts"] == 2 and tx.dscp == 46
    assert tx.avoid_nodes == ["10.0.0.1:80"] and tx.settings["request_ends_at"] == 10
    assert tx.logs[0][2] == "46160b900203.0.113.9"


def test_request_retry_in_a_response_rule():
    state = pools_state()
    tx = make_tx(response=(502, [], b""))
    tx.pool = "web"
    compile_rule("retry", 'if (http.getResponseCode() >= 500) { pool.select("static"); request.retry(); }').run(
        tx, state, phase="response"
    )
    assert tx.retry == {"pool": "static", "node": None} and tx.finished
    assert state.rule_stats["retry"].retries == 1
    tx = make_tx(response=(502, [], b""))
    compile_rule("retry2", "request.retry();").run(tx, state, phase="response")
    assert tx.retry is True
    tx = make_tx()
    compile_rule("retry3", "request.retry();").run(tx, state)
    assert "response rule" in tx.errors[0].message


def test_response_data_functions():
    tx = make_tx(response=(200, [], b"abc\ndef"))
    src = """
    log.info(response.get(2)); log.info(response.getLength()); log.info(response.getLine("\\n"));
    response.append("!"); log.info(response.get()); response.set("new"); log.info(response.get());
    response.setDSCP(10); response.setToS(4); response.setBandwidthClass("bw"); response.flush(1); response.close();
    log.info(response.getDSCP() . response.getToS() . response.getBandwidthClass());
    log.info(response.getRemoteIP() . "|" . response.getRemotePort() . "|" . response.getLocalIP() . response.getLocalPort());
    """
    tx.node = "10.0.0.1:8080"
    out = logs(src, tx, phase="response")
    assert out == ["ab", "7", "abc", "abc\ndef!", "new", "104bw", "10.0.0.1|8080|0"]
    assert tx.close_after


def test_rate_classes():
    state = EngineState()
    state.rate_classes["api"] = (2, 0)
    state.now = lambda: 1000.0
    out = [logs('log.info(rate.use.noQueue("api", "client1"));', state=state)[0] for _ in range(3)]
    assert out == ["1", "1", "0"]
    assert logs('log.info(rate.getbacklog("api", "client1"));', state=state) == ["0"]
    tx, _ = run('rate.use("api", connection.getRemoteIP());', state=state)
    assert (tx.rate_class, tx.rate_key) == ("api", "192.0.2.10")


def test_counters():
    state = EngineState()
    assert logs("log.info(counter.increment(1)); log.info(counter.increment(1, 5));", state=state) == ["1", "6"]
    assert state.counters == {1: 6}
    tx = make_tx()
    compile_rule("r", "counter.increment(0);").run(tx, state)
    assert tx.errors


def test_data_store():
    state = EngineState()
    run(
        'data.set("user:1", "a"); data.set("user:2", ["x" => 1]); data.set("other", 3); data.local.set("l", 1);',
        state=state,
    )
    assert logs(
        'log.info(data.get("user:1")); log.info(data.get("missing") . "|"); log.info(data.local.get("l"));', state=state
    ) == ["a", "|", "1"]
    run('$h = data.get("user:2"); $h["x"] = 2;', state=state)
    assert state.data["user:2"] == {"x": 1}  # values are copied in and out
    assert logs('log.info(data.remove("other")); log.info(data.remove("other"));', state=state) == ["1", "0"]
    run('data.reset("user:"); data.local.reset();', state=state)
    assert state.data == {} and state.local_data == {}
    assert logs(
        "log.info(data.getMemoryUsage() >= 0); log.info(data.getMemoryFree() > 0); "
        "log.info(data.local.getMemoryUsage() >= 0); log.info(data.local.getMemoryFree() > 0);",
        state=state,
    ) == ["1", "1", "1", "1"]


@pytest.mark.parametrize("src", ["request.setDSCP(99);", 'request.setRemoteIP("nope");', "connection.sleep(-1);"])
def test_bad_knob_values_abort(src):
    tx = make_tx()
    compile_rule("r", src).run(tx, EngineState())
    assert tx.errors
