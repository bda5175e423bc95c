"""The language: every construct compiles and behaves as TrafficScript does."""

import pytest
from ts_helpers import logs, make_tx, run, value

from proxyengine.rules import EngineState, compile_rule


def test_assignment_and_concatenation():
    assert logs('$a = "x"; $b = $a . "y" . 1; log.info($b);') == ["xy1"]


def test_integer_and_float_arithmetic():
    assert value("7 / 2") == "3"
    assert value("-7 / 2") == "-3"
    assert value("7.0 / 2") == "3.5"
    assert value("7 % 3") == "1"
    assert value("-7 % 3") == "-1"
    assert value("2 * 3 + 4") == "10"
    assert value("2 * (3 + 4)") == "14"
    assert value("1.5 + 1.5") == "3"
    assert value("0x1F + 1") == "32"
    assert value("1e3") == "1000"


def test_strings_become_numbers_in_arithmetic():
    assert value('"12abc" + 1') == "13"
    assert value('"abc" + 1') == "1"
    assert value('"2.5" * 2') == "5"
    assert value('" 7" - 2') == "5"


def test_comparison_is_numeric_unless_both_are_strings():
    assert value('"10" < 9') == "0"
    assert value('"10" < "9"') == "1"
    assert value('"10" == 10') == "1"
    assert value('"10.0" == 10') == "1"
    assert value('"10.0" == "10"') == "0"
    assert value('"abc" == 0') == "1"
    assert value("1 != 2") == "1"
    assert value("2 >= 2") == "1"


def test_truthiness():
    src = """
    foreach ($v in [0, 1, "", "0", "a", 0.0, [], [1]]) {
        if ($v) { log.info("T"); } else { log.info("F"); }
    }
    $h = [=>];
    if ($h) { log.info("T"); } else { log.info("F"); }
    """
    assert logs(src) == ["F", "T", "F", "T", "T", "F", "F", "T", "F"]


def test_logical_operators_short_circuit_and_yield_numbers():
    assert value("1 && 0") == "0"
    assert value("0 || 2") == "1"
    assert value("!0") == "1"
    assert value('!"x"') == "0"
    assert logs('if (0 && log.info("never")) {} if (1 || log.info("never")) {}') == []


def test_bitwise_and_shift_operators():
    assert value("6 & 3") == "2"
    assert value("6 | 3") == "7"
    assert value("6 ^ 3") == "5"
    assert value("~0") == "-1"
    assert value("1 << 4") == "16"
    assert value("256 >> 4") == "16"


def test_ternary_and_precedence():
    assert value('1 ? "a" : "b"') == '"a"'
    assert value('0 ? "a" : 2 > 1 ? "b" : "c"') == '"b"'
    assert value("1 + 2 . 3") == '"33"'
    assert value("1 < 2 == 1") == "1"
    assert value("1 | 2 & 3") == "3"


def test_compound_assignment_and_increments():
    src = """
    $a = 10; $a += 5; $a -= 3; $a *= 2; $a /= 4; $a %= 4;
    $s = "x"; $s .= "y";
    $b = 1; $b <<= 3; $b |= 1; $b &= 9; $b ^= 1; $b >>= 1;
    $i = 5; $j = $i++; $k = ++$i; $i--; --$i;
    log.info($a . " " . $s . " " . $b . " " . $i . " " . $j . " " . $k);
    """
    assert logs(src) == ["2 xy 4 5 5 7"]


def test_chained_assignment_is_an_expression():
    assert logs('$a = $b = "v"; log.info($a . $b);') == ["vv"]


def test_if_else_if_else():
    src = """
    foreach ($n in [1, 2, 3]) {
        if ($n == 1) { log.info("one"); } else if ($n == 2) { log.info("two"); } else { log.info("many"); }
    }
    """
    assert logs(src) == ["one", "two", "many"]


def test_while_do_while_and_for():
    src = """
    $i = 0; while ($i < 3) { $i++; } log.info($i);
    $j = 0; do { $j++; } while ($j < 0); log.info($j);
    $s = ""; for ($k = 0; $k < 5; $k++) { if ($k == 1) { continue; } if ($k == 4) { break; } $s .= $k; }
    log.info($s);
    """
    assert logs(src) == ["3", "1", "023"]


def test_do_while_continue_checks_the_condition():
    assert logs("$i = 0; do { $i++; if ($i < 5) { continue; } } while ($i < 3); log.info($i);") == ["3"]


def test_foreach_over_array_and_hash_keys():
    src = """
    foreach ($v in ["a", "b"]) { log.info($v); }
    foreach ($k in ["x" => 1, "y" => 2]) { log.info($k); }
    """
    assert logs(src) == ["a", "b", "x", "y"]


def test_arrays_and_hashes_with_indexes():
    src = """
    $a = [10, 20, 30];
    $a[1] = 21; $a[4] = 50;
    $h = ["k" => "v"];
    $h["n"]["deep"] = 1;
    log.info(lang.dump($a)); log.info($a[-1]); log.info($a[9] . "|");
    log.info(lang.dump($h));
    """
    assert logs(src) == ['[ 10, 21, 30, "", 50 ]', "50", "|", '[ "k" => "v", "n" => [ "deep" => 1 ] ]']


def test_string_indexes_with_negative_offsets():
    assert value('"hello"[0]') == '"h"'
    assert value('"hello"[-1]') == '"o"'
    assert value('"hello"[10]') == '""'


def test_unset_variable_autovivifies_on_index_assignment():
    assert logs('$h["a"] = 1; $arr[0] = "x"; log.info(lang.dump($h) . lang.dump($arr));') == ['[ "a" => 1 ][ "x" ]']


def test_switch_with_default_compare():
    src = """
    foreach ($h in ["a.com", "b.com", "c.com", "d.com"]) {
        switch ($h) {
            case "a.com": log.info("A"); break;
            case "b.com", "c.com": log.info("BC");
            default: log.info("other");
        }
    }
    """
    assert logs(src) == ["A", "BC", "BC", "other"]


def test_switch_with_compare_function():
    src = """
    $host = "api.example.com";
    switch ($host, "string.wildmatch") {
        case "www.*": log.info("www");
        case "*.example.com": log.info("example");
        default: log.info("none");
    }
    switch ("/user/42", "string.regexmatch") { case "^/user/(\\\\d+)$": log.info($1); }
    """
    assert logs(src) == ["example", "42"]


def test_switch_numeric_cases_compare_numerically():
    assert logs('switch ("10") { case 10: log.info("ten"); default: log.info("no"); }') == ["ten"]


def test_continue_inside_switch_continues_the_loop():
    src = """
    for ($i = 0; $i < 4; $i++) {
        switch ($i) { case 1, 2: continue; }
        log.info($i);
    }
    """
    assert logs(src) == ["0", "3"]


def test_break_at_top_level_ends_the_rule():
    assert logs('log.info("a"); if (1) { break; } log.info("b");') == ["a"]


def test_rule_return_ends_the_rule():
    assert logs('log.info("a"); rule.return(); log.info("b");') == ["a"]


def test_return_at_top_level_ends_the_rule():
    assert logs('log.info("a"); return; log.info("b");') == ["a"]


def test_subroutines_with_local_scope_and_recursion():
    src = """
    sub fact($n) { if ($n <= 1) { return 1; } return $n * fact($n - 1); }
    sub noreturn($x) { $local = $x; }
    $local = "outer";
    log.info(fact(10)); log.info(noreturn(5) . "|" . $local);
    """
    assert logs(src) == ["3628800", "|outer"]


def test_import_another_rules_subroutines():
    lib = 'sub greet($who) { return "hello " . $who; } log.info("library top level does not run");'
    rule = compile_rule("main", 'import lib as l; log.info(l.greet("you"));', rules={"lib": lib})
    tx = make_tx()
    rule.run(tx, EngineState())
    assert [m for _, _, m in tx.logs] == ["hello you"]


def test_import_without_alias_uses_the_rule_name():
    rule = compile_rule(
        "main", "import helpers; log.info(helpers.two());", rules={"helpers": "sub two() { return 2; }"}
    )
    tx = make_tx()
    rule.run(tx, EngineState())
    assert tx.logs[0][2] == "2"


def test_regex_captures():
    src = r"""
    if (string.regexMatch("GET /a/b", "^(\\w+) /(\\w)/(\\w)")) { log.info($1 . $2 . $3 . "|" . $4 . "|" . $0); }
    """
    assert logs(src) == ["GETab||GET /a/b"]


def test_comments_and_literals():
    src = """
    # hash comment
    // line comment
    /* block
       comment */
    $s = 'single \\'quoted\\'' . "\\t\\x41\\n";
    log.info($s);
    log.info(true . false . lang.dump(nil));
    """
    assert logs(src) == ["single 'quoted'\tA\n", "10nil"]


def test_non_ascii_literals_are_utf8_bytes():
    assert value('string.length("é")') == "2"


def test_braceless_bodies_are_accepted():
    assert logs('if (1) log.info("y"); else log.info("n");') == ["y"]


def test_print_statement_logs():
    assert logs('print "a", 1;') == ["a1"]


def test_runtime_error_aborts_with_line_and_counts():
    tx = make_tx()
    state = EngineState()
    rule = compile_rule("r1", 'log.info("before");\n$x = 1;\n$y = $x / 0;\nlog.info("after");')
    rule.run(tx, state)
    assert [m for _, _, m in tx.logs] == ["before"]
    assert tx.errors[0].rule == "r1" and tx.errors[0].line == 3
    assert "division by zero" in tx.errors[0].message
    assert state.rule_stats["r1"].aborts == 1 and state.rule_stats["r1"].executions == 1


def test_error_inside_subroutine_reports_the_subroutine_line():
    tx = make_tx()
    compile_rule("r", "sub f($x) {\n  return $x % 0;\n}\nf(1);").run(tx, EngineState())
    assert tx.errors[0].line == 2


def test_endless_loop_is_stopped_by_the_budget():
    tx = make_tx()
    state = EngineState()
    state.instruction_budget = 1000
    compile_rule("loop", "while (1) { $i++; }").run(tx, state)
    assert "instruction budget" in tx.errors[0].message
    assert state.rule_stats["loop"].aborts == 1


def test_endless_recursion_aborts():
    tx = make_tx()
    compile_rule("rec", "sub f($x) { return f($x); } f(1);").run(tx, EngineState())
    assert tx.errors and tx.errors[0].line == 1


@pytest.mark.parametrize("src", ["$x = [1] + 1;", '$x = "a"; $x[0] = 1; $y = $x["k"];'])
def test_type_errors_abort_not_crash(src):
    tx = make_tx()
    compile_rule("t", src).run(tx, EngineState())  # must not raise


def test_compiled_rules_are_cached_by_digest():
    a = compile_rule("r", "$x = 1;")
    b = compile_rule("r", "$x = 1;")
    assert a.digest == b.digest and a._compiled is b._compiled


def test_run_is_independent_between_requests():
    rule = compile_rule("r", "$n = $n + 1; log.info($n);")
    for _ in range(2):
        tx = make_tx()
        rule.run(tx, EngineState())
        assert tx.logs[0][2] == "1"


def test_state_survives_between_requests_through_data():
    rule = compile_rule("r", '$n = data.get("n") + 1; data.set("n", $n); log.info($n);')
    state = EngineState()
    out = []
    for _ in range(3):
        tx, _ = run(rule.source, make_tx(), state)
        out.append(tx.logs[0][2])
    assert out == ["1", "2", "3"]


def test_per_rule_instruction_budget():
    state = EngineState()
    state.rule_budgets["tight"] = 10
    tx = make_tx()
    compile_rule("tight", "for ($i = 0; $i < 100; $i++) {}").run(tx, state)
    assert "instruction budget" in tx.errors[0].message
    tx = make_tx()
    compile_rule("roomy", "for ($i = 0; $i < 100; $i++) {}").run(tx, state)
    assert not tx.errors


def test_time_budget_stops_slow_loops():
    state = EngineState()
    state.time_budget = 0.05
    tx = make_tx()
    compile_rule("slow", '$s = ""; while (1) { $s = string.hashSHA512($s); }').run(tx, state)
    assert "ran for more than 0.05 seconds" in tx.errors[0].message
