"""Which rules are pure functions of a request's Host, path, query and method: a rule that reads only those, computes
with functions of their arguments alone, and whose only effect is ``pool.use`` of a pool named in its text gives the
same answer for the same request line and Host every time, so the engine may remember the answer (rulehooks'
route memo) instead of running the rule again.

The judgement is made on the Python the compiler generated: every call in it must be to a function listed here (a
function not listed, including any added to the library later, makes the rule impure). Loops are impure too (their
time budget can abort a run), as are ``$1``..``$9`` (a regular expression match sets them).
"""

from __future__ import annotations

import re

# what a pure rule may read of the request: the bits of CompiledRule.route_inputs
HOST, PATH, QUERY, METHOD = 1, 2, 4, 8
PURE = 16  # set for every pure rule, so a pure rule that reads nothing is not 0

INPUTS = {
    "b_http__getHostHeader": HOST,
    "b_http__getPath": PATH,
    "b_http__getQueryString": QUERY,
    "b_http__getRawQueryString": QUERY,
    "b_http__getRawURL": PATH | QUERY,
    "b_http__getMethod": METHOD,
}

# functions of their arguments alone (no context, no clock, no randomness, no shared state)
PURE_FUNCTIONS = frozenset(
    "b_string__" + name
    for name in (
        "len length append lowercase uppercase trim reverse left right skip drop substring find findI findr count "
        "contains containsI startsWith startsWithI endsWith endsWithI cmp icmp replace replaceAll replaceI "
        "replaceAllI Ireplace IreplaceAll wildmatch extractHost extractPort"
    ).split()
) | {"b_http__normalizePath"}

# the compiler's helpers that compute only (not _tick, the loop budget; _cap, the captures; _print, a log line)
PURE_HELPERS = frozenset(
    "_add _sub _mul _div _mod _cat _band _bor _bxor _shl _shr _eq _ne _lt _le _gt _ge _neg _pos _inv _index "
    "_setpath _getpath _first _num _str".split()
)

# pool.use("a pool the configuration has") as a statement of the rule's own body: sets the pool and ends the rule
CHOOSES_POOL = "b_pool__use__known_then_return"

_CALL = re.compile(r"\b([A-Za-z_]\w*)\(")
_SUB = re.compile(r"s\d*_\w+")  # compiler.Namespace.py_name


def route_inputs(python_source: str) -> int:
    """PURE plus the bits of what the rule reads (HOST, PATH, QUERY, METHOD) for a pure rule; 0 otherwise."""
    inputs = PURE
    for name in _CALL.findall(python_source):
        if name in INPUTS:
            inputs |= INPUTS[name]
        elif name in PURE_FUNCTIONS or name in PURE_HELPERS or name == CHOOSES_POOL:
            continue
        elif name == "_rule" or _SUB.fullmatch(name):
            continue  # the rule's own function and its subroutines (their bodies are in the same source)
        else:
            return 0
    return inputs
