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
