"""The parser: each construct becomes the right node, with operator precedence as in vTM (and C)."""

import pytest

from proxyengine.rules import nodes as n
from proxyengine.rules.parser import parse


def expr(src):
    program, errors = parse(src + ";")
    assert not errors, errors
    return program.body[0].expr


def stmt(src):
    program, errors = parse(src)
    assert not errors, errors
    return program.body[0]


def shape(node):
    """A compact picture of an expression tree for assertions."""
    if isinstance(node, n.Binary | n.Logical):
        return f"({shape(node.left)} {node.op} {shape(node.right)})"
    if isinstance(node, n.Unary):
        return f"({node.op}{shape(node.operand)})"
    if isinstance(node, n.Literal):
        return repr(node.value)
    if isinstance(node, n.Var):
        return "$" + node.name
    if isinstance(node, n.Ternary):
        return f"({shape(node.cond)} ? {shape(node.then)} : {shape(node.other)})"
    if isinstance(node, n.Assign):
        return f"({shape(node.target)} {node.op} {shape(node.value)})"
    if isinstance(node, n.Index):
        return f"{shape(node.target)}[{shape(node.key)}]"
    if isinstance(node, n.Call):
        return f"{node.name}({', '.join(shape(a) for a in node.args)})"
    return type(node).__name__


@pytest.mark.parametrize(
    ("src", "tree"),
    [
        ("1 + 2 * 3", "(1 + (2 * 3))"),
        ("1 - 2 - 3", "((1 - 2) - 3)"),
        ('$a . "x" . 1', "(($a . 'x') . 1)"),
        ("1 < 2 == 3 > 4", "((1 < 2) == (3 > 4))"),
        ("$a || $b && $c", "($a || ($b && $c))"),
        ("$a | $b ^ $c & $d", "($a | ($b ^ ($c & $d)))"),
        ("1 << 2 + 3", "(1 << (2 + 3))"),
        ("!$a == $b", "((!$a) == $b)"),
        ("-$a * 2", "((-$a) * 2)"),
        ("$a ? $b : $c ? 1 : 2", "($a ? $b : ($c ? 1 : 2))"),
        ("$a = $b = 3", "($a = ($b = 3))"),
        ("$a .= $b . $c", "($a .= ($b . $c))"),
        ('$h["k"][0]', "$h['k'][0]"),
        ("string.left($s, 2 + 1)", "string.left($s, (2 + 1))"),
        ("-5", "-5"),
    ],
)
def test_precedence(src, tree):
    assert shape(expr(src)) == tree


def test_collections():
    assert isinstance(expr("[]"), n.ArrayLit)
    assert isinstance(expr("[=>]"), n.HashLit)
    assert len(expr("[1, 2, 3,]").items) == 3
    h = expr('["a" => 1, "b" => [2]]')
    assert isinstance(h, n.HashLit) and len(h.pairs) == 2


def test_increments():
    e = expr("$i++")
    assert isinstance(e, n.IncDec) and not e.prefix and e.op == "++"
    e = expr("--$i")
    assert isinstance(e, n.IncDec) and e.prefix and e.op == "--"


def test_captures():
    assert expr("$1") == n.Capture(1, 1, 1)


def test_if_else_if_chain():
    s = stmt("if (1) {} else if (2) {} else {}")
    assert isinstance(s, n.If) and isinstance(s.other, n.If) and isinstance(s.other.other, n.Block)


def test_loops():
    assert isinstance(stmt("while (1) {}"), n.While)
    assert isinstance(stmt("do {} while (1);"), n.DoWhile)
    f = stmt("for ($i = 0; $i < 3; $i++) {}")
    assert isinstance(f, n.For) and f.init and f.cond and f.step
    f = stmt("for (;;) { break; }")
    assert f.init is None and f.cond is None and f.step is None
    fe = stmt("foreach ($v in $a) {}")
    assert isinstance(fe, n.Foreach) and fe.var == "v"


def test_switch():
    s = stmt('switch ($h, "string.wildmatch") { case "a", "b": break; default: $x = 1; }')
    assert isinstance(s, n.Switch) and s.compare is not None
    assert [len(c.values) for c in s.cases] == [2, 0]


def test_sub_and_import_and_return():
    s = stmt("sub f($a, $b) { return $a; }")
    assert isinstance(s, n.Sub) and s.params == ("a", "b")
    assert isinstance(s.body.body[0], n.Return)
    i = stmt("import lib as l;")
    assert i == n.Import(1, 1, "lib", "l")
    assert stmt('import "my rule" as m;').rule == "my rule"


def test_recovery_continues_after_an_error():
    program, errors = parse("$a = ;\n$b = 2;\n$c = ;")
    assert [e.line for e in errors] == [1, 3]
    assert any(isinstance(s, n.ExprStmt) and s.line == 2 for s in program.body)
