"""Compiles a TrafficScript syntax tree to Python source, then to a code object.

The generated module defines ``_rule(c)`` and one function per subroutine. It is executed with empty
``__builtins__`` and a globals dict holding only the runtime helpers and the library functions the rule
calls, and it never uses attribute access or imports: user-chosen names are prefixed (``v_`` for
variables, ``s_`` for subroutines) so they cannot reach anything else. Loops and subroutine calls charge
an instruction budget. Each generated line remembers the rule line it came from, so a runtime error
can be reported at the rule's line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from . import nodes as n
from .context import RuleError
from .parser import parse
from .runtime import HELPERS, REGISTRY, UNSUPPORTED_FAMILIES, Builtin
from .runtime.core import ENDS_RULE, ENDS_RULE_KNOWN_POOL, INF, lookup

BINOP_HELPERS = {
    "+": "_add",
    "-": "_sub",
    "*": "_mul",
    "/": "_div",
    "%": "_mod",
    ".": "_cat",
    "&": "_band",
    "|": "_bor",
    "^": "_bxor",
    "<<": "_shl",
    ">>": "_shr",
}
CMP_HELPERS = {"==": "_eq", "!=": "_ne", "<": "_lt", "<=": "_le", ">": "_gt", ">=": "_ge"}
INT_SAFE = {"+", "-", "*", "&", "|", "^"}
NUMERIC_TYPES = {"int", "float", "num"}
FOLDED_NAMES = {name.lower(): name for name in REGISTRY}


class CompileFailed(Exception):
    def __init__(self, errors: list[RuleError]) -> None:
        super().__init__("; ".join(map(str, errors)))
        self.errors = errors


@dataclass
class Compiled:
    """The output of compiling one rule: Python source, its code object, globals and the line map."""

    python_source: str
    code: Any
    globals: dict[str, Any]
    linemap: list[tuple[int, int]]
    filename: str


@dataclass
class Scope:
    """One Python function being generated: the rule's top level or a subroutine."""

    name: str
    is_sub: bool
    params: tuple[str, ...] = ()
    vartypes: dict[str, str] = field(default_factory=dict)
    loops: list[dict] = field(default_factory=list)
    uses_cont: bool = False
    tmp: int = 0


@dataclass
class Namespace:
    """Subroutines visible to one rule: its own and those of the rules it imports, by alias."""

    prefix: str
    subs: dict[str, n.Sub] = field(default_factory=dict)
    imports: dict[str, Namespace] = field(default_factory=dict)

    def py_name(self, sub: str) -> str:
        return f"s{self.prefix}_{sub}"


def _py_builtin_name(name: str) -> str:
    return "b_" + name.replace(".", "__")


class Compiler:
    def __init__(self, rule: str, *, pools: set[str] | None = None, rules: dict[str, str] | None = None) -> None:
        self.rule = rule
        self.pools = pools
        self.rules = rules
        self.errors: list[RuleError] = []
        self.lines: list[str] = []
        self.linemap: list[tuple[int, int]] = []
        self.globals: dict[str, Any] = {"__builtins__": {}}
        self.indent = 0
        self.scope: Scope = Scope("_rule", False)
        self.ns: Namespace = Namespace("")
        self.cur_node: n.Node | None = None
        self.import_stack: list[str] = []

    # errors and emission

    def error(self, node: n.Node, message: str) -> None:
        self.errors.append(RuleError(self.rule, node.line, node.col, message))

    def emit(self, text: str, node: n.Node | None = None) -> None:
        node = node or self.cur_node
        self.lines.append("    " * self.indent + text)
        self.linemap.append((node.line, node.col) if node else (1, 1))

    @contextmanager
    def indented(self) -> Iterator[None]:
        self.indent += 1
        start = len(self.lines)
        yield
        if len(self.lines) == start:
            self.emit("pass")
        self.indent -= 1

    def helper(self, name: str) -> str:
        self.globals[name] = HELPERS[name]
        return name

    def new_tmp(self) -> str:
        self.scope.tmp += 1
        return f"_t{self.scope.tmp}"

    # entry point

    def compile_source(self, source: str) -> Compiled:
        program, parse_errors = parse(source)
        for err in _without_cascades(parse_errors):
            self.errors.append(RuleError(self.rule, err.line, err.col, err.message))
        self.ns = self.collect_namespace(program, "", [self.rule])
        self.emit_namespace(self.ns)
        top = [s for s in program.body if not isinstance(s, n.Sub | n.Import)]
        self.emit_function(Scope("_rule", False), top, program)
        if self.errors:
            raise CompileFailed(sorted(set(self.errors), key=lambda e: (e.line, e.column, e.message)))
        source_py = "\n".join(self.lines) + "\n"
        filename = f"<trafficscript {self.rule}>"
        try:
            code = compile(source_py, filename, "exec")
        except (SyntaxError, RecursionError, MemoryError) as exc:
            # Only limits of Python's own compiler end up here (our output is otherwise valid Python).
            lineno = getattr(exc, "lineno", None) or 1
            line, col = self.linemap[min(lineno, len(self.linemap)) - 1] if self.linemap else (1, 1)
            raise CompileFailed([RuleError(self.rule, line, col, "statement is too complex to compile")]) from None
        return Compiled(source_py, code, self.globals, self.linemap, filename)

    # subroutines and imports

    def collect_namespace(self, program: n.Program, prefix: str, chain: list[str]) -> Namespace:
        ns = Namespace(prefix)
        for stmt in program.body:
            if isinstance(stmt, n.Sub):
                if stmt.name in ns.subs:
                    self.error(stmt, f"subroutine '{stmt.name}' is defined twice")
                ns.subs[stmt.name] = stmt
            elif isinstance(stmt, n.Import):
                ns.imports[stmt.alias] = self.load_import(stmt, f"{prefix}_{len(ns.imports)}", chain)
        self.check_nested_subs(program.body, top=True)
        return ns

    def check_nested_subs(self, body: tuple[n.Node, ...], top: bool) -> None:
        for stmt in body:
            if isinstance(stmt, n.Sub | n.Import) and not top:
                kind = "a subroutine" if isinstance(stmt, n.Sub) else "an import"
                self.error(stmt, f"{kind} must be at the top level of the rule")
            for child in _child_blocks(stmt):
                self.check_nested_subs(child, top=False)

    def load_import(self, stmt: n.Import, prefix: str, chain: list[str]) -> Namespace:
        if stmt.rule in chain:
            self.error(stmt, f"rule '{stmt.rule}' imports itself (through {' -> '.join(chain)})")
            return Namespace(prefix)
        source = (self.rules or {}).get(stmt.rule)
        if source is None:
            self.error(stmt, f"imported rule '{stmt.rule}' does not exist")
            return Namespace(prefix)
        program, errs = parse(source)
        if errs:
            first = errs[0]
            self.error(stmt, f"imported rule '{stmt.rule}' has errors: line {first.line}: {first.message}")
            return Namespace(prefix)
        return self.collect_namespace(program, prefix, [*chain, stmt.rule])

    def emit_namespace(self, ns: Namespace) -> None:
        for sub_ns in ns.imports.values():
            self.emit_namespace(sub_ns)
        outer = self.ns
        self.ns = ns
        for sub in ns.subs.values():
            self.emit_function(Scope(ns.py_name(sub.name), True, sub.params), list(sub.body.body), sub)
        self.ns = outer

    # functions

    def emit_function(self, scope: Scope, body: list[n.Node], node: n.Node) -> None:
        self.scope = scope
        self.cur_node = node
        names: dict[str, None] = {}
        _collect_vars(body, names)
        for p in scope.params:
            names.pop(p, None)
        scope.vartypes = {name: "any" for name in scope.params}
        scope.vartypes.update({name: "str" for name in names})
        self.infer_types(scope, body)
        params = ", ".join(["c", *(f"v_{p}" for p in scope.params)])
        self.emit(f"def {scope.name}({params}):", node)
        with self.indented():
            if scope.is_sub:
                self.emit(f"{self.helper('_tick')}(c)", node)
            if names:
                self.emit(" = ".join(f"v_{v}" for v in names) + ' = ""', node)
            mark = len(self.lines)
            self.statements(body)
            if scope.uses_cont:
                self.lines.insert(mark, "    " * self.indent + "_cont = False")
                self.linemap.insert(mark, (node.line, node.col))
            if scope.is_sub:
                self.emit('return ""', node)
        self.emit("", node)

    def infer_types(self, scope: Scope, body: list[n.Node]) -> None:
        # A variable is known to be a string if every assignment stores a string; that lets comparisons
        # and concatenations on it compile to plain Python operators. Demote until nothing changes.
        assigns: list[tuple[str, n.Node | str]] = []
        _collect_assigns(body, assigns)
        changed = True
        while changed:
            changed = False
            for name, value in assigns:
                if scope.vartypes.get(name) != "str":
                    continue
                kind = value if isinstance(value, str) else self.static_type(value)
                if kind != "str":
                    scope.vartypes[name] = "any"
                    changed = True

    def static_type(self, node: n.Node) -> str:
        saved = (self.lines, self.linemap, self.errors, dict(self.globals), self.scope.tmp)
        self.lines, self.linemap, self.errors = [], [], []
        try:
            _, kind = self.expr(node)
        finally:
            self.lines, self.linemap, self.errors, self.globals, self.scope.tmp = (
                saved[0],
                saved[1],
                saved[2],
                saved[3],
                saved[4],
            )
        return "str" if kind == "str" else "any"

    # statements

    def statements(self, body: list[n.Node] | tuple[n.Node, ...]) -> None:
        for stmt in body:
            self.statement(stmt)

    def statement(self, stmt: n.Node) -> None:
        self.cur_node = stmt
        method = getattr(self, f"stmt_{type(stmt).__name__}")
        method(stmt)

    def stmt_Sub(self, stmt: n.Sub) -> None:
        pass  # hoisted; nested ones are reported by check_nested_subs

    def stmt_Import(self, stmt: n.Import) -> None:
        pass

    def stmt_Block(self, stmt: n.Block) -> None:
        self.statements(stmt.body)

    def stmt_ExprStmt(self, stmt: n.ExprStmt) -> None:
        expr = stmt.expr
        if isinstance(expr, n.Assign):
            self.assign(expr)
        elif isinstance(expr, n.IncDec):
            self.assign(
                n.Assign(expr.line, expr.col, expr.target, "+=" if expr.op == "++" else "-=", n.Literal(0, 0, 1))
            )
        else:
            code, _ = self.expr(expr)
            ending = self.ends_rule(expr, code)
            if ending is not None:
                self.emit(ending, stmt)
                self.emit("return", stmt)
            else:
                self.emit(code, stmt)

    def ends_rule(self, call: n.Node, code: str) -> str | None:
        """``code`` calling the variant of a library function that ends the rule without raising StopRule, when
        ``call`` is such a function called in the rule's own body (a ``return`` there ends the rule; in a
        subroutine it would not); None otherwise."""
        if self.scope.is_sub or not isinstance(call, n.Call) or "." not in call.name:
            return None
        if call.name.partition(".")[0] in self.ns.imports:
            return None
        builtin = lookup(call.name)
        variant = ENDS_RULE.get(builtin.name) if builtin is not None else None
        pyname = _py_builtin_name(builtin.name) if variant is not None else ""
        if variant is None or not code.startswith(pyname + "("):
            return None
        args = call.args
        known = ENDS_RULE_KNOWN_POOL.get(builtin.name)
        if (known is not None and self.pools is not None and len(args) == 1 and isinstance(args[0], n.Literal)
                and isinstance(args[0].value, str) and args[0].value in self.pools):  # fmt: skip
            name = pyname + "__known_then_return"
            self.globals[name] = known
            return f"{name}(c, {args[0].value!r})"
        name = pyname + "__then_return"
        self.globals[name] = variant
        return name + code[len(pyname) :]

    def stmt_Print(self, stmt: n.Print) -> None:
        args = ", ".join(self.value(a) for a in stmt.args)
        self.emit(f"{self.helper('_print')}(c, {args})", stmt)

    def stmt_If(self, stmt: n.If, keyword: str = "if") -> None:
        self.emit(f"{keyword} {self.cond(stmt.cond)}:", stmt)
        with self.indented():
            self.statements(stmt.then.body)
        other = stmt.other
        if isinstance(other, n.If):
            self.cur_node = other
            self.stmt_If(other, "elif")
        elif isinstance(other, n.Block) and other.body:
            self.emit("else:", other)
            with self.indented():
                self.statements(other.body)

    def loop_body(self, body: tuple[n.Node, ...], node: n.Node, cont_prefix: list[n.Node | str]) -> None:
        self.scope.loops.append({"kind": "loop", "prefix": cont_prefix})
        self.emit(f"{self.helper('_tick')}(c)", node)
        self.statements(body)
        self.scope.loops.pop()

    def stmt_While(self, stmt: n.While) -> None:
        self.emit(f"while {self.cond(stmt.cond)}:", stmt)
        with self.indented():
            self.loop_body(stmt.body.body, stmt, [])

    def stmt_DoWhile(self, stmt: n.DoWhile) -> None:
        check = f"if not ({self.cond(stmt.cond)}): break"
        self.emit("while True:", stmt)
        with self.indented():
            self.loop_body(stmt.body.body, stmt, [check])
            self.emit(check, stmt)

    def stmt_For(self, stmt: n.For) -> None:
        if stmt.init is not None:
            self.statement(n.ExprStmt(stmt.init.line, stmt.init.col, stmt.init))
        step: list[n.Node | str] = [] if stmt.step is None else [n.ExprStmt(stmt.step.line, stmt.step.col, stmt.step)]
        self.emit("while True:", stmt)
        with self.indented():
            if stmt.cond is not None:
                self.emit(f"if not ({self.cond(stmt.cond)}): break", stmt)
            self.loop_body(stmt.body.body, stmt, step)
            for s in step:
                self.statement(s)

    def stmt_Foreach(self, stmt: n.Foreach) -> None:
        self.emit(f"for v_{stmt.var} in {self.helper('_iter')}({self.value(stmt.iterable)}):", stmt)
        with self.indented():
            self.loop_body(stmt.body.body, stmt, [])

    def stmt_Switch(self, stmt: n.Switch) -> None:
        subject = self.new_tmp()
        self.emit(f"{subject} = {self.value(stmt.subject)}", stmt)
        compare = self.switch_compare(stmt)
        entry = {"kind": "switch", "breaks": False, "conts": False}
        self.scope.loops.append(entry)
        mark, indent = len(self.lines), self.indent
        self.indent += 1  # provisionally inside "for _once in _ONCE:"; removed if no break needs it
        first = True
        default: n.Case | None = None
        for case in stmt.cases:
            if not case.values:
                default = case
                continue
            tests = " or ".join(compare(subject, v) for v in case.values)
            self.emit(f"{'if' if first else 'elif'} {tests}:", case)
            first = False
            with self.indented():
                self.statements(case.body)
        if default is not None:
            if first:
                self.statements(default.body)
            else:
                self.emit("else:", default)
                with self.indented():
                    self.statements(default.body)
        self.indent = indent
        self.scope.loops.pop()
        if entry["breaks"] or entry["conts"]:
            self.lines.insert(mark, "    " * indent + f"for _once in {self.helper('_ONCE')}:")
            self.linemap.insert(mark, (stmt.line, stmt.col))
            if len(self.lines) == mark + 1:
                self.emit("    pass", stmt)
        else:
            self.lines[mark:] = [line[4:] for line in self.lines[mark:]]
        if entry["conts"]:
            self.emit("if _cont:", stmt)
            with self.indented():
                self.continue_from(len(self.scope.loops), stmt)

    def switch_compare(self, stmt: n.Switch):
        if stmt.compare is None:
            eq = self.helper("_eq")

            def default_compare(subject: str, value: n.Node) -> str:
                code, kind = self.expr(value)
                if kind == "str" and isinstance(value, n.Literal):
                    return f"{eq}({subject}, {code})"
                return f"{eq}({subject}, {self.as_value(code, kind)})"

            return default_compare
        if not (isinstance(stmt.compare, n.Literal) and isinstance(stmt.compare.value, str)):
            self.error(stmt.compare, "the switch compare function must be a function name in quotes")
            return lambda subject, value: "False"
        fname = stmt.compare.value
        call = self.resolve_call(n.Call(stmt.compare.line, stmt.compare.col, fname, ()), 2)
        if call is None:
            return lambda subject, value: "False"
        return lambda subject, value: f"{call}{subject}, {self.value(value)})"

    def stmt_Break(self, stmt: n.Break) -> None:
        loops = self.scope.loops
        if not loops:
            self.emit('return ""' if self.scope.is_sub else "return", stmt)
            return
        if loops[-1]["kind"] == "switch":
            loops[-1]["breaks"] = True
        self.emit("break", stmt)

    def stmt_Continue(self, stmt: n.Continue) -> None:
        if not any(entry["kind"] == "loop" for entry in self.scope.loops):
            self.error(stmt, "'continue' outside a loop")
            return
        self.continue_from(len(self.scope.loops), stmt)

    def continue_from(self, depth: int, stmt: n.Node) -> None:
        """Emit a TrafficScript ``continue`` as seen from loop-stack depth ``depth``."""
        entry = self.scope.loops[depth - 1]
        if entry["kind"] == "switch":
            entry["conts"] = True
            self.scope.uses_cont = True
            self.emit("_cont = True", stmt)
            self.emit("break", stmt)
            return
        if self.scope.uses_cont:
            self.emit("_cont = False", stmt)
        saved = self.scope.loops
        self.scope.loops = saved[:depth]
        try:
            for item in entry["prefix"]:
                if isinstance(item, str):
                    self.emit(item, stmt)
                else:
                    self.statement(item)
        finally:
            self.scope.loops = saved
        self.emit("continue", stmt)

    def stmt_Return(self, stmt: n.Return) -> None:
        if not self.scope.is_sub:
            if stmt.value is not None:
                self.emit(self.value(stmt.value), stmt)
            self.emit("return", stmt)
            return
        self.emit(f"return {self.value(stmt.value) if stmt.value is not None else chr(34) * 2}", stmt)

    # assignment

    def assign(self, node: n.Assign) -> None:
        target = node.target
        if isinstance(target, n.Var):
            self.emit(f"v_{target.name} = {self.assigned_value(node, f'v_{target.name}', target)}", node)
            return
        base, keys = _index_chain(target)
        if not isinstance(base, n.Var):
            self.error(target, "can only assign to an element of a variable")
            return
        keycode = "(" + "".join(f"{self.value(k)}, " for k in keys) + ")"
        if node.op == "=":
            value = self.value(node.value)
            self.emit(f"v_{base.name} = {self.helper('_setpath')}(v_{base.name}, {keycode}, {value})", node)
            return
        tmp = self.new_tmp()
        self.emit(f"{tmp} = {keycode}", node)
        current = f"{self.helper('_getpath')}(v_{base.name}, {tmp})"
        value = self.assigned_value(node, current, None)
        self.emit(f"v_{base.name} = {self.helper('_setpath')}(v_{base.name}, {tmp}, {value})", node)

    def assigned_value(self, node: n.Assign, current: str, target: n.Var | None) -> str:
        if node.op == "=":
            return self.value(node.value)
        op = node.op[:-1]
        code, kind = self.expr(node.value)
        left_kind = self.scope.vartypes.get(target.name, "any") if target is not None else "any"
        return self.binop_code(op, current, left_kind, self.as_value(code, kind), kind)[0]

    # expressions: expr() returns (python code, static type); "pybool" code is a Python bool

    def value(self, node: n.Node) -> str:
        code, kind = self.expr(node)
        return self.as_value(code, kind)

    def as_value(self, code: str, kind: str) -> str:
        return f"(1 if {code} else 0)" if kind == "pybool" else code

    def cond(self, node: n.Node) -> str:
        code, _ = self.expr(node)
        return code  # Python truthiness matches TrafficScript's: 0, 0.0, "", [] and {} are false

    def expr(self, node: n.Node) -> tuple[str, str]:
        return getattr(self, f"expr_{type(node).__name__}")(node)

    def expr_Literal(self, node: n.Literal) -> tuple[str, str]:
        v = node.value
        if v is None:
            return "None", "any"
        if isinstance(v, str):
            return repr(v), "str"
        return repr(v), "int" if isinstance(v, int) else "float"

    def expr_Var(self, node: n.Var) -> tuple[str, str]:
        return f"v_{node.name}", self.scope.vartypes.get(node.name, "any")

    def expr_Capture(self, node: n.Capture) -> tuple[str, str]:
        return f"{self.helper('_cap')}(c, {node.index})", "str"

    def expr_ArrayLit(self, node: n.ArrayLit) -> tuple[str, str]:
        return "[" + ", ".join(self.value(i) for i in node.items) + "]", "list"

    def expr_HashLit(self, node: n.HashLit) -> tuple[str, str]:
        parts = []
        for k, v in node.pairs:
            kc, kk = self.expr(k)
            parts.append(
                f"{kc if kk == 'str' else self.helper('_str') + '(' + self.as_value(kc, kk) + ')'}: {self.value(v)}"
            )
        return "{" + ", ".join(parts) + "}", "dict"

    def expr_Index(self, node: n.Index) -> tuple[str, str]:
        return f"{self.helper('_index')}({self.value(node.target)}, {self.value(node.key)})", "any"

    def expr_Unary(self, node: n.Unary) -> tuple[str, str]:
        code, kind = self.expr(node.operand)
        if node.op == "!":
            return f"(not {code})", "pybool"
        value = self.as_value(code, kind)
        if node.op == "-":
            return (f"(-{value})", kind) if kind in NUMERIC_TYPES else (f"{self.helper('_neg')}({value})", "num")
        if node.op == "+":
            return (value, kind) if kind in NUMERIC_TYPES else (f"{self.helper('_pos')}({value})", "num")
        return f"{self.helper('_inv')}({value})", "int"

    def expr_Binary(self, node: n.Binary) -> tuple[str, str]:
        lc, lk = self.expr(node.left)
        rc, rk = self.expr(node.right)
        return self.binop_code(node.op, self.as_value(lc, lk), lk, self.as_value(rc, rk), rk)

    def binop_code(self, op: str, lc: str, lk: str, rc: str, rk: str) -> tuple[str, str]:
        if op in CMP_HELPERS:
            if (lk == rk == "str") or (lk in ("int", "float") and rk in ("int", "float")):
                return f"({lc} {op} {rc})", "pybool"
            return f"{self.helper(CMP_HELPERS[op])}({lc}, {rc})", "pybool"
        if op == ".":
            if lk == rk == "str":
                return f"({lc} + {rc})", "str"
            return f"{self.helper('_cat')}({lc}, {rc})", "str"
        if op in INT_SAFE and lk == rk == "int" and op in "+-*":
            return f"({lc} {op} {rc})", "int"
        kind = "int" if op in ("&", "|", "^", "<<", ">>") else "num"
        return f"{self.helper(BINOP_HELPERS[op])}({lc}, {rc})", kind

    def expr_Logical(self, node: n.Logical) -> tuple[str, str]:
        word = "and" if node.op == "&&" else "or"
        return f"({self.cond(node.left)} {word} {self.cond(node.right)})", "pybool"

    def expr_Ternary(self, node: n.Ternary) -> tuple[str, str]:
        tc, tk = self.expr(node.then)
        oc, ok = self.expr(node.other)
        kind = tk if tk == ok and tk != "pybool" else "any"
        return f"({self.as_value(tc, tk)} if {self.cond(node.cond)} else {self.as_value(oc, ok)})", kind

    def expr_Assign(self, node: n.Assign) -> tuple[str, str]:
        target = node.target
        if isinstance(target, n.Var):
            value = self.assigned_value(node, f"v_{target.name}", target)
            return f"(v_{target.name} := {value})", self.scope.vartypes.get(target.name, "any")
        base, keys = _index_chain(target)
        if not isinstance(base, n.Var) or node.op != "=":
            self.error(node, "use this assignment as a statement of its own")
            return '""', "any"
        keycode = "(" + "".join(f"{self.value(k)}, " for k in keys) + ")"
        tmp = self.new_tmp()
        setpath = self.helper("_setpath")
        return (
            f"{self.helper('_first')}(({tmp} := {self.value(node.value)}), "
            f"(v_{base.name} := {setpath}(v_{base.name}, {keycode}, {tmp})))",
            "any",
        )

    def expr_IncDec(self, node: n.IncDec) -> tuple[str, str]:
        if not isinstance(node.target, n.Var):
            self.error(node, f"'{node.op}' on an array or hash element must be a statement of its own")
            return '""', "any"
        var = f"v_{node.target.name}"
        fn = self.helper("_add" if node.op == "++" else "_sub")
        update = f"({var} := {fn}({var}, 1))"
        if node.prefix:
            return update, "num"
        return f"{self.helper('_first')}({self.helper('_num')}({var}), {update})", "num"

    def expr_Call(self, node: n.Call) -> tuple[str, str]:
        call = self.resolve_call(node, len(node.args))
        if call is None:
            return '""', "any"
        args = ", ".join(self.value(a) for a in node.args)
        kind = "any"
        builtin = lookup(node.name)
        if builtin is not None and "." in node.name and node.name.split(".")[0] not in self.ns.imports:
            kind = builtin.returns if builtin.returns in ("str", "int", "float") else "any"
            self.check_pool_literal(node, builtin)
        return f"{call}{args})", kind

    def check_pool_literal(self, node: n.Call, builtin: Builtin) -> None:
        if not builtin.pool_arg or self.pools is None or not node.args:
            return
        arg = node.args[0]
        if isinstance(arg, n.Literal) and isinstance(arg.value, str) and arg.value not in self.pools:
            self.error(arg, f"pool '{arg.value}' does not exist")

    def resolve_call(self, node: n.Call, nargs: int) -> str | None:
        """The code up to and including '(' (and 'c, ' when needed) for calling ``node.name``."""
        name = node.name
        if "." not in name:
            sub = self.ns.subs.get(name)
            if sub is None:
                self.error(node, f"unknown function or subroutine '{name}'")
                return None
            return self.sub_call(node, self.ns, sub, nargs)
        head, _, rest = name.partition(".")
        if head in self.ns.imports and "." not in rest:
            ns = self.ns.imports[head]
            sub = ns.subs.get(rest)
            if sub is None:
                self.error(node, f"rule imported as '{head}' has no subroutine '{rest}'")
                return None
            return self.sub_call(node, ns, sub, nargs)
        builtin = lookup(name)
        if builtin is None:
            folded = name.lower()
            if any(folded.startswith(f + ".") for f in UNSUPPORTED_FAMILIES):
                self.error(node, f"function {name} is not supported")
            else:
                close = difflib.get_close_matches(folded, FOLDED_NAMES, n=1, cutoff=0.8)
                hint = f" (did you mean {FOLDED_NAMES[close[0]]}?)" if close else ""
                self.error(node, f"unknown function {name}{hint}")
            return None
        if nargs < builtin.min_args or (builtin.max_args != INF and nargs > builtin.max_args):
            self.error(node, f"{name} expects {_arity_text(builtin)}, got {nargs}")
            return None
        pyname = _py_builtin_name(builtin.name)
        self.globals[pyname] = builtin.fn
        return f"{pyname}(c, " if builtin.needs_ctx else f"{pyname}("

    def sub_call(self, node: n.Call, ns: Namespace, sub: n.Sub, nargs: int) -> str | None:
        if nargs != len(sub.params):
            self.error(node, f"subroutine {sub.name} expects {_plural(len(sub.params))}, got {nargs}")
            return None
        return f"{ns.py_name(sub.name)}(c, "


def _without_cascades(errors: list) -> list:
    """Drop errors that only follow from an unterminated string or comment running to the end of the rule."""
    cut = min(((e.line, e.col) for e in errors if e.message.startswith("unterminated")), default=None)
    return [e for e in errors if cut is None or (e.line, e.col) <= cut]


def _plural(k: int) -> str:
    return f"{k} argument" + ("" if k == 1 else "s")


def _arity_text(b: Builtin) -> str:
    if b.max_args == INF:
        return f"at least {_plural(b.min_args)}"
    if b.min_args == b.max_args:
        return _plural(b.min_args)
    return f"{b.min_args} to {b.max_args} arguments"


def _index_chain(node: n.Node) -> tuple[n.Node, list[n.Node]]:
    keys: list[n.Node] = []
    while isinstance(node, n.Index):
        keys.append(node.key)
        node = node.target
    return node, keys[::-1]


def _child_blocks(stmt: n.Node) -> list[tuple[n.Node, ...]]:
    if isinstance(stmt, n.Block):
        return [stmt.body]
    if isinstance(stmt, n.If):
        out = [stmt.then.body]
        if stmt.other is not None:
            out.append((stmt.other,))
        return out
    if isinstance(stmt, n.While | n.DoWhile | n.For | n.Foreach | n.Sub):
        return [stmt.body.body]
    if isinstance(stmt, n.Switch):
        return [c.body for c in stmt.cases]
    return []


def _walk(node: Any) -> Iterator[n.Node]:
    if isinstance(node, n.Node):
        yield node
        for name in node.__dataclass_fields__:
            yield from _walk(getattr(node, name))
    elif isinstance(node, tuple | list):
        for item in node:
            yield from _walk(item)


def _collect_vars(body: list[n.Node], names: dict[str, None]) -> None:
    for node in _walk(body):
        if isinstance(node, n.Sub):
            continue
        if isinstance(node, n.Var):
            names.setdefault(node.name, None)
        elif isinstance(node, n.Foreach):
            names.setdefault(node.var, None)


def _collect_assigns(body: list[n.Node], out: list[tuple[str, n.Node | str]]) -> None:
    for node in _walk(body):
        if isinstance(node, n.Assign):
            target = node.target
            if isinstance(target, n.Var):
                out.append((target.name, node.value if node.op == "=" else ("str" if node.op == ".=" else "any")))
            else:
                base, _ = _index_chain(target)
                if isinstance(base, n.Var):
                    out.append((base.name, "any"))
        elif isinstance(node, n.IncDec):
            base, _ = _index_chain(node.target)
            if isinstance(base, n.Var):
                out.append((base.name, "any"))
        elif isinstance(node, n.Foreach):
            out.append((node.var, "any"))


def compile_ast(
    rule: str, source: str, *, pools: set[str] | None = None, rules: dict[str, str] | None = None
) -> Compiled:
    return Compiler(rule, pools=pools, rules=rules).compile_source(source)
