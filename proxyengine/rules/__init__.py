"""TrafficScript, vTM's rule language: compile a rule once, run it per request or response.

The engine uses only what this module exports::

    rule = compile_rule("xff", source, pools={"web", "static"})   # raises RuleCompileError
    rule.run(tx, state, phase="request")                           # never raises; see context.py

and the admin side validates on save with ``check_rule(name, source, pools=...)``.
"""

from __future__ import annotations

from .context import (
    EngineState,
    Headers,
    LocalResponse,
    PoolInfo,
    RateBucket,
    RuleError,
    RuleStats,
    ServiceLevelInfo,
    Transaction,
)
from .rule import CompiledRule, RuleCompileError, check_rule, compile_rule

__all__ = [
    "CompiledRule",
    "EngineState",
    "Headers",
    "LocalResponse",
    "PoolInfo",
    "RateBucket",
    "RuleCompileError",
    "RuleError",
    "RuleStats",
    "ServiceLevelInfo",
    "Transaction",
    "check_rule",
    "compile_rule",
]
