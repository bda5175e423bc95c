"""lang.* and math.*: conversions, type tests and arithmetic functions."""

from __future__ import annotations

import math
import random
from typing import Any

from .core import RuleRuntimeError, RunContext, builtin, to_int, to_num, to_str


@builtin("lang.toInt")
def lang_toInt(value) -> int:
    v = value
    if type(v) is str and v.strip().lower().startswith(("0x", "-0x")):
        text = v.strip().lower()
        try:
            return int(text, 16)
        except ValueError:
            return 0
    return to_int(v)


@builtin("lang.toDouble")
def lang_toDouble(value) -> float:
    return float(to_num(value))


@builtin("lang.toString")
def lang_toString(value) -> str:
    return to_str(value)


@builtin("lang.toArray")
def lang_toArray(*values) -> Any:
    return list(values)


@builtin("lang.toHash")
def lang_toHash(*values) -> Any:
    if len(values) % 2:
        raise RuleRuntimeError("lang.toHash needs key, value pairs (an even number of arguments)")
    return {to_str(values[i]): values[i + 1] for i in range(0, len(values), 2)}


@builtin("lang.isarray")
def lang_isarray(data) -> int:
    return 1 if type(data) is list else 0


@builtin("lang.ishash")
def lang_ishash(data) -> int:
    return 1 if type(data) is dict else 0


@builtin("lang.chr")
def lang_chr(number) -> str:
    return chr(to_int(number) & 0xFF)


@builtin("lang.tochar")
def lang_tochar(number) -> str:
    return chr(to_int(number) & 0xFF)


@builtin("lang.ord")
def lang_ord(s) -> int:
    s = to_str(s)
    return ord(s[0]) if s else 0


@builtin("lang.max")
def lang_max(a, b) -> Any:
    return a if to_num(a) >= to_num(b) else b


@builtin("lang.min")
def lang_min(a, b) -> Any:
    return a if to_num(a) <= to_num(b) else b


def dump(v: Any) -> str:
    t = type(v)
    if t is list:
        return "[ " + ", ".join(dump(x) for x in v) + " ]"
    if t is dict:
        return "[ " + ", ".join(f'"{k}" => {dump(x)}' for k, x in v.items()) + " ]"
    if t is str:
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if v is None:
        return "nil"
    return to_str(v)


@builtin("lang.dump")
def lang_dump(variable) -> str:
    return dump(variable)


@builtin("lang.assert", ctx=True)
def lang_assert(c: RunContext, condition, message) -> int:
    if not condition:
        raise RuleRuntimeError(f"assertion failed: {to_str(message)}")
    return 1


@builtin("lang.warn", ctx=True)
def lang_warn(c: RunContext, message) -> int:
    c.tx.add_log("warn", c.rule, to_str(message))
    return 1


def _float(v: Any, fn: str) -> float:
    x = to_num(v)
    return float(x)


def _math(fn: str, f) -> Any:
    def call(value) -> float:
        try:
            return f(_float(value, fn))
        except (ValueError, OverflowError):
            raise RuleRuntimeError(f"{fn}: argument {to_str(value)} is out of range") from None

    call.__name__ = fn.replace(".", "_")
    call.__annotations__["return"] = "float"
    return builtin(fn)(call)


for _name, _f in {
    "math.acos": math.acos,
    "math.asin": math.asin,
    "math.atan": math.atan,
    "math.cos": math.cos,
    "math.sin": math.sin,
    "math.tan": math.tan,
    "math.exp": math.exp,
    "math.ln": math.log,
    "math.log": math.log10,
    "math.sqrt": math.sqrt,
    "math.fabs": math.fabs,
}.items():
    _math(_name, _f)


@builtin("math.ceil")
def math_ceil(value) -> float:
    return float(math.ceil(to_num(value)))


@builtin("math.floor")
def math_floor(value) -> float:
    return float(math.floor(to_num(value)))


@builtin("math.rint")
def math_rint(value) -> float:
    return float(round(to_num(value)))


@builtin("math.pow")
def math_pow(num, power) -> Any:
    x, y = to_num(num), to_num(power)
    try:
        if type(x) is int and type(y) is int and y >= 0:
            if y > 4096:
                raise RuleRuntimeError("math.pow: exponent too large")
            return x**y
        return math.pow(x, y)
    except (ValueError, OverflowError, ZeroDivisionError):
        raise RuleRuntimeError(f"math.pow: {to_str(num)} ** {to_str(power)} is out of range") from None


@builtin("math.random")
def math_random(range_) -> int:
    n = to_int(range_)
    if n <= 0:
        raise RuleRuntimeError(f"math.random needs a positive range, got {to_str(range_)}")
    return random.randrange(n)
