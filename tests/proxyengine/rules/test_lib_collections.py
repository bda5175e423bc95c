"""array.*, hash.*, json.*, lang.*, math.*: every function with its edge cases."""

import pytest
from ts_helpers import logs, make_tx, value

from proxyengine.rules import EngineState, compile_rule

CASES = [
    ("array.length([1, 2, 3])", "3"),
    ("array.append([1], [2, 3])", "[ 1, 2, 3 ]"),
    ('array.contains([1, "a"], "a")', "1"),
    ('array.contains([1, 2], "1")', "1"),
    ("array.contains([1, 2], 5)", "0"),
    ("array.copy([1, [2]])", "[ 1, [ 2 ] ]"),
    ("array.create(3)", '[ "", "", "" ]'),
    ("array.create(2, 0)", "[ 0, 0 ]"),
    ('array.filter(["apple", "Banana", "cherry"], "an")', '[ "Banana" ]'),
    ('array.filter(["apple", "Banana"], "^b", "i")', '[ "Banana" ]'),
    ('array.filter(["apple", "Banana"], "^b", "iv")', '[ "apple" ]'),
    ('array.join(["a", 1, "b"], "-")', '"a-1-b"'),
    ('array.join(["a", "b"])', '"a b"'),
    ("array.reverse([1, 2, 3])", "[ 3, 2, 1 ]"),
    ('array.sort(["b", "a", "10", "9"])', '[ "10", "9", "a", "b" ]'),
    ('array.sort(["a", "b"], 1)', '[ "b", "a" ]'),
    ('array.sortNumerical(["10", "9", 1.5])', '[ 1.5, "9", "10" ]'),
    ("array.sortNumerical([1, 3, 2], 1)", "[ 3, 2, 1 ]"),
    ("array.resize([1, 2, 3], 1)", "[ 1 ]"),
    ('array.resize([1], 3, "x")', '[ 1, "x", "x" ]'),
    ('hash.count(["a" => 1, "b" => 2])', "2"),
    ('hash.contains(["a" => 1], "a")', "1"),
    ('hash.contains(["a" => 1], "b")', "0"),
    ('hash.keys(["b" => 1, "a" => 2])', '[ "b", "a" ]'),
    ('hash.values(["b" => 1, "a" => 2])', "[ 1, 2 ]"),
    ('hash.empty(["a" => 1])', "[  ]"),
    ('json.serialize(["a" => [1, 2.5, "x"], "b" => ["c" => 1]])', '"{\\"a\\":[1,2.5,\\"x\\"],\\"b\\":{\\"c\\":1}}"'),
    ('json.deserialize("{\\"a\\": [1, true, null, \\"x\\"]}")', '[ "a" => [ 1, 1, nil, "x" ] ]'),
    ('lang.toInt("42abc")', "42"),
    ('lang.toInt("0x1f")', "31"),
    ("lang.toInt(3.9)", "3"),
    ("lang.toInt(-3.9)", "-3"),
    ('lang.toInt("abc")', "0"),
    ('lang.toDouble("2.5")', "2.5"),
    ("lang.toDouble(2)", "2"),
    ("lang.toString(12)", '"12"'),
    ("lang.toString(0.5)", '"0.5"'),
    ('lang.toArray(1, "a")', '[ 1, "a" ]'),
    ("lang.toArray()", "[  ]"),
    ('lang.toHash("a", 1, "b", 2)', '[ "a" => 1, "b" => 2 ]'),
    ("lang.isarray([1])", "1"),
    ('lang.isarray("x")', "0"),
    ("lang.ishash([=>])", "1"),
    ("lang.ishash([])", "0"),
    ("lang.chr(65)", '"A"'),
    ("lang.tochar(97)", '"a"'),
    ('lang.ord("A")', "65"),
    ('lang.ord("")', "0"),
    ("lang.max(3, 7)", "7"),
    ('lang.max("10", 9)', '"10"'),
    ("lang.min(3, 7)", "3"),
    ('lang.dump(["a" => [1, "x"], "b" => nil])', '"[ \\"a\\" => [ 1, \\"x\\" ], \\"b\\" => nil ]"'),
    ("math.ceil(1.2)", "2"),
    ("math.floor(-1.2)", "-2"),
    ("math.rint(2.6)", "3"),
    ("math.fabs(-3.5)", "3.5"),
    ("math.sqrt(16)", "4"),
    ("math.pow(2, 10)", "1024"),
    ("math.pow(4, 0.5)", "2"),
    ("math.exp(0)", "1"),
    ("math.ln(1)", "0"),
    ("math.log(1000)", "3"),
    ("math.sin(0)", "0"),
    ("math.cos(0)", "1"),
    ("math.tan(0)", "0"),
    ("math.asin(0)", "0"),
    ("math.acos(1)", "0"),
    ("math.atan(0)", "0"),
]


@pytest.mark.parametrize(("expr", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_function(expr, expected):
    assert value(expr) == expected


def test_array_stack_and_queue_functions_change_the_array():
    src = """
    $a = [1, 2];
    log.info(array.push($a, 3)); log.info(array.pop($a)); log.info(array.shift($a));
    log.info(array.unshift($a, 0)); log.info(lang.dump($a));
    $e = []; log.info(array.pop($e) . "|" . array.shift($e));
    """
    assert logs(src) == ["3", "3", "1", "2", "[ 0, 2 ]", "|"]


def test_array_splice_removes_and_inserts():
    src = """
    $a = [1, 2, 3, 4, 5];
    $removed = array.splice($a, 1, 2, "x", ["y", "z"]);
    log.info(lang.dump($removed)); log.info(lang.dump($a));
    $b = [1, 2, 3]; array.splice($b, -1, 1); log.info(lang.dump($b));
    """
    assert logs(src) == ["[ 2, 3 ]", '[ 1, "x", "y", "z", 4, 5 ]', "[ 1, 2 ]"]


def test_hash_delete_returns_the_value():
    assert logs('$h = ["a" => 1]; log.info(hash.delete($h, "a")); log.info(hash.count($h));') == ["1", "0"]


def test_integer_and_string_hash_keys_are_the_same_key():
    assert logs('$h[1] = "x"; log.info($h["1"]);') == ["x"]


def test_arrays_are_shared_until_copied():
    src = "$a = [1]; $b = $a; $c = array.copy($a); array.push($b, 2); log.info(array.length($a) . array.length($c));"
    assert logs(src) == ["21"]


@pytest.mark.parametrize(
    "src",
    [
        "array.length(1);",
        'hash.keys("x");',
        'json.deserialize("{bad");',
        'lang.assert(0, "boom");',
        "math.sqrt(-1);",
        "math.random(0);",
        "lang.toHash(1);",
    ],
)
def test_bad_arguments_abort_the_rule(src):
    tx = make_tx()
    compile_rule("r", src).run(tx, EngineState())
    assert tx.errors and tx.errors[0].line == 1


def test_lang_assert_passes_and_warn_logs():
    from ts_helpers import run

    tx, _ = run('lang.assert(1, "fine"); lang.warn("careful");')
    assert tx.logs == [("warn", "test", "careful")]


def test_math_random_is_in_range():
    for _ in range(20):
        assert 0 <= int(value("math.random(5)")) < 5
