"""Every function of the families we implement exists with vTM's arity; the rest are refused."""

import re
from pathlib import Path

from proxyengine.rules import check_rule
from proxyengine.rules.runtime import REGISTRY, UNSUPPORTED_FAMILIES
from proxyengine.rules.runtime.core import INF

# The vendor catalogue lives in shared/ beside the checkout (CI clones with shared/ beside it too).
CATALOGUE = Path(__file__).resolve().parents[3].parent / "shared" / "reference" / "trafficscript-functions.txt"


def catalogue():
    out = {}
    for line in CATALOGUE.read_text().splitlines():
        m = re.match(r"(\S+)\(.*\) min=(\d+) max=(\w+)", line)
        if m:
            out[m.group(1)] = (int(m.group(2)), INF if m.group(3) == "INF" else int(m.group(3)))
    return out


def unsupported(name):
    return any(name.lower().startswith(f + ".") for f in UNSUPPORTED_FAMILIES)


def test_every_supported_function_exists_with_the_catalogue_arity():
    cat = catalogue()
    wrong = {}
    for name, arity in cat.items():
        if unsupported(name):
            continue
        b = REGISTRY.get(name)
        got = None if b is None else (b.min_args, b.max_args)
        if got != arity:
            wrong[name] = (got, arity)
    assert wrong == {}
    assert len([n for n in cat if not unsupported(n)]) >= 350


def test_every_unsupported_catalogue_function_is_a_compile_error():
    for name, (lo, _) in catalogue().items():
        if unsupported(name):
            args = ", ".join(["1"] * lo)
            errors = check_rule("r", f"{name}({args});")
            assert [e.message for e in errors] == [f"function {name} is not supported"], name


def test_arity_is_checked_for_every_function():
    for name, b in REGISTRY.items():
        if b.min_args > 0:
            errors = check_rule("r", f"{name}();")
            assert errors and "expects" in errors[0].message, name
        if b.max_args != INF:
            args = ", ".join(["1"] * (b.max_args + 1))
            errors = check_rule("r", f"{name}({args});")
            assert errors and "expects" in errors[0].message, name
