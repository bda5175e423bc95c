"""TrafficScript values and operators, the per-run context, and the registry of built-in functions.

Values are Python ``str`` (byte strings, see context.py), ``int``, ``float``, ``list`` (array), ``dict``
(hash, insertion-ordered, string keys) and ``None`` (nil). Operators follow TrafficScript's casts:
arithmetic turns strings into numbers ("12abc" is 12, "abc" is 0), integer arithmetic stays integer,
comparison is numeric unless both sides are strings, "." makes strings.
"""

from __future__ import annotations

import inspect
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..context import EngineState, RuleStats, Transaction

INF = -1  # "max" of a function that takes any number of arguments


class RuleRuntimeError(Exception):
    """An error that aborts the running rule for this request (bad argument, division by zero, ...)."""


class StopRule(Exception):
    """Ends the rule early without an error (pool.use, http.redirect, break at top level, ...)."""


class RunContext:
    """What library functions see of the current run: the transaction, the engine state, the captures."""

    __slots__ = ("tx", "state", "rule", "phase", "budget", "deadline", "captures", "stats")

    def __init__(
        self, tx: Transaction, state: EngineState, rule: str, phase: str, budget: int, stats: RuleStats
    ) -> None:
        self.tx = tx
        self.state = state
        self.rule = rule
        self.phase = phase
        self.budget = budget
        self.stats = stats  # the rule's counters (state.rule_stats[rule]), found once per run
        self.deadline = 0.0  # set on the first clock check, so a rule without loops never reads the clock
        self.captures: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Builtin:
    """A library function: its TrafficScript name, arity, whether it needs the run context, return type."""

    name: str
    fn: Callable[..., Any]
    min_args: int
    max_args: int  # INF for variadic
    needs_ctx: bool
    returns: str  # "str", "int", "any", ...
    pool_arg: bool  # first argument names a pool (checked at compile time when literal)


REGISTRY: dict[str, Builtin] = {}
_FOLDED: dict[str, Builtin] = {}
# Library functions that end the rule (they raise StopRule), by TrafficScript name, mapped to a variant that sets
# the same effects and returns instead: the compiler calls the variant for a statement in the rule's own body
# (not in a subroutine) and emits ``return`` after it.
# PERFORMANCE-NOTES: raising StopRule through the library function, the rule and CompiledRule.run costs ~0.45 µs
# (the exception and a traceback entry per frame), a return ~0.13 µs; see the commit that added this.
ENDS_RULE: dict[str, Callable[..., Any]] = {}
# The same for a call whose only argument is a literal pool name the compiler found in the configuration's pools
# (the rule is compiled again whenever they change): the variant takes the name and checks nothing.
ENDS_RULE_KNOWN_POOL: dict[str, Callable[..., Any]] = {}


def lookup(name: str) -> Builtin | None:
    """The built-in called ``name``; vTM matches function names without regard to case."""
    found = REGISTRY.get(name)
    if found is None:
        found = _FOLDED.get(name.lower())
    return found


def builtin(name: str, *, ctx: bool = False, pool_arg: bool = False) -> Callable[[Callable], Callable]:
    """Register ``fn`` as TrafficScript function ``name``; arity comes from its Python signature."""

    def register(fn: Callable) -> Callable:
        params = list(inspect.signature(fn).parameters.values())
        if ctx:
            params = params[1:]
        min_args = sum(1 for p in params if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD)
        variadic = any(p.kind is p.VAR_POSITIONAL for p in params)
        max_args = INF if variadic else len(params)
        returns = fn.__annotations__.get("return", "any")
        REGISTRY[name] = _FOLDED[name.lower()] = Builtin(name, fn, min_args, max_args, ctx, str(returns), pool_arg)
        return fn

    return register


# coercion

_NUM_RE = re.compile(r"\s*([-+]?(?:\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?)")


def to_str(v: Any) -> str:
    t = type(v)
    if t is str:
        return v
    if t is int:
        return str(v)
    if t is float:
        return fmt_float(v)
    if v is None:
        return ""
    if t is bool:
        return "1" if v else "0"
    if t is list:
        return "".join(to_str(x) for x in v)
    if t is dict:
        return "".join(to_str(x) for x in v.values())
    if t is bytes:
        return v.decode("latin-1")
    return str(v)


def fmt_float(f: float) -> str:
    if math.isnan(f):
        return "nan"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    if f == int(f) and abs(f) < 1e15:
        return str(int(f))
    return repr(f)


def to_num(v: Any) -> int | float:
    t = type(v)
    if t is int or t is float:
        return v
    if t is str:
        m = _NUM_RE.match(v)
        if not m:
            return 0
        text = m.group(1)
        if m.group(2) is None and m.group(3) is None and "." not in text:
            return int(text)
        return float(text)
    if v is None:
        return 0
    if t is bool:
        return int(v)
    if t is list or t is dict:
        return len(v)
    return 0


def to_int(v: Any) -> int:
    t = type(v)
    if t is int:
        return v
    n = to_num(v)
    if type(n) is float:
        if math.isnan(n) or math.isinf(n):
            return 0
        return int(n)
    return n


def truthy(v: Any) -> bool:
    return bool(v)


def ts_bool(b: Any) -> int:
    return 1 if b else 0


# operators (the compiler emits calls to these unless it can prove both operands are strings)


def op_add(a: Any, b: Any) -> int | float:
    if type(a) is int and type(b) is int:
        return a + b
    return to_num(a) + to_num(b)


def op_sub(a: Any, b: Any) -> int | float:
    if type(a) is int and type(b) is int:
        return a - b
    return to_num(a) - to_num(b)


def op_mul(a: Any, b: Any) -> int | float:
    if type(a) is int and type(b) is int:
        return a * b
    return to_num(a) * to_num(b)


def op_div(a: Any, b: Any) -> int | float:
    x, y = to_num(a), to_num(b)
    if y == 0:
        raise RuleRuntimeError("division by zero")
    if type(x) is int and type(y) is int:
        q = abs(x) // abs(y)
        return q if (x >= 0) == (y >= 0) else -q
    return x / y


def op_mod(a: Any, b: Any) -> int | float:
    x, y = to_num(a), to_num(b)
    if y == 0:
        raise RuleRuntimeError("division by zero in '%'")
    if type(x) is int and type(y) is int:
        r = abs(x) % abs(y)
        return r if x >= 0 else -r
    return math.fmod(x, y)


def op_cat(a: Any, b: Any) -> str:
    return (a if type(a) is str else to_str(a)) + (b if type(b) is str else to_str(b))


def op_neg(a: Any) -> int | float:
    return -to_num(a)


def op_pos(a: Any) -> int | float:
    return to_num(a)


def op_not(a: Any) -> int:
    return 0 if a else 1


def op_inv(a: Any) -> int:
    return ~to_int(a)


def op_band(a: Any, b: Any) -> int:
    return to_int(a) & to_int(b)


def op_bor(a: Any, b: Any) -> int:
    return to_int(a) | to_int(b)


def op_bxor(a: Any, b: Any) -> int:
    return to_int(a) ^ to_int(b)


def op_shl(a: Any, b: Any) -> int:
    n = to_int(b)
    if n < 0:
        raise RuleRuntimeError("negative shift count")
    return (to_int(a) << n) & 0xFFFFFFFFFFFFFFFF if n < 64 else 0


def op_shr(a: Any, b: Any) -> int:
    n = to_int(b)
    if n < 0:
        raise RuleRuntimeError("negative shift count")
    return to_int(a) >> n


def _cmp_pair(a: Any, b: Any) -> tuple[Any, Any]:
    ta, tb = type(a), type(b)
    if ta is str and tb is str:
        return a, b
    if (ta is list or ta is dict) and ta is tb:
        return a, b
    return to_num(a), to_num(b)


def op_eq(a: Any, b: Any) -> bool:
    if type(a) is str and type(b) is str:
        return a == b
    x, y = _cmp_pair(a, b)
    return x == y


def op_ne(a: Any, b: Any) -> bool:
    return not op_eq(a, b)


def op_lt(a: Any, b: Any) -> bool:
    x, y = _cmp_pair(a, b)
    return _ordered(x, y) < 0


def op_le(a: Any, b: Any) -> bool:
    x, y = _cmp_pair(a, b)
    return _ordered(x, y) <= 0


def op_gt(a: Any, b: Any) -> bool:
    x, y = _cmp_pair(a, b)
    return _ordered(x, y) > 0


def op_ge(a: Any, b: Any) -> bool:
    x, y = _cmp_pair(a, b)
    return _ordered(x, y) >= 0


def _ordered(x: Any, y: Any) -> int:
    if type(x) is list or type(x) is dict:
        x, y = len(x), len(y)
    return (x > y) - (x < y)


# indexing


def _norm_key(k: Any) -> str:
    return k if type(k) is str else to_str(k)


def op_index(container: Any, key: Any) -> Any:
    t = type(container)
    if t is dict:
        return container.get(key if type(key) is str else to_str(key), "")
    if t is list:
        i = to_int(key)
        if i < 0:
            i += len(container)
        return container[i] if 0 <= i < len(container) else ""
    if t is str:
        i = to_int(key)
        if i < 0:
            i += len(container)
        return container[i] if 0 <= i < len(container) else ""
    if container is None or container == "":
        return ""
    raise RuleRuntimeError(f"cannot index a {type_name(container)}")


def set_path(container: Any, keys: tuple[Any, ...], value: Any) -> Any:
    """``$x[k1][k2] = value``: returns the (possibly new) container; unset variables become arrays/hashes."""
    key = keys[0]
    t = type(container)
    if t is not list and t is not dict:
        if container is None or container == "" or container == 0:
            container = [] if type(key) is int else {}
            t = type(container)
        else:
            raise RuleRuntimeError(f"cannot index a {type_name(container)}")
    if t is dict:
        k = _norm_key(key)
        container[k] = value if len(keys) == 1 else set_path(container.get(k, ""), keys[1:], value)
        return container
    i = to_int(key)
    if i < 0:
        i += len(container)
        if i < 0:
            raise RuleRuntimeError(f"array index {to_int(key)} is out of range")
    if i >= len(container):
        if i - len(container) > 1_000_000:
            raise RuleRuntimeError(f"array index {i} is too large")
        container.extend([""] * (i + 1 - len(container)))
    container[i] = value if len(keys) == 1 else set_path(container[i], keys[1:], value)
    return container


def get_path(container: Any, keys: tuple[Any, ...]) -> Any:
    for k in keys:
        container = op_index(container, k)
    return container


def type_name(v: Any) -> str:
    t = type(v)
    if t is list:
        return "array"
    if t is dict:
        return "hash"
    if t is int:
        return "integer"
    if t is float:
        return "double"
    if v is None:
        return "nil"
    return "string"


def iterate(v: Any) -> list[Any]:
    """What ``foreach`` walks: an array's values, a hash's keys; a copy, so the body may change it."""
    t = type(v)
    if t is list:
        return list(v)
    if t is dict:
        return list(v.keys())
    if v is None or v == "":
        return []
    raise RuleRuntimeError(f"foreach needs an array or a hash, got a {type_name(v)}")


def tick(c: RunContext) -> None:
    """Charge one loop iteration or subroutine call against the rule's instruction and time budgets."""
    c.budget -= 1
    if c.budget & 1023 == 0:
        _check_clock(c)
    if c.budget < 0:
        raise RuleRuntimeError("the rule exceeded its instruction budget (an endless loop?)")


def _check_clock(c: RunContext) -> None:
    now = time.perf_counter()
    if not c.deadline:
        c.deadline = now + c.state.time_budget
    elif now > c.deadline:
        raise RuleRuntimeError(f"the rule ran for more than {c.state.time_budget:g} seconds")


def capture(c: RunContext, i: int) -> str:
    caps = c.captures
    return caps[i] if i < len(caps) else ""


def first(a: Any, _b: Any) -> Any:
    return a


def stop_rule() -> None:
    raise StopRule


def need_response(c: RunContext, fn: str) -> None:
    if c.phase != "response" or c.tx.response_headers is None:
        raise RuleRuntimeError(f"{fn} can only be used in a response rule")
