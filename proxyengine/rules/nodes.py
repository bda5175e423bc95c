"""The TrafficScript syntax tree: frozen dataclasses, each with the line and column it starts at."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Node:
    line: int
    col: int


# Expressions


@dataclass(frozen=True, slots=True)
class Literal(Node):
    value: str | int | float | None


@dataclass(frozen=True, slots=True)
class Var(Node):
    name: str


@dataclass(frozen=True, slots=True)
class Capture(Node):
    """``$1`` .. ``$9``: a group of the last successful regex match."""

    index: int


@dataclass(frozen=True, slots=True)
class ArrayLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class HashLit(Node):
    pairs: tuple[tuple[Node, Node], ...]


@dataclass(frozen=True, slots=True)
class Index(Node):
    target: Node
    key: Node


@dataclass(frozen=True, slots=True)
class Call(Node):
    """A call of a built-in function (``http.getHeader``), a subroutine or an imported subroutine."""

    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Logical(Node):
    op: str  # "&&" or "||"
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Ternary(Node):
    cond: Node
    then: Node
    other: Node


@dataclass(frozen=True, slots=True)
class Assign(Node):
    """``target op value`` where op is "=" or a compound operator such as "+=" or ".="."""

    target: Node  # Var or Index
    op: str
    value: Node


@dataclass(frozen=True, slots=True)
class IncDec(Node):
    target: Node  # Var or Index
    op: str  # "++" or "--"
    prefix: bool


# Statements


@dataclass(frozen=True, slots=True)
class ExprStmt(Node):
    expr: Node


@dataclass(frozen=True, slots=True)
class Block(Node):
    body: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class If(Node):
    cond: Node
    then: Block
    other: Node | None  # Block, If (else if) or None


@dataclass(frozen=True, slots=True)
class While(Node):
    cond: Node
    body: Block


@dataclass(frozen=True, slots=True)
class DoWhile(Node):
    body: Block
    cond: Node


@dataclass(frozen=True, slots=True)
class For(Node):
    init: Node | None
    cond: Node | None
    step: Node | None
    body: Block


@dataclass(frozen=True, slots=True)
class Foreach(Node):
    var: str
    iterable: Node
    body: Block


@dataclass(frozen=True, slots=True)
class Case(Node):
    values: tuple[Node, ...]  # empty for "default"
    body: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Switch(Node):
    subject: Node
    compare: Node | None  # a string literal naming a two-argument function
    cases: tuple[Case, ...]


@dataclass(frozen=True, slots=True)
class Break(Node):
    pass


@dataclass(frozen=True, slots=True)
class Continue(Node):
    pass


@dataclass(frozen=True, slots=True)
class Return(Node):
    value: Node | None


@dataclass(frozen=True, slots=True)
class Sub(Node):
    name: str
    params: tuple[str, ...]
    body: Block


@dataclass(frozen=True, slots=True)
class Import(Node):
    rule: str
    alias: str


@dataclass(frozen=True, slots=True)
class Print(Node):
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Program(Node):
    body: tuple[Node, ...]
