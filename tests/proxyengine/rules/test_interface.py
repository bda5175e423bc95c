"""The interface the engine codes against."""

from proxyengine.rules import EngineState, Headers, Transaction, check_rule, compile_rule


def test_headers_are_case_insensitive_and_ordered():
    h = Headers([("Host", "a"), ("X-A", "1"), ("x-a", "2")])
    assert h.get("HOST") == "a"
    assert h.get_all("X-A") == ["1", "2"]
    h.set("x-a", "3")
    assert list(h) == [("Host", "a"), ("x-a", "3")]
    h.add("X-B", "4")
    assert h.remove("x-b") and not h.contains("X-B")


def test_compile_and_run_counts_an_execution():
    state = EngineState()
    compile_rule("r", "").run(Transaction(), state, phase="request")
    assert state.rule_stats["r"].executions == 1
    assert check_rule("r", "") == []


def test_what_the_engine_must_act_on_marks_the_transaction():
    """After the request rules the engine reads the fields it acts on there (rulehooks._run_request) only when
    ``effects`` is set (a rule that only chooses a pool leaves it unset), so every such effect must set it."""
    import pytest
    from ts_helpers import make_tx, run

    from proxyengine.rules.context import Effect

    tx, _ = run('pool.use("web");')
    assert tx.pool == "web" and not tx.effects
    tx, _ = run('$p = http.getPath(); if (string.startsWith($p, "/")) { $x = 1; }')
    assert not tx.effects
    marking = [
        "connection.discard();",
        'http.sendResponse("200 OK", "text/plain", "hi", "");',
        'http.redirect("http://example.com/");',
        'http.setPath("/other");',
        'http.setHeader("X-A", "1");',
        'connection.close("");',
        'connection.setPersistenceKey("k");',
        'connection.setPersistence("sticky");',
        'rate.use("api");',
        "connection.sleep(10);",
        'log.info("x");',
        'event.emit("ev", "message");',
        'request.avoidNode("10.0.0.1:80");',
        "request.setToS(16);",
        'http.setResponseHeader("X-B", "2");',
    ]
    for source in marking:
        tx = make_tx()
        compile_rule("r", source).run(tx, EngineState())
        assert not tx.errors, (source, tx.errors)
        assert tx.effects, source
    tx = make_tx()
    compile_rule("r", "$x = 1 / 0;").run(tx, EngineState())  # an aborted rule
    assert tx.errors and tx.effects and tx.finished
    # the fields the engine's slow path reads are Effects (or added to by a method that marks)
    for name in ("response", "discard", "close_after", "request_changed", "persistence_key", "persistence_class",
                 "rate_class", "delay"):
        assert isinstance(Transaction.__dict__[name], Effect), name
    with pytest.raises(AttributeError):
        Transaction().errors.append  # noqa: B018 (immutable until add_error)
