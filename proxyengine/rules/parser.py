"""Recursive-descent parser for TrafficScript: one method per precedence level, errors with positions."""

from __future__ import annotations

from . import nodes as n
from .lexer import Lexer, Token

ASSIGN_OPS = frozenset(["=", "+=", "-=", "*=", "/=", "%=", ".=", "<<=", ">>=", "&=", "|=", "^="])

# Binary levels from loosest to tightest binding (C's order; "." sits with "+" and "-" as in Perl).
BINARY_LEVELS: tuple[frozenset[str], ...] = (
    frozenset(["|"]),
    frozenset(["^"]),
    frozenset(["&"]),
    frozenset(["==", "!="]),
    frozenset(["<", "<=", ">", ">="]),
    frozenset(["<<", ">>"]),
    frozenset(["+", "-", "."]),
    frozenset(["*", "/", "%"]),
)


class ParseError(Exception):
    def __init__(self, message: str, line: int, col: int) -> None:
        super().__init__(message)
        self.message, self.line, self.col = message, line, col


MAX_DEPTH = 48


class Parser:
    """``parse()`` returns the Program and fills ``errors``; after an error it resynchronises at ';' or '}'."""

    def __init__(self, source: str) -> None:
        lexer = Lexer(source)
        self.toks: list[Token] = lexer.tokens()
        self.errors: list[ParseError] = [ParseError(e.message, e.line, e.col) for e in lexer.errors]
        self.i = 0
        self.depth = 0  # nesting of blocks, parentheses and collections, bounded so recursion stays safe

    # helpers

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def advance(self) -> Token:
        tok = self.toks[self.i]
        if tok.kind != "eof":
            self.i += 1
        return tok

    def at(self, value: str, kind: str = "op") -> bool:
        tok = self.tok
        return tok.kind == kind and tok.value == value

    def accept(self, value: str, kind: str = "op") -> bool:
        if self.at(value, kind):
            self.advance()
            return True
        return False

    def fail(self, msg: str, tok: Token | None = None) -> ParseError:
        tok = tok or self.tok
        return ParseError(msg, tok.line, tok.col)

    def expect(self, value: str, what: str, kind: str = "op") -> Token:
        if not self.at(value, kind):
            raise self.fail(f"expected '{value}' {what}, found {self.tok.describe()}")
        return self.advance()

    # statements

    def parse(self) -> n.Program:
        body = self.statements(top=True)
        return n.Program(1, 1, tuple(body))

    def statements(self, top: bool = False) -> list[n.Node]:
        out: list[n.Node] = []
        while not (self.tok.kind == "eof" or (not top and self.at("}"))):
            if self.at("}"):
                self.errors.append(self.fail("unexpected '}' with no block to close"))
                self.advance()
                continue
            start = self.i
            try:
                stmt = self.statement()
                if stmt is not None:
                    out.append(stmt)
            except ParseError as err:
                self.errors.append(err)
                self.synchronise(start)
        return out

    def synchronise(self, start: int) -> None:
        if self.i == start:
            self.advance()
        while self.tok.kind != "eof":
            if self.accept(";"):
                return
            if self.at("}") or self.at("{"):
                return
            self.advance()

    def block(self, what: str) -> n.Block:
        self.enter()
        try:
            return self._block(what)
        finally:
            self.depth -= 1

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"too deeply nested (more than {MAX_DEPTH} levels)")

    def _block(self, what: str) -> n.Block:
        if not self.at("{") and not self.at("}") and self.tok.kind != "eof":
            # C-style single statement without braces: accepted, as most rule writers expect it to be.
            tok = self.tok
            stmt = self.statement()
            return n.Block(tok.line, tok.col, (stmt,) if stmt is not None else ())
        tok = self.expect("{", what)
        body = self.statements()
        self.expect("}", f"to close the block opened at line {tok.line}")
        return n.Block(tok.line, tok.col, tuple(body))

    def statement(self) -> n.Node | None:
        tok = self.tok
        if tok.kind == "op" and tok.value == ";":
            self.advance()
            return None
        if tok.kind == "op" and tok.value == "{":
            return self.block("to open a block")
        if tok.kind == "kw":
            method = getattr(self, f"stmt_{tok.value}", None)
            if method is not None:
                return method()
        expr = self.expression()
        self.end_statement("after the statement")
        return n.ExprStmt(tok.line, tok.col, expr)

    def end_statement(self, what: str) -> None:
        if not self.accept(";"):
            prev = self.toks[self.i - 1] if self.i else self.tok
            raise ParseError(
                f"expected ';' {what}, found {self.tok.describe()}",
                self.tok.line if self.tok.line == prev.line else prev.line,
                self.tok.col if self.tok.line == prev.line else prev.col + len(str(prev.value)),
            )

    def paren_expr(self, what: str) -> n.Node:
        self.expect("(", f"after '{what}'")
        expr = self.expression()
        self.expect(")", f"to close the '{what}' condition")
        return expr

    def stmt_if(self) -> n.If:
        tok = self.advance()
        cond = self.paren_expr("if")
        then = self.block("after the 'if' condition")
        other: n.Node | None = None
        if self.accept("else", "kw"):
            other = self.stmt_if() if self.at("if", "kw") else self.block("after 'else'")
        return n.If(tok.line, tok.col, cond, then, other)

    def stmt_while(self) -> n.While:
        tok = self.advance()
        cond = self.paren_expr("while")
        return n.While(tok.line, tok.col, cond, self.block("after the 'while' condition"))

    def stmt_do(self) -> n.DoWhile:
        tok = self.advance()
        body = self.block("after 'do'")
        self.expect("while", "after the 'do' block", "kw")
        cond = self.paren_expr("while")
        self.end_statement("after 'do ... while (...)'")
        return n.DoWhile(tok.line, tok.col, body, cond)

    def stmt_for(self) -> n.For:
        tok = self.advance()
        self.expect("(", "after 'for'")
        init = None if self.at(";") else self.expression()
        self.expect(";", "after the 'for' initialiser")
        cond = None if self.at(";") else self.expression()
        self.expect(";", "after the 'for' condition")
        step = None if self.at(")") else self.expression()
        self.expect(")", "to close the 'for' header")
        return n.For(tok.line, tok.col, init, cond, step, self.block("after the 'for' header"))

    def stmt_foreach(self) -> n.Foreach:
        tok = self.advance()
        self.expect("(", "after 'foreach'")
        if self.tok.kind != "var":
            raise self.fail(f"expected a variable after 'foreach (', found {self.tok.describe()}")
        var = self.advance().value
        self.expect("in", "after the 'foreach' variable", "kw")
        iterable = self.expression()
        self.expect(")", "to close the 'foreach' header")
        return n.Foreach(tok.line, tok.col, str(var), iterable, self.block("after the 'foreach' header"))

    def stmt_switch(self) -> n.Switch:
        tok = self.advance()
        self.expect("(", "after 'switch'")
        subject = self.expression()
        compare = self.expression() if self.accept(",") else None
        self.expect(")", "to close the 'switch' header")
        self.expect("{", "to open the 'switch' body")
        cases: list[n.Case] = []
        seen_default = False
        while not self.at("}"):
            ctok = self.tok
            if self.accept("case", "kw"):
                values = [self.expression()]
                while self.accept(","):
                    values.append(self.expression())
            elif self.accept("default", "kw"):
                if seen_default:
                    self.errors.append(self.fail("a 'switch' can have only one 'default'", ctok))
                seen_default = True
                values = []
            else:
                raise self.fail(f"expected 'case' or 'default' in 'switch', found {ctok.describe()}")
            self.expect(":", "after the case value" if values else "after 'default'")
            body: list[n.Node] = []
            while not (self.at("case", "kw") or self.at("default", "kw") or self.at("}") or self.tok.kind == "eof"):
                start = self.i
                try:
                    stmt = self.statement()
                    if stmt is not None:
                        body.append(stmt)
                except ParseError as err:
                    self.errors.append(err)
                    self.synchronise(start)
            cases.append(n.Case(ctok.line, ctok.col, tuple(values), tuple(body)))
        self.expect("}", "to close the 'switch' body")
        return n.Switch(tok.line, tok.col, subject, compare, tuple(cases))

    def stmt_break(self) -> n.Break:
        tok = self.advance()
        self.end_statement("after 'break'")
        return n.Break(tok.line, tok.col)

    def stmt_continue(self) -> n.Continue:
        tok = self.advance()
        self.end_statement("after 'continue'")
        return n.Continue(tok.line, tok.col)

    def stmt_return(self) -> n.Return:
        tok = self.advance()
        value = None if self.at(";") else self.expression()
        self.end_statement("after 'return'")
        return n.Return(tok.line, tok.col, value)

    def stmt_print(self) -> n.Print:
        tok = self.advance()
        args = [self.expression()]
        while self.accept(","):
            args.append(self.expression())
        self.end_statement("after 'print'")
        return n.Print(tok.line, tok.col, tuple(args))

    def stmt_sub(self) -> n.Sub:
        tok = self.advance()
        if self.tok.kind != "name":
            raise self.fail(f"expected a subroutine name after 'sub', found {self.tok.describe()}")
        name = str(self.advance().value)
        self.expect("(", "after the subroutine name")
        params: list[str] = []
        if not self.at(")"):
            while True:
                if self.tok.kind != "var":
                    raise self.fail(f"expected a parameter like '$name', found {self.tok.describe()}")
                params.append(str(self.advance().value))
                if not self.accept(","):
                    break
        self.expect(")", "to close the parameter list")
        return n.Sub(tok.line, tok.col, name, tuple(params), self.block("for the subroutine body"))

    def stmt_import(self) -> n.Import:
        tok = self.advance()
        if self.tok.kind == "string":
            rule = str(self.advance().value)
        elif self.tok.kind == "name":
            rule = self.dotted_name()
        else:
            raise self.fail(f"expected a rule name after 'import', found {self.tok.describe()}")
        alias = rule
        if self.accept("as", "kw"):
            if self.tok.kind != "name":
                raise self.fail(f"expected an alias after 'as', found {self.tok.describe()}")
            alias = str(self.advance().value)
        self.end_statement("after 'import'")
        return n.Import(tok.line, tok.col, rule, alias)

    def dotted_name(self) -> str:
        parts = [str(self.advance().value)]
        while self.at(".") and self.peek().kind in ("name", "kw"):
            self.advance()
            parts.append(str(self.advance().value))
        return ".".join(parts)

    # expressions, loosest first

    def expression(self) -> n.Node:
        return self.assignment()

    def assignment(self) -> n.Node:
        left = self.ternary()
        tok = self.tok
        if tok.kind == "op" and tok.value in ASSIGN_OPS:
            if not isinstance(left, n.Var | n.Index):
                raise self.fail(f"cannot assign to this expression with '{tok.value}'", tok)
            self.advance()
            self.enter()
            try:
                value = self.assignment()
            finally:
                self.depth -= 1
            return n.Assign(left.line, left.col, left, str(tok.value), value)
        return left

    def ternary(self) -> n.Node:
        cond = self.logical_or()
        if self.at("?"):
            self.advance()
            then = self.assignment()
            self.expect(":", "in the '?:' expression")
            other = self.assignment()
            return n.Ternary(cond.line, cond.col, cond, then, other)
        return cond

    def logical_or(self) -> n.Node:
        left = self.logical_and()
        while self.at("||"):
            self.advance()
            left = n.Logical(left.line, left.col, "||", left, self.logical_and())
        return left

    def logical_and(self) -> n.Node:
        left = self.binary(0)
        while self.at("&&"):
            self.advance()
            left = n.Logical(left.line, left.col, "&&", left, self.binary(0))
        return left

    def binary(self, level: int) -> n.Node:
        # One loop serves the eight binary levels of BINARY_LEVELS (bitwise, equality, relational,
        # shift, additive, multiplicative): each level is a left-associative chain of the next.
        if level == len(BINARY_LEVELS):
            return self.unary()
        ops = BINARY_LEVELS[level]
        left = self.binary(level + 1)
        while self.tok.kind == "op" and self.tok.value in ops:
            op = str(self.advance().value)
            left = n.Binary(left.line, left.col, op, left, self.binary(level + 1))
        return left

    def unary(self) -> n.Node:
        tok = self.tok
        if tok.kind == "op" and tok.value in ("!", "-", "+", "~"):
            self.advance()
            self.enter()
            try:
                operand = self.unary()
            finally:
                self.depth -= 1
            if tok.value == "-" and isinstance(operand, n.Literal) and isinstance(operand.value, int | float):
                return n.Literal(tok.line, tok.col, -operand.value)
            return n.Unary(tok.line, tok.col, str(tok.value), operand)
        if tok.kind == "op" and tok.value in ("++", "--"):
            self.advance()
            target = self.unary()
            if not isinstance(target, n.Var | n.Index):
                raise self.fail(f"'{tok.value}' needs a variable", tok)
            return n.IncDec(tok.line, tok.col, target, str(tok.value), True)
        return self.postfix()

    def postfix(self) -> n.Node:
        expr = self.primary()
        while True:
            tok = self.tok
            if tok.kind == "op" and tok.value == "[":
                self.advance()
                key = self.expression()
                self.expect("]", "to close the index")
                expr = n.Index(expr.line, expr.col, expr, key)
            elif tok.kind == "op" and tok.value in ("++", "--"):
                if not isinstance(expr, n.Var | n.Index):
                    raise self.fail(f"'{tok.value}' needs a variable", tok)
                self.advance()
                expr = n.IncDec(expr.line, expr.col, expr, str(tok.value), False)
            else:
                return expr

    def primary(self) -> n.Node:
        tok = self.tok
        kind = tok.kind
        if kind in ("int", "float", "string"):
            self.advance()
            return n.Literal(tok.line, tok.col, tok.value)
        if kind == "var":
            self.advance()
            name = str(tok.value)
            if name.isdigit():
                if not 0 <= int(name) <= 9:
                    raise self.fail(f"'${name}' is not a regex capture: use $0 to $9", tok)
                return n.Capture(tok.line, tok.col, int(name))
            return n.Var(tok.line, tok.col, name)
        if kind == "kw" and tok.value in ("true", "false", "nil"):
            self.advance()
            return n.Literal(tok.line, tok.col, {"true": 1, "false": 0, "nil": None}[str(tok.value)])
        if kind == "name":
            name = self.dotted_name()
            if not self.at("("):
                hint = f" (a variable is written '${name}')" if "." not in name else ""
                raise self.fail(f"expected '(' to call '{name}', found {self.tok.describe()}{hint}")
            self.advance()
            args: list[n.Node] = []
            if not self.at(")"):
                while True:
                    args.append(self.expression())
                    if not self.accept(","):
                        break
            self.expect(")", f"to close the arguments of '{name}'")
            return n.Call(tok.line, tok.col, name, tuple(args))
        if kind == "op" and tok.value in ("(", "["):
            self.enter()
            try:
                if tok.value == "[":
                    return self.collection()
                self.advance()
                expr = self.expression()
                self.expect(")", "to close '('")
                return expr
            finally:
                self.depth -= 1
        raise self.fail(f"expected an expression, found {tok.describe()}")

    def collection(self) -> n.Node:
        tok = self.advance()
        if self.accept("]"):
            return n.ArrayLit(tok.line, tok.col, ())
        if self.at("=>") and self.peek().kind == "op" and self.peek().value == "]":
            self.advance()
            self.advance()
            return n.HashLit(tok.line, tok.col, ())
        first = self.expression()
        if self.accept("=>"):
            pairs = [(first, self.expression())]
            while self.accept(","):
                if self.at("]"):
                    break
                key = self.expression()
                self.expect("=>", "between a hash key and its value")
                pairs.append((key, self.expression()))
            self.expect("]", "to close the hash")
            return n.HashLit(tok.line, tok.col, tuple(pairs))
        items = [first]
        while self.accept(","):
            if self.at("]"):
                break
            items.append(self.expression())
        self.expect("]", "to close the array")
        return n.ArrayLit(tok.line, tok.col, tuple(items))


def parse(source: str) -> tuple[n.Program, list[ParseError]]:
    parser = Parser(source)
    program = parser.parse()
    return program, parser.errors
