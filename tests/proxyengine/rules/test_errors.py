"""Golden compile errors: every problem is reported with the rule name, line, column and a clear message."""

import pytest

from proxyengine.rules import RuleCompileError, RuleError, check_rule, compile_rule

GOLDEN = [
    ('http.setHeader("X");', [(1, 1, "http.setHeader expects 2 arguments, got 1")]),
    ("ssl.clientCertDN();", [(1, 1, "function ssl.clientCertDN is not supported")]),
    (
        'x = 1;\n  geo.getCountry("1.2.3.4");',
        [
            (1, 3, "expected '(' to call 'x', found '=' (a variable is written '$x')"),
            (2, 3, "function geo.getCountry is not supported"),
        ],
    ),
    ('pool.use("web2");', [(1, 10, "pool 'web2' does not exist")]),
    ('pool.select("web", "10.0.0.1", 80);', []),
    (
        "$x = ;\n$y = 1\nlog.info(1);",
        [(1, 6, "expected an expression, found ';'"), (2, 7, "expected ';' after the statement, found 'log'")],
    ),
    ("if ($x { }", [(1, 8, "expected ')' to close the 'if' condition, found '{'")]),
    ("foo();", [(1, 1, "unknown function or subroutine 'foo'")]),
    ('http.getHeaderz("a");', [(1, 1, "unknown function http.getHeaderz (did you mean http.getHeader?)")]),
    ('log.info(1);\n$x = "abc;', [(2, 6, "unterminated string")]),
    ("sub f($a) { return 1; }\nf(1, 2);", [(2, 1, "subroutine f expects 1 argument, got 2")]),
    ("continue;", [(1, 1, "'continue' outside a loop")]),
    ("switch ($x, $y) { case 1: }", [(1, 13, "the switch compare function must be a function name in quotes")]),
    ("import nothere as n;", [(1, 1, "imported rule 'nothere' does not exist")]),
    ("while (1) { sub g() {} }", [(1, 13, "a subroutine must be at the top level of the rule")]),
    ("}", [(1, 1, "unexpected '}' with no block to close")]),
    ('if (1) { log.info("x");', [(1, 24, "expected '}' to close the block opened at line 1, found end of rule")]),
    ('string.regexMatch("a");', [(1, 1, "string.regexMatch expects 2 to 3 arguments, got 1")]),
    ("string.append();", [(1, 1, "string.append expects at least 1 argument, got 0")]),
    ("$a = [1, 2;", [(1, 11, "expected ']' to close the array, found ';'")]),
    ("$x = $12;", [(1, 6, "'$12' is not a regex capture: use $0 to $9")]),
    ("sub f() {}\nsub f() {}", [(2, 1, "subroutine 'f' is defined twice")]),
    ("switch (1) { default: default: }", [(1, 23, "a 'switch' can have only one 'default'")]),
    ("foreach (1 in $a) {}", [(1, 10, "expected a variable after 'foreach (', found '1'")]),
    ('$a = "x" $b = 1;', [(1, 10, "expected ';' after the statement, found '$b'")]),
    ("$x = 1 +;", [(1, 9, "expected an expression, found ';'")]),
    ("do { } while (1)", [(1, 17, "expected ';' after 'do ... while (...)', found end of rule")]),
    ("$f()[0] = 1;", [(1, 3, "expected ';' after the statement, found '('")]),
    ("lang.toInt(1)++;", [(1, 14, "'++' needs a variable")]),
    ("5 = $x;", [(1, 3, "cannot assign to this expression with '='")]),
]


@pytest.mark.parametrize(("source", "expected"), GOLDEN, ids=[g[0][:30] for g in GOLDEN])
def test_golden_errors(source, expected):
    errors = check_rule("r", source, pools={"web"})
    assert [(e.line, e.column, e.message) for e in errors] == expected
    assert all(e.rule == "r" for e in errors)


def test_all_errors_are_reported_not_just_the_first():
    src = 'geo.getCountry("1.2.3.4");\nxml.validate.dtd("a", "b");\nhttp.setHeader(1);\npool.use("nope");'
    errors = check_rule("many", src, pools=set())
    assert [(e.line, e.message) for e in errors] == [
        (1, "function geo.getCountry is not supported"),
        (2, "function xml.validate.dtd is not supported"),
        (3, "http.setHeader expects 2 arguments, got 1"),
        (4, "pool 'nope' does not exist"),
    ]


@pytest.mark.parametrize("family", ["ssl", "sip", "rtsp", "glb", "geo", "xml", "java", "auth", "tcp"])
def test_left_out_families_are_a_clear_compile_error(family):
    errors = check_rule("r", f"{family}.anything();")
    assert errors[0].message == f"function {family}.anything is not supported"


def test_compile_rule_raises_with_the_error_list():
    with pytest.raises(RuleCompileError) as info:
        compile_rule("bad", "http.setHeader();")
    assert info.value.errors == [RuleError("bad", 1, 1, "http.setHeader expects 2 arguments, got 0")]
    assert "bad:1:1" in str(info.value)


def test_pool_names_are_not_checked_without_a_pool_list():
    assert check_rule("r", 'pool.use("anything");') == []


def test_pool_names_from_variables_are_checked_at_run_time_only():
    assert check_rule("r", '$p = "nope"; pool.use($p);', pools={"web"}) == []


def test_function_names_match_without_case():
    assert check_rule("r", 'http.getheader("Host"); STRING.LOWERCASE("A");') == []


def test_imported_rule_with_errors_is_reported_at_the_import():
    errors = check_rule("r", "import lib;", rules={"lib": "sub f( {"})
    assert errors[0].line == 1 and errors[0].message.startswith("imported rule 'lib' has errors: line 1:")


def test_import_cycle_is_an_error():
    errors = check_rule("a", "import b;", rules={"a": "import b;", "b": "import a;"})
    assert "imports itself" in errors[0].message


@pytest.mark.parametrize(
    "src",
    [
        "$x = " + "(" * 300 + "1" + ")" * 300 + ";",
        "$x = " + "[" * 300 + "]" * 300 + ";",
        "if (1) {" * 300 + "}" * 300,
        "$x = " + "- " * 500 + "1;",
        "$x = " + "!" * 500 + "1;",
        "$a = " * 500 + "1;",
    ],
    ids=["parens", "arrays", "blocks", "minus", "not", "assign"],
)
def test_deep_nesting_is_an_error_not_a_crash(src):
    errors = check_rule("deep", src)
    assert errors and "too deeply nested" in errors[0].message


def test_long_flat_rules_compile():
    src = "\n".join(f'if ($x == "{i}") {{ $y = {i}; }}' for i in range(2000))
    assert check_rule("long", src) == []
    assert check_rule("longexpr", "$x = " + " . ".join(["$y"] * 100) + ";") == []
    errors = check_rule("toolong", "$x = " + " + ".join(["$y"] * 3000) + ";")
    assert errors and "too" in errors[0].message


def test_non_ascii_identifier_is_rejected_cleanly():
    errors = check_rule("r", "$x² = 1;")
    assert errors and errors[0].message.startswith("unexpected character")
