"""Rules are sandboxed: generated code reaches only the runtime library."""

import pytest
from ts_helpers import logs, make_tx

from proxyengine.rules import EngineState, compile_rule

HOSTILE = [
    '__import__("os");',
    'open("/etc/passwd");',
    "eval(1);",
    "sub __class__() { return 1; } __class__();",
    '$x = "a"; $x.__class__;',
    "exec.system(1);",
    "os.system(1);",
]


@pytest.mark.parametrize("src", HOSTILE)
def test_python_is_not_reachable(src):
    from proxyengine.rules import check_rule

    errors = check_rule("r", src)
    assert errors or "__class__" in src


def test_generated_code_has_no_builtins_attributes_or_imports():
    rule = compile_rule("r", 'sub f($a) { return $a . "x"; } $v = f(http.getPath()); http.setHeader("X", $v);')
    code = rule.python_source
    assert "import" not in code and "__" not in code.replace("b_http__", "").replace("b_string__", "")
    assert ".get" not in code  # no attribute access
    assert rule._compiled.globals["__builtins" + "__"] == {}


def test_strings_that_look_like_python_stay_strings():
    assert logs('$s = "\\"); import os; (\\""; log.info($s);') == ['"); import os; ("']


def test_variable_names_cannot_reach_helpers():
    assert logs('$c = "mine"; $_tick = 1; log.info($c);') == ["mine"]
    tx = make_tx()
    compile_rule("r", "$c = 1; $b_http__getPath = 2;").run(tx, EngineState())
    assert not tx.errors
