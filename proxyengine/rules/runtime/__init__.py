"""The TrafficScript function library, split by family; importing this package registers every function."""

from __future__ import annotations

from . import collections, conn, core, http, lang, strings, system  # noqa: F401  (registration)
from .core import REGISTRY, Builtin, RuleRuntimeError, RunContext, StopRule

# Families we leave out on purpose: calling one is a compile error, never a silent no-op.
UNSUPPORTED_FAMILIES = frozenset(
    ["ssl", "sip", "rtsp", "glb", "geo", "xml", "java", "auth", "tcp", "http.aptimizer", "counter64", "resource"]
)


def _print(c: RunContext, *args) -> None:
    c.tx.add_log("info", c.rule, "".join(core.to_str(a) for a in args))


HELPERS = {
    "_add": core.op_add,
    "_sub": core.op_sub,
    "_mul": core.op_mul,
    "_div": core.op_div,
    "_mod": core.op_mod,
    "_cat": core.op_cat,
    "_band": core.op_band,
    "_bor": core.op_bor,
    "_bxor": core.op_bxor,
    "_shl": core.op_shl,
    "_shr": core.op_shr,
    "_eq": core.op_eq,
    "_ne": core.op_ne,
    "_lt": core.op_lt,
    "_le": core.op_le,
    "_gt": core.op_gt,
    "_ge": core.op_ge,
    "_neg": core.op_neg,
    "_pos": core.op_pos,
    "_inv": core.op_inv,
    "_index": core.op_index,
    "_setpath": core.set_path,
    "_getpath": core.get_path,
    "_iter": core.iterate,
    "_tick": core.tick,
    "_cap": core.capture,
    "_first": core.first,
    "_num": core.to_num,
    "_str": core.to_str,
    "_print": _print,
    "_ONCE": (0,),
}

__all__ = ["HELPERS", "REGISTRY", "UNSUPPORTED_FAMILIES", "Builtin", "RuleRuntimeError", "RunContext", "StopRule"]
