"""array.*, hash.* and json.*: TrafficScript's arrays (Python lists) and hashes (dicts with string keys)."""

from __future__ import annotations

import json
from typing import Any

from .core import RuleRuntimeError, builtin, op_eq, to_int, to_num, to_str, type_name
from .strings import compile_regex


def _array(v: Any, fn: str) -> list:
    if type(v) is list:
        return v
    raise RuleRuntimeError(f"{fn} needs an array, got a {type_name(v)}")


def _hash(v: Any, fn: str) -> dict:
    if type(v) is dict:
        return v
    raise RuleRuntimeError(f"{fn} needs a hash, got a {type_name(v)}")


@builtin("array.length")
def array_length(a) -> int:
    return len(_array(a, "array.length"))


@builtin("array.append")
def array_append(a, b) -> Any:
    arr = _array(a, "array.append")
    arr.extend(_array(b, "array.append"))
    return arr


@builtin("array.contains")
def array_contains(a, value) -> int:
    return 1 if any(op_eq(x, value) for x in _array(a, "array.contains")) else 0


@builtin("array.copy")
def array_copy(a) -> Any:
    return _deep_copy(_array(a, "array.copy"))


def _deep_copy(v: Any) -> Any:
    if type(v) is list:
        return [_deep_copy(x) for x in v]
    if type(v) is dict:
        return {k: _deep_copy(x) for k, x in v.items()}
    return v


@builtin("array.create")
def array_create(size, default="") -> Any:
    n = to_int(size)
    if n < 0 or n > 10_000_000:
        raise RuleRuntimeError(f"array.create: bad size {n}")
    return [default] * n


@builtin("array.filter")
def array_filter(a, pattern, flags="") -> Any:
    regex = compile_regex(to_str(pattern), to_str(flags).replace("v", ""))
    invert = "v" in to_str(flags)
    return [x for x in _array(a, "array.filter") if (regex.search(to_str(x)) is not None) != invert]


@builtin("array.join")
def array_join(a, separator=" ") -> str:
    return to_str(separator).join(to_str(x) for x in _array(a, "array.join"))


@builtin("array.pop")
def array_pop(a) -> Any:
    arr = _array(a, "array.pop")
    return arr.pop() if arr else ""


@builtin("array.push")
def array_push(a, value) -> int:
    arr = _array(a, "array.push")
    arr.append(value)
    return len(arr)


@builtin("array.shift")
def array_shift(a) -> Any:
    arr = _array(a, "array.shift")
    return arr.pop(0) if arr else ""


@builtin("array.unshift")
def array_unshift(a, value) -> int:
    arr = _array(a, "array.unshift")
    arr.insert(0, value)
    return len(arr)


@builtin("array.resize")
def array_resize(a, size, default="") -> Any:
    arr = _array(a, "array.resize")
    n = to_int(size)
    if n < 0 or n > 10_000_000:
        raise RuleRuntimeError(f"array.resize: bad size {n}")
    if n < len(arr):
        del arr[n:]
    else:
        arr.extend([default] * (n - len(arr)))
    return arr


@builtin("array.reverse")
def array_reverse(a) -> Any:
    arr = _array(a, "array.reverse")
    arr.reverse()
    return arr


@builtin("array.sort")
def array_sort(a, reverse=0) -> Any:
    arr = _array(a, "array.sort")
    arr.sort(key=to_str, reverse=bool(reverse))
    return arr


@builtin("array.sortNumerical")
def array_sortNumerical(a, reverse=0) -> Any:
    arr = _array(a, "array.sortNumerical")
    arr.sort(key=to_num, reverse=bool(reverse))
    return arr


@builtin("array.splice")
def array_splice(a, offset, length, *values) -> Any:
    arr = _array(a, "array.splice")
    start = to_int(offset)
    if start < 0:
        start = max(start + len(arr), 0)
    start = min(start, len(arr))
    n = to_int(length)
    end = len(arr) if n < 0 else min(start + n, len(arr))
    removed = arr[start:end]
    insert: list = []
    for v in values:
        insert.extend(v if type(v) is list else [v])
    arr[start:end] = insert
    return removed


@builtin("hash.contains")
def hash_contains(h, key) -> int:
    return 1 if to_str(key) in _hash(h, "hash.contains") else 0


@builtin("hash.count")
def hash_count(h) -> int:
    return len(_hash(h, "hash.count"))


@builtin("hash.delete")
def hash_delete(h, key) -> Any:
    return _hash(h, "hash.delete").pop(to_str(key), "")


@builtin("hash.empty")
def hash_empty(h) -> Any:
    d = _hash(h, "hash.empty")
    d.clear()
    return d


@builtin("hash.keys")
def hash_keys(h) -> Any:
    # vTM documents no order; we give insertion order, which is stable and what users expect.
    return list(_hash(h, "hash.keys").keys())


@builtin("hash.values")
def hash_values(h) -> Any:
    return list(_hash(h, "hash.values").values())


def _to_json(v: Any) -> Any:
    if type(v) is dict:
        return {k: _to_json(x) for k, x in v.items()}
    if type(v) is list:
        return [_to_json(x) for x in v]
    return v


def _from_json(v: Any) -> Any:
    if isinstance(v, bool):
        return 1 if v else 0
    if type(v) is dict:
        return {to_str(k): _from_json(x) for k, x in v.items()}
    if type(v) is list:
        return [_from_json(x) for x in v]
    if type(v) is str:
        return v.encode("utf-8").decode("latin-1")
    return v


@builtin("json.serialize")
def json_serialize(value) -> str:
    try:
        text = json.dumps(_to_json(value), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise RuleRuntimeError(f"json.serialize: {exc}") from None
    # Strings are latin-1 byte strings: a UTF-8 sequence read from a request survives the round trip.
    return text


@builtin("json.deserialize")
def json_deserialize(text) -> Any:
    raw = to_str(text).encode("latin-1", "replace")
    try:
        return _from_json(json.loads(raw.decode("utf-8", "replace")))
    except ValueError as exc:
        raise RuleRuntimeError(f"json.deserialize: invalid JSON: {exc}") from None
